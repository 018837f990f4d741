"""Solve the extensive form with HiGHS (highspy, in memory) and read the plan back.

Route: Pyomo model (``models.resilience``) -> Pyomo's linear standard-form compiler -> one
``highspy.passModel`` call with the CSC matrix (faster than the persistent interfaces,
which add rows one at a time; see PERFORMANCE.md). The lexicographic tie-breaks of design
section 2 then run on the same HiGHS instance: fix the objective just solved at its value
(one added row), change the column costs, solve again from the previous plan. A last LP with
the first stage fixed maximises every scenario's recourse, so the model's R_s are the best
each scenario can do under the plan, which is what the independent evaluation computes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from models.resilience import ModelData, build_model, prepare, tiebreaks
from optimizer.data import Instance
from optimizer.errors import InfeasibleError, SolverFailure
from optimizer.outcome import ResilienceSummary, ScenarioOutcome
from optimizer.plan import Plan, plan_cost
from optimizer.presolve import prove_infeasible
from optimizer.schema import ObjectiveKind
from optimizer.status import Status, from_highs

# The tie-break rows hold an objective within this of the value already reached (objectives
# are scaled to about 1). Looser, and the cost stage spends the slack on a smaller pool.
LEXICOGRAPHIC_TOL = 1e-9
# Each tie-break solve gets at most this many times the primary solve's time (and no less
# than TIEBREAK_MIN_SECONDS): on large instances a tie-break can take 20x the primary.
TIEBREAK_FACTOR = 2.0
TIEBREAK_MIN_SECONDS = 10.0


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float | None = None  # seconds, counted from ``started``
    mip_gap: float = 1e-4
    threads: int | None = None
    started: float = field(default_factory=time.monotonic)
    log: Callable[[str], None] | None = None  # progress lines (standard error in the CLI)
    # A plan to start from (say, the previous solve of a budget sweep); it must fit this
    # instance's ids. Without one, the do-nothing plan where it is surely feasible.
    start: Plan | None = None
    # How to solve: "extensive" (this module), "decomposition" (optimizer.decomposition),
    # or "auto" (chosen by size in optimizer.dispatch); which MIP solver ("highs" here,
    # others through Pyomo in optimizer.external); where scenario evaluations run.
    method: str = "auto"
    solver: str = "highs"
    workers: int | None = None  # local processes; None: the number of cores
    scheduler: str | None = None  # a Dask scheduler address, tcp://host:port

    def remaining(self) -> float | None:
        if self.time_limit is None:
            return None
        return max(0.0, self.time_limit - (time.monotonic() - self.started))


@dataclass(frozen=True)
class Stage:
    objective: str
    status: str
    value: float | None
    seconds: float


@dataclass(frozen=True, eq=False)
class Solution:
    status: Status
    message: str
    plan: Plan | None
    objective_value: float | None
    bound: float | None
    gap: float | None
    outcomes: list[ScenarioOutcome] | None  # the model's, after the recourse polish
    solver_version: str
    build_seconds: float
    handoff_seconds: float
    solve_seconds: float
    nodes: int
    iterations: int
    stages: tuple[Stage, ...]
    size: dict[str, int]
    solver_name: str = "highs"
    method: str = "extensive"
    # Per-iteration records of an iterative method (decomposition): iteration, active
    # scenarios, bound, incumbent, gap, seconds.
    progress: tuple[dict[str, Any], ...] = ()


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS prints its banner from C on file descriptor 1; stdout must stay clean."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@dataclass
class _Compiled:
    """The model in HiGHS, with the map back to Pyomo's variables."""

    highs: highspy.Highs
    columns: list  # Pyomo VarData per column
    column_of: dict[int, int]  # id(VarData) -> column
    objectives: dict[str, np.ndarray]  # name -> dense cost vector (minimisation form)
    offsets: dict[str, float]
    integer: np.ndarray  # bool per column
    num_rows: int
    nnz: int


