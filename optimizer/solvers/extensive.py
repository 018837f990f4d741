"""Solve the extensive form with HiGHS (highspy, in memory) and read the plan back.

Route: the model from numpy arrays (``models.direct``, the default) or from Pyomo
(``models.resilience`` through Pyomo's linear standard-form compiler) -> one
``highspy.passModel`` call with the CSC matrix (see PERFORMANCE.md). The lexicographic
stages of design section 2 (``optimizer.stages``: leximin levels, expected resilience, cost)
then run on the same HiGHS instance: hold the stage just solved at its value (one added
row), change the column costs, solve again from the previous plan. A last LP with
the first stage fixed maximises every scenario's recourse, so the model's R_s are the best
each scenario can do under the plan, which is what the independent evaluation computes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import highspy
import numpy as np
from scipy.sparse import csc_matrix

from models import direct
from models.objectives import SPECS
from models.resilience import ModelData, build_model, prepare, tiebreaks
from optimizer import stopping
from optimizer.errors import InfeasibleError, SolverFailure, UsageError
from optimizer.evaluation.outcome import ScenarioOutcome
from optimizer.evaluation.recourse import FirstStage, RecourseBlock
from optimizer.highs import INF, Run, new_highs, pass_model, run_highs, version
from optimizer.instance.data import Instance
from optimizer.plan import Plan, plan_cost
from optimizer.solvers.base import (
    NO_PLAN,
    HighsRoute,
    Layout,
    add_level,
    final_value,
    fix_plan,
    give_start,
    infeasible_message,
    no_plan_in_time,
    outcomes_from_flows,
    plan_from_columns,
    settle,
    stage_message,
)
from optimizer.solvers.contract import Solution, SolveOptions, Stage
from optimizer.solvers.presolve import prove_infeasible
from optimizer.stages import Goal, Sequence, explain, relative_slack_scale
from optimizer.status import Status

if TYPE_CHECKING:
    import pyomo.environ as pyo

# The stage rows hold a solved stage within this of the value its plan reached (objectives
# are scaled to about 1). Looser, and the cost stage spends the slack on a smaller pool.
LEXICOGRAPHIC_TOL = 1e-9


@dataclass(eq=False)
class Compiled:
    """The model in HiGHS: the solver instance, its layout and the stage objectives."""

    highs: highspy.Highs
    layout: Layout
    objectives: dict[str, np.ndarray]  # name -> dense cost vector (minimisation form)
    integer: np.ndarray  # bool per column
    num_rows: int
    nnz: int

    @property
    def num_cols(self) -> int:
        return len(self.integer)


def compile_pyomo(model: pyo.ConcreteModel, md: ModelData, names: list[str],
                  options: SolveOptions) -> Compiled:
    """Pyomo's standard-form compiler, then one ``passModel`` (see the module docstring)."""
    # Imported here: the direct builder (the default) never needs Pyomo (models.resilience).
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    for name in names:
        model.component(name).activate()
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    for name in names[1:]:
        model.component(name).deactivate()
    columns = info.columns
    a = info.A.tocsc()
    row_lower = np.full(len(info.rows), -highspy.kHighsInf)
    row_upper = np.full(len(info.rows), highspy.kHighsInf)
    for r, entry in enumerate(info.rows):
        if entry[1] >= 0:
            row_upper[r] = info.rhs[r]
        if entry[1] <= 0:
            row_lower[r] = info.rhs[r]
    col_lower = np.array([-highspy.kHighsInf if v.lb is None else v.lb for v in columns],
                         dtype=float)
    col_upper = np.array([highspy.kHighsInf if v.ub is None else v.ub for v in columns],
                         dtype=float)
    integer = np.array([v.is_integer() for v in columns], dtype=bool)
    c = info.c.toarray() if hasattr(info.c, "toarray") else np.asarray(info.c)
    objectives = {obj.local_name: c[j] for j, obj in enumerate(info.objectives)}

    column_of = {id(v): j for j, v in enumerate(columns)}

    def index(component: Any, keys: Any) -> np.ndarray:
        return np.array([column_of.get(id(component[k]), -1) for k in keys], dtype=np.int64)

    D, K = len(md.instance.depots), len(md.instance.commodities)
    layout = Layout(
        y=index(model.y, model.D),
        x=index(model.x, [(d, k) for d in model.D for k in model.K]).reshape(D, K),
        z=index(model.z, model.H),
        modules=index(model.modules, model.H),
        pool=column_of.get(id(model.pool), -1),
        g=index(model.g, model.G), v=index(model.v, model.V),
        econ=index(model.econ, model.S), r=index(model.r, model.S),
        x_unit=md.stock_unit, x_upper=md.stock_upper,
    )
    h = new_highs(options)
    pass_model(h, a, objectives[names[0]], col_lower, col_upper, row_lower, row_upper, integer)
    return Compiled(h, layout, objectives, integer, len(info.rows), a.nnz)


