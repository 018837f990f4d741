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
from scipy.sparse import csc_matrix

from models.resilience import ModelData, build_model, prepare, tiebreaks
from optimizer.data import Instance
from optimizer.errors import InfeasibleError, SolverFailure, UsageError
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
    # How the model reaches HiGHS: "direct" (models.direct: the matrix straight from numpy
    # arrays, 40x faster) or "pyomo" (models.resilience through Pyomo's standard-form
    # compiler). tests/test_direct.py keeps the two equal bit for bit.
    builder: str = "direct"
    # How to solve: "extensive" (this module), "decomposition" (optimizer.decomposition),
    # or "auto" (chosen by size in optimizer.dispatch); which MIP solver ("highs" here,
    # others through Pyomo in optimizer.external); where scenario evaluations run.
    method: str = "auto"
    solver: str = "highs"
    workers: int | None = None  # local processes; None: one per core (in process below 1,000)
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
    interrupted: bool = False  # Ctrl-C stopped the solver; the CLI exits 130 after writing


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


@dataclass(frozen=True, eq=False)
class Layout:
    """Where each variable family of the model sits among HiGHS's columns.

    An index of -1 marks a variable the hand-off compiled away (fixed, or in no row): its
    value is then the family's default (1 for an existing facility's open flag, else 0).
    """

    y: np.ndarray  # (D,) open depot
    x: np.ndarray  # (D, K) stock bought
    z: np.ndarray  # (H,) open shelter
    modules: np.ndarray  # (H,)
    pool: int
    g: np.ndarray  # (G,) supply flows, ModelData's order
    v: np.ndarray  # (V,) shelter flows
    econ: np.ndarray  # (S,)
    r: np.ndarray  # (S,) resilience of each scenario

    @staticmethod
    def values(index: np.ndarray, x: np.ndarray, default: np.ndarray | float = 0.0
               ) -> np.ndarray:
        index = np.asarray(index)
        out = np.broadcast_to(np.asarray(default, dtype=float), index.shape).copy()
        present = index >= 0
        out[present] = x[index[present]]
        return out

    def first_stage(self) -> list[tuple[str, np.ndarray]]:
        return [("y", self.y), ("x", self.x), ("z", self.z), ("modules", self.modules),
                ("pool", np.array([self.pool]))]


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


def new_highs(options: SolveOptions) -> highspy.Highs:
    """A silent HiGHS instance with the options every route shares."""
    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", options.mip_gap)
    h.setOptionValue("random_seed", 0)
    if options.threads:
        h.setOptionValue("threads", int(options.threads))
    return h


def pass_model(h: highspy.Highs, a_csc: Any, cost: np.ndarray, col_lower: np.ndarray,
               col_upper: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray,
               integer: np.ndarray) -> None:
    """One ``passModel`` call with a column-wise matrix (minimisation)."""
    h.passModel(
        len(cost), len(row_lower), a_csc.nnz, int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize), 0.0,
        np.asarray(cost, dtype=float), col_lower, col_upper, row_lower, row_upper,
        a_csc.indptr.astype(np.int32), a_csc.indices.astype(np.int32),
        a_csc.data.astype(float),
        np.where(integer, int(highspy.HighsVarType.kInteger),
                 int(highspy.HighsVarType.kContinuous)).astype(np.int32),
    )


def compile_pyomo(model: pyo.ConcreteModel, md: ModelData, names: list[str],
                  options: SolveOptions) -> Compiled:
    """Pyomo's standard-form compiler, then one ``passModel`` (see the module docstring)."""
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
    )
    h = new_highs(options)
    pass_model(h, a, objectives[names[0]], col_lower, col_upper, row_lower, row_upper, integer)
    return Compiled(h, layout, objectives, integer, len(info.rows), a.nnz)


def _run(c: Compiled, options: SolveOptions,
         cap: float | None = None) -> tuple[Status, float, bool]:
    """One HiGHS run within what is left of the time limit (and ``cap`` seconds, if given).

    HiGHS runs in its own thread so that Ctrl-C reaches Python: it then asks HiGHS to stop
    and waits for it, keeping the incumbent. Returns (status, seconds, interrupted).
    """
    limits = [t for t in (options.remaining(), cap) if t is not None]
    c.highs.setOptionValue("time_limit", max(min(limits), 1e-3) if limits
                           else highspy.kHighsInf)
    started = time.monotonic()
    interrupted = False
    c.highs.HandleUserInterrupt = True
    c.highs.startSolve()
    while True:
        try:
            if c.highs.wait(0.1)[0]:
                break
        except KeyboardInterrupt:
            interrupted = True
            c.highs.cancelSolve()
    seconds = time.monotonic() - started
    info = c.highs.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    return from_highs(c.highs.getModelStatus(), has_solution), seconds, interrupted


