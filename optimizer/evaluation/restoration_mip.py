"""The optimal restoration schedule of one scenario (``resilience recover --exact``).

A time-indexed MIP in the spirit of td-INDP (González et al., 2016), solved by HiGHS: the
plan is fixed, crews choose when each failed road is repaired, and the objective is the
area under the recovery curve, sum over periods t of R(t) (design section 5).

**Which roads matter.** A stake pair (facility, zone) dead in the disrupted network and
live in the repaired one comes back exactly when one of its *repair sets* is back: a set
of failed roads that completes a path of length <= reach between them. Only the minimal
sets are needed; they are found by a label search from each facility over (node, failed
roads used) that keeps a label only while its length plus the intact distance to the
nearest zone still waiting is within reach, and drops labels another one dominates (fewer
roads and no longer). The roads in some minimal set, and the priority roads, are
*scheduled*; every other road changes nothing and is repaired afterwards, in edge order,
by the crews as they come free.

**Model.** For scheduled road e and start period s, a binary ``x[e, s]``; ``done[e, t] =
sum over s <= t - p_e of x[e, s]``. Rows:

- each road starts once: ``sum_s x[e, s] = 1``;
- crews: in every period at most C repairs are under way;
- priority roads first: a road that is not a priority starts no earlier than every
  priority road (``started_j(t) <= started_i(t)``), as the greedy ranks them;
- a repair set is back when all its roads are: ``u[S, t] <= done[e, t]`` for e in S;
- a pair is live when one of its sets is back: ``live[p, t] <= sum_S u[S, t]``;
- flows, per commodity and for shelter, as in design section 2 but only in the connected
  parts of the facility-zone graph that hold a pair coming back (the other parts keep
  their value at every period): ``g[p, t] <= min(supply, demand) live[p, t]`` for such
  pairs, facility and zone capacities.

The objective, maximise the weighted flows summed over periods, is R(t) summed over t up to
a constant. The greedy schedule's starts are given as the first incumbent, so the answer is
never worse than the greedy one; the reported curve and area are evaluated from the
schedule found (:func:`optimizer.evaluation.restoration.schedule_from_jobs`), and the bound
is converted to the same scale.

Where to look next: :func:`exact_schedule` reads top-down (scope, model, solve, schedule);
:func:`exact_section` is what ``optimizer.cli.recover`` calls;
:mod:`optimizer.evaluation.restoration` holds the greedy schedule this one starts from.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from optimizer.errors import UsageError
from optimizer.evaluation.evaluate import evaluate_scenario
from optimizer.evaluation.reachability import ZERO_LENGTH
from optimizer.evaluation.restoration import (
    Intact,
    RepairStep,
    Schedule,
    greedy_schedule,
    priority_roads,
    repair_times,
    schedule_from_jobs,
)
from optimizer.evaluation.whatif import PairEvaluator, Stakes, source_distances, stakes
from optimizer.highs import INF, new_highs, pass_model, run_highs
from optimizer.instance.data import Instance, Scenario
from optimizer.plan import Plan
from optimizer.status import Status

# Labels the repair-set search may hold before it gives up: the number of minimal sets
# grows with the alternative routes around the failed roads, and a scenario with that many
# is beyond what a time-indexed model solves anyway.
MAX_LABELS = 200_000
# HiGHS's relative gap for the exact schedule.
MIP_GAP = 1e-6


@dataclass(frozen=True)
class ExactSchedule:
    """The optimal (or best found) restoration schedule of one scenario."""

    schedule: Schedule
    status: Status
    bound: float  # upper bound on the recovery area
    seconds: float
    greedy_area: float
    scheduled_roads: int  # roads in the model (the others cannot change R_s)

    @property
    def gap(self) -> float:
        area = self.schedule.area
        return max(0.0, self.bound - area) / max(abs(self.bound), 1e-12)


def repair_sets(instance: Instance, st: Stakes, failed: list[int], pairs: np.ndarray,
                intact: Intact) -> dict[int, list[frozenset[int]]]:
    """The minimal repair sets of each stake pair in ``pairs`` (module docstring)."""
    net = instance.network
    down = set(failed)
    adjacency: list[list[tuple[int, float, int]]] = [[] for _ in range(net.num_nodes)]
    length = np.maximum(net.edge_length, ZERO_LENGTH)
    for j in range(net.num_edges):
        u, v = int(net.edge_from[j]), int(net.edge_to[j])
        if u != v:
            adjacency[u].append((v, float(length[j]), j))
            adjacency[v].append((u, float(length[j]), j))
    out: dict[int, list[frozenset[int]]] = {int(p): [] for p in pairs}
    by_source: dict[int, list[int]] = {}
    for p in pairs:
        by_source.setdefault(int(st.pair_source[p]), []).append(int(p))
    labels_used = 0
    for row, ps in by_source.items():
        source = int(st.sources[row])
        limit = float(st.pair_limit[ps].max())
        zones = {int(st.pair_zone[p]): p for p in ps}
        to_zone = intact.distances(np.array(sorted(zones))).min(axis=0)  # lower bound
        kept: dict[int, list[tuple[frozenset[int], float]]] = {}
        heap: list[tuple[float, int, int, frozenset[int]]] = [(0.0, 0, source, frozenset())]
        tie = 1
        while heap:
            d, _, node, used = heapq.heappop(heap)
            if node in zones and d <= st.pair_limit[zones[node]]:
                out[zones[node]].append(used)
            for nxt, w, j in adjacency[node]:
                nd = d + w
                if nd + to_zone[nxt] > limit:
                    continue
                nused = used | {j} if j in down else used
                seen = kept.setdefault(nxt, [])
                if any(s <= nused and sd <= nd for s, sd in seen):
                    continue
                seen[:] = [(s, sd) for s, sd in seen if not (nused <= s and nd <= sd)]
                seen.append((nused, nd))
                labels_used += 1
                if labels_used > MAX_LABELS:
                    raise UsageError(f"too many ways around the failed roads for the exact "
                                     f"schedule (over {MAX_LABELS:,} partial routes); the "
                                     "greedy one stands")
                heapq.heappush(heap, (nd, tie, nxt, nused))
                tie += 1
    return {p: _minimal(sets) for p, sets in out.items()}


def _minimal(sets: list[frozenset[int]]) -> list[frozenset[int]]:
    unique = sorted(set(sets), key=lambda s: (len(s), sorted(s)))
    kept: list[frozenset[int]] = []
    for s in unique:
        if not any(k <= s for k in kept):
            kept.append(s)
    return kept


class _Columns:
    """Column bookkeeping for a model built row by row (HiGHS minimises)."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[bool] = []
        self.rows: list[tuple[list[int], list[float], float, float]] = []

    def add(self, cost: float, lower: float, upper: float, integer: bool = False) -> int:
        self.cost.append(cost)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, cols: list[int], vals: list[float], lower: float, upper: float) -> None:
        self.rows.append((cols, vals, lower, upper))

    def matrix(self) -> Any:
        r, c, v = [], [], []
        for i, (cols, vals, _, _) in enumerate(self.rows):
            r += [i] * len(cols)
            c += cols
            v += vals
        return coo_matrix((v, (r, c)), shape=(len(self.rows), len(self.cost))).tocsc()