def compile_direct(md: ModelData, names: list[str], options: SolveOptions) -> Compiled:
    """The extensive form from numpy arrays (:func:`models.direct.assemble`) in a new HiGHS
    instance, as :func:`compile_pyomo` would leave it."""
    model = direct.assemble(md, names)
    cols = model.columns
    layout = Layout(y=cols["y"], x=cols["x"], z=cols["z"], modules=cols["modules"],
                    pool=int(cols["pool"][0]), g=cols["g"], v=cols["v"],
                    econ=cols["econ"], r=cols["r"], x_unit=md.stock_unit, x_upper=md.stock_upper)
    h = new_highs(options)
    pass_model(h, model.a, model.objectives[names[0]], model.col_lower, model.col_upper,
               model.row_lower, model.row_upper, model.integer)
    return Compiled(h, layout, model.objectives, model.integer, len(model.row_lower),
                    model.a.nnz)


def _outcomes_from(c: Compiled, md: ModelData, x: np.ndarray) -> list[ScenarioOutcome]:
    return outcomes_from_flows(md, Layout.values(c.layout.g, x), Layout.values(c.layout.v, x),
                               Layout.values(c.layout.econ, x))


# Measured at 200 nodes x 100 scenarios: 3.1 non-zeros per flow variable; building and
# handing off take 320 bytes per non-zero through Pyomo and 110 directly, and HiGHS's MIP
# search needs a few times its matrix on top (700 bytes per non-zero allowed for it).
NONZEROS_PER_FLOW = 3.2
BYTES_PER_NONZERO = {"pyomo": 1000, "direct": 800}


def estimated_bytes(md: ModelData, builder: str = "direct") -> float:
    """Memory the extensive form will take, from its flow variables, before building it."""
    flows = len(md.g_scenario) + len(md.v_scenario) + 3 * md.num_scenarios
    return flows * NONZEROS_PER_FLOW * BYTES_PER_NONZERO.get(builder, 1000)


def available_bytes() -> float:
    """Memory this machine has free now (physical pages), or infinity if unknown."""
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def check_fits(md: ModelData, builder: str = "direct") -> None:
    """Refuse an extensive form that would not fit in memory, before building it."""
    need, have = estimated_bytes(md, builder), available_bytes()
    if need > have:
        raise UsageError(
            f"the extensive form of {md.num_scenarios} scenarios would need about "
            f"{need / 2**30:.1f} GiB and {have / 2**30:.1f} GiB are free; use "
            "--method decomposition, which keeps only a few scenarios in the model")