def _plan_from(c: Compiled, md: ModelData, x: np.ndarray) -> Plan:
    inst = md.instance
    lay = c.layout
    stock = Layout.values(lay.x, x)
    if inst.policy.integer_stock:
        stock = np.round(stock)
    stock = np.maximum(stock, 0.0)
    existing_depots = np.array([d.existing for d in inst.depots], dtype=float)
    existing_shelters = np.array([h.existing for h in inst.shelters], dtype=float)
    opened = tuple(bool(v) for v in np.round(Layout.values(lay.y, x, existing_depots)) == 1)
    stock[~np.array(opened, dtype=bool)] = 0.0
    pool = float(Layout.values(np.array([lay.pool]), x)[0])
    plan = Plan(
        open_depots=opened,
        stock=stock,
        open_shelters=tuple(bool(v) for v in
                            np.round(Layout.values(lay.z, x, existing_shelters)) == 1),
        modules=tuple(int(v) for v in np.round(Layout.values(lay.modules, x))),
        compensation_pool=min(max(0.0, pool) * md.money_scale, inst.max_pool),
    )
    # The budget row holds within HiGHS's feasibility tolerance, which on a budget in the
    # hundreds of thousands is a few cents over; a budget officer reads that as overspending.
    # The pool is continuous and worth least per unit, so it gives back the excess.
    excess = plan_cost(inst, plan).total - inst.budget
    if excess > 0:
        plan = replace(plan, compensation_pool=max(0.0, plan.compensation_pool - excess))
    return plan


def _first_stage_values(c: Compiled, md: ModelData, plan: Plan) -> tuple[np.ndarray,
                                                                         np.ndarray]:
    """(columns, values) of the plan's first stage, in the model's (scaled) units."""
    lay = c.layout
    values = {
        "y": np.array(plan.open_depots, dtype=float),
        "x": np.asarray(plan.stock, dtype=float),
        "z": np.array(plan.open_shelters, dtype=float),
        "modules": np.array(plan.modules, dtype=float),
        "pool": np.array([plan.compensation_pool / md.money_scale]),
    }
    cols, vals = [], []
    for name, index in lay.first_stage():
        present = index >= 0
        cols.append(index[present].ravel())
        vals.append(values[name].reshape(index.shape)[present].ravel())
    return (np.concatenate(cols).astype(np.int32) if cols else np.zeros(0, np.int32),
            np.concatenate(vals) if vals else np.zeros(0))


def _fix_plan(c: Compiled, md: ModelData, plan: Plan) -> None:
    """Fix the first-stage columns at the (rounded) plan for the recourse polish."""
    cols, vals = _first_stage_values(c, md, plan)
    if len(cols):
        c.highs.changeColsBounds(len(cols), cols, vals, vals)


def _give_start(c: Compiled, md: ModelData, plan: Plan) -> None:
    cols, vals = _first_stage_values(c, md, plan)
    if len(cols):
        c.highs.setSolution(len(cols), cols, vals)


def _outcomes_from(c: Compiled, md: ModelData, x: np.ndarray) -> list[ScenarioOutcome]:
    return outcomes_from_flows(md, Layout.values(c.layout.g, x), Layout.values(c.layout.v, x),
                               Layout.values(c.layout.econ, x))


def outcomes_from_flows(md: ModelData, g: np.ndarray, v: np.ndarray,
                        econ: np.ndarray) -> list[ScenarioOutcome]:
    """Each scenario's outcome from the model's scaled flows, in the engine's units."""
    inst = md.instance
    om = inst.commodity_weights
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
        economic = float(econ[s]) if md.loss_total[s] > 0 else 1.0
        outcomes.append(ScenarioOutcome(
            supply=supply, shelter=shelter, economic=economic,
            resilience=w.supply * supply + w.shelter * shelter + w.economic * economic,
            unmet_need=np.maximum(scenario.need - delivered, 0.0),
            unmet_evacuees=np.maximum(scenario.evacuees - sheltered, 0.0),
        ))
    return outcomes


def _message(status: Status, unfinished: list[str], interrupted: bool = False) -> str:
    if interrupted:
        text = ("interrupted (Ctrl-C); the plan is the best found, with its bound and gap"
                if status is not Status.OPTIMAL else "optimal within the MIP gap; interrupted "
                "(Ctrl-C) during the tie-breaks")
    elif status is Status.OPTIMAL:
        text = "optimal within the MIP gap"
    else:
        text = "stopped at the time limit; the plan is the best found, with its bound and gap"
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
        return "no plan satisfies the budget, capacities and policies together"
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
        return "no plan satisfies the budget, capacities and policies together"
    chosen = np.flatnonzero(np.round(np.array(h.getSolution().col_value)) == 1)
    least = float(cost[chosen].sum())
    if least <= instance.budget + 1e-9 * max(1.0, instance.budget):
        return "no plan satisfies the budget, capacities and policies together"
    names = ", ".join(shelters[j].id for j in chosen if not shelters[j].existing)
    return (f"the shelter redundancy policy ({r} open shelter{'' if r == 1 else 's'} within "
            "evacuation reach of "
            f"every populated zone) alone costs at least {least:,.2f} (opening {names}), "
            f"more than the budget {instance.budget:,.2f}; raise the budget or relax the "
            "policy")