def _compile(model: pyo.ConcreteModel, names: list[str], options: SolveOptions) -> _Compiled:
    for name in names:
        model.component(name).activate()
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    for name in names[1:]:
        model.component(name).deactivate()
    columns = info.columns
    n = len(columns)
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
    offsets = {obj.local_name: float(info.c_offset[j]) for j, obj in enumerate(info.objectives)}

    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", options.mip_gap)
    h.setOptionValue("random_seed", 0)
    if options.threads:
        h.setOptionValue("threads", int(options.threads))
    h.passModel(
        n, len(info.rows), a.nnz, int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize), 0.0,
        objectives[names[0]], col_lower, col_upper, row_lower, row_upper,
        a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data.astype(float),
        np.where(integer, int(highspy.HighsVarType.kInteger),
                 int(highspy.HighsVarType.kContinuous)).astype(np.int32),
    )
    return _Compiled(h, columns, {id(v): j for j, v in enumerate(columns)}, objectives,
                     offsets, integer, len(info.rows), a.nnz)


def _run(c: _Compiled, options: SolveOptions, cap: float | None = None) -> tuple[Status, float]:
    """One HiGHS run within what is left of the time limit (and ``cap`` seconds, if given)."""
    limits = [t for t in (options.remaining(), cap) if t is not None]
    c.highs.setOptionValue("time_limit", max(min(limits), 1e-3) if limits
                           else highspy.kHighsInf)
    started = time.monotonic()
    c.highs.run()
    seconds = time.monotonic() - started
    info = c.highs.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    return from_highs(c.highs.getModelStatus(), has_solution), seconds


def _value_of(c: _Compiled, var: pyo.Var, x: np.ndarray) -> float:
    j = c.column_of.get(id(var))
    if j is not None:
        return float(x[j])
    # Fixed or unused variables were compiled away: their value is fixed or irrelevant.
    return float(var.value) if var.fixed and var.value is not None else float(var.lb or 0.0)


def _plan_from(c: _Compiled, model: pyo.ConcreteModel, md: ModelData, x: np.ndarray) -> Plan:
    inst = md.instance
    stock = np.array([[_value_of(c, model.x[d, k], x) for k in model.K] for d in model.D])
    stock = stock.reshape(len(inst.depots), len(inst.commodities))
    if inst.policy.integer_stock:
        stock = np.round(stock)
    stock = np.maximum(stock, 0.0)
    opened = tuple(round(_value_of(c, model.y[d], x)) == 1 for d in model.D)
    stock[~np.array(opened, dtype=bool)] = 0.0
    plan = Plan(
        open_depots=opened,
        stock=stock,
        open_shelters=tuple(round(_value_of(c, model.z[h], x)) == 1 for h in model.H),
        modules=tuple(round(_value_of(c, model.modules[h], x)) for h in model.H),
        compensation_pool=min(max(0.0, _value_of(c, model.pool, x)) * md.money_scale,
                              inst.max_pool),
    )
    # The budget row holds within HiGHS's feasibility tolerance, which on a budget in the
    # hundreds of thousands is a few cents over; a budget officer reads that as overspending.
    # The pool is continuous and worth least per unit, so it gives back the excess.
    excess = plan_cost(inst, plan).total - inst.budget
    if excess > 0:
        plan = replace(plan, compensation_pool=max(0.0, plan.compensation_pool - excess))
    return plan


def _first_stage_columns(c: _Compiled, model: pyo.ConcreteModel) -> list[tuple[int, pyo.Var]]:
    out = []
    for comp in (model.y, model.x, model.z, model.modules, model.pool):
        for var in comp.values():
            j = c.column_of.get(id(var))
            if j is not None:
                out.append((j, var))
    return out


def _fix_plan(c: _Compiled, model: pyo.ConcreteModel, md: ModelData, plan: Plan) -> None:
    """Fix the first-stage columns at the (rounded) plan for the recourse polish."""
    value = _first_stage_values(model, md, plan)
    for j, var in _first_stage_columns(c, model):
        c.highs.changeColBounds(j, value[id(var)], value[id(var)])


