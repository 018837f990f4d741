"""Restoration schedules (design section 5): which failed road each crew repairs, and when.

**The greedy order.** Roads are ranked one at a time: the next road is the one whose repair
raises the plan's resilience R_s the most per period of repair time, given that every road
ranked before it is back (ties within 1e-9 go to the earlier road in edge order). With
every repair taking one period this is "the road that raises R_s the most". Roads named
by ``recovery.priority`` are ranked first, by the same rule among themselves. When no
single repair raises R_s (two roads must both come back before a zone is reachable), the
next road is the first in edge order that lies on a reach-limited path between a stake
pair in the fully repaired network; a road on no such path can never matter and waits
until the end. Once R_s reaches its fully repaired value, the rest follow in edge order.

**Crews.** ``crews`` crews take the roads in that order, each the next road as soon as it
is free (the lowest-numbered free crew first); a road is back when its ``repair_time``
periods are done. The recovery curve R(t) is the resilience with the roads back by period
t, for t = 0..H, where H is the time one crew needs for every repair (the sum of the repair
times): the same window whatever the number of crews, so schedules with different crews
compare on it. The recovery area is the mean of R over those H + 1 periods (1: the scenario
never hurt). With one crew and one period per road, period n is the n-th repair.

**Why it is fast.** Given the plan, R_s depends on the roads only through the live stake
pairs of :mod:`optimizer.evaluation.whatif`, and a repaired road ``(u, v)`` can only add pairs.

- Only *useful* roads are ever evaluated: those on a reach-limited path between a stake
  pair in the fully repaired network (the pruning of the stress search). Any other road
  adds no pair whatever else is back.
- Distances are kept from one rank to the next: from the stake sources and from the zones
  of the pairs still dead. Once ``(u, v)`` is back, a shortest path uses it at most once,
  so every distance becomes ``min(old, d(., u) + len + d(v, .), d(., v) + len + d(u, .))``,
  from one bounded Dijkstra (from u and v) on the graph before the repair.
- A candidate's new pairs come from the same formula without any Dijkstra
  (:func:`optimizer.evaluation.whatif.live_with_each`); a candidate that adds no pair is not
  evaluated, and one that adds pairs recomputes only the flows (commodities, shelter) those
  pairs can carry (:class:`optimizer.evaluation.whatif.PairEvaluator`).

``tests/test_restoration.py`` keeps the straightforward version (every remaining road
evaluated with :func:`optimizer.evaluation.evaluate.evaluate_scenario` at every rank) and
checks that the two agree on seeded instances.

Where to look next: :mod:`optimizer.evaluation.recovery` calls :func:`greedy_schedule` for
every scenario; :mod:`optimizer.evaluation.restoration_mip` builds the optimal schedule on
the same pieces.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from optimizer.evaluation.reachability import ZERO_LENGTH
from optimizer.evaluation.whatif import (
    TIE_TOL,
    PairEvaluator,
    Roads,
    Stakes,
    on_reach_limited_paths,
    reach_limit,
    source_distances,
    stakes,
)
from optimizer.instance.data import Instance, Scenario
from optimizer.plan import Plan

# The live-pair flows and the independent evaluation must agree to this (else a bug).
CONSISTENCY_TOL = 1e-6


@dataclass(frozen=True)
class RepairStep:
    """One road back (or, at period 0, the disrupted start)."""

    period: int  # the period from which the road is back (0: the start, nothing repaired)
    edge: int | None  # edge index (None at the start)
    resilience: float  # R_s with every road back by this period
    crew: int | None = None  # 0-based crew that repaired it
    start: int | None = None  # the period its repair began


@dataclass(frozen=True)
class Schedule:
    """A restoration schedule and its recovery curve (steps in order of return)."""

    steps: tuple[RepairStep, ...]  # the start, then one step per road
    crews: int
    horizon: int  # H: the periods one crew needs for every repair

    def curve(self) -> np.ndarray:
        """R(t) for t = 0..H: the resilience with the roads back by period t."""
        values = np.empty(self.horizon + 1)
        at, current = 0, self.steps[0].resilience
        for t in range(self.horizon + 1):
            while at + 1 < len(self.steps) and self.steps[at + 1].period <= t:
                at += 1
                current = self.steps[at].resilience
            values[t] = current
        return values

    @property
    def area(self) -> float:
        """Mean of R(t) over periods 0..H."""
        return float(np.mean(self.curve()))

    @property
    def order(self) -> tuple[int, ...]:
        """The roads in the order their repairs began (crew number breaking ties)."""
        begun = sorted(self.steps[1:], key=lambda s: (s.start, s.crew))
        return tuple(int(s.edge) for s in begun if s.edge is not None)


def repair_times(instance: Instance) -> np.ndarray:
    """(E,) whole periods each road takes to repair (1 unless the file says otherwise)."""
    return instance.recovery.times(instance.network.num_edges)


def priority_roads(instance: Instance) -> np.ndarray:
    """(E,) mask of the roads ``recovery.priority`` puts first."""
    return instance.recovery.first(instance.network.num_edges)


class Intact:
    """What every scenario of one instance shares: the intact roads, and bounded distances
    on them from any node (computed once per node, when first asked for)."""

    def __init__(self, instance: Instance) -> None:
        net = instance.network
        self.network = net
        self.roads = Roads(net, np.ones(net.num_edges, dtype=bool))
        self.graph = self.roads.graph()
        policy = instance.policy
        self.limit = max(reach_limit(policy.supply_reach), reach_limit(policy.evacuation_reach))
        self._rows: dict[int, np.ndarray] = {}

    def distances(self, nodes: np.ndarray) -> np.ndarray:
        """(len(nodes), N) distances from each node, exact up to the larger reach limit."""
        missing = sorted({int(n) for n in nodes} - self._rows.keys())
        if missing:
            rows = np.atleast_2d(dijkstra(self.graph, directed=False, indices=missing,
                                          limit=self.limit))
            self._rows.update(zip(missing, rows, strict=True))
        if not len(nodes):
            return np.zeros((0, self.network.num_nodes))
        return np.stack([self._rows[int(n)] for n in nodes])

    def graph_without(self, failed: Sequence[int]) -> csr_matrix:
        """The roads less ``failed`` (a parallel road that survives takes over)."""
        return self.roads.graph(list(failed))


class Reach:
    """Bounded distances on a road graph that only gains roads, kept up to date.

    Rows are the stake sources and the zones of the pairs dead at the start (a live pair
    stays live as roads come back); columns are nodes. Values up to the reach limit are
    exact; beyond it they are lengths of real paths or ``inf``, which the reach rule treats
    alike.
    """

    def __init__(self, intact: Intact, st: Stakes, failed: Sequence[int],
                 source: np.ndarray | None = None) -> None:
        self.intact = intact
        self.net = intact.network
        self.st = st
        self.down = set(failed)
        self.length = np.maximum(self.net.edge_length, ZERO_LENGTH)
        self.graph = intact.graph_without(sorted(self.down))
        self.source = source if source is not None else source_distances(self.graph, st)[0]
        dead = ~st.live(self.source)
        self.zones = np.unique(st.pair_zone[dead])
        self.zone = (np.atleast_2d(dijkstra(self.graph, directed=False, indices=self.zones,
                                            limit=st.limit)) if len(self.zones)
                     else np.zeros((0, self.net.num_nodes)))
        self.zone_row = np.searchsorted(self.zones, st.pair_zone).clip(
            max=max(len(self.zones) - 1, 0))

    def live(self) -> np.ndarray:
        return self.st.live(self.source)

    def restore(self, edge: int) -> None:
        """Road ``edge`` is back: update every distance (module docstring)."""
        u, v = int(self.net.edge_from[edge]), int(self.net.edge_to[edge])
        self.down.discard(edge)
        if u == v:
            return
        ends = np.atleast_2d(dijkstra(self.graph, directed=False, indices=[u, v],
                                      limit=self.st.limit))
        length = float(self.length[edge])
        for table in (self.source, self.zone):
            if not len(table):
                continue
            via = np.minimum(table[:, u, None] + length + ends[1][None, :],
                             table[:, v, None] + length + ends[0][None, :])
            np.minimum(table, via, out=table)
        self.graph = self.intact.graph_without(sorted(self.down))


def greedy_order(instance: Instance, plan: Plan, scenario: Scenario,
                 times: np.ndarray | None = None, first: np.ndarray | None = None,
                 evaluator: PairEvaluator | None = None, st: Stakes | None = None,
                 intact: Intact | None = None) -> tuple[float, list[tuple[int, float]]]:
    """The greedy ranking of the scenario's failed roads (module docstring).

    Returns R_s with every failed road still down, and (road, R_s once it and every road
    ranked before it is back) per road, in rank order. ``times`` are the roads' repair
    periods (1 each by default) and ``first`` the mask of priority roads; ``intact`` is
    shared by the scenarios of an instance.
    """
    net = instance.network
    failed = sorted(set(scenario.failed_edges))
    times = np.ones(net.num_edges, dtype=np.int64) if times is None else times
    first = np.zeros(net.num_edges, dtype=bool) if first is None else first
    intact = intact if intact is not None else Intact(instance)
    st = st if st is not None else stakes(instance, plan, scenario)
    pairs = evaluator if evaluator is not None else PairEvaluator(instance, plan, scenario, st)
    full_dist = intact.distances(st.sources)
    full_live = st.live(full_dist)
    if not failed:
        return pairs.resilience(full_live), []
    source, _ = source_distances(intact.graph_without(failed), st)
    live_start = st.live(source)
    start = pairs.resilience(live_start)
    if np.array_equal(live_start, full_live):
        # No repair adds a pair: the roads in edge order (priority roads first).
        return start, [(e, start) for e in _priority_first(failed, first)]
    full = pairs.resilience(full_live)
    useful = on_reach_limited_paths(net, intact.graph, st, full_dist, np.array(failed),
                                    zone_dist=intact.distances(st.zones))
    repairs = _Repairs(Reach(intact, st, failed, source), pairs, useful, times, first)
    return start, _rank(repairs, failed, start, full)


@dataclass(frozen=True, eq=False)
class _Repairs:
    """What the greedy ranking of one scenario's failed roads works with."""

    reach: Reach  # distances on the roads back so far, kept up to date
    pairs: PairEvaluator  # R_s from the live stake pairs
    useful: np.ndarray  # (E,) roads on a reach-limited path of a stake pair, fully repaired
    times: np.ndarray  # (E,) repair periods
    first: np.ndarray  # (E,) priority roads


