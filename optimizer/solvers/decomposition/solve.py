"""The decomposition's entry (:func:`solve_decomposition`): every scenario at the ceiling,
the master and its start, the stages of ``optimizer.stages`` in turn on the Benders loop,
and the incumbent evaluated in full as the route's :class:`Solution`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np

from optimizer import stopping
from optimizer.errors import InfeasibleError
from optimizer.evaluation.evaluate import plan_violations
from optimizer.evaluation.outcome import ScenarioOutcome
from optimizer.evaluation.recourse import Evaluation, FirstStage
from optimizer.executors import open_executor
from optimizer.highs import version
from optimizer.instance.data import Instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.plan import Plan, plan_cost
from optimizer.solvers.base import (
    HighsRoute,
    final_value,
    no_plan_in_time,
    settle,
    stage_message,
)
from optimizer.solvers.contract import Solution, SolveOptions, Stage
from optimizer.solvers.decomposition import tuning
from optimizer.solvers.decomposition.evaluator import Evaluator
from optimizer.solvers.decomposition.loop import Benders, format_value
from optimizer.solvers.decomposition.master import Master
from optimizer.solvers.decomposition.search import Incumbent
from optimizer.solvers.presolve import prove_infeasible
from optimizer.stages import Goal, Sequence, explain, relative_slack_scale
from optimizer.status import Status


def solve_decomposition(instance: Instance, options: SolveOptions | None = None) -> Solution:
    """Solve ``instance`` by multi-cut Benders (the method:
    :mod:`optimizer.solvers.decomposition`), every stage of ``optimizer.stages``;
    same result contract as :func:`optimizer.solvers.extensive.solve`.

    Raises
    ------
    InfeasibleError
        When no plan exists (or none was found within the time limit).
    """
    options = options or SolveOptions()
    prove_infeasible(instance)
    log = options.log or (lambda _msg: None)
    S = len(instance.scenarios)
    with open_executor(options.workers, options.scheduler, scenarios=S,
                       small=tuning.SMALL) as executor:
        log(f"decomposition over {S} scenarios; evaluation: {executor.describe()}")
        evaluator = Evaluator(instance, executor)
        try:
            return _solve(instance, options, evaluator, log)
        finally:
            evaluator.close()


def _solve(instance: Instance, options: SolveOptions, evaluator: Evaluator,
           log: Callable[[str], None]) -> Solution:
    """Every stage of the sequence on one master, then the incumbent in full detail."""
    kind = instance.objective.kind
    target = float(instance.objective.target or 0.0) if kind is ObjectiveKind.MIN_COST else None
    t0 = time.monotonic()
    # The first round builds every scenario's LP; later plans are solved hot from its basis.
    ceiling = evaluator(FirstStage.ceiling(instance), coverage=True)
    ceil = ceiling.resilience(instance)
    setup_seconds = time.monotonic() - t0
    if target is not None and ceil.min() < target - tuning.FEASIBILITY_TOL:
        raise InfeasibleError(_unreachable(instance, ceil, target))
    master = Master(instance, options, ceiling)
    run = Benders(instance, options, master, evaluator, log)
    if target is not None:
        run.set_target(target)
    incumbent = _start(instance, options, evaluator, master)
    master.hold_every_scenario_unless_curved()
    size = master.size()
    log(f"decomposition master: {size['variables']:,} variables, "
        f"{size['constraints']:,} constraints, {master.cuts:,} cuts "
        f"({time.monotonic() - t0:.2f} s with the ceiling of every scenario)")

    # From here a plan may exist: a stop (Ctrl-C, SIGTERM) ends the stage at its incumbent,
    # which is kept, verified and written (optimizer.stopping).
    stopping.defer()
    sequence = Sequence(instance, ceil, options.mip_gap)
    staged = _run_stages(run, sequence, incumbent)
    return _finish(run, sequence, staged, setup_seconds)


def _unreachable(instance: Instance, ceil: np.ndarray, target: float) -> str:
    """Why min_cost's target cannot be met: the scenario whose ceiling is below it."""
    low = int(np.argmin(ceil))
    return (f"scenario {instance.scenarios[low].id!r} reaches at most {ceil[low]:.6g} even "
            "with every depot open and full, every shelter open with every module and the "
            f"largest pool, below the worst-case target {target:g}")


def _start(instance: Instance, options: SolveOptions, evaluator: Evaluator, master: Master
           ) -> Incumbent | None:
    """The first incumbent: the do-nothing plan (or the given start) where it is feasible.
    Its cuts, steep at an empty plan, are the master's first view of every scenario."""
    start = options.start
    if start is None and instance.policy.shelter_redundancy == 0:
        start = Plan.nothing(instance)
    if start is not None and plan_violations(instance, start):
        start = None
    if start is None:
        return None
    first = FirstStage.of(instance, start)
    ev = evaluator(first, gradients=True)
    r = ev.resilience(instance)
    master.remember_start(ev, first)
    target = master.target
    if target is None or r.min() >= target - tuning.FEASIBILITY_TOL:
        return Incumbent(start, r, plan_cost(instance, start).total)
    return None


