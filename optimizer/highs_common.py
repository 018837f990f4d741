"""What every HiGHS route shares: a silent instance, the hand-off, the run loop, the plan.

The extensive form (``optimizer.solve``) and the decomposition (``optimizer.decomposition``)
both solve models whose first-stage columns are described by a :class:`Layout`; this module
owns the code they would otherwise each copy: making a silent HiGHS instance, passing a
column-wise model, running HiGHS in its own thread so that Ctrl-C reaches Python, reading a
plan back from the columns (integers rounded, never over budget), and writing a plan into
the columns as a start or as fixed bounds.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import highspy
import numpy as np

from models.limits import integer_stock
from optimizer import stopping
from optimizer.data import Instance
from optimizer.plan import Plan, plan_cost
from optimizer.status import Status, from_highs

if TYPE_CHECKING:
    from optimizer.solve import SolveOptions

INF = highspy.kHighsInf
_STDOUT_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """HiGHS prints its banner from C on file descriptor 1; stdout must stay clean (the CLI
    prints JSON there), in worker processes too, whose descriptor 1 is the parent's."""
    with _STDOUT_LOCK:
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


def new_highs(options: SolveOptions | None = None) -> highspy.Highs:
    """A silent HiGHS instance with the options every MIP route shares (seeded, so the
    same model gives the same search)."""
    with quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    if options is not None:
        h.setOptionValue("mip_rel_gap", options.mip_gap)
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


def add_level(h: highspy.Highs, r_cols: np.ndarray, weights: np.ndarray) -> int:
    """A new column t in [0, 1] with rows ``w_s t - r_s <= 0`` over the given resilience
    columns: t is then at most min_s r_s / w_s (a worst-case level; w_s = 1, or the
    ceilings for the relative objective). Returns t's column."""
    t = int(h.getNumCol())
    h.addCol(0.0, 0.0, 1.0, 0, np.zeros(0, np.int32), np.zeros(0))
    n = len(r_cols)
    index = np.empty(2 * n, dtype=np.int32)
    index[0::2], index[1::2] = t, r_cols
    values = np.empty(2 * n)
    values[0::2], values[1::2] = weights, -1.0
    h.addRows(n, np.full(n, -INF), np.zeros(n), 2 * n, np.arange(0, 2 * n, 2, dtype=np.int32),
              index, values)
    return t


@dataclass(frozen=True)
class Run:
    """One HiGHS run: our status, its seconds, whether Ctrl-C stopped it, and its work."""

    status: Status
    seconds: float
    interrupted: bool
    nodes: int
    iterations: int
    timed_out: bool = False  # stopped by the time limit it was given


def run_highs(h: highspy.Highs, time_limit: float | None,
              cost: np.ndarray | None = None) -> Run:
    """Run HiGHS within ``time_limit`` seconds (None: no limit).

    HiGHS runs in its own thread so that Ctrl-C reaches Python: it then asks HiGHS to stop
    and waits for it, keeping the incumbent (as it does when a stop was requested while
    stops are deferred, see ``optimizer.stopping``). With ``cost`` (the objective HiGHS minimises),
    the solution is checked against the objective HiGHS reports: HiGHS 1.16 can return a
    start it was given as the solution while reporting the objective of a better plan it
    found in its presolved space. Then it is solved again without the start.
    """
    started = time.monotonic()
    run = _run_once(h, time_limit)
    if cost is None or run.interrupted or not run.status.has_plan or _consistent(h, cost):
        return run
    h.clearSolver()
    left = None if time_limit is None else max(0.0, time_limit - (time.monotonic() - started))
    again = _run_once(h, left)
    return Run(again.status, run.seconds + again.seconds, again.interrupted,
               run.nodes + again.nodes, run.iterations + again.iterations, again.timed_out)


def is_mip(h: highspy.Highs) -> bool:
    """Whether HiGHS will solve the model it holds as a MIP (some column not continuous)."""
    continuous = highspy.HighsVarType.kContinuous
    return any(kind != continuous for kind in h.getLp().integrality_)


def _consistent(h: highspy.Highs, cost: np.ndarray) -> bool:
    reported = float(h.getInfo().objective_function_value)
    computed = float(np.asarray(cost) @ np.asarray(h.getSolution().col_value))
    return abs(reported - computed) <= 1e-7 * max(1.0, abs(reported))


def _run_once(h: highspy.Highs, time_limit: float | None) -> Run:
    # HiGHS 1.x compares an LP's time against the run time this Highs object has summed over
    # all its runs (ERGO-Code/HiGHS#1331, #1477), and a MIP's against its own run (its LP
    # relaxations get what is left of it): an LP's option is set past the summed time, a
    # MIP's is the limit itself. Set past the summed time, a MIP's limit let a long root LP
    # run on (a cancel is not seen inside it): a decomposition master at 200 x 2,000 ran 19 s
    # past its 13. The limit is also kept here, on the clock.
    limit = None if time_limit is None else max(time_limit, 1e-3)
    h.setOptionValue("time_limit", INF if limit is None else
                     limit if is_mip(h) else h.getRunTime() + limit)
    # HiGHS keeps one thread pool per process; a solve with another thread count than the
    # last one fails unless the pool is reset.
    highspy.Highs.resetGlobalScheduler(True)
    started = time.monotonic()
    interrupted = timed_out = False
    h.HandleUserInterrupt = True
    h.startSolve()
    while True:
        try:
            if h.wait(0.1)[0]:
                break
            # A stop requested while stops are deferred (optimizer.stopping) raises nothing.
            if stopping.requested() and not interrupted:
                interrupted = True
                h.cancelSolve()
            elif limit is not None and not timed_out and time.monotonic() - started > limit:
                timed_out = True
                h.cancelSolve()
        except KeyboardInterrupt:
            interrupted = True
            h.cancelSolve()
    seconds = time.monotonic() - started
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    timed_out = (timed_out or h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit) \
        and not interrupted
    return Run(from_highs(h.getModelStatus(), has_solution), seconds, interrupted,
               max(0, int(info.mip_node_count)), max(0, int(info.simplex_iteration_count)),
               timed_out)