def _priority_first(roads: Sequence[int], first: np.ndarray) -> list[int]:
    """``roads`` in their order, the priority roads first."""
    return [e for e in roads if first[e]] + [e for e in roads if not first[e]]


def _rank(repairs: _Repairs, failed: list[int], start: float,
          full: float) -> list[tuple[int, float]]:
    """(road, R_s once it and every road before it is back), one road at a time, from R_s
    ``start`` with every road down until R_s reaches ``full``, its fully repaired value."""
    now = start
    remaining = list(failed)
    ranked: list[tuple[int, float]] = []
    while remaining:
        if now >= full - TIE_TOL:
            # Nothing can rise any more: the rest in edge order (priority roads first).
            ranked += [(e, ranked[-1][1] if ranked else start)
                       for e in _priority_first(remaining, repairs.first)]
            break
        pool = [e for e in remaining if repairs.first[e]] or remaining
        best_edge, best_value = _best_repair(repairs, pool, now)
        if best_edge is None:
            # No single repair helps: the first road that could ever matter, else the first.
            # R_s may still creep up by less than the tie tolerance; the curve keeps the
            # value it had, as a brute force that cannot tell such steps apart would.
            repaired = next((e for e in pool if repairs.useful[e]), pool[0])
            value = ranked[-1][1] if ranked else start
        else:
            repaired, value = best_edge, float(best_value)
        remaining.remove(repaired)
        if repairs.useful[repaired]:
            repairs.reach.restore(repaired)
            now = repairs.pairs.resilience(repairs.reach.live())
        ranked.append((repaired, value))
    return ranked