@dataclass
class _Staged:
    """What the stages leave: the incumbent, the primary stage's bound, each stage solved
    (and its value), and those left unproven or skipped."""

    incumbent: Incumbent | None
    primary_bound: float | None
    stages: list[Stage] = field(default_factory=list)
    done: list[tuple[Goal, float]] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _run_stages(run: Benders, sequence: Sequence, incumbent: Incumbent | None) -> _Staged:
    """The stages in turn, each held once solved. After one left unproven, a stop or the
    time limit, the rest are skipped (the sequence still reads their values off the
    incumbent, to know which stage follows)."""
    instance, options, ceil = run.instance, run.options, run.ceilings
    goal: Goal | None = sequence.first()
    assert goal is not None
    # Until the primary stage bounds itself, its value at the ceilings does: every R_s is
    # at most its ceiling, and each resilience measure grows with every R_s.
    staged = _Staged(incumbent, 0.0 if goal.measure == "cost" else goal.value(
        instance, ceil, 0.0, ceil))
    while goal is not None:
        run.interrupted = run.interrupted or stopping.requested()
        if staged.unfinished or run.interrupted or options.remaining() == 0.0:
            staged.skipped.append(goal.name)
            value = None if staged.incumbent is None else goal.value(
                instance, staged.incumbent.resilience, staged.incumbent.cost, ceil)
            goal = sequence.next(goal, value) if value is not None else None
            continue
        goal = _run_stage(run, sequence, goal, staged)
    return staged


def _run_stage(run: Benders, sequence: Sequence, goal: Goal, staged: _Staged) -> Goal | None:
    """One stage solved and recorded in ``staged``; the stage that follows it (with this
    one held from here), if any."""
    result = run.stage(goal, staged.incumbent)
    staged.incumbent = result.incumbent
    if result.value is None:
        _raise_no_plan(run)
    value, status = result.value, result.status
    if goal.name == "objective" and result.bound is not None:
        staged.primary_bound = result.bound
    staged.stages.append(Stage(goal.name, status.value, value, result.seconds))
    staged.done.append((goal, value))
    run.log(f"{goal.name}: {value:.6g} ({status.value}, {result.seconds:.2f} s)")
    if status is not Status.OPTIMAL:
        staged.unfinished.append(goal.name)
    following = sequence.next(goal, value)
    if following is not None:
        run.hold(goal, value)
    return following


def _raise_no_plan(run: Benders) -> NoReturn:
    """No incumbent: a stop before any plan (KeyboardInterrupt), or no plan in time."""
    if run.interrupted:
        raise KeyboardInterrupt
    raise InfeasibleError(no_plan_in_time("the decomposition"))


def _finish(run: Benders, sequence: Sequence, staged: _Staged, setup_seconds: float
            ) -> Solution:
    """The incumbent evaluated in full (every scenario's detail), its status settled
    against the primary stage's bound, as the route's :class:`Solution`."""
    instance, options, master, evaluator = run.instance, run.options, run.master, run.evaluate
    ceil = run.ceilings
    incumbent = staged.incumbent
    if incumbent is None:
        _raise_no_plan(run)
    run.interrupted = run.interrupted or stopping.requested()
    t0 = time.monotonic()
    detail = evaluator(FirstStage.of(instance, incumbent.plan), detail=True)
    recourse_seconds = time.monotonic() - t0
    outcomes = _outcomes(instance, detail)
    value = final_value(instance, incumbent.plan, outcomes, ceil)
    status, bound, gap = settle(instance.objective.kind, staged.primary_bound, value,
                                options.mip_gap, master.money_scale, staged.unfinished,
                                staged.skipped,
                                relative_slack_scale([o.resilience for o in outcomes], ceil))
    stages = [*staged.stages, Stage("recourse", Status.OPTIMAL.value, None, recourse_seconds)]
    message = stage_message(status, staged.unfinished, run.interrupted, staged.skipped,
                            run.timed_out or options.remaining() == 0.0,
                            options.mip_gap) + (
        f" (decomposition: {run.iteration:,} iterations, {master.cuts:,} cuts over "
        f"{len(instance.scenarios):,} scenarios)")
    run.log(f"decomposition done: {format_value(value)} ({status.value}, gap "
            f"{'-' if gap is None else f'{gap:.3%}'}), "
            f"{master.cuts} cuts, {evaluator.rounds} evaluation rounds in "
            f"{evaluator.seconds:.1f} s")
    solve_seconds = sum(st.seconds for st in stages) + setup_seconds
    return Solution(
        status=status, message=message, plan=incumbent.plan,
        objective_value=value, bound=bound, gap=gap,
        outcomes=outcomes, solver_version=version(master.highs),
        build_seconds=master.build_seconds, handoff_seconds=0.0,
        solve_seconds=solve_seconds, nodes=master.nodes, iterations=master.iterations,
        stages=tuple(stages), size=master.size(), method="decomposition",
        progress=tuple(run.progress), interrupted=run.interrupted, ceilings=ceil,
        pinned=tuple(int(s) for s in sequence.pinned_scenarios),
        decided=explain(instance, ceil, staged.done, sequence.levels),
    )


def _outcomes(instance: Instance, ev: Evaluation) -> list[ScenarioOutcome]:
    """Each scenario's shares, resilience and unmet need from a detailed evaluation."""
    assert ev.unmet_need is not None and ev.unmet_evacuees is not None
    r = ev.resilience(instance)
    return [ScenarioOutcome(supply=float(ev.supply[s]), shelter=float(ev.shelter[s]),
                            economic=float(ev.economic[s]), resilience=float(r[s]),
                            unmet_need=ev.unmet_need[s], unmet_evacuees=ev.unmet_evacuees[s])
            for s in range(len(instance.scenarios))]


def solver(name: str) -> HighsRoute:
    """This route, for the registry (:mod:`optimizer.solvers.registry`)."""
    assert name == "highs", name
    return HighsRoute("decomposition", solve_decomposition)