def explain_infeasible(instance: Instance, md: ModelData, options: SolveOptions) -> str:
    """Why no plan is feasible, when the MIP says so (its LP relaxation often is feasible,
    so HiGHS's IIS has nothing to show). Capacities and losses never make a plan
    infeasible, and doing nothing costs nothing: only the shelter redundancy policy can
    conflict with the budget. So find the cheapest set of shelters that meets the policy
    (a small set-cover MIP) and say what it costs against the budget."""
    r = instance.policy.shelter_redundancy
    if r <= 0:
        return NO_PLAN
    shelters = instance.shelters
    zones = np.flatnonzero(instance.network.population > 0)
    cover = md.intact_shelters[zones].astype(float)  # (zones, H)
    a = csc_matrix(cover)
    cost = np.array([0.0 if h.existing else h.fixed_cost for h in shelters])
    lower = np.array([1.0 if h.existing else 0.0 for h in shelters])
    h = new_highs(options)
    pass_model(h, a, cost, lower, np.ones(len(shelters)), np.full(len(zones), float(r)),
               np.full(len(zones), highspy.kHighsInf), np.ones(len(shelters), dtype=bool))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return NO_PLAN
    chosen = np.flatnonzero(np.round(np.array(h.getSolution().col_value)) == 1)
    least = float(cost[chosen].sum())
    if least <= instance.budget + 1e-9 * max(1.0, instance.budget):
        return NO_PLAN
    names = ", ".join(shelters[j].id for j in chosen if not shelters[j].existing)
    return (f"the shelter redundancy policy ({r} open shelter{'' if r == 1 else 's'} within "
            "evacuation reach of "
            f"every populated zone) alone costs at least {least:,.2f} (opening {names}), "
            f"more than the budget {instance.budget:,.2f}; raise the budget or relax the "
            "policy")


