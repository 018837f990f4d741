"""Fast, exact evaluation of the second stage at a given first stage: arrays and HiGHS, no Pyomo.

Given the plan, each term of R_s is a maximum flow (design section 2), and so the optimum of
a small LP. The decomposition evaluates every scenario at every plan its master proposes,
so this path is built for repetition:

* Scenarios are grouped in *blocks*. A block is ONE persistent HiGHS LP holding the recourse
  of all its scenarios side by side. The problems are independent, so a maximum of their sum
  maximises each of them: every scenario's value is read off the block's solution.
* The plan enters only through the upper bounds of the depot-stock and shelter-capacity
  rows. A new plan changes those bounds (one ``changeRowsBounds`` call) and HiGHS re-solves
  from the basis it kept, by the dual simplex: a hot start. Measured at 200 nodes on the
  plans a decomposition proposes: 0.3-0.5 ms per scenario hot against 1.3-2 ms cold, with
  blocks of 8-32 scenarios (128 is slower); per-call Python overhead is amortised over
  the block. Building a scenario's LP (reachability included) costs about 1.5 ms, once.
* Zones that reach exactly the same depots (or shelters) are merged into one node whose
  need (evacuees) is the sum of theirs. The middle arcs are uncapacitated, so every finite
  cut either holds both zones or neither: the maximum flow is unchanged, and the LP shrinks.
  A merged node's delivery is split over its zones in proportion to their need, which is
  feasible because they reach the same facilities.

Scaling follows ``models.resilience``: supply flows are shares of the scenario's weighted
need Q_s, shelter flows shares of its evacuees E_s, so each scenario's block has values in
[0, 1] and the whole LP is well scaled whatever the money or population units.

Workers keep built blocks in a module-level cache keyed by a session token
(:func:`evaluate_task`), so the LP of a block is built once per worker and hot-started from
then on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse.csgraph import dijkstra

from optimizer.errors import SolverFailure
from optimizer.evaluation.reachability import REACH_RTOL, ScenarioReach, surviving_graph, within
from optimizer.highs import quiet_stdout
from optimizer.instance.data import Instance, Scenario
from optimizer.plan import Plan

INF = highspy.kHighsInf


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance (its banner kept off standard output, in worker processes
    too, whose descriptor 1 is the parent's; see optimizer.highs.quiet_stdout)."""
    with quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