def _first_stage_values(model: pyo.ConcreteModel, md: ModelData,
                        plan: Plan) -> dict[int, float]:
    """id(VarData) -> the plan's value, in the model's (scaled) units."""
    value: dict[int, float] = {}
    for d in model.D:
        value[id(model.y[d])] = 1.0 if plan.open_depots[d] else 0.0
        for k in model.K:
            value[id(model.x[d, k])] = float(plan.stock[d, k])
    for h in model.H:
        value[id(model.z[h])] = 1.0 if plan.open_shelters[h] else 0.0
        value[id(model.modules[h])] = float(plan.modules[h])
    value[id(model.pool)] = plan.compensation_pool / md.money_scale
    return value


def _give_start(c: _Compiled, model: pyo.ConcreteModel, md: ModelData, plan: Plan) -> None:
    value = _first_stage_values(model, md, plan)
    columns = _first_stage_columns(c, model)
    if columns:
        c.highs.setSolution(len(columns), np.array([j for j, _ in columns], dtype=np.int32),
                            np.array([value[id(v)] for _, v in columns], dtype=float))


def _outcomes_from(c: _Compiled, model: pyo.ConcreteModel, md: ModelData,
                   x: np.ndarray) -> list[ScenarioOutcome]:
    inst = md.instance
    om = inst.commodity_weights
    g = np.array([_value_of(c, model.g[j], x) for j in model.G]) if len(model.G) else np.zeros(0)
    v = np.array([_value_of(c, model.v[j], x) for j in model.V]) if len(model.V) else np.zeros(0)
    w = inst.weights
    outcomes = []
    for s, scenario in enumerate(inst.scenarios):
        gs = md.g_scenario == s
        delivered = np.zeros_like(scenario.need)
        units = g[gs] * md.supply_total[s] / om[md.g_commodity[gs]] if gs.any() else g[gs]
        np.add.at(delivered, (md.g_zone[gs], md.g_commodity[gs]), units)
        vs = md.v_scenario == s
        sheltered = np.zeros_like(scenario.evacuees)
        np.add.at(sheltered, md.v_zone[vs], v[vs] * md.evacuee_total[s])
        supply = float(g[gs].sum()) if md.supply_total[s] > 0 else 1.0
        shelter = float(v[vs].sum()) if md.evacuee_total[s] > 0 else 1.0
        economic = _value_of(c, model.econ[s], x) if md.loss_total[s] > 0 else 1.0
        outcomes.append(ScenarioOutcome(
            supply=supply, shelter=shelter, economic=economic,
            resilience=w.supply * supply + w.shelter * shelter + w.economic * economic,
            unmet_need=np.maximum(scenario.need - delivered, 0.0),
            unmet_evacuees=np.maximum(scenario.evacuees - sheltered, 0.0),
        ))
    return outcomes


def _message(status: Status, unfinished: list[str]) -> str:
    text = ("optimal within the MIP gap" if status is Status.OPTIMAL else
            "stopped at the time limit; the plan is the best found, with its bound and gap")
    if unfinished:
        text += ("; tie-breaks not finished within their time (" + ", ".join(unfinished)
                 + "): among plans as good, another may have higher expected resilience or "
                 "cost less")
    return text


def _objective_value(kind: ObjectiveKind, minimised: float, money_scale: float) -> float:
    """Objective in the units a user reads: resilience, or money for min_cost."""
    return minimised * money_scale if kind is ObjectiveKind.MIN_COST else -minimised


def _stage_value(name: str, minimised: float, kind: ObjectiveKind, money_scale: float) -> float:
    """A stage's objective in user units: money for cost, resilience otherwise."""
    if name == "tiebreak_cost":
        return minimised * money_scale
    if name == "tiebreak_expected":
        return -minimised
    return _objective_value(kind, minimised, money_scale)