def _sparse(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nz = np.flatnonzero(vector)
    return nz.astype(np.int32), np.asarray(vector[nz], dtype=float)


def _stage_vector(c: Compiled, goal: Goal) -> tuple[np.ndarray, np.ndarray]:
    """The stage's objective (minimisation form) as columns and coefficients; a leximin
    level adds its column t and rows t <= r_s for the scenarios it ranges over."""
    if goal.name == "objective":
        return _sparse(c.objectives["objective"])
    if goal.measure == "expected":
        return _sparse(c.objectives["tiebreak_expected"])
    if goal.measure == "cost":
        return _sparse(c.objectives["tiebreak_cost"])
    assert goal.measure == "worst" and goal.scenarios is not None
    t = add_level(c.highs, c.layout.r[goal.scenarios], np.ones(len(goal.scenarios)))
    return np.array([t], dtype=np.int32), np.array([-1.0])


def solve(instance: Instance, options: SolveOptions | None = None) -> Solution:
    """Solve ``instance`` with its objective and every tie-break stage (optimizer.stages);
    raise when no plan can exist or HiGHS fails."""
    options = options or SolveOptions()
    prove_infeasible(instance)
    run = _Extensive(instance, options)
    run.objective()
    run.tiebreaks()
    return run.polished()


@dataclass(frozen=True, eq=False)
class _Built:
    """The extensive form in HiGHS, and what building it found."""

    md: ModelData
    compiled: Compiled
    ceilings: np.ndarray
    recourse: RecourseBlock  # every scenario's recourse LP, hot-started plan to plan
    build_seconds: float
    handoff_seconds: float
    size: dict[str, int]


def _build(instance: Instance, options: SolveOptions, log: Callable[[str], None]) -> _Built:
    names = ["objective", *tiebreaks(instance.objective.kind)]
    log(f"building the extensive form of {len(instance.scenarios)} scenarios")
    t0 = time.monotonic()
    # One recourse LP of every scenario: the ceilings now, then what each stage's plan
    # provably reaches (the value the next stage holds), hot-started from the last plan.
    recourse = RecourseBlock(instance, np.arange(len(instance.scenarios)))
    ceil = recourse.evaluate(FirstStage.ceiling(instance)).resilience(instance)
    md = prepare(instance, ceil)
    check_fits(md, options.builder)
    if options.builder == "direct":
        build_seconds = time.monotonic() - t0
        t0 = time.monotonic()
        c = compile_direct(md, names, options)
    else:
        model = build_model(md)
        build_seconds = time.monotonic() - t0
        t0 = time.monotonic()
        c = compile_pyomo(model, md, names, options)
    handoff_seconds = time.monotonic() - t0
    log(f"built the model in {build_seconds:.2f} s ({options.builder})")
    size = {"variables": c.num_cols, "constraints": c.num_rows, "nonzeros": c.nnz,
            "integer_variables": int(c.integer.sum()), "scenarios": md.num_scenarios}
    log(f"handed {size['variables']:,} variables, {size['constraints']:,} constraints and "
        f"{size['nonzeros']:,} non-zeros to HiGHS in {handoff_seconds:.2f} s")
    return _Built(md, c, ceil, recourse, build_seconds, handoff_seconds, size)


class _Extensive:
    """One solve of the extensive form: the objective, then each tie-break stage on the
    same HiGHS instance, then the recourse polish. Its attributes are what the result
    reports (the stages, the work, why a stage was not proven or not run)."""

    def __init__(self, instance: Instance, options: SolveOptions) -> None:
        self.instance, self.options = instance, options
        self.log = options.log or (lambda _msg: None)
        self.built = _build(instance, options, self.log)
        self.c, self.md, self.ceil = self.built.compiled, self.built.md, self.built.ceilings
        self.h = self.c.highs
        self.stages: list[Stage] = []
        self.solve_seconds = 0.0
        self.nodes = self.iterations = 0
        self.interrupted = self.timed_out = False
        self.unfinished: list[str] = []
        self.skipped: list[str] = []
        self.done: list[tuple[Goal, float]] = []  # the stages that ran, for explain()
        self.sequence = Sequence(instance, self.ceil, options.mip_gap)
        self.x = np.zeros(0)  # the solution in hand
        self.bound = -math.inf  # the objective's, minimisation form (-inf: none claimed)
        # The stage just solved: its objective (columns, coefficients) and the value the
        # plan in hand reaches on it, minimisation form (what the next stage holds).
        self.cols, self.coefs = np.zeros(0, np.int32), np.zeros(0)
        self.reached = 0.0

    def _account(self, run: Run) -> None:
        self.nodes += run.nodes
        self.iterations += run.iterations
        self.solve_seconds += run.seconds

    def _start(self) -> Plan | None:
        """Give HiGHS its start; returns it when it is known to be feasible."""
        instance, scale = self.instance, self.md.money_scale
        if self.options.start is not None:
            give_start(self.h, self.c.layout, scale, self.options.start)
            return None
        if SPECS[instance.objective.kind].nothing_feasible and \
                instance.policy.shelter_redundancy == 0:
            # Doing nothing is then always feasible: as a start, a time limit never ends
            # empty-handed. HiGHS completes the second stage of a partial start itself
            # (and ignores a start that is not feasible).
            sure = Plan.nothing(instance)
            give_start(self.h, self.c.layout, scale, sure)
            return sure
        return None

    def _take_the_start(self, sure: Plan) -> bool:
        """The clock ran out before HiGHS took its start (the limit was spent, or kept for
        the verification, before the solver began): the start is feasible by construction,
        so it is the plan, its recourse solved with the first stage fixed. That run's value
        bounds nothing. Returns whether it is the plan."""
        h = self.h
        fix_plan(h, self.c.layout, self.md.money_scale, sure)
        h.setOptionValue("time_limit", INF)
        t0 = time.monotonic()
        h.run()
        self.solve_seconds += time.monotonic() - t0
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return False
        self.log("the time limit was over before the solver took its start: the plan is the "
                 "start (doing nothing)")
        return True

    def _no_plan(self, status: Status, seconds: float) -> NoReturn:
        """Raise why the objective's run ended without a plan."""
        h = self.h
        self.stages.append(Stage("objective", status.value, None, seconds))
        if status is Status.INFEASIBLE:
            if h.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
                raise InfeasibleError(no_plan_in_time("the solver"))
            if not SPECS[self.instance.objective.kind].nothing_feasible:
                raise InfeasibleError(infeasible_message(self.instance))
            raise InfeasibleError(explain_infeasible(self.instance, self.md, self.options))
        reason = h.modelStatusToString(h.getModelStatus())
        raise SolverFailure(f"HiGHS failed: {reason}")

    def objective(self) -> None:
        """The primary objective: its plan, its bound, and the value the next stage holds."""
        h, c = self.h, self.c
        sure = self._start()
        # From here a plan may exist: a stop (Ctrl-C, SIGTERM) cancels HiGHS at its
        # incumbent and the plan is kept, verified and written (optimizer.stopping).
        stopping.defer()
        first = run_highs(h, self.options.remaining(), c.objectives["objective"])
        self._account(first)
        status = first.status
        self.interrupted = first.interrupted or stopping.requested()
        # HiGHS is given no limit but time: a run that ends with a plan short of optimal
        # was stopped by the clock (or by Ctrl-C).
        self.timed_out = status is Status.FEASIBLE and not self.interrupted
        if self.interrupted and not status.has_plan:
            raise KeyboardInterrupt
        no_bound = False
        if not status.has_plan and sure is not None and status is not Status.ERROR and \
                h.getModelStatus() != highspy.HighsModelStatus.kInfeasible and \
                self._take_the_start(sure):
            status, self.timed_out, no_bound = Status.FEASIBLE, True, True
        if not status.has_plan:
            self._no_plan(status, first.seconds)
        info = h.getInfo()
        self.x = np.array(h.getSolution().col_value)
        goal = self.sequence.first()
        self.cols, self.coefs = _stage_vector(c, goal)
        # The value held by the next stage is the one the plan in hand reaches, computed
        # from the solution (HiGHS can report an objective from its presolved space).
        self.reached = float(self.coefs @ self.x[self.cols])
        bound = float(info.mip_dual_bound) if c.integer.any() else self.reached
        if status is Status.OPTIMAL:
            bound = min(bound, self.reached)
        self.bound = -math.inf if no_bound else bound  # -inf: no bound claimed
        value = goal.to_user(self.reached, self.md.money_scale)
        self.stages.append(Stage("objective", status.value, value, first.seconds))
        self.log(f"{self.instance.objective.kind.value}: {value:.6g} ({status.value}, "
                 f"{first.seconds:.2f} s)")
        self.unfinished = [] if status is Status.OPTIMAL else ["objective"]
        self.done = [(goal, value)]

    def _at_plan(self, goal: Goal) -> float:
        """What the plan in hand scores on a stage that is not solved (its cost from the
        plan: under min_cost the cost is the objective, and there is no cost tie-break)."""
        instance, c = self.instance, self.c
        plan = plan_from_columns(c.layout, instance, self.md.money_scale, self.x)
        return goal.value(instance, Layout.values(c.layout.r, self.x),
                          plan_cost(instance, plan).total, self.ceil)

    def _hold(self, goal: Goal) -> float:
        """The bound (minimisation form) that holds stage ``goal`` for the stages after it.

        HiGHS's solution meets its rows only within the feasibility tolerance (1e-6), so
        the value reached can be a hair better than any plan reaches: held there, the next
        stage would have to find a plan that does better than this one, and could only find
        one that uses the tolerance elsewhere (a worse plan). The hold is at what the plan
        in hand provably reaches (its first stage rounded, every scenario re-solved
        exactly), when that is weaker, so the next stage always has this plan to keep.
        """
        instance, scale = self.instance, self.md.money_scale
        plan = plan_from_columns(self.c.layout, instance, scale, self.x)
        r = self.built.recourse.evaluate(FirstStage.of(instance, plan)).resilience(instance)
        value = goal.value(instance, r, plan_cost(instance, plan).total, self.ceil)
        provable = goal.minimised(value, scale)
        return max(self.reached, provable) + LEXICOGRAPHIC_TOL

    def tiebreaks(self) -> None:
        """Lexicographic stages: hold each solved stage at the value its plan reaches, solve
        the next from that plan. No stage is capped by the clock (only --time-limit stops
        one), so the same instance gives the same plan on any machine."""
        goal, value = self.done[0]
        while (following := self.sequence.next(goal, value)) is not None:
            goal = following
            self.interrupted = self.interrupted or stopping.requested()
            if self.interrupted or self.options.remaining() == 0.0 or self.unfinished:
                self.skipped.append(goal.name)
                value = self._at_plan(goal)
                continue
            value = self._stage(goal)

    def _stage(self, goal: Goal) -> float:
        """Solve one tie-break stage from the plan in hand; returns the value it reached
        (the plan's, when the stage found none: later stages are then skipped)."""
        h, c, instance = self.h, self.c, self.instance
        h.addRow(-INF, self._hold(self.done[-1][0]), len(self.cols), self.cols, self.coefs)
        self.cols, self.coefs = _stage_vector(c, goal)
        n = int(h.getNumCol())
        dense = np.zeros(n)
        dense[self.cols] = self.coefs
        h.changeColsCost(n, np.arange(n, dtype=np.int32), dense)
        x = np.concatenate([self.x, np.zeros(n - len(self.x))])
        if goal.measure == "worst":  # the new level column starts at the plan's level
            x[self.cols] = goal.value(instance, Layout.values(c.layout.r, x), 0.0, self.ceil)
        self.x = x
        start = highspy.HighsSolution()
        start.col_value = list(x)
        start.value_valid = True
        h.setSolution(start)
        run = run_highs(h, self.options.remaining(), dense)
        self._account(run)
        self.interrupted = self.interrupted or run.interrupted
        if run.status is not Status.OPTIMAL:
            self.unfinished.append(goal.name)
            self.timed_out = self.timed_out or not run.interrupted
        if not run.status.has_plan:  # keep the plan we had; later stages are skipped
            self.stages.append(Stage(goal.name, run.status.value, None, run.seconds))
            return self._at_plan(goal)
        self.x = np.array(h.getSolution().col_value)
        self.reached = float(self.coefs @ self.x[self.cols])
        value = goal.to_user(self.reached, self.md.money_scale)
        self.stages.append(Stage(goal.name, run.status.value, value, run.seconds))
        self.done.append((goal, value))
        self.log(f"{goal.name}: {value:.6g} ({run.status.value}, {run.seconds:.2f} s)")
        return value

    def _polish(self, plan: Plan) -> np.ndarray:
        """Recourse polish: first stage fixed, every scenario's resilience maximised.
        Returns the solution."""
        h, c = self.h, self.c
        fix_plan(h, c.layout, self.md.money_scale, plan)
        n_rows = h.getNumRow()
        if n_rows > c.num_rows:
            h.deleteRows(n_rows - c.num_rows, np.arange(c.num_rows, n_rows, dtype=np.int32))
        n = int(h.getNumCol())
        polish = np.zeros(n)
        polish[c.layout.r[c.layout.r >= 0]] = -1.0
        h.changeColsCost(n, np.arange(n, dtype=np.int32), polish)
        h.setOptionValue("time_limit", INF)
        h.HandleUserInterrupt = False  # a Ctrl-C already honoured must not stop this LP
        t0 = time.monotonic()
        h.run()
        seconds = time.monotonic() - t0
        self.solve_seconds += seconds
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SolverFailure("the recourse of the chosen plan could not be re-solved: "
                                + h.modelStatusToString(h.getModelStatus()))
        self.stages.append(Stage("recourse", Status.OPTIMAL.value, None, seconds))
        return np.array(h.getSolution().col_value)

    def polished(self) -> Solution:
        """The plan in hand, its recourse polished, settled against the objective's bound."""
        instance, options, md, ceil = self.instance, self.options, self.md, self.ceil
        kind = instance.objective.kind
        plan = plan_from_columns(self.c.layout, instance, md.money_scale, self.x)
        outcomes = _outcomes_from(self.c, md, self._polish(plan))
        value = final_value(instance, plan, outcomes, ceil)
        self.interrupted = self.interrupted or stopping.requested()
        status, bound, gap = settle(
            kind, self.done[0][0].to_user(self.bound, md.money_scale), value, options.mip_gap,
            md.money_scale, self.unfinished, self.skipped,
            relative_slack_scale([o.resilience for o in outcomes], ceil))
        built = self.built
        return Solution(
            status=status,
            message=stage_message(status, self.unfinished, self.interrupted, self.skipped,
                                  self.timed_out or options.remaining() == 0.0,
                                  options.mip_gap),
            plan=plan, objective_value=value, bound=bound, gap=gap, outcomes=outcomes,
            solver_version=version(self.h), build_seconds=built.build_seconds,
            handoff_seconds=built.handoff_seconds, solve_seconds=self.solve_seconds,
            nodes=self.nodes, iterations=self.iterations, stages=tuple(self.stages),
            size=built.size, interrupted=self.interrupted, ceilings=ceil,
            pinned=tuple(int(s) for s in self.sequence.pinned_scenarios),
            decided=explain(instance, ceil, self.done, self.sequence.levels),
        )


def solver(name: str) -> HighsRoute:
    """This route, for the registry (:mod:`optimizer.solvers.registry`)."""
    assert name == "highs", name
    return HighsRoute("extensive", solve)