def exact_schedule(instance: Instance, plan: Plan, scenario: Scenario, *,
                   crews: int | None = None, time_limit: float | None = None,
                   threads: int | None = None) -> ExactSchedule:
    """The restoration schedule of ``scenario`` that maximises the recovery area."""
    started = time.monotonic()
    crews = instance.recovery.crews if crews is None else crews
    times = repair_times(instance)
    first = priority_roads(instance)
    failed = sorted(set(scenario.failed_edges))
    intact = Intact(instance)
    r0 = evaluate_scenario(instance, plan, scenario).resilience
    greedy = greedy_schedule(instance, plan, scenario, r0, crews, intact)
    st = stakes(instance, plan, scenario)
    ev = PairEvaluator(instance, plan, scenario, st)
    full_live = st.live(intact.distances(st.sources))
    live0 = st.live(source_distances(intact.graph_without(failed), st)[0])
    coming = np.nonzero(full_live & ~live0)[0]
    if not len(coming) or not failed or ev.resilience(live0) >= ev.resilience(full_live):
        # No repair can raise R_s: every schedule has the same curve.
        return ExactSchedule(greedy, Status.OPTIMAL, greedy.area, time.monotonic() - started,
                             greedy.area, 0)
    scope = _scope(instance, scenario, st, failed, coming, intact, first, times, greedy)
    m, x = _model(scope, st, ev, full_live, times, first, crews)
    solution, status, bound = _solve(m, x, scope.scheduled, scope.greedy_jobs, times,
                                     time_limit, threads)
    if solution is None:  # HiGHS kept no incumbent (it was given one): the greedy stands
        return ExactSchedule(greedy, status, 1.0, time.monotonic() - started, greedy.area,
                             len(scope.scheduled))
    jobs = _jobs(solution, x, scope.scheduled, failed, times, crews, first)
    schedule = schedule_from_jobs(instance, plan, scenario, jobs, crews, times, r0,
                                  evaluator=ev, intact=intact)
    if schedule.area < greedy.area:  # cannot happen with the greedy start; keep the best
        schedule = greedy
    bound_area = _area_bound(m, solution, bound, schedule, greedy)
    return ExactSchedule(schedule, status, max(bound_area, schedule.area),
                         time.monotonic() - started, greedy.area, len(scope.scheduled))