def solve(instance: Instance, options: SolveOptions | None = None) -> Solution:
    """Solve ``instance`` with its objective; raise when no plan can exist or HiGHS fails."""
    options = options or SolveOptions()
    log = options.log or (lambda _msg: None)
    kind = instance.objective.kind
    prove_infeasible(instance)

    t0 = time.monotonic()
    md = prepare(instance)
    model = build_model(md)
    build_seconds = time.monotonic() - t0
    log(f"built the model in {build_seconds:.2f} s")

    t0 = time.monotonic()
    names = ["objective", *tiebreaks(kind)]
    c = _compile(model, names, options)
    handoff_seconds = time.monotonic() - t0
    size = {"variables": len(c.columns), "constraints": c.num_rows, "nonzeros": c.nnz,
            "integer_variables": int(c.integer.sum()), "scenarios": md.num_scenarios}
    log(f"handed {size['variables']} variables, {size['constraints']} constraints and "
        f"{size['nonzeros']} non-zeros to HiGHS in {handoff_seconds:.2f} s")

    stages: list[Stage] = []
    solve_seconds = 0.0
    nodes = iterations = 0

    def account() -> None:
        nonlocal nodes, iterations
        info = c.highs.getInfo()
        nodes += max(0, int(info.mip_node_count))
        iterations += max(0, int(info.simplex_iteration_count))

    # HiGHS keeps one thread pool per process; a solve with another thread count than the
    # last one fails unless the pool is reset.
    highspy.Highs.resetGlobalScheduler(True)
    if options.start is not None:
        _give_start(c, model, md, options.start)
    elif kind is not ObjectiveKind.MIN_COST and instance.policy.shelter_redundancy == 0:
        # Doing nothing is then always feasible: as a start, a time limit never ends
        # empty-handed. HiGHS completes the second stage of a partial start itself (and
        # ignores a start that is not feasible).
        _give_start(c, model, md, Plan.nothing(instance))
    status, seconds = _run(c, options)
    solve_seconds += seconds
    account()
    info = c.highs.getInfo()
    if not status.has_plan:
        stages.append(Stage("objective", status.value, None, seconds))
        if status is Status.INFEASIBLE:
            limit = c.highs.getModelStatus() != highspy.HighsModelStatus.kInfeasible
            if limit:
                raise InfeasibleError("the solver stopped at its limit before finding any "
                                      "feasible plan; allow more time (--time-limit)")
            if kind is ObjectiveKind.MIN_COST:
                raise InfeasibleError(
                    f"no plan within the budget {instance.budget:,.2f} reaches the worst-case "
                    f"target {instance.objective.target:g}; lower the target or raise the budget")
            raise InfeasibleError("no plan satisfies the budget, capacities and policies "
                                  "together")
        reason = c.highs.modelStatusToString(c.highs.getModelStatus())
        raise SolverFailure(f"HiGHS failed: {reason}")
    primary = float(info.objective_function_value)
    bound = float(info.mip_dual_bound) if c.integer.any() else primary
    stages.append(Stage("objective", status.value,
                        _objective_value(kind, primary, md.money_scale), seconds))
    log(f"{kind.value}: {_objective_value(kind, primary, md.money_scale):.6g} "
        f"({status.value}, {seconds:.2f} s)")

    # Lexicographic tie-breaks: hold each solved objective at its value, solve the next,
    # starting from the plan in hand. Each is capped in time; one that stops early still
    # returns a plan at least as good as its start, so the primary objective never suffers.
    x = np.array(c.highs.getSolution().col_value)
    cap = max(TIEBREAK_MIN_SECONDS, TIEBREAK_FACTOR * stages[0].seconds)
    unfinished: list[str] = []
    previous = names[0]
    for name in names[1:]:
        if options.remaining() == 0.0:
            log(f"time limit reached: {name} skipped")
            unfinished.append(name)
            continue
        value = float(c.objectives[previous] @ x)
        nz = np.flatnonzero(c.objectives[previous])
        c.highs.addRow(-highspy.kHighsInf, value + LEXICOGRAPHIC_TOL, len(nz),
                       nz.astype(np.int32), c.objectives[previous][nz])
        c.highs.changeColsCost(len(c.columns), np.arange(len(c.columns), dtype=np.int32),
                               c.objectives[name])
        start = highspy.HighsSolution()
        start.col_value = list(x)
        start.value_valid = True
        c.highs.setSolution(start)
        stage_status, seconds = _run(c, options, cap)
        solve_seconds += seconds
        account()
        if stage_status is not Status.OPTIMAL:
            unfinished.append(name)
        if not stage_status.has_plan:  # keep the plan we had
            stages.append(Stage(name, stage_status.value, None, seconds))
            break
        x = np.array(c.highs.getSolution().col_value)
        stage_value = _stage_value(name, float(c.highs.getInfo().objective_function_value),
                                   kind, md.money_scale)
        stages.append(Stage(name, stage_status.value, stage_value, seconds))
        log(f"{name}: {stage_value:.6g} ({stage_status.value}, {seconds:.2f} s)")
        previous = name
    plan = _plan_from(c, model, md, x)

    # Recourse polish: first stage fixed, every scenario's resilience maximised.
    _fix_plan(c, model, md, plan)
    n_rows = c.highs.getNumRow()
    if n_rows > c.num_rows:
        c.highs.deleteRows(n_rows - c.num_rows,
                           np.arange(c.num_rows, n_rows, dtype=np.int32))
    polish = np.zeros(len(c.columns))
    for s in model.S:
        j = c.column_of.get(id(model.r[s]))
        if j is not None:
            polish[j] = -1.0
    c.highs.changeColsCost(len(c.columns), np.arange(len(c.columns), dtype=np.int32), polish)
    c.highs.setOptionValue("time_limit", highspy.kHighsInf)
    t0 = time.monotonic()
    c.highs.run()
    seconds = time.monotonic() - t0
    solve_seconds += seconds
    account()
    if c.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SolverFailure("the recourse of the chosen plan could not be re-solved: "
                            + c.highs.modelStatusToString(c.highs.getModelStatus()))
    stages.append(Stage("recourse", Status.OPTIMAL.value, None, seconds))
    x = np.array(c.highs.getSolution().col_value)
    outcomes = _outcomes_from(c, model, md, x)

    value = _final_value(instance, plan, outcomes)
    bound_user = _objective_value(kind, bound, md.money_scale)
    if status is Status.OPTIMAL:
        bound_user = value if kind is ObjectiveKind.MIN_COST else max(bound_user, value)
    gap = abs(bound_user - value) / max(abs(value), 1e-10)
    return Solution(
        status=status,
        message=_message(status, unfinished),
        plan=plan, objective_value=value, bound=bound_user,
        gap=0.0 if gap < 1e-9 else gap, outcomes=outcomes,
        solver_version=_version(c.highs), build_seconds=build_seconds,
        handoff_seconds=handoff_seconds, solve_seconds=solve_seconds,
        nodes=nodes, iterations=iterations, stages=tuple(stages), size=size,
    )


def _version(h: highspy.Highs) -> str:
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


def _final_value(instance: Instance, plan: Plan, outcomes: list[ScenarioOutcome]) -> float:
    """The primary objective at the final plan and recourse."""
    kind = instance.objective.kind
    if kind is ObjectiveKind.MIN_COST:
        return plan_cost(instance, plan).total
    summary = ResilienceSummary.of(np.array([o.resilience for o in outcomes]),
                                   instance.probabilities, instance.objective.alpha)
    return {ObjectiveKind.WORST_CASE: summary.worst_case,
            ObjectiveKind.EXPECTED: summary.expected,
            ObjectiveKind.CVAR: summary.cvar}[kind]


