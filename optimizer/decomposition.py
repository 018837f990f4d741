"""Exact scenario generation for many scenarios (design section 6).

Worst case: max_x min_s R_s(x). A *master* holds the first stage and the recourse of a few
*active* scenarios only, so its optimum bounds the true one from above. Each iteration:

1. solve the master (MIP) -> a plan x and an upper bound;
2. evaluate ALL scenarios at x (``optimizer.recourse``: arrays and hot-started HiGHS LPs,
   no Pyomo, spread over the executor) -> min_s R_s(x), a lower bound, and the incumbent;
3. stop when the bounds meet within the MIP gap; otherwise activate the worst scenario
   that x does not yet account for (its R_s(x) is below the master's value), and repeat.

min_cost is the same loop with the master minimising cost subject to r_s >= T on the active
scenarios (a relaxation, so its optimum bounds the cost from below) and a plan counting as
an incumbent only when every scenario reaches T. Both stop after finitely many iterations
(at worst every scenario is active) with a proven bound.

Tie-breaks (design section 2): after the worst-case optimum t*, the cheapest plan with
min_s R_s >= t* - LEXICOGRAPHIC_TOL is found by the min_cost loop on the same master. The
expected-resilience tie-break needs every scenario in one model, which is what this method
avoids; it is not applied, and the result's message says so. ``expected`` and ``cvar``
objectives are refused. A master could bound them soundly (each left-out scenario at its
ceiling value, see ``FirstStage.ceiling``), but their value depends on every scenario (for
cvar, on every scenario of the worst 1 - alpha of the probability), so the master would
grow until it held most of them: the extensive form with extra steps.

The master is the Pyomo model of ``models.resilience`` over the active scenarios, handed to
one persistent HiGHS instance through Pyomo's standard-form compiler. A new scenario's
block (its recourse columns and rows) is compiled from a one-scenario model and appended
with ``addCols``/``addRows``; the first-stage columns are matched by name. Rebuilding the
master instead would cost the whole Pyomo build and hand-off again at every iteration
(about 25 microseconds per non-zero, PERFORMANCE.md), growing with the active set, while an
appended block costs the same small amount whatever the master's size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from models.resilience import build_model, prepare
from optimizer.data import Instance
from optimizer.errors import InfeasibleError, SolverFailure, UsageError
from optimizer.evaluate import plan_violations
from optimizer.executors import Executor, batch_size, open_executor
from optimizer.outcome import ScenarioOutcome
from optimizer.plan import Plan, plan_cost
from optimizer.presolve import prove_infeasible
from optimizer.recourse import (
    Evaluation,
    FirstStage,
    Task,
    blocks_of,
    evaluate_task,
    forget,
    new_highs,
)
from optimizer.schema import ObjectiveKind
from optimizer.solve import Solution, SolveOptions, Stage
from optimizer.status import Status, from_highs

INF = highspy.kHighsInf

# Scenarios per recourse LP (one HiGHS instance). 10-50 measured best at 200 nodes (about
# 0.3-0.4 ms per hot-started scenario); much larger blocks re-solve more slowly per scenario.
BLOCK_SIZE = 32
# While waiting for an evaluation round, check this often that no Dask worker has left.
WATCH_SECONDS = 5.0
# Below this many scenarios, evaluation stays in process unless --workers is given:
# starting worker processes and sending them the instance costs a second or two, about what
# they save at 1,000 scenarios on 2 cores (measured: 5.9 s in process, 6.3 s with 2
# processes); at 10,000 they halve the time (48 s against 26 s).
SMALL = 1000
# Scenarios activated per iteration. PERFORMANCE.md found adding several slower.
ADD_PER_ITERATION = 1
# A plan meets a min_cost target when every exact R_s >= T - FEASIBILITY_TOL, the
# tolerance of the independent check (optimizer.pipeline). HiGHS holds rows to 1e-7 on its
# scaled model, so a plan it calls feasible can fall a few 1e-7 short once its recourse is
# solved exactly; the extensive form returns such plans, and so does this method.
FEASIBILITY_TOL = 1e-6
# In the cost tie-break the worst case is the objective already optimised: it is held to
# this, and plans the master thinks meet it but fall short are repaired (REPAIR_LIMIT).
TIEBREAK_FEASIBILITY_TOL = 1e-7
# Largest shortfall of an active scenario below the target that is put down to numerics
# and repaired by raising the master's floor (see Run.generate).
REPAIR_LIMIT = 1e-5
MAX_REPAIRS = 5
# Relative gap left by the rounding of a master's plan (integers to integers, the pool
# trimmed to the budget) that still counts as the master's optimum.
ROUNDING_SLACK = 1e-6
# A scenario is worth activating when x leaves it this far below the master's value.
VIOLATION_TOL = 1e-9
# The cost tie-break holds the worst case within this of its optimum (as optimizer.solve).
LEXICOGRAPHIC_TOL = 1e-9
# Early masters are solved loosely (a quarter of the current overall gap, at most this),
# then tightened as the bounds close: an early master's plan is thrown away anyway.
LOOSE_GAP = 1e-2
# The cost tie-break gets at most this many times the time spent until the primary optimum
# (setup included), and no less than TIEBREAK_MIN_SECONDS (the extensive form's rule in
# optimizer.solve, where setup is small).
TIEBREAK_FACTOR = 2.0
TIEBREAK_MIN_SECONDS = 10.0

# Components of models.resilience that belong to the first stage; everything else in a
# one-scenario model is that scenario's block.
FIRST_STAGE_VARS = frozenset({"y", "x", "z", "modules", "pool", "cost", "worst"})
FIRST_STAGE_ROWS = frozenset({"cost_definition", "budget", "depot_capacity",
                              "shelter_modules", "shelter_redundancy"})


def restricted(instance: Instance, scenarios: list[int] | np.ndarray) -> Instance:
    """The instance with only the given scenarios (probabilities kept as they are)."""
    return dataclasses.replace(instance,
                               scenarios=tuple(instance.scenarios[int(s)] for s in scenarios))


# ------------------------------------------------------------------------------ master


@dataclass
class _Compiled:
    names: list[str]
    components: list[str]
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    costs: dict[str, np.ndarray]  # objective name -> dense costs (minimisation form)
    matrix: Any  # scipy CSR
    row_lower: np.ndarray
    row_upper: np.ndarray
    row_components: list[str]


def _compile(model: pyo.ConcreteModel, objectives: tuple[str, ...]) -> _Compiled:
    """Pyomo's standard-form compiler (mixed form), unpacked into arrays."""
    for name in objectives:
        model.component(name).activate()
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    row_lower = np.full(len(info.rows), -INF)
    row_upper = np.full(len(info.rows), INF)
    for r, entry in enumerate(info.rows):
        if entry[1] >= 0:
            row_upper[r] = info.rhs[r]
        if entry[1] <= 0:
            row_lower[r] = info.rhs[r]
    columns = info.columns
    c = info.c.toarray() if hasattr(info.c, "toarray") else np.asarray(info.c)
    return _Compiled(
        names=[v.name for v in columns],
        components=[v.parent_component().local_name for v in columns],
        lower=np.array([-INF if v.lb is None else v.lb for v in columns], dtype=float),
        upper=np.array([INF if v.ub is None else v.ub for v in columns], dtype=float),
        integer=np.array([v.is_integer() for v in columns], dtype=bool),
        costs={obj.local_name: np.asarray(c[j], dtype=float)
               for j, obj in enumerate(info.objectives)},
        matrix=info.A.tocsr(),
        row_lower=row_lower, row_upper=row_upper,
        row_components=[entry[0].parent_component().local_name for entry in info.rows],
    )