@dataclass(frozen=True, eq=False)
class Layout:
    """Where each variable family of the model sits among HiGHS's columns.

    An index of -1 marks a variable the hand-off compiled away (fixed, or in no row): its
    value is then the family's default (1 for an existing facility's open flag, else 0).
    The recourse families (``g``, ``v``, ``econ``) are empty in a decomposition master.
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
    x_unit: np.ndarray  # (D, K) units of stock one unit of an x column stands for
    x_upper: np.ndarray  # (D, K) the most stock that is useful, in units (models.limits)

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


def plan_from_columns(layout: Layout, instance: Instance, money_scale: float,
                      x: np.ndarray, stock_rounded_down: bool = False) -> Plan:
    """The first stage of a HiGHS solution as a plan: integers rounded, never over budget.

    ``stock_rounded_down``: the solver bought stock as a continuous amount (a relaxed
    decomposition master), so every stock column is rounded down, as a relaxed column is."""
    existing_depots = np.array([d.existing for d in instance.depots], dtype=float)
    existing_shelters = np.array([h.existing for h in instance.shelters], dtype=float)
    return plan_from_values(
        instance, money_scale,
        opened=Layout.values(layout.y, x, existing_depots),
        stock=Layout.values(layout.x, x) * layout.x_unit,
        integer=integer_stock(instance, layout.x_upper) & (not stock_rounded_down),
        shelters=Layout.values(layout.z, x, existing_shelters),
        modules=Layout.values(layout.modules, x),
        pool=float(Layout.values(np.array([layout.pool]), x)[0]))


def plan_from_values(instance: Instance, money_scale: float, *, opened: np.ndarray,
                     stock: np.ndarray, integer: np.ndarray, shelters: np.ndarray,
                     modules: np.ndarray, pool: float) -> Plan:
    """A solver's first stage as a plan: open flags and modules rounded, stock rounded as
    the policy says, nothing at a closed facility, never over budget.

    ``stock`` is in units (D, K), ``integer`` (D, K) which stock columns the model kept
    integer (models.limits.integer_stock), ``pool`` a share of ``money_scale``.
    """
    inst = instance
    stock = np.asarray(stock, dtype=float)
    if inst.policy.integer_stock:
        # Integer columns are rounded; stock too large for one (models.limits) was bought
        # as a continuous amount and is rounded down, which keeps it within room and money.
        stock = np.where(integer, np.round(stock), np.floor(stock + 1e-6))
    stock = np.maximum(stock, 0.0)
    is_open = tuple(bool(v) for v in np.round(opened) == 1)
    stock[~np.array(is_open, dtype=bool)] = 0.0
    open_shelters = tuple(bool(v) for v in np.round(shelters) == 1)
    plan = Plan(
        open_depots=is_open,
        stock=stock,
        open_shelters=open_shelters,
        modules=tuple(int(v) if open_shelters[h] else 0
                      for h, v in enumerate(np.round(modules))),
        compensation_pool=min(max(0.0, pool) * money_scale, inst.max_pool),
    )
    # The budget row holds within HiGHS's feasibility tolerance, which on a budget in the
    # hundreds of thousands is a few cents over; a budget officer reads that as overspending.
    # The pool is continuous and worth least per unit, so it gives back the excess.
    excess = plan_cost(inst, plan).total - inst.budget
    if excess > 0:
        plan = replace(plan, compensation_pool=max(0.0, plan.compensation_pool - excess))
    return plan


def first_stage_values(layout: Layout, money_scale: float,
                       plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of the plan's first stage, in the model's (scaled) units."""
    values = {
        "y": np.array(plan.open_depots, dtype=float),
        "x": np.asarray(plan.stock, dtype=float) / layout.x_unit,
        "z": np.array(plan.open_shelters, dtype=float),
        "modules": np.array(plan.modules, dtype=float),
        "pool": np.array([plan.compensation_pool / money_scale]),
    }
    cols, vals = [], []
    for name, index in layout.first_stage():
        present = index >= 0
        cols.append(index[present].ravel())
        vals.append(values[name].reshape(index.shape)[present].ravel())
    return (np.concatenate(cols).astype(np.int32) if cols else np.zeros(0, np.int32),
            np.concatenate(vals) if vals else np.zeros(0))


def give_start(h: highspy.Highs, layout: Layout, money_scale: float, plan: Plan) -> None:
    """The plan's first stage as a (partial) start; HiGHS completes the rest itself (and
    ignores a start that is not feasible). Stock beyond what is useful is left out of the
    start: it changes no scenario, and the model's capacity rows do not admit it."""
    plan = replace(plan, stock=np.minimum(plan.stock, layout.x_upper))
    cols, vals = first_stage_values(layout, money_scale, plan)
    if len(cols):
        h.setSolution(len(cols), cols, vals)


def fix_plan(h: highspy.Highs, layout: Layout, money_scale: float, plan: Plan) -> None:
    """Fix the first-stage columns at the (rounded) plan."""
    cols, vals = first_stage_values(layout, money_scale, plan)
    if len(cols):
        h.changeColsBounds(len(cols), cols, vals, vals)


def version(h: highspy.Highs) -> str:
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"