@dataclass(frozen=True)
class _Scope:
    """What the model of one scenario holds (module docstring, "Which roads matter")."""

    coming: np.ndarray  # stake pairs dead in the disrupted network, live once repaired
    sets_of: dict[int, list[frozenset[int]]]  # pair -> its minimal repair sets
    all_sets: list[frozenset[int]]  # every minimal repair set, smallest first
    scheduled: list[int]  # roads in some minimal set, and the priority roads
    greedy_jobs: dict[int | None, RepairStep]  # road -> its step in the greedy schedule
    horizon: int  # periods in the model


def _scope(instance: Instance, scenario: Scenario, st: Stakes, failed: list[int],
           coming: np.ndarray, intact: Intact, first: np.ndarray, times: np.ndarray,
           greedy: Schedule) -> _Scope:
    """The repair sets of the pairs ``coming`` back, the roads they make worth scheduling,
    and a horizon long enough for one crew to repair them all or for the greedy schedule."""
    try:
        sets_of = repair_sets(instance, st, failed, coming, intact)
    except UsageError as exc:
        raise UsageError(f"scenario {scenario.id}: {exc}") from None
    all_sets = sorted({s for sets in sets_of.values() for s in sets},
                      key=lambda s: (len(s), sorted(s)))
    scheduled = sorted({e for s in all_sets for e in s} | {e for e in failed if first[e]})
    greedy_jobs = {s.edge: s for s in greedy.steps[1:]}
    horizon = max(sum(int(times[e]) for e in scheduled),
                  max(greedy_jobs[e].period for e in scheduled))
    return _Scope(coming, sets_of, all_sets, scheduled, greedy_jobs, horizon)


def _model(scope: _Scope, st: Stakes, ev: PairEvaluator, full_live: np.ndarray,
           times: np.ndarray, first: np.ndarray,
           crews: int) -> tuple[_Columns, dict[int, list[int]]]:
    """The time-indexed model (module docstring, "Model") and its start columns
    ``x[e][s]``; the columns and rows are added in a fixed order, family by family."""
    m = _Columns()
    x = _add_starts(m, scope.scheduled, times, scope.horizon, crews)
    _add_priority_first(m, x, scope.scheduled, first, scope.horizon)
    periods = range(1, scope.horizon + 1)
    back = _add_sets_back(m, x, times, scope.all_sets, periods)
    live = _add_pairs_live(m, back, scope, periods)
    _add_flows(m, st, ev, full_live, set(int(p) for p in scope.coming), live, periods)
    return m, x


def _done(x: dict[int, list[int]], times: np.ndarray, e: int, t: int) -> list[int]:
    """The start columns of road ``e`` whose repair is done by period ``t``."""
    return x[e][:max(0, min(len(x[e]), t - int(times[e]) + 1))]


def _begun(x: dict[int, list[int]], e: int, t: int) -> list[int]:
    """The start columns of road ``e`` whose repair has begun by period ``t``."""
    return x[e][:min(len(x[e]), t + 1)]


def _add_starts(m: _Columns, scheduled: list[int], times: np.ndarray, horizon: int,
                crews: int) -> dict[int, list[int]]:
    """``x[e][s]``, road e starts at s: each road starts once, and in every period at most
    ``crews`` repairs are under way."""
    x: dict[int, list[int]] = {}
    for e in scheduled:
        x[e] = [m.add(0.0, 0.0, 1.0, True) for _ in range(horizon - int(times[e]) + 1)]
        m.row(x[e], [1.0] * len(x[e]), 1.0, 1.0)
    for tau in range(horizon):
        cols = [x[e][s] for e in scheduled for s in range(len(x[e]))
                if s <= tau < s + int(times[e])]
        if cols:
            m.row(cols, [1.0] * len(cols), -INF, float(crews))
    return x