@dataclass(frozen=True)
class _MasterResult:
    status: Status
    plan: Plan | None
    value: float | None  # the master's objective at its plan, in model units
    bound: float | None  # its dual bound, in model units (minimisation form)
    seconds: float


class Master:
    """The Pyomo model over the active scenarios, in one persistent HiGHS instance.

    Built over ``WORST_CASE`` whatever the instance's objective, so one master serves both
    loops: maximise the ``worst`` column, or minimise cost with ``worst`` bounded below by
    a target (which, with ``worst <= r_s``, is ``r_s >= T`` on every active scenario).
    """

    OBJECTIVES = ("objective", "tiebreak_cost")

    def __init__(self, instance: Instance, options: SolveOptions, scenarios: list[int]) -> None:
        self.instance = instance
        self.base = dataclasses.replace(
            instance, objective=dataclasses.replace(instance.objective,
                                                    kind=ObjectiveKind.WORST_CASE))
        self.options = options
        self.build_seconds = 0.0
        self.handoff_seconds = 0.0
        self.nodes = 0
        self.iterations = 0
        self.restarts = 0  # solves repeated because HiGHS mixed up a start (see solve)
        self.interrupted = False  # Ctrl-C stopped a solve
        self.objective = "objective"
        self.active: list[int] = []
        compiled = self._compiled(list(scenarios))
        self.money_scale = self.base.budget if self.base.budget > 0 else 1.0

        t0 = time.monotonic()
        self.col_of = {name: j for j, name in enumerate(compiled.names)}
        self.costs = {name: compiled.costs[name].copy() for name in self.OBJECTIVES}
        self.integer = compiled.integer.copy()
        self.nnz = compiled.matrix.nnz
        a = compiled.matrix.tocsc()
        h = new_highs()
        h.setOptionValue("random_seed", 0)
        h.setOptionValue("mip_abs_gap", min(1e-6, options.mip_gap))
        if options.threads:
            h.setOptionValue("threads", int(options.threads))
        h.passModel(
            len(compiled.names), a.shape[0], a.nnz, int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize), 0.0, self.costs["objective"],
            compiled.lower, compiled.upper, compiled.row_lower, compiled.row_upper,
            a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data.astype(float),
            np.where(compiled.integer, int(highspy.HighsVarType.kInteger),
                     int(highspy.HighsVarType.kContinuous)).astype(np.int32))
        self.highs = h
        self.active = list(scenarios)
        self.handoff_seconds += time.monotonic() - t0
        self.worst_col = self.col_of["worst"]

    def _compiled(self, scenarios: list[int]) -> _Compiled:
        t0 = time.monotonic()
        model = build_model(prepare(restricted(self.base, scenarios)))
        t1 = time.monotonic()
        compiled = _compile(model, self.OBJECTIVES)
        self.build_seconds += t1 - t0
        self.handoff_seconds += time.monotonic() - t1
        return compiled

    @property
    def num_cols(self) -> int:
        return int(self.highs.getNumCol())

    @property
    def num_rows(self) -> int:
        return int(self.highs.getNumRow())

    def add(self, scenario: int) -> None:
        """Append one scenario's recourse block (columns, then rows) to the master."""
        block = self._compiled([scenario])
        t0 = time.monotonic()
        h = self.highs
        mapping = np.empty(len(block.names), dtype=np.int64)
        new: list[int] = []
        for j, (name, comp) in enumerate(zip(block.names, block.components, strict=True)):
            if comp in FIRST_STAGE_VARS and name in self.col_of:
                mapping[j] = self.col_of[name]
                continue
            # A scenario variable, or a first-stage one the master did not need yet (say,
            # stock of a zero-capacity depot that only this scenario's rows mention).
            mapping[j] = self.num_cols + len(new)
            if comp in FIRST_STAGE_VARS:
                self.col_of[name] = int(mapping[j])
            else:
                self.col_of[f"{name}@{scenario}"] = int(mapping[j])
            new.append(j)
        if new:
            idx = np.array(new)
            h.addCols(len(idx), np.zeros(len(idx)), block.lower[idx], block.upper[idx], 0,
                      np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32),
                      np.zeros(0))
            integer = block.integer[idx]
            cols = mapping[idx]
            if integer.any():
                h.changeColsIntegrality(int(integer.sum()), cols[integer].astype(np.int32),
                                        np.full(int(integer.sum()),
                                                int(highspy.HighsVarType.kInteger),
                                                dtype=np.int32))
            for name in self.OBJECTIVES:
                self.costs[name] = np.concatenate([self.costs[name], block.costs[name][idx]])
            self.integer = np.concatenate([self.integer, integer])
        rows = np.array([r for r, comp in enumerate(block.row_components)
                         if comp not in FIRST_STAGE_ROWS], dtype=np.int64)
        if len(rows):
            sub = block.matrix[rows]
            h.addRows(len(rows), block.row_lower[rows], block.row_upper[rows], sub.nnz,
                      sub.indptr[:-1].astype(np.int32),
                      mapping[sub.indices].astype(np.int32), sub.data.astype(float))
            self.nnz += sub.nnz
        self.active.append(int(scenario))
        self.handoff_seconds += time.monotonic() - t0

    # ------------------------------------------------------------------- solving

    def configure(self, objective: str, worst_lower: float = 0.0) -> None:
        """Which objective the next solves minimise, and the floor on the worst case."""
        n = self.num_cols
        self.objective = objective
        self.highs.changeColsCost(n, np.arange(n, dtype=np.int32), self.costs[objective])
        self.highs.changeColBounds(self.worst_col, float(worst_lower), 1.0)

    def solve(self, gap: float, time_limit: float | None, start: Plan | None) -> _MasterResult:
        h = self.highs
        h.setOptionValue("mip_rel_gap", float(gap))
        started = time.monotonic()
        if start is not None:
            self._give_start(start)
        status = self._run(time_limit)
        x = np.asarray(h.getSolution().col_value) if status.has_plan else None
        if x is not None and start is not None and not self.interrupted and \
                not self._consistent(x):
            # HiGHS 1.16 can return the start itself as the solution while reporting the
            # objective that the start reaches in its presolved space (the recourse there
            # re-optimised), so the plan in hand is not the one the objective describes.
            # Solved again without the start, the solution and the objective agree.
            self.restarts += 1
            h.clearSolver()
            left = None if time_limit is None else time_limit - (time.monotonic() - started)
            status = self._run(left)
            x = np.asarray(h.getSolution().col_value) if status.has_plan else None
        seconds = time.monotonic() - started
        if x is None:
            return _MasterResult(status, None, None, None, seconds)
        info = h.getInfo()
        value = float(info.objective_function_value)
        bound = float(info.mip_dual_bound) if self.integer.any() else value
        if status is Status.OPTIMAL or not math.isfinite(bound):
            bound = min(bound, value) if math.isfinite(bound) else value
        return _MasterResult(status, self._plan(x), value, bound, seconds)

    def _run(self, time_limit: float | None) -> Status:
        """One HiGHS run, in its own thread so that Ctrl-C reaches Python: it then asks
        HiGHS to stop and waits for it, keeping the incumbent (as optimizer.solve does)."""
        h = self.highs
        h.setOptionValue("time_limit", max(time_limit, 1e-3) if time_limit is not None
                         else INF)
        highspy.Highs.resetGlobalScheduler(True)
        h.HandleUserInterrupt = True
        h.startSolve()
        while True:
            try:
                if h.wait(0.1)[0]:
                    break
            except KeyboardInterrupt:
                self.interrupted = True
                h.cancelSolve()
        info = h.getInfo()
        self.nodes += max(0, int(info.mip_node_count))
        self.iterations += max(0, int(info.simplex_iteration_count))
        return from_highs(h.getModelStatus(), info.primal_solution_status == 2)

    def _consistent(self, x: np.ndarray) -> bool:
        """The solution's objective is the one HiGHS reports."""
        reported = float(self.highs.getInfo().objective_function_value)
        computed = float(self.costs[self.objective] @ x)
        return abs(reported - computed) <= 1e-7 * max(1.0, abs(reported))

    def worst_value(self) -> float:
        return float(self.highs.getSolution().col_value[self.worst_col])

    def _first_stage(self) -> list[tuple[str, int, float]]:
        """(column name, column, value per unit of plan) of every first-stage decision."""
        inst = self.instance
        out = []
        for d in range(len(inst.depots)):
            out.append((f"y[{d}]", d, 1.0))
            out.extend((f"x[{d},{k}]", d, 1.0) for k in range(len(inst.commodities)))
        for h in range(len(inst.shelters)):
            out.append((f"z[{h}]", h, 1.0))
            out.append((f"modules[{h}]", h, 1.0))
        out.append(("pool", 0, 1.0 / self.money_scale))
        return out

    def _column(self, name: str, x: np.ndarray, default: float) -> float:
        j = self.col_of.get(name)
        return float(x[j]) if j is not None else default

    def _plan(self, x: np.ndarray) -> Plan:
        """The master's first stage as a plan: integers rounded, never over budget."""
        inst = self.instance
        D, K, H = len(inst.depots), len(inst.commodities), len(inst.shelters)
        opened = tuple(d.existing or round(self._column(f"y[{j}]", x, 0.0)) == 1
                       for j, d in enumerate(inst.depots))
        stock = np.array([[self._column(f"x[{d},{k}]", x, 0.0) for k in range(K)]
                          for d in range(D)]).reshape(D, K)
        if inst.policy.integer_stock:
            stock = np.round(stock)
        stock = np.maximum(stock, 0.0)
        stock[~np.array(opened, dtype=bool)] = 0.0
        shelters = tuple(s.existing or round(self._column(f"z[{h}]", x, 0.0)) == 1
                         for h, s in enumerate(inst.shelters))
        modules = tuple(round(self._column(f"modules[{h}]", x, 0.0)) if shelters[h]
                        else 0 for h in range(H))
        pool = min(max(0.0, self._column("pool", x, 0.0)) * self.money_scale, inst.max_pool)
        plan = Plan(opened, stock, shelters, modules, pool)
        # The budget row holds within HiGHS's tolerance, a few cents over on a large budget;
        # the pool is continuous and worth least per unit, so it gives back the excess.
        excess = plan_cost(inst, plan).total - inst.budget
        if excess > 0:
            plan = dataclasses.replace(plan, compensation_pool=max(0.0, pool - excess))
        return plan

    def _give_start(self, plan: Plan) -> None:
        """The plan's first stage as a (partial) start; HiGHS completes the rest."""
        inst = self.instance
        values: dict[str, float] = {}
        for d in range(len(inst.depots)):
            values[f"y[{d}]"] = 1.0 if plan.open_depots[d] else 0.0
            for k in range(len(inst.commodities)):
                values[f"x[{d},{k}]"] = float(plan.stock[d, k])
        for h in range(len(inst.shelters)):
            values[f"z[{h}]"] = 1.0 if plan.open_shelters[h] else 0.0
            values[f"modules[{h}]"] = float(plan.modules[h])
        values["pool"] = plan.compensation_pool / self.money_scale
        cols = [(self.col_of[n], v) for n, v in values.items() if n in self.col_of]
        if cols:
            self.highs.setSolution(len(cols), np.array([j for j, _ in cols], dtype=np.int32),
                                   np.array([v for _, v in cols], dtype=float))

    def size(self, total_scenarios: int) -> dict[str, int]:
        return {"variables": self.num_cols, "constraints": self.num_rows,
                "nonzeros": int(self.nnz), "integer_variables": int(self.integer.sum()),
                "scenarios": len(self.active), "scenarios_evaluated": total_scenarios}

    def version(self) -> str:
        h = self.highs
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