@dataclass(frozen=True, eq=False)
class FirstStage:
    """What the second stage sees of a plan: stock on hand, shelter places, the pool."""

    stock: np.ndarray  # (D, K) units at open depots, bought plus existing
    capacity: np.ndarray  # (H,) shelter places
    pool: float  # money

    @staticmethod
    def of(instance: Instance, plan: Plan) -> FirstStage:
        return FirstStage(plan.total_stock(instance), plan.shelter_capacity(instance),
                          float(plan.compensation_pool))

    @staticmethod
    def ceiling(instance: Instance) -> FirstStage:
        """Every depot open and full of each commodity, every shelter open with every
        module, the largest pool: budget and depot volume ignored.

        Commodities do not compete in the recourse, so R_s at this point bounds R_s of
        every feasible plan from above.
        """
        stock = np.array([[d.capacity / c.unit_volume + e for c, e in
                           zip(instance.commodities, d.existing_stock, strict=True)]
                          for d in instance.depots], dtype=float)
        stock = stock.reshape(len(instance.depots), len(instance.commodities))
        capacity = np.array([h.capacity + h.module_size * h.max_modules
                             for h in instance.shelters], dtype=float)
        return FirstStage(stock, capacity, float(instance.max_pool))

    @property
    def on_hand(self) -> np.ndarray:
        """Stock on hand (depot-major, D*K) then shelter places (H): the entries the
        supergradients of :class:`Evaluation` read, in that order."""
        return np.concatenate([self.stock.ravel(), self.capacity])


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Second-stage shares of some scenarios (``index`` into the instance's scenarios)."""

    index: np.ndarray  # (n,) scenario indices
    supply: np.ndarray  # (n,)
    shelter: np.ndarray  # (n,)
    economic: np.ndarray  # (n,)
    unmet_need: np.ndarray | None = None  # (n, N, K) units, when detail was asked for
    unmet_evacuees: np.ndarray | None = None  # (n, N) people
    # Supergradients, when asked for: d supply_s / d stock_dk (units on hand) and
    # d shelter_s / d capacity_h (places), from the recourse LP's row duals. Each share is
    # concave in the plan (an LP's optimum in its right-hand sides), so
    # share(x) <= share(x^) + grad . (x - x^) for every plan x: a valid Benders cut.
    grad_stock: np.ndarray | None = None  # (n, D*K)
    grad_capacity: np.ndarray | None = None  # (n, H)
    # Coverage, when asked for: the most of each share a depot (shelter) could provide on
    # its own, open and full: min(need within its reach, what its capacity holds after
    # the scenario's loss), as a share. supply_s <= sum_d cover_sd y_d for every plan.
    cover_supply: np.ndarray | None = None  # (n, D)
    cover_shelter: np.ndarray | None = None  # (n, H)

    def resilience(self, instance: Instance) -> np.ndarray:
        w = instance.weights
        return w.supply * self.supply + w.shelter * self.shelter + w.economic * self.economic

    @staticmethod
    def concatenate(parts: list[Evaluation]) -> Evaluation:
        """One evaluation from several, sorted by scenario index."""
        index = np.concatenate([p.index for p in parts])
        order = np.argsort(index, kind="stable")

        def cat(name: str) -> np.ndarray | None:
            arrays = [getattr(p, name) for p in parts]
            if any(a is None for a in arrays):
                return None
            return np.concatenate(arrays)[order]

        return Evaluation(index[order], cat("supply"), cat("shelter"), cat("economic"),
                          cat("unmet_need"), cat("unmet_evacuees"), cat("grad_stock"),
                          cat("grad_capacity"), cat("cover_supply"), cat("cover_shelter"))


def scenario_reach(instance: Instance, scenario: Scenario) -> ScenarioReach:
    """Reachable (depot, zone) and (zone, shelter) pairs of one scenario, for zones with
    need (evacuees).

    The same pairs as :func:`optimizer.evaluation.reachability.pairs` (the same graph and the same
    :func:`~optimizer.evaluation.reachability.within` rule, checked by the tests), from ONE Dijkstra
    call over every facility node up to the larger reach; the surviving graph is
    symmetric, so it is searched as directed, which spares csgraph symmetrising it.
    """
    graph = surviving_graph(instance.network, scenario.failed_edges)
    depot_nodes = np.array([d.node for d in instance.depots], dtype=np.int64)
    shelter_nodes = np.array([h.node for h in instance.shelters], dtype=np.int64)
    sources = np.concatenate([depot_nodes, shelter_nodes])
    supply_reach = instance.policy.supply_reach
    evacuation_reach = instance.policy.evacuation_reach
    if len(sources) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ScenarioReach(empty, empty, empty, empty)
    largest = max(supply_reach, evacuation_reach)
    limit = np.inf if np.isinf(largest) else largest + 2 * REACH_RTOL * max(1.0, largest)
    dist = np.atleast_2d(dijkstra(graph, directed=True, indices=sources, limit=limit))
    D = len(depot_nodes)
    ok_d = within(dist[:D], supply_reach) & (scenario.need.sum(axis=1) > 0)[None, :]
    ok_h = within(dist[D:], evacuation_reach) & (scenario.evacuees > 0)[None, :]
    d_idx, i_idx = np.nonzero(ok_d)
    h_idx, j_idx = np.nonzero(ok_h)
    return ScenarioReach(d_idx, i_idx, j_idx, h_idx)


def _merge(reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zones (columns of a boolean facility x zone matrix) with equal columns, merged.

    Returns the distinct neighbourhoods (groups x facilities) and each zone's group. Each
    column is packed into bytes and compared as one opaque value (``np.unique`` over rows
    of a 2-D array is several times slower).
    """
    packed = np.ascontiguousarray(np.packbits(reach, axis=0).T)  # (zones, bytes)
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return reach.T[first], inverse.reshape(-1)


class RecourseBlock:
    """The recourse LP of a block of scenarios, kept in one HiGHS instance.

    Parameters
    ----------
    instance
        The instance the scenarios belong to.
    indices
        Scenario indices (into ``instance.scenarios``) held by this block.
    """

    def __init__(self, instance: Instance, indices: np.ndarray) -> None:
        self.instance = instance
        self.index = np.asarray(indices, dtype=np.int64)
        self.num_zones = instance.network.num_nodes
        self.num_commodities = len(instance.commodities)
        self._rows = 0
        self._upper: list[np.ndarray] = []
        # Rows whose upper bound the plan sets: row, entry of the plan vector
        # concat(stock.ravel(), capacity), coefficient, local scenario.
        self._plan: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        # Columns: facility row, zone-group row, local scenario, supply (or shelter).
        self._cols: list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]] = []
        # For unmet amounts per zone: local scenario, zone, commodity (-1: evacuees),
        # zone-group row, and the zone's share of its group's need.
        self._split: list[tuple[np.ndarray, ...]] = []
        n = len(self.index)
        self.supply_total = np.zeros(n)
        self.evacuee_total = np.zeros(n)
        self.loss_total = np.zeros(n)
        self.cover_supply = np.zeros((n, len(instance.depots)))
        self.cover_shelter = np.zeros((n, len(instance.shelters)))
        # What each facility holds open and full (units per commodity; places), once.
        top = FirstStage.ceiling(instance)
        self._holds, self._places = top.stock, top.capacity
        om = instance.commodity_weights
        for local, s in enumerate(self.index):
            scenario = instance.scenarios[int(s)]
            self.supply_total[local] = float((scenario.need * om).sum())
            self.evacuee_total[local] = float(scenario.evacuees.sum())
            self.loss_total[local] = float(scenario.economic_loss.sum())
            r = scenario_reach(instance, scenario)
            if self.supply_total[local] > 0:
                self._add_supply(local, r.supply_depot, r.supply_zone)
            if self.evacuee_total[local] > 0:
                self._add_shelter(local, r.shelter_index, r.shelter_zone)
        self._finish()

    # ------------------------------------------------------------------ building

    def _new_rows(self, upper: np.ndarray) -> np.ndarray:
        ids = self._rows + np.arange(len(upper))
        self._rows += len(upper)
        self._upper.append(np.asarray(upper, dtype=float))
        return ids

    def _add_supply(self, local: int, depot: np.ndarray, zone: np.ndarray) -> None:
        """Per commodity: depot rows (bounded by the plan) and merged zone-group rows."""
        inst = self.instance
        scenario = inst.scenarios[int(self.index[local])]
        D, K = len(inst.depots), self.num_commodities
        om = inst.commodity_weights
        q = self.supply_total[local]
        for k in range(K):
            zones = np.flatnonzero(scenario.need[:, k] > 0)
            if len(zones) == 0 or D == 0:
                continue
            pos = np.full(self.num_zones, -1)
            pos[zones] = np.arange(len(zones))
            keep = pos[zone] >= 0
            reach = np.zeros((D, len(zones)), dtype=bool)
            reach[depot[keep], pos[zone[keep]]] = True
            within = reach.astype(float) @ scenario.need[zones, k]
            self.cover_supply[local] += om[k] / q * np.minimum(
                within, (1 - scenario.depot_loss) * self._holds[:, k])
            groups, member = _merge(reach)
            g_idx, d_idx = np.nonzero(groups)
            if len(g_idx) == 0:
                continue  # nobody with need of k is within reach of a depot
            group_need = np.bincount(member, weights=scenario.need[zones, k],
                                     minlength=len(groups))
            depots = np.unique(d_idx)
            depot_row = np.full(D, -1)
            depot_row[depots] = self._new_rows(np.zeros(len(depots)))
            self._plan.append((depot_row[depots], depots * K + k,
                               om[k] * (1 - scenario.depot_loss[depots]) / q,
                               np.full(len(depots), local)))
            used = np.unique(g_idx)
            group_row = np.full(len(groups), -1)
            group_row[used] = self._new_rows(om[k] * group_need[used] / q)
            self._cols.append((depot_row[d_idx], group_row[g_idx],
                               np.full(len(g_idx), local), True))
            served = group_row[member] >= 0
            share = scenario.need[zones, k] / group_need[member]
            self._split.append((np.full(served.sum(), local), zones[served],
                                np.full(served.sum(), k), group_row[member][served],
                                share[served]))

    def _add_shelter(self, local: int, shelter: np.ndarray, zone: np.ndarray) -> None:
        """Shelter rows (bounded by the plan) and merged zone-group rows."""
        inst = self.instance
        scenario = inst.scenarios[int(self.index[local])]
        D, K, H = len(inst.depots), self.num_commodities, len(inst.shelters)
        e = self.evacuee_total[local]
        zones = np.flatnonzero(scenario.evacuees > 0)
        if len(zones) == 0 or H == 0:
            return
        pos = np.full(self.num_zones, -1)
        pos[zones] = np.arange(len(zones))
        keep = pos[zone] >= 0
        reach = np.zeros((H, len(zones)), dtype=bool)
        reach[shelter[keep], pos[zone[keep]]] = True
        within = reach.astype(float) @ scenario.evacuees[zones]
        self.cover_shelter[local] += np.minimum(
            within, (1 - scenario.shelter_loss) * self._places) / e
        groups, member = _merge(reach)
        g_idx, h_idx = np.nonzero(groups)
        if len(g_idx) == 0:
            return
        group_evac = np.bincount(member, weights=scenario.evacuees[zones],
                                 minlength=len(groups))
        shelters = np.unique(h_idx)
        shelter_row = np.full(H, -1)
        shelter_row[shelters] = self._new_rows(np.zeros(len(shelters)))
        self._plan.append((shelter_row[shelters], D * K + shelters,
                           (1 - scenario.shelter_loss[shelters]) / e,
                           np.full(len(shelters), local)))
        used = np.unique(g_idx)
        group_row = np.full(len(groups), -1)
        group_row[used] = self._new_rows(group_evac[used] / e)
        self._cols.append((shelter_row[h_idx], group_row[g_idx],
                           np.full(len(g_idx), local), False))
        served = group_row[member] >= 0
        share = scenario.evacuees[zones] / group_evac[member]
        self._split.append((np.full(served.sum(), local), zones[served],
                            np.full(served.sum(), -1), group_row[member][served],
                            share[served]))

    def _finish(self) -> None:
        def cat(parts: list, dtype: type) -> np.ndarray:
            return (np.concatenate(parts).astype(dtype) if parts
                    else np.zeros(0, dtype=dtype))

        self.plan_rows = cat([p[0] for p in self._plan], np.int32)
        self.plan_entry = cat([p[1] for p in self._plan], np.int64)
        self.plan_coef = cat([p[2] for p in self._plan], float)
        self.plan_scenario = cat([p[3] for p in self._plan], np.int64)
        facility_row = cat([c[0] for c in self._cols], np.int64)
        self.col_group_row = cat([c[1] for c in self._cols], np.int64)
        self.col_scenario = cat([c[2] for c in self._cols], np.int64)
        self.col_is_supply = cat([np.full(len(c[0]), c[3]) for c in self._cols], bool)
        self.split = [cat([p[j] for p in self._split], dtype)
                      for j, dtype in enumerate((np.int64, np.int64, np.int64, np.int64,
                                                 float))]
        upper = cat(self._upper, float)
        self.num_rows = self._rows
        self.num_cols = len(facility_row)
        self.nnz = 2 * self.num_cols
        del self._plan, self._cols, self._split, self._upper, self._holds, self._places

        h = new_highs()
        h.setOptionValue("presolve", "off")  # the kept basis is the point: no presolve
        # No "threads" option: HiGHS keeps one thread pool per process and refuses a run
        # whose explicit thread count differs from it (the master's may be set); the dual
        # simplex runs on one thread anyway.
        h.setOptionValue("random_seed", 0)
        if self.num_cols:
            # Each column has exactly two entries, its facility row and its zone-group row
            # (column-wise storage wants them in increasing row order).
            index = np.empty(2 * self.num_cols, dtype=np.int32)
            index[0::2] = np.minimum(facility_row, self.col_group_row)
            index[1::2] = np.maximum(facility_row, self.col_group_row)
            start = np.arange(0, 2 * self.num_cols, 2, dtype=np.int32)
            h.passModel(self.num_cols, self.num_rows, 2 * self.num_cols,
                        int(highspy.MatrixFormat.kColwise), int(highspy.ObjSense.kMinimize),
                        0.0, -np.ones(self.num_cols), np.zeros(self.num_cols),
                        np.full(self.num_cols, INF), np.full(self.num_rows, -INF), upper,
                        start, index, np.ones(2 * self.num_cols),
                        np.zeros(self.num_cols, dtype=np.int32))
        self.highs = h
        self.solves = 0

    # ---------------------------------------------------------------- evaluating

    def evaluate(self, first: FirstStage, detail: bool = False,
                 gradients: bool = False, coverage: bool = False) -> Evaluation:
        """Every scenario of the block at ``first``, hot-started from the last solve
        (``gradients``: with the supergradients of its shares, see :class:`Evaluation`)."""
        n = len(self.index)
        inst = self.instance
        DK, H = len(inst.depots) * self.num_commodities, len(inst.shelters)
        grad = np.zeros((n, DK + H)) if gradients else None
        supply = np.where(self.supply_total > 0, 0.0, 1.0)
        shelter = np.where(self.evacuee_total > 0, 0.0, 1.0)
        loss = np.where(self.loss_total > 0, self.loss_total, 1.0)
        economic = np.where(self.loss_total > 0, np.minimum(first.pool, loss) / loss, 1.0)
        x = np.zeros(self.num_cols)
        if self.num_cols:
            values = first.on_hand
            upper = np.maximum(self.plan_coef * values[self.plan_entry], 0.0)
            self.highs.changeRowsBounds(len(self.plan_rows), self.plan_rows,
                                        np.full(len(self.plan_rows), -INF), upper)
            self.highs.run()
            if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                # A hot start that went wrong is retried once from scratch.
                self.highs.clearSolver()
                self.highs.run()
                if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                    raise SolverFailure(
                        "a scenario recourse LP could not be solved: "
                        + self.highs.modelStatusToString(self.highs.getModelStatus()))
            self.solves += 1
            solution = self.highs.getSolution()
            x = np.maximum(np.asarray(solution.col_value), 0.0)
            if grad is not None:
                # Minimising -sum(flows): a row's dual is d(objective)/d(upper bound) <= 0,
                # so the flow gained per unit of the plan entry is -dual * coefficient.
                dual = np.asarray(solution.row_dual)
                gain = np.maximum(-dual[self.plan_rows], 0.0) * self.plan_coef
                np.add.at(grad, (self.plan_scenario, self.plan_entry), gain)
            sup = self.col_is_supply
            supply += np.bincount(self.col_scenario[sup], weights=x[sup], minlength=n)
            shelter += np.bincount(self.col_scenario[~sup], weights=x[~sup], minlength=n)
        # Shares cannot exceed 1; the LP reaches 1 only up to its tolerance.
        supply, shelter = np.minimum(supply, 1.0), np.minimum(shelter, 1.0)
        unmet = self._unmet(x) if detail else (None, None)
        return Evaluation(self.index, supply, shelter, economic, *unmet,
                          None if grad is None else grad[:, :DK],
                          None if grad is None else grad[:, DK:],
                          np.minimum(self.cover_supply, 1.0) if coverage else None,
                          np.minimum(self.cover_shelter, 1.0) if coverage else None)

    def _unmet(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unmet need and evacuees per zone; a merged node's flow is split by need."""
        inst = self.instance
        n, N, K = len(self.index), self.num_zones, self.num_commodities
        unmet_need = np.stack([inst.scenarios[int(s)].need for s in self.index]).reshape(
            n, N, K).astype(float)
        unmet_evac = np.stack([inst.scenarios[int(s)].evacuees for s in self.index]).reshape(
            n, N).astype(float)
        flow = np.bincount(self.col_group_row, weights=x, minlength=self.num_rows)
        local, zone, k, row, share = self.split
        om = np.append(inst.commodity_weights, 1.0)  # index -1: evacuees
        sup = k >= 0
        units = np.where(sup, flow[row] * self.supply_total[local] / om[k],
                         flow[row] * self.evacuee_total[local]) * share
        np.subtract.at(unmet_need, (local[sup], zone[sup], k[sup]), units[sup])
        np.subtract.at(unmet_evac, (local[~sup], zone[~sup]), units[~sup])
        return np.maximum(unmet_need, 0.0), np.maximum(unmet_evac, 0.0)


def blocks_of(indices: np.ndarray, size: int) -> list[np.ndarray]:
    """Consecutive blocks of at most ``size`` scenario indices."""
    return [indices[j:j + size] for j in range(0, len(indices), size)]


# ------------------------------------------------------------------ worker-side cache

# token -> block id -> RecourseBlock. A token names one decomposition run; the few most
# recent runs are kept, so a long-lived Dask worker does not grow without bound.
_CACHE: OrderedDict[str, dict[int, RecourseBlock]] = OrderedDict()
_CACHE_RUNS = 2
_LOCK = threading.Lock()


def _blocks(token: str) -> dict[int, RecourseBlock]:
    with _LOCK:
        if token not in _CACHE:
            _CACHE[token] = {}
            while len(_CACHE) > _CACHE_RUNS:
                _CACHE.popitem(last=False)
        _CACHE.move_to_end(token)
        return _CACHE[token]


def forget(token: str) -> None:
    """Drop the blocks of a finished run (called on every worker at the end)."""
    with _LOCK:
        _CACHE.pop(token, None)


@dataclass(frozen=True)
class Task:
    """Blocks to evaluate at one first stage: (block id, scenario indices) pairs."""

    blocks: tuple[tuple[int, np.ndarray], ...]
    first: FirstStage
    detail: bool = False
    gradients: bool = False
    coverage: bool = False


def evaluate_task(instance: Instance, token: str, task: Task) -> Evaluation:
    """Worker side: evaluate a task's blocks, building (once) the blocks not yet cached.

    Blocks live as long as the run: a lane (worker) always gets the same blocks, so each
    LP is built once and hot-started at every later plan.
    """
    cache = _blocks(token)
    parts = []
    for block_id, indices in task.blocks:
        block = cache.get(block_id)
        if block is None or not np.array_equal(block.index, indices):
            block = cache[block_id] = RecourseBlock(instance, indices)
        parts.append(block.evaluate(task.first, task.detail, task.gradients, task.coverage))
    return Evaluation.concatenate(parts)


def evaluate(instance: Instance, first: FirstStage, indices: np.ndarray | None = None,
             detail: bool = False, gradients: bool = False,
             coverage: bool = False) -> Evaluation:
    """One-shot evaluation in this process (no cache), for tests and small jobs."""
    indices = np.arange(len(instance.scenarios)) if indices is None else np.asarray(indices)
    return RecourseBlock(instance, indices).evaluate(first, detail, gradients, coverage)


def ceilings(instance: Instance) -> np.ndarray:
    """Each scenario's ceiling: R_s with every candidate open, stocked to capacity, every
    module and the largest pool, the budget ignored (:meth:`FirstStage.ceiling`). No plan
    does better in that scenario; a worst case equal to the lowest ceiling is *pinned*."""
    if not instance.scenarios:
        return np.zeros(0)
    return evaluate(instance, FirstStage.ceiling(instance)).resilience(instance)
