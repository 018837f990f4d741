"""solve -> verify -> result document: the job ``resilience solve`` does, without the CLI."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from optimizer import stopping
from optimizer.evaluation.evaluate import (
    VERIFICATION_TOL,
    Verification,
    estimated_seconds,
    verify,
    wall_seconds,
)
from optimizer.evaluation.outcome import ScenarioOutcome
from optimizer.evaluation.recovery import RecoveryRun, analyse, pending_warning
from optimizer.instance.data import Instance
from optimizer.plan import Plan
from optimizer.results.document import Result, parse_result
from optimizer.results.file import RecordedPath, result_document
from optimizer.solvers.contract import Solution, SolveOptions
from optimizer.solvers.dispatch import chosen_method, run

# What --time-limit keeps back from the solver for the work after its deadline (see
# reserve_seconds). The extensive form ends with an LP over the whole model, first stage
# fixed, which solves every scenario's recourse: measured at 0.36-0.6 of the time the
# max-flow verification of the same plan took (200 x 100 and 200 x 1,000, 2 cores).
RECOURSE_LP_SHARE = 0.6
# The estimates are timed on a shared machine a few seconds before the work they stand
# for: measured, the verification of a plan took up to 1.6 times the estimate made for it
# at 200 x 100 (load 2). The share of that kept in hand:
ESTIMATE_SAFETY = 1.3
# HiGHS returns after its time limit by up to the length of the LP or node it is in:
# measured 0.3-0.6 s at 200 x 100 and 3 s at 200 x 1,000 for the extensive form, whose
# LPs take about as long as its recourse LP (counted as that, at least this).
SOLVER_OVERRUN = 0.5
# The reserve never takes more than this share of the limit: when the verification alone
# would not fit, the solver still gets the rest to find a plan, and a warning says that
# the limit was exceeded and why.
RESERVE_MAX_SHARE = 0.5
# A command that ends within this many seconds past its limit is not warned about (the
# clock's own resolution, a scenario of recovery that was under way).
OVERRUN_TOL = 0.25


@dataclass(frozen=True, eq=False)
class Solved:
    solution: Solution
    verification: Verification
    document: dict[str, Any]
    recovery_interrupted: bool = False  # Ctrl-C or SIGTERM during the recovery analysis

    @cached_property
    def result(self) -> Result:
        """The document's typed, read-only view (what the API returns and reports read),
        read once: at 10,000 scenarios checking the document takes about a second."""
        return parse_result(self.document)

    @property
    def interrupted(self) -> bool:
        """The solve or its recovery analysis was stopped by Ctrl-C or SIGTERM."""
        return self.solution.interrupted or self.recovery_interrupted

    @property
    def verified(self) -> bool:
        return not rejection(self.verification)

    def failure(self) -> str:
        """Why the independent check rejects this solve, in words."""
        return rejection(self.verification)


def rejection(v: Verification) -> str:
    """Why the independent check rejects a plan, in words ("" when it accepts it)."""
    reasons = []
    if v.max_difference > VERIFICATION_TOL:
        reasons.append(f"the model's scenario resilience differs from the independent "
                       f"max-flow evaluation by {v.max_difference:.3g} "
                       f"(allowed {VERIFICATION_TOL:g})")
    reasons += [f"the plan breaks a rule: {p}" for p in v.violations]
    return "; ".join(reasons)


def _recovery(instance: Instance, plan: Plan, outcomes: list[ScenarioOutcome],
              options: SolveOptions | None) -> tuple[RecoveryRun | None, str]:
    """Design section 5 for the verified plan (read only: the plan does not change), within
    what ``--time-limit`` leaves of the command.

    A failure here must not cost the user a finished solve: the result is written without
    the section and says why.
    """
    log = options.log if options is not None else None
    deadline = None
    if options is not None and options.time_limit is not None:
        deadline = options.started + options.time_limit
    try:
        run = analyse(instance, plan, {n: o.resilience for n, o in enumerate(outcomes)},
                      deadline=deadline, stop=stopping.requested,
                      workers=None if options is None else options.workers,
                      scheduler=None if options is None else options.scheduler)
    except Exception as exc:  # reported in the result's warnings, never swallowed
        problem = (f"recovery analysis failed ({type(exc).__name__}: {exc}); the recovery "
                   "section is omitted, please report it")
        if log is not None:
            log(problem)
        return None, problem
    if log is not None:
        log(f"recovery paths of {len(run.scenarios)} scenarios in {run.seconds:.2f} s "
            f"({run.where})")
    if run.interrupted:
        # A stop requested (Ctrl-C, SIGTERM): the plan is what must be written, and soon;
        # the section is left out and every scenario is named for `recover`.
        problem = ("recovery analysis skipped after the interrupt; the recovery section is "
                   "omitted (resilience recover INSTANCE RESULT fills it in)")
        if log is not None:
            log(problem)
        pending = tuple(s.id for s in instance.scenarios)
        return RecoveryRun((), pending, run.seconds, run.where, True), problem
    problem = pending_warning(run.pending) if run.pending else ""
    if problem and log is not None:
        log(problem)
    return run, problem


@dataclass(frozen=True)
class Reserve:
    """Seconds of the limit kept back from the solver, and what they are for."""

    verification: float  # the max-flow check of every scenario, where it will run
    recourse: float  # the route's last recourse solve (the extensive form's LP)
    overrun: float  # the solver returning after its deadline
    seconds: float  # what is kept: the sum, at most RESERVE_MAX_SHARE of the limit


def reserve_seconds(instance: Instance, options: SolveOptions) -> Reserve:
    """What the solver must leave of ``options.time_limit`` for the command to end within it.

    After the solver's deadline, work runs that the clock does not stop: the extensive
    form's recourse LP and the independent verification of every scenario (never skipped
    or sampled). Its time is estimated by timing the verification of a few scenarios now,
    on this machine as loaded (optimizer.evaluation.evaluate.estimated_seconds, for the busiest plan
    the budget allows), scaled to every scenario and to where the verification will run,
    with :data:`ESTIMATE_SAFETY` in hand.
    The recovery analysis needs no reserve: it takes what is left and leaves the rest
    pending.
    """
    alone = ESTIMATE_SAFETY * estimated_seconds(instance)
    verification = wall_seconds(alone, len(instance.scenarios), options.workers,
                                options.scheduler)
    recourse = RECOURSE_LP_SHARE * alone if chosen_method(
        instance, options) != "decomposition" else 0.0
    overrun = max(SOLVER_OVERRUN, recourse)
    wanted = verification + recourse + overrun
    cap = RESERVE_MAX_SHARE * (options.time_limit or 0.0)
    return Reserve(verification, recourse, overrun, min(wanted, cap))


def _overrun(options: SolveOptions, reserve: Reserve, solved_at: float,
             verify_seconds: float, recovery_seconds: float) -> str:
    """The warning for a command that ran past its --time-limit, saying where the time
    went ("" when it did not)."""
    assert options.time_limit is not None
    elapsed = time.monotonic() - options.started
    over = elapsed - options.time_limit
    if over <= OVERRUN_TOL:
        return ""
    why = (f"the solver returned {solved_at:.1f} s after the start (its deadline kept "
           f"{reserve.seconds:.1f} s for the work after it")
    wanted = reserve.verification + reserve.recourse + reserve.overrun
    if wanted > reserve.seconds + 1e-9:
        why += (f" of the {wanted:.1f} s estimated: the solver always gets "
                f"{1 - RESERVE_MAX_SHARE:.0%} of the limit")
    why += (f"), the independent check of every scenario took {verify_seconds:.1f} s (it "
            "is never skipped)")
    if recovery_seconds >= OVERRUN_TOL:
        why += f", the recovery analysis {recovery_seconds:.1f} s"
    return (f"the command took {elapsed:.1f} s, {over:.1f} s over --time-limit "
            f"{options.time_limit:g}: {why}")


def solve_and_verify(instance: Instance, options: SolveOptions | None = None, *,
                     recorded_path: RecordedPath | None = None) -> Solved:
    """Solve, re-check every scenario by max flow, measure recovery paths (design section
    5) and build the result document.

    Under a time limit, the solver's deadline keeps back what the work after it needs
    (:func:`reserve_seconds`); a command that still runs past its limit says so, and why,
    in a warning.

    A check that fails does not raise here: the caller writes the document (status
    ``error``) as evidence and then reports the failure. With ``recorded_path``, the
    document says where the instance is (``instance.path``).
    """
    options = options or SolveOptions()
    log = options.log or (lambda _msg: None)
    reserve = None
    if options.time_limit is not None:
        reserve = reserve_seconds(instance, options)
        options = replace(options, reserve=reserve.seconds)
        log(f"time limit {options.time_limit:g} s: {reserve.seconds:.2f} s kept for the work "
            f"after the solver (independent check about {reserve.verification:.2f} s, "
            f"recourse {reserve.recourse:.2f} s, solver overrun {reserve.overrun:.2f} s)")
    solution = run(instance, options)
    assert solution.plan is not None and solution.outcomes is not None
    solved_at = time.monotonic() - options.started
    claimed = np.array([o.resilience for o in solution.outcomes])
    t0 = time.monotonic()
    verification, outcomes = verify(instance, solution.plan, claimed,
                                    workers=options.workers, scheduler=options.scheduler)
    verify_seconds = time.monotonic() - t0
    log(f"independent check of {len(outcomes)} scenarios by maximum flow in "
        f"{verify_seconds:.2f} s")
    t0 = time.monotonic()
    recovered, problem = _recovery(instance, solution.plan, outcomes, options)
    recovery_seconds = time.monotonic() - t0
    # Measured before the document is made: building and writing the result come on top.
    late = "" if reserve is None else _overrun(options, reserve, solved_at, verify_seconds,
                                               recovery_seconds)
    if late:
        log(late)
    document = result_document(
        instance, solution, verification, recovered, failure=rejection(verification),
        warnings=[w for w in (problem, late) if w], recorded_path=recorded_path)
    return Solved(solution, verification, document,
                  recovered is not None and recovered.interrupted)