def _best_repair(repairs: _Repairs, pool: list[int], now: float) -> tuple[int | None, float]:
    """The road of ``pool`` whose repair raises R_s (now ``now``) the most per period, and
    R_s once it is back; (None, ``now``) when no single repair raises it."""
    live_now = repairs.reach.live()
    candidates = np.array([e for e in pool if repairs.useful[e]], dtype=np.int64)
    best_edge, best_value, best_time = None, now, 1
    if len(candidates):
        lives = _live_with_each(repairs.reach, live_now, candidates)
        for e, live in zip(candidates.tolist(), lives, strict=True):
            if np.array_equal(live, live_now):
                continue  # no new stake pair: nothing changes
            value = repairs.pairs.resilience(live)
            if _better(value, int(repairs.times[e]), best_value, best_time, now):
                best_edge, best_value, best_time = e, value, int(repairs.times[e])
    return best_edge, best_value


def _better(value: float, time: int, best: float, best_time: int, now: float) -> bool:
    """Does a repair worth ``value`` in ``time`` periods beat the best so far?

    With equal times the values are compared directly (the rule of one period per road);
    otherwise the gains per period.
    """
    if time == best_time:
        return value > best + TIE_TOL
    return (value - now) / time > (best - now) / best_time + TIE_TOL


def _live_with_each(reach: Reach, live: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """:func:`optimizer.evaluation.whatif.live_with_each` from the kept distances (no Dijkstra)."""
    st = reach.st
    out = np.repeat(live[None, :], len(edges), axis=0)
    dead = np.nonzero(~live)[0]
    if not len(dead):
        return out
    net = reach.net
    u, v = net.edge_from[edges], net.edge_to[edges]
    length = reach.length[edges]
    su, sv = reach.source[:, u], reach.source[:, v]
    zone_dist = reach.zone[reach.zone_row[dead]]
    zu, zv = zone_dist[:, u], zone_dist[:, v]
    rows = st.pair_source[dead]
    via = np.minimum(su[rows] + zv, sv[rows] + zu) + length
    out[:, dead] = (via <= st.pair_limit[dead, None]).T
    return out


def list_schedule(order: Sequence[int], times: np.ndarray, crews: int
                  ) -> list[tuple[int, int, int, int]]:
    """Crews take the roads in ``order`` as they come free (the lowest free crew first).

    Returns (road, crew, start, done) per road, in ``order``.
    """
    free = [(0, c) for c in range(max(1, crews))]
    heapq.heapify(free)
    out = []
    for e in order:
        start, crew = heapq.heappop(free)
        done = start + int(times[e])
        out.append((int(e), crew, start, done))
        heapq.heappush(free, (done, crew))
    return out


def schedule_of(instance: Instance, plan: Plan, scenario: Scenario, order: Sequence[int],
                crews: int, times: np.ndarray, start: float, *,
                known: Sequence[float] | None = None,
                evaluator: PairEvaluator | None = None,
                intact: Intact | None = None) -> Schedule:
    """The schedule of crews taking ``order`` (:func:`list_schedule`) and its curve.

    ``known[n]`` is R_s once ``order[:n + 1]`` is back, when the caller has it (the greedy
    does): with one crew the roads return in that order and nothing is evaluated.
    """
    jobs = list_schedule(order, times, crews)
    in_order = sorted(range(len(jobs)), key=lambda n: (jobs[n][3], n)) == list(range(len(jobs)))
    if known is not None and in_order and _distinct_returns(jobs):
        return _assemble(scenario, jobs, list(known), crews, times, start)
    return schedule_from_jobs(instance, plan, scenario, jobs, crews, times, start,
                              evaluator=evaluator, intact=intact)


def schedule_from_jobs(instance: Instance, plan: Plan, scenario: Scenario,
                       jobs: Sequence[tuple[int, int, int, int]], crews: int,
                       times: np.ndarray, start: float, *,
                       evaluator: PairEvaluator | None = None,
                       intact: Intact | None = None) -> Schedule:
    """The schedule of given (road, crew, start, done) repairs, its curve evaluated."""
    order = sorted(range(len(jobs)), key=lambda n: (jobs[n][3], n))
    jobs = [jobs[n] for n in order]
    values = _values_by_period(instance, plan, scenario, jobs, list(range(len(jobs))),
                               evaluator, intact)
    return _assemble(scenario, jobs, values, crews, times, start)


def _assemble(scenario: Scenario, jobs: Sequence[tuple[int, int, int, int]],
              values: Sequence[float], crews: int, times: np.ndarray,
              start: float) -> Schedule:
    """Steps in order of return (``jobs`` and ``values`` already in that order)."""
    horizon = int(sum(int(times[e]) for e in set(scenario.failed_edges)))
    steps = [RepairStep(0, None, float(start))]
    for (e, crew, begun, done), value in zip(jobs, values, strict=True):
        steps.append(RepairStep(done, int(e), float(value), crew, begun))
    return Schedule(tuple(steps), max(1, crews), horizon)


def _distinct_returns(jobs: Sequence[tuple[int, int, int, int]]) -> bool:
    done = [j[3] for j in jobs]
    return len(set(done)) == len(done)


def _values_by_period(instance: Instance, plan: Plan, scenario: Scenario,
                      jobs: Sequence[tuple[int, int, int, int]], by_return: list[int],
                      evaluator: PairEvaluator | None, intact: Intact | None) -> list[float]:
    """R_s at each road's return (every road back by its period), in ``by_return`` order."""
    st = evaluator.st if evaluator is not None else stakes(instance, plan, scenario)
    pairs = evaluator if evaluator is not None else PairEvaluator(instance, plan, scenario, st)
    reach = Reach(intact if intact is not None else Intact(instance), st,
                  sorted(set(scenario.failed_edges)))
    done_at: dict[int, float] = {}
    periods = sorted({jobs[n][3] for n in by_return})
    back = iter(by_return)
    pending = next(back, None)
    for period in periods:
        while pending is not None and jobs[pending][3] <= period:
            reach.restore(jobs[pending][0])
            pending = next(back, None)
        done_at[period] = pairs.resilience(reach.live())
    return [done_at[jobs[n][3]] for n in by_return]


def greedy_schedule(instance: Instance, plan: Plan, scenario: Scenario, start: float,
                    crews: int | None = None, intact: Intact | None = None) -> Schedule:
    """The greedy schedule of one scenario with the instance's crews, repair times and
    priority (``crews`` overrides the number of crews; ``intact`` is shared by the
    scenarios of an instance)."""
    intact = intact if intact is not None else Intact(instance)
    times = repair_times(instance)
    first = priority_roads(instance)
    crews = instance.recovery.crews if crews is None else crews
    st = stakes(instance, plan, scenario)
    pairs = PairEvaluator(instance, plan, scenario, st)
    disrupted, ranked = greedy_order(instance, plan, scenario, times, first, pairs, st,
                                     intact)
    if abs(disrupted - start) > CONSISTENCY_TOL:  # pragma: no cover - a bug if it happens
        raise RuntimeError(f"recovery of scenario {scenario.id}: the disrupted resilience "
                           f"from live pairs is {disrupted}, the evaluation says {start}")
    order = [e for e, _ in ranked]
    return schedule_of(instance, plan, scenario, order, crews, times, start,
                       known=[v for _, v in ranked], evaluator=pairs, intact=intact)