def _add_priority_first(m: _Columns, x: dict[int, list[int]], scheduled: list[int],
                        first: np.ndarray, horizon: int) -> None:
    """A road that is not a priority starts no earlier than every priority road."""
    firsts = [e for e in scheduled if first[e]]
    others = [e for e in scheduled if not first[e]]
    for t in range(horizon):
        for j in others:
            for i in firsts:
                cj, ci = _begun(x, j, t), _begun(x, i, t)
                m.row(cj + ci, [1.0] * len(cj) + [-1.0] * len(ci), -INF, 0.0)


def _add_sets_back(m: _Columns, x: dict[int, list[int]], times: np.ndarray,
                   all_sets: list[frozenset[int]],
                   periods: range) -> dict[tuple[int, int], int]:
    """``u[k, t]``: repair set k is back at period t only when every road of it is."""
    u = {(k, t): m.add(0.0, 0.0, 1.0) for k in range(len(all_sets)) for t in periods}
    for k, s in enumerate(all_sets):
        for t in periods:
            for e in s:
                cols = _done(x, times, e, t)
                m.row([u[k, t], *cols], [1.0] + [-1.0] * len(cols), -INF, 0.0)
    return u


def _add_pairs_live(m: _Columns, u: dict[tuple[int, int], int], scope: _Scope,
                    periods: range) -> dict[tuple[int, int], int]:
    """``live[p, t]``: a pair coming back is live at period t only when one of its repair
    sets is back."""
    set_index = {s: k for k, s in enumerate(scope.all_sets)}
    live = {(int(p), t): m.add(0.0, 0.0, 1.0) for p in scope.coming for t in periods}
    for p in scope.coming:
        for t in periods:
            ks = [u[set_index[s], t] for s in scope.sets_of[int(p)]]
            m.row([live[int(p), t], *ks], [1.0] + [-1.0] * len(ks), -INF, 0.0)
    return live


def _area_bound(m: _Columns, solution: np.ndarray, bound: float | None, schedule: Schedule,
                greedy: Schedule) -> float:
    """The dual bound as a bound on the recovery area (1 when HiGHS gave none).

    HiGHS minimises minus the weighted flows summed over periods: the distance from the
    incumbent to the dual bound, over the H + 1 periods of the area, bounds the area.
    """
    objective = float(np.dot(m.cost, solution))
    window = greedy.horizon + 1
    return (schedule.area + max(0.0, objective - bound) / window
            if bound is not None and math.isfinite(bound) else 1.0)


def _add_flows(m: _Columns, st: Stakes, ev: PairEvaluator, full_live: np.ndarray,
               coming: set[int], live: dict[tuple[int, int], int], periods: range) -> None:
    """Flow columns and rows in the parts of each facility-zone graph a pair comes back to."""
    n_dep = len(st.depots)
    layers = len(ev.layers)
    for layer, mask in enumerate(ev.layers):
        pairs = np.nonzero(mask & full_live)[0]
        if not len(pairs):
            continue
        shelter = layer == layers - 1
        if shelter:
            if ev.total_evacuees <= 0:
                continue
            supply, demand = ev.capacity, ev.evacuees
            weight = ev.w.shelter / ev.total_evacuees
            rows = st.pair_source[pairs] - n_dep
        else:
            if ev.total_need <= 0:
                continue
            supply, demand = ev.stock[:, layer], ev.need[:, layer]
            weight = ev.w.supply * ev.om[layer] / ev.total_need
            rows = st.pair_source[pairs]
        zones = st.pair_zone[pairs]
        n_fac = len(supply)
        size = n_fac + len(demand)
        graph = csr_matrix((np.ones(len(pairs)), (rows, zones + n_fac)), shape=(size, size))
        _, label = connected_components(graph, directed=False)
        moving = {label[r] for r, p in zip(rows, pairs, strict=True) if int(p) in coming}
        keep = [n for n in range(len(pairs)) if label[rows[n]] in moving]
        if not keep:
            continue
        for t in periods:
            by_facility: dict[int, list[int]] = {}
            by_zone: dict[int, list[int]] = {}
            for n in keep:
                p, f, z = int(pairs[n]), int(rows[n]), int(zones[n])
                cap = float(min(supply[f], demand[z]))
                g = m.add(-weight, 0.0, cap)
                if p in coming:
                    m.row([g, live[p, t]], [1.0, -cap], -INF, 0.0)
                by_facility.setdefault(f, []).append(g)
                by_zone.setdefault(z, []).append(g)
            for f, cols in by_facility.items():
                m.row(cols, [1.0] * len(cols), -INF, float(supply[f]))
            for z, cols in by_zone.items():
                m.row(cols, [1.0] * len(cols), -INF, float(demand[z]))