# -------------------------------------------------------------------------- evaluation


class Evaluator:
    """Every scenario at a first stage, spread over an executor's lanes.

    Lane ``l`` owns a contiguous slice of the scenarios, cut into blocks of
    :data:`BLOCK_SIZE` (one recourse LP each) and sent in tasks of :func:`batch_size`
    scenarios; the same blocks always go to the same lane, where they stay warm.
    """

    def __init__(self, instance: Instance, executor: Executor,
                 block_size: int = BLOCK_SIZE) -> None:
        self.instance = instance
        self.executor = executor
        self.shared = executor.share(instance)
        S = len(instance.scenarios)
        lanes = executor.lanes
        per_batch = batch_size(executor.kind, S, lanes)
        bounds = np.linspace(0, S, lanes + 1).round().astype(int)
        self.tasks: list[tuple[int, tuple[tuple[int, np.ndarray], ...]]] = []
        block_id = 0
        for lane in range(lanes):
            indices = np.arange(bounds[lane], bounds[lane + 1])
            for batch in blocks_of(indices, per_batch):
                blocks = []
                for block in blocks_of(batch, block_size):
                    blocks.append((block_id, block))
                    block_id += 1
                self.tasks.append((lane, tuple(blocks)))
        self.batch_size = per_batch
        self.seconds = 0.0
        self.rounds = 0

    def __call__(self, first: FirstStage, detail: bool = False) -> Evaluation:
        t0 = time.monotonic()

        def submit(lane: int, blocks: tuple[tuple[int, np.ndarray], ...]) -> Future:
            return self.executor.submit(lane, evaluate_task, self.shared,
                                        Task(blocks, first, detail))

        self.executor.repin_lost()
        pending = {submit(lane, blocks): (lane, blocks) for lane, blocks in self.tasks
                   if blocks}
        parts = []
        while pending:
            done, _ = wait(list(pending), timeout=WATCH_SECONDS)
            for future in done:
                parts.append(future.result())
                del pending[future]
            lost = self.executor.repin_lost() if pending else set()
            for future, (lane, blocks) in list(pending.items()):
                if lane in lost:  # its worker left: run it where the lane now lives
                    future.cancel()
                    del pending[future]
                    pending[submit(lane, blocks)] = (lane, blocks)
        self.seconds += time.monotonic() - t0
        self.rounds += 1
        return Evaluation.concatenate(parts)

    def close(self) -> None:
        try:
            self.executor.on_every_lane(forget, self.shared.token)
        finally:
            self.executor.release(self.shared)


