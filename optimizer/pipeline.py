"""solve -> verify -> result document: the job ``resilience solve`` does, without the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer import stopping
from optimizer.data import Instance
from optimizer.dispatch import run
from optimizer.evaluate import Verification, verify
from optimizer.outcome import ScenarioOutcome
from optimizer.plan import Plan
from optimizer.recovery import RecoveryRun, analyse, pending_warning
from optimizer.result import result_document
from optimizer.solve import Solution, SolveOptions

# Largest difference allowed between the model's R_s and the max-flow evaluation.
VERIFICATION_TOL = 1e-6


@dataclass(frozen=True, eq=False)
class Solved:
    solution: Solution
    verification: Verification
    document: dict[str, Any]
    recovery_interrupted: bool = False  # Ctrl-C or SIGTERM during the recovery analysis

    @property
    def interrupted(self) -> bool:
        """The solve or its recovery analysis was stopped by Ctrl-C or SIGTERM."""
        return self.solution.interrupted or self.recovery_interrupted

    @property
    def verified(self) -> bool:
        return (self.verification.max_difference <= VERIFICATION_TOL
                and not self.verification.violations)

    def failure(self) -> str:
        """Why the independent check rejects this solve, in words."""
        v = self.verification
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


def solve_and_verify(instance: Instance, options: SolveOptions | None = None) -> Solved:
    """Solve, re-check every scenario by max flow, measure recovery paths (design section
    5) and build the result document.

    A check that fails does not raise here: the caller writes the document (status
    ``error``) as evidence and then reports the failure.
    """
    solution = run(instance, options or SolveOptions())
    assert solution.plan is not None and solution.outcomes is not None
    claimed = np.array([o.resilience for o in solution.outcomes])
    verification, outcomes = verify(instance, solution.plan, claimed)
    recovered, problem = _recovery(instance, solution.plan, outcomes, options)
    document = result_document(instance, solution, verification, recovered)
    if problem:
        document["warnings"].append(problem)
    solved = Solved(solution, verification, document,
                    recovered is not None and recovered.interrupted)
    if not solved.verified:
        document["status"] = "error"
        document["message"] = "independent check failed: " + solved.failure()
    return solved