def _solve(m: _Columns, x: dict[int, list[int]], scheduled: list[int],
           greedy_jobs: dict[int | None, Any], times: np.ndarray, time_limit: float | None,
           threads: int | None) -> tuple[np.ndarray | None, Status, float | None]:
    h = new_highs()
    h.setOptionValue("mip_rel_gap", MIP_GAP)
    if threads:
        h.setOptionValue("threads", int(threads))
    rows = m.rows
    pass_model(h, m.matrix(), np.array(m.cost), np.array(m.lower), np.array(m.upper),
               np.array([r[2] for r in rows]), np.array([r[3] for r in rows]),
               np.array(m.integer))
    # The greedy schedule as the first incumbent: the answer is never worse.
    start_cols = [x[e][greedy_jobs[e].start] for e in scheduled]
    zero_cols = [c for e in scheduled for s, c in enumerate(x[e])
                 if s != greedy_jobs[e].start]
    cols = np.array(start_cols + zero_cols, dtype=np.int32)
    vals = np.array([1.0] * len(start_cols) + [0.0] * len(zero_cols))
    h.setSolution(len(cols), cols, vals)
    run = run_highs(h, time_limit, np.array(m.cost))
    if not run.status.has_plan:
        return None, run.status, None
    info = h.getInfo()
    return (np.asarray(h.getSolution().col_value), run.status,
            float(info.mip_dual_bound))


def _jobs(solution: np.ndarray | None, x: dict[int, list[int]], scheduled: list[int],
          failed: list[int], times: np.ndarray, crews: int,
          first: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(road, crew, start, done) for every failed road: the model's starts for the roads it
    scheduled (crews assigned by start, the lowest free first), then the others in edge
    order on the crews as they come free."""
    starts = {}
    for e in scheduled:
        values = np.zeros(len(x[e])) if solution is None else solution[x[e]]
        starts[e] = int(np.argmax(values))
    free = [0] * max(1, crews)
    jobs: list[tuple[int, int, int, int]] = []
    for e in sorted(scheduled, key=lambda e: (starts[e], e)):
        crew = min((c for c in range(len(free)) if free[c] <= starts[e]),
                   key=lambda c: (free[c] > starts[e], c))
        jobs.append((e, crew, starts[e], starts[e] + int(times[e])))
        free[crew] = starts[e] + int(times[e])
    # No road starts before a priority road has.
    after = max((starts[e] for e in scheduled if first[e]), default=0)
    rest = [e for e in failed if e not in starts]
    for e in sorted(rest, key=lambda e: (not first[e], e)):
        crew = min(range(len(free)), key=lambda c: (free[c], c))
        begin = max(free[crew], 0 if first[e] else after)
        jobs.append((e, crew, begin, begin + int(times[e])))
        free[crew] = begin + int(times[e])
    return jobs


def exact_section(document: dict[str, Any], instance: Instance, plan: Plan,
                  chosen: list[int], *, deadline: float | None = None,
                  threads: int | None = None,
                  log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``document`` with an ``exact`` entry in the recovery of each chosen scenario."""
    from optimizer.results.file import exact_entry

    out = dict(document)
    entries = {e["id"]: e for e in out.get("recovery") or []}
    for n in chosen:
        scenario = instance.scenarios[n]
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        found = exact_schedule(instance, plan, scenario, time_limit=left, threads=threads)
        if log is not None:
            log(f"exact schedule of {scenario.id}: area {found.schedule.area:.6f} "
                f"({found.status.value}, bound {found.bound:.6f}) against the greedy "
                f"{found.greedy_area:.6f}, {found.scheduled_roads} roads in the model, "
                f"{found.seconds:.2f} s")
        if scenario.id in entries:
            entries[scenario.id] = dict(entries[scenario.id],
                                        exact=exact_entry(instance, found))
    out["recovery"] = [entries.get(e["id"], e) for e in out.get("recovery") or []]
    return out