def solve(instance: Instance, options: SolveOptions | None = None) -> Solution:
    """Solve ``instance`` with its objective; raise when no plan can exist or HiGHS fails."""
    options = options or SolveOptions()
    log = options.log or (lambda _msg: None)
    kind = instance.objective.kind
    prove_infeasible(instance)

    names = ["objective", *tiebreaks(kind)]
    t0 = time.monotonic()
    md = prepare(instance)
    check_fits(md, options.builder)
    if options.builder == "direct":
        from models.direct import compile_direct

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
        _give_start(c, md, options.start)
    elif kind is not ObjectiveKind.MIN_COST and instance.policy.shelter_redundancy == 0:
        # Doing nothing is then always feasible: as a start, a time limit never ends
        # empty-handed. HiGHS completes the second stage of a partial start itself (and
        # ignores a start that is not feasible).
        _give_start(c, md, Plan.nothing(instance))
    status, seconds, interrupted = _run(c, options)
    solve_seconds += seconds
    account()
    info = c.highs.getInfo()
    if interrupted and not status.has_plan:
        raise KeyboardInterrupt
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
            raise InfeasibleError(explain_infeasible(instance, md, options))
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
        if interrupted or options.remaining() == 0.0:
            log(f"{'interrupted' if interrupted else 'time limit reached'}: {name} skipped")
            unfinished.append(name)
            continue
        # Contiguous, so the value does not depend on how a builder stored the vector.
        value = float(np.ascontiguousarray(c.objectives[previous]) @ x)
        nz = np.flatnonzero(c.objectives[previous])
        c.highs.addRow(-highspy.kHighsInf, value + LEXICOGRAPHIC_TOL, len(nz),
                       nz.astype(np.int32), c.objectives[previous][nz])
        c.highs.changeColsCost(c.num_cols, np.arange(c.num_cols, dtype=np.int32),
                               c.objectives[name])
        start = highspy.HighsSolution()
        start.col_value = list(x)
        start.value_valid = True
        c.highs.setSolution(start)
        stage_status, seconds, interrupted = _run(c, options, cap)
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
    plan = _plan_from(c, md, x)

    # Recourse polish: first stage fixed, every scenario's resilience maximised.
    _fix_plan(c, md, plan)
    n_rows = c.highs.getNumRow()
    if n_rows > c.num_rows:
        c.highs.deleteRows(n_rows - c.num_rows,
                           np.arange(c.num_rows, n_rows, dtype=np.int32))
    polish = np.zeros(c.num_cols)
    polish[c.layout.r[c.layout.r >= 0]] = -1.0
    c.highs.changeColsCost(c.num_cols, np.arange(c.num_cols, dtype=np.int32), polish)
    c.highs.setOptionValue("time_limit", highspy.kHighsInf)
    c.highs.HandleUserInterrupt = False  # a Ctrl-C already honoured must not stop this LP
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
    outcomes = _outcomes_from(c, md, x)

    value = final_value(instance, plan, outcomes)
    bound_user = _objective_value(kind, bound, md.money_scale)
    if status is Status.OPTIMAL:
        bound_user = value if kind is ObjectiveKind.MIN_COST else max(bound_user, value)
    gap = abs(bound_user - value) / max(abs(value), 1e-10)
    return Solution(
        status=status,
        message=_message(status, unfinished, interrupted),
        plan=plan, objective_value=value, bound=bound_user,
        gap=0.0 if gap < 1e-9 else gap, outcomes=outcomes,
        solver_version=_version(c.highs), build_seconds=build_seconds,
        handoff_seconds=handoff_seconds, solve_seconds=solve_seconds,
        nodes=nodes, iterations=iterations, stages=tuple(stages), size=size,
        interrupted=interrupted,
    )


def _version(h: highspy.Highs) -> str:
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


def final_value(instance: Instance, plan: Plan, outcomes: list[ScenarioOutcome]) -> float:
    """The primary objective at the final plan and recourse, in the units a user reads."""
    kind = instance.objective.kind
    if kind is ObjectiveKind.MIN_COST:
        return plan_cost(instance, plan).total
    summary = ResilienceSummary.of(np.array([o.resilience for o in outcomes]),
                                   instance.probabilities, instance.objective.alpha)
    return {ObjectiveKind.WORST_CASE: summary.worst_case,
            ObjectiveKind.EXPECTED: summary.expected,
            ObjectiveKind.CVAR: summary.cvar}[kind]