# ---------------------------------------------------------------------------- the loop


@dataclass
class _Incumbent:
    plan: Plan
    resilience: np.ndarray  # R_s at the plan, every scenario
    cost: float

    @property
    def worst(self) -> float:
        return float(self.resilience.min())


@dataclass
class _Stage:
    name: str
    status: Status
    seconds: float
    iterations: int
    bound: float | None = None  # user units
    value: float | None = None


@dataclass
class _Run:
    instance: Instance
    options: SolveOptions
    master: Master
    evaluate: Evaluator
    log: Callable[[str], None]
    upper: np.ndarray  # R_s at the ceiling: bounds R_s of every feasible plan
    progress: list[dict[str, Any]] = field(default_factory=list)
    iteration: int = 0
    start: Plan | None = None  # given to the first master solve
    interrupted: bool = False  # Ctrl-C: stop with the incumbent

    def elapsed(self) -> float:
        return time.monotonic() - self.options.started

    def deadline(self, stage_started: float, cap: float | None) -> float | None:
        """Seconds left for a master solve: the time limit and the stage's cap."""
        limits = [t for t in (self.options.remaining(),
                              None if cap is None else cap - (time.monotonic() - stage_started))
                  if t is not None]
        return max(0.0, min(limits)) if limits else None

    def record(self, stage: str, bound: float | None, incumbent: float | None,
               gap: float | None, master_seconds: float, evaluation_seconds: float) -> None:
        self.iteration += 1
        entry = {"stage": stage, "iteration": self.iteration,
                 "active_scenarios": len(self.master.active),
                 "bound": bound, "incumbent": incumbent, "gap": gap,
                 "seconds": round(self.elapsed(), 3),
                 "master_seconds": round(master_seconds, 3),
                 "evaluation_seconds": round(evaluation_seconds, 3)}
        self.progress.append(entry)
        what = "resilience" if stage == "objective" else "cost"
        self.log(f"decomposition {self.iteration} ({what}): "
                 f"{len(self.master.active)} of {len(self.instance.scenarios)} scenarios "
                 f"active, bound {_fmt(bound)}, incumbent {_fmt(incumbent)}, gap "
                 f"{'-' if gap is None else f'{gap:.3%}'} ({entry['seconds']:.1f} s)")

    def evaluate_plan(self, plan: Plan) -> _Incumbent:
        values = self.evaluate(FirstStage.of(self.instance, plan)).resilience(self.instance)
        return _Incumbent(plan, values, plan_cost(self.instance, plan).total)

    def _admissible(self, plan: Plan, target: float | None,
                    tolerance: float) -> _Incumbent | None:
        """The plan as an incumbent, if it meets the target (any plan does otherwise)."""
        candidate = self.evaluate_plan(plan)
        if target is None or candidate.worst >= target - tolerance:
            return candidate
        return None

    def generate(self, stage: str, target: float | None, incumbent: _Incumbent | None,
                 cap: float | None, tolerance: float = FEASIBILITY_TOL, loose: bool = True,
                 ) -> tuple[_Stage, _Incumbent | None]:
        """One scenario-generation loop: maximise the worst case (``target`` None), or
        minimise cost subject to every R_s >= ``target``.

        ``loose``: early masters to LOOSE_GAP. Worth it while many scenarios are still to
        come; the cost tie-break starts from the primary's active set, which usually needs
        few more, so there a loose solve would mostly be repeated at the gap.
        """
        started = time.monotonic()
        inst, master = self.instance, self.master
        resilience = target is None
        wanted = self.options.mip_gap
        scale = master.money_scale
        # The floor on every active r_s (cost mode): the target, raised a hair when HiGHS's
        # tolerances let the master promise a little more than a plan's exact recourse.
        floor = 0.0 if resilience else target
        master.configure("objective" if resilience else "tiebreak_cost", floor)
        # Bounds in user units: resilience from above (the ceiling's worst case bounds it),
        # cost from below.
        bound = float(self.upper.min()) if resilience else 0.0
        status = Status.FEASIBLE
        master_gap = max(wanted, LOOSE_GAP) if loose else wanted
        iterations = repairs = 0
        try:
            while True:
                left = self.deadline(started, cap)
                if left is not None and left <= 0.0:
                    break
                hint = incumbent.plan if incumbent is not None else self.start
                result = master.solve(master_gap, left, hint)
                iterations += 1
                if master.interrupted:
                    self.interrupted = True
                    if incumbent is None and result.plan is not None:
                        incumbent = self._admissible(result.plan, target, tolerance)
                    break
                if not result.status.has_plan:
                    proved = master.highs.getModelStatus() == highspy.HighsModelStatus.kInfeasible
                    if proved and incumbent is not None:  # only a repaired floor can do this
                        self.log("decomposition: the raised floor left no plan; keeping the best")
                        break
                    if proved:
                        raise InfeasibleError(_infeasible_message(inst, target, stage))
                    if result.status is Status.INFEASIBLE:  # stopped at a limit without a plan
                        break
                    raise SolverFailure("HiGHS failed on the decomposition master: "
                                        + master.highs.modelStatusToString(
                                            master.highs.getModelStatus()))
                assert result.plan is not None and result.bound is not None
                if resilience:
                    bound = min(bound, -result.bound)
                elif floor == target:  # a raised floor bounds a slightly harder problem
                    bound = max(bound, result.bound * scale)
                t0 = time.monotonic()
                candidate = self.evaluate_plan(result.plan)
                evaluation_seconds = time.monotonic() - t0
                if resilience:
                    if incumbent is None or candidate.worst > incumbent.worst:
                        incumbent = candidate
                elif candidate.worst >= target - tolerance and (
                        incumbent is None or candidate.cost < incumbent.cost):
                    incumbent = candidate
                value = None if incumbent is None else (incumbent.worst if resilience
                                                        else incumbent.cost)
                gap = None if value is None else _gap(bound, value, resilience)
                self.record(stage, bound, value, gap, result.seconds, evaluation_seconds)
                if value is not None and _closed(bound, value, resilience, wanted, scale):
                    status = Status.OPTIMAL
                    break
                if result.status is not Status.OPTIMAL:  # the master stopped at the time limit
                    break
                # Scenarios the plan does not account for: below what the master promised
                # (worst case), or below the target (cost).
                threshold = (master.worst_value() - VIOLATION_TOL if resilience
                             else target - tolerance)
                active = np.zeros(len(inst.scenarios), dtype=bool)
                active[master.active] = True
                values = candidate.resilience
                violated = np.flatnonzero(~active & (values < threshold))
                if len(violated):
                    worst_first = violated[np.argsort(values[violated], kind="stable")]
                    with _deferred_interrupt():  # Pyomo complains when cut short
                        for s in worst_first[:ADD_PER_ITERATION]:
                            master.add(int(s))
                    if gap is not None:
                        master_gap = max(wanted, min(master_gap, gap / 4))
                elif not resilience and repairs < MAX_REPAIRS and \
                        tolerance < target - values.min() <= REPAIR_LIMIT:
                    repairs += 1
                    # Only active scenarios fall short, by a trace: HiGHS's tolerances (on its
                    # scaled rows) let the master promise r_s a few 1e-7 above what the plan's
                    # exact recourse gives. Ask the master for that much more and solve again.
                    floor += 2 * (target - float(values.min()))
                    master.configure("tiebreak_cost", floor)
                elif master_gap > wanted:
                    master_gap = wanted  # nothing to add: only the master's own gap is left
                else:
                    # Nothing to add and the master solved to the gap: the bounds agree up to
                    # the master's tolerances and the rounding of its plan. Anything more is a
                    # numerical failure, reported as such rather than as an optimum.
                    if gap is not None and gap <= wanted + ROUNDING_SLACK:
                        status = Status.OPTIMAL
                    else:
                        self.log(f"decomposition: bounds stopped short of each other (gap "
                                 f"{'-' if gap is None else f'{gap:.3g}'}); the plan is the best "
                                 "found")
                    break
        except KeyboardInterrupt:
            # Ctrl-C between HiGHS runs (during an evaluation round, say): stop here with
            # the incumbent in hand; a master solve handles it itself (Master._run).
            self.interrupted = True
        if incumbent is None and self.start is not None:
            # Stopped before the master returned anything: the start is the plan in hand.
            incumbent = self._admissible(self.start, target, tolerance)
        seconds = time.monotonic() - started
        value = None if incumbent is None else (incumbent.worst if resilience else incumbent.cost)
        if status is Status.OPTIMAL and value is not None:
            bound = max(bound, value) if resilience else min(bound, value)
        return _Stage(stage, status, seconds, iterations, bound, value), incumbent


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[None]:
    """Ctrl-C waits until the block is done, then raises as usual (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    pressed: list[int] = []
    signal.signal(signal.SIGINT, lambda *_: pressed.append(1))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if pressed:
        raise KeyboardInterrupt


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _gap(bound: float, value: float, resilience: bool) -> float:
    diff = (bound - value) if resilience else (value - bound)
    return max(0.0, diff) / max(abs(value), 1e-10)


def _closed(bound: float, value: float, resilience: bool, wanted: float, scale: float) -> bool:
    """The bounds meet within the relative gap (or a hair in absolute terms)."""
    diff = (bound - value) if resilience else (value - bound)
    absolute = 1e-9 if resilience else 1e-9 * scale
    return diff <= wanted * max(abs(value), 1e-10) or diff <= absolute


def _infeasible_message(instance: Instance, target: float | None, stage: str) -> str:
    if stage == "objective" and target is not None:
        return (f"no plan within the budget {instance.budget:,.2f} reaches the worst-case "
                f"target {target:g}; lower the target or raise the budget")
    return "no plan satisfies the budget, capacities and policies together"


def _outcomes(instance: Instance, ev: Evaluation) -> list[ScenarioOutcome]:
    assert ev.unmet_need is not None and ev.unmet_evacuees is not None
    r = ev.resilience(instance)
    return [ScenarioOutcome(supply=float(ev.supply[s]), shelter=float(ev.shelter[s]),
                            economic=float(ev.economic[s]), resilience=float(r[s]),
                            unmet_need=ev.unmet_need[s], unmet_evacuees=ev.unmet_evacuees[s])
            for s in range(len(instance.scenarios))]


def solve_decomposition(instance: Instance, options: SolveOptions | None = None) -> Solution:
    """Solve ``instance`` by scenario generation (module docstring); same result contract
    as :func:`optimizer.solve.solve`.

    Raises
    ------
    UsageError
        For the ``expected`` and ``cvar`` objectives, which this method does not offer.
    InfeasibleError
        When no plan exists (or none was found within the time limit).
    """
    options = options or SolveOptions()
    kind = instance.objective.kind
    if kind in (ObjectiveKind.EXPECTED, ObjectiveKind.CVAR):
        raise UsageError(
            f"the decomposition is not offered for the {kind.value} objective: its value "
            "depends on every scenario (cvar: on every scenario of its tail), so a master "
            "over a few of them bounds it only loosely and would grow to hold most of them; "
            "use --method extensive")
    prove_infeasible(instance)
    log = options.log or (lambda _msg: None)
    S = len(instance.scenarios)
    with open_executor(options.workers, options.scheduler, scenarios=S,
                       small=SMALL) as executor:
        log(f"decomposition over {S} scenarios; evaluation: {executor.describe()}")
        evaluator = Evaluator(instance, executor)
        try:
            return _solve(instance, options, evaluator, log)
        finally:
            evaluator.close()


def _solve(instance: Instance, options: SolveOptions, evaluator: Evaluator,
           log: Callable[[str], None]) -> Solution:
    kind = instance.objective.kind
    target = float(instance.objective.target or 0.0) if kind is ObjectiveKind.MIN_COST else None

    # Every scenario at the ceiling (everything open and full): R_s there bounds R_s of any
    # plan, so the lowest is a first upper bound, and its scenario the first to activate.
    # This first round builds every scenario's LP; the next plan is then solved hot from
    # the ceiling's basis (measured: 0.9 ms a scenario, against 1.3 ms from scratch).
    upper = evaluator(FirstStage.ceiling(instance)).resilience(instance)
    first = int(np.argmin(upper))
    if target is not None and upper[first] < target - FEASIBILITY_TOL:
        raise InfeasibleError(
            f"scenario {instance.scenarios[first].id!r} reaches at most {upper[first]:.6g} "
            f"even with every depot open and full, every shelter open with every module and "
            f"the largest pool, below the worst-case target {target:g}")
    master = Master(instance, options, [first])
    log(f"decomposition master: handed {master.num_cols} variables, {master.num_rows} "
        f"constraints and {master.nnz} non-zeros to HiGHS in "
        f"{master.build_seconds + master.handoff_seconds:.2f} s (1 of "
        f"{len(instance.scenarios)} scenarios; the worst at the ceiling, "
        f"{upper[first]:.6g})")
    run = _Run(instance, options, master, evaluator, log, upper)

    # A start goes to the master as its first incumbent (HiGHS keeps it when it is feasible
    # for the active scenarios and completes the recourse), so a time limit never ends
    # empty-handed; the plan the master returns is evaluated like any other.
    start = options.start
    if start is None and target is None and instance.policy.shelter_redundancy == 0:
        start = Plan.nothing(instance)  # surely feasible for the worst case
    if start is not None and plan_violations(instance, start):
        start = None
    run.start = start
    incumbent: _Incumbent | None = None

    stages: list[_Stage] = []
    primary, incumbent = run.generate("objective", target, incumbent, None)
    stages.append(primary)
    if incumbent is None:
        if run.interrupted:
            raise KeyboardInterrupt
        raise InfeasibleError("the decomposition stopped at its limit before finding any "
                              "feasible plan; allow more time (--time-limit)")
    tiebreak_note = ""
    if kind is ObjectiveKind.WORST_CASE:
        if run.interrupted:
            tiebreak_note = "; the cost tie-break was skipped (interrupted)"
        elif primary.status is Status.OPTIMAL and options.remaining() != 0.0:
            # Setup (the first evaluation builds every scenario's LP) counts as primary time.
            cap = max(TIEBREAK_MIN_SECONDS, TIEBREAK_FACTOR * run.elapsed())
            floor = incumbent.worst - LEXICOGRAPHIC_TOL
            tiebreak, cheaper = run.generate("tiebreak_cost", floor, incumbent, cap,
                                             TIEBREAK_FEASIBILITY_TOL, loose=False)
            stages.append(tiebreak)
            if cheaper is not None and cheaper.cost <= incumbent.cost:
                incumbent = cheaper
            if tiebreak.status is not Status.OPTIMAL:
                tiebreak_note = ("; the cost tie-break did not finish within its time"
                                 + (" (interrupted)" if run.interrupted else "")
                                 + ": another plan as good may cost less")
        else:
            tiebreak_note = "; the cost tie-break was skipped (time limit)"

    # The chosen plan, every scenario in detail.
    t0 = time.monotonic()
    detail = evaluator(FirstStage.of(instance, incumbent.plan), detail=True)
    recourse_seconds = time.monotonic() - t0
    outcomes = _outcomes(instance, detail)
    resilience = np.array([o.resilience for o in outcomes])
    if kind is ObjectiveKind.MIN_COST:
        value = plan_cost(instance, incumbent.plan).total
        bound = min(primary.bound if primary.bound is not None else 0.0, value)
    else:
        value = float(resilience.min())
        bound = max(primary.bound if primary.bound is not None else value, value)
    gap = abs(bound - value) / max(abs(value), 1e-10)
    status = primary.status
    solve_seconds = sum(st.seconds for st in stages) + recourse_seconds
    message = _message(instance, status, master, run.iteration,
                       run.interrupted and primary.status is not Status.OPTIMAL) + tiebreak_note
    stage_records = [Stage(st.name, st.status.value, st.value, st.seconds) for st in stages]
    stage_records.append(Stage("recourse", Status.OPTIMAL.value, None, recourse_seconds))
    log(f"decomposition done: {_fmt(value)} ({status.value}, gap {gap:.3%}), "
        f"{len(master.active)} of {len(instance.scenarios)} scenarios active, "
        f"{evaluator.rounds} evaluation rounds in {evaluator.seconds:.1f} s")
    return Solution(
        status=status, message=message, plan=incumbent.plan,
        objective_value=value, bound=bound, gap=0.0 if gap < 1e-9 else gap,
        outcomes=outcomes, solver_version=master.version(),
        build_seconds=master.build_seconds, handoff_seconds=master.handoff_seconds,
        solve_seconds=solve_seconds, nodes=master.nodes, iterations=master.iterations,
        stages=tuple(stage_records), size=master.size(len(instance.scenarios)),
        method="decomposition", progress=tuple(run.progress), interrupted=run.interrupted,
    )


def _message(instance: Instance, status: Status, master: Master, iterations: int,
             interrupted: bool = False) -> str:
    kind = instance.objective.kind
    if interrupted:
        text = "interrupted (Ctrl-C); the plan is the best found, with its bound and gap"
    elif status is Status.OPTIMAL:
        text = "optimal within the MIP gap"
    else:
        text = "stopped at the time limit; the plan is the best found, with its bound and gap"
    text += (f" (decomposition: {iterations} iterations, {len(master.active)} of "
             f"{len(instance.scenarios)} scenarios in the master)")
    if kind is ObjectiveKind.WORST_CASE:
        text += ("; ties broken by cost only: the expected-resilience tie-break needs every "
                 "scenario in one model and is not offered by the decomposition, so among "
                 "plans as good another may have higher expected resilience")
    else:
        text += ("; the expected-resilience tie-break needs every scenario in one model and is "
                 "not offered by the decomposition, so among plans as cheap another may have "
                 "higher expected resilience")
    return text
