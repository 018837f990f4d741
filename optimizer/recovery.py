"""Recovery paths (design section 5): how a plan's community gets back on its feet.

For each scenario, on the surviving roads (graph algorithms of networkx and scipy's
csgraph; no solver), for every *affected* zone (need or evacuees > 0):

- **cut off**: no path at all on the surviving roads to any open depot (``supply``) or to
  any open shelter (``shelter``), although the intact network has one: cut off by the
  disruption. (A zone with no such path even on the intact network, for instance because
  the plan opens no shelter, is not listed here but is out of reach.)
- **out of reach**: no open depot within supply reach, or no open shelter within evacuation
  reach, on the surviving roads. A cut-off zone is also out of reach.
- **detour ratio**: distance to the nearest open depot (shelter) on the surviving roads over
  the same on the intact network: 1 when nothing changed (also for a zone that hosts the
  facility), ``inf`` when there is no finite ratio (cut off, or no open facility of that
  kind); the result file writes ``inf`` as ``null``.
- **disjoint paths**: the number of edge-disjoint paths from the zone to the set of open
  facilities of a kind (maximum flow from the zone to a super sink joined to every such
  facility, each surviving road of capacity 1, parallel roads counted apart; scipy's
  integer max flow, checked against networkx edge connectivity in the tests): path
  redundancy. A zone that hosts an open facility of the kind needs no road: ``None``
  (unbounded).
- **restoration schedule**: one crew repairs one failed road per period. At each period it
  repairs the road that raises the plan's resilience R_s the most; ties (within 1e-9) go to
  the earlier road (edge order). The recovery curve is R_s after each repair, from the
  disrupted value at period 0 to the fully repaired one at period F (the number of failed
  roads).
- **recovery area**: the mean of the curve over periods 0..F, a number in [0, 1] (1: the
  scenario never hurt; F = 0: the resilience itself). Earlier restoration gives a larger
  area.

How the schedule stays cheap. Given the plan, R_s depends on the roads only through the
live (facility, zone) stake pairs of :mod:`optimizer.whatif`, and a repaired road ``(u, v)``
can only add pairs: the new distance of a pair is the least of its old one and
``dist(f, u) + len + dist(v, z)`` (either orientation), so two bounded Dijkstra runs per
period (from the facilities and from the zones of dead pairs) give every candidate's new
pair set exactly, with no Dijkstra per road. A repair that adds no pair changes nothing and
is not evaluated; this is stronger than leaving out roads that touch no component holding a
facility or an affected zone (such a road adds no pair). The others are valued by the
maximum flows of design section 2 over their pair sets (:class:`optimizer.whatif.
PairEvaluator`, once per distinct set); :func:`optimizer.evaluate.evaluate_scenario` is
called on the disrupted and the fully repaired network, and both must agree with the flows
(the tests check every point of the curve against it). Once R_s reaches its fully repaired
value nothing is evaluated any more and the remaining roads follow in edge order. When no
single repair raises R_s (two roads must both come back before a zone is reachable), the
crew takes the first road in edge order that lies on a reach-limited path between a stake
pair in the fully repaired network: a road on no such path can never matter, so it waits
until the end.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from optimizer.data import Instance, Scenario
from optimizer.evaluate import evaluate_scenario, road_graph
from optimizer.outcome import ScenarioOutcome
from optimizer.plan import Plan
from optimizer.reachability import within
from optimizer.stopping import Stopped
from optimizer.whatif import (
    TIE_TOL,
    PairEvaluator,
    Roads,
    live_with_each,
    on_reach_limited_paths,
    source_distances,
    stakes,
)

KINDS = ("supply", "shelter")
# The live-pair flow and the independent evaluation must agree to this (else a bug).
CONSISTENCY_TOL = 1e-6


@dataclass(frozen=True)
class RepairStep:
    period: int
    edge: int | None  # edge index repaired in this period (None at period 0)
    resilience: float  # R_s after the repair


@dataclass(frozen=True, eq=False)
class ScenarioRecovery:
    """Design section 5 for one scenario. Zones and roads are indices."""

    scenario_id: str
    affected: tuple[int, ...]
    cut_off: dict[str, tuple[int, ...]]  # kind -> zones
    out_of_reach: dict[str, tuple[int, ...]]
    detour_ratio: dict[int, dict[str, float]]  # zone -> kind -> ratio (inf: none finite)
    disjoint_paths: dict[int, dict[str, int | None]]  # zone -> kind -> count (None: unbounded)
    restoration: tuple[RepairStep, ...]

    @property
    def area(self) -> float:
        """Mean resilience over periods 0..F."""
        return float(np.mean([step.resilience for step in self.restoration]))

    @property
    def repairs_to_full(self) -> int:
        """Repairs after which R_s first reaches its final (fully repaired) value."""
        final = self.restoration[-1].resilience
        for step in self.restoration:
            if step.resilience >= final - TIE_TOL:
                return step.period
        return self.restoration[-1].period  # pragma: no cover


def _facility_nodes(instance: Instance, plan: Plan) -> dict[str, list[int]]:
    return {
        "supply": sorted({d.node for d, y in zip(instance.depots, plan.open_depots,
                                                 strict=True) if y}),
        "shelter": sorted({h.node for h, z in zip(instance.shelters, plan.open_shelters,
                                                  strict=True) if z}),
    }


def _nearest(graph: nx.Graph, sources: list[int]) -> dict[int, float]:
    if not sources:
        return {}
    return nx.multi_source_dijkstra_path_length(graph, sources, weight="length")


def capacity_arcs(instance: Instance, failed: set[int]) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Surviving roads as (u, v, capacity), capacity = how many parallel roads join u, v."""
    net = instance.network
    keep = np.ones(net.num_edges, dtype=bool)
    keep[list(failed)] = False
    keep &= net.edge_from != net.edge_to
    u = np.minimum(net.edge_from[keep], net.edge_to[keep])
    v = np.maximum(net.edge_from[keep], net.edge_to[keep])
    pairs, counts = np.unique(np.stack([u, v], axis=1), axis=0, return_counts=True)
    pairs = pairs.reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1], counts.astype(np.int32)


def disjoint_paths(num_nodes: int, arcs: tuple[np.ndarray, np.ndarray, np.ndarray],
                   zones: list[int], facilities: list[int],
                   reachable: set[int]) -> dict[int, int | None]:
    """Edge-disjoint paths from each zone to the set ``facilities`` (a super sink).

    ``arcs`` are the surviving roads (u, v, number of parallel roads); ``reachable`` the
    nodes with some path to a facility (the others have 0 without a flow). The counts are
    maximum flows with integer capacities (scipy), all zones in one call: zone ``c`` gets
    its own copy of the network, a shared source feeds each copy's zone and every copy's
    facilities drain into a shared sink, so the flow into copy ``c`` is zone ``c``'s count.
    """
    if not facilities:
        return dict.fromkeys(zones, 0)
    u, v, cap = arcs
    degree = np.bincount(np.concatenate([u, v]), weights=np.concatenate([cap, cap]),
                         minlength=num_nodes)
    hosts = set(facilities)
    out: dict[int, int | None] = {}
    flows: list[int] = []
    for z in zones:
        if z in hosts:
            out[z] = None
        elif z not in reachable:
            out[z] = 0
        elif degree[z] == 1:
            out[z] = 1
        else:
            flows.append(z)
    if not flows:
        return out
    copies = len(flows)
    offsets = np.arange(copies, dtype=np.int64)[:, None] * num_nodes
    source, sink = copies * num_nodes, copies * num_nodes + 1
    unbounded = int(cap.sum()) + 1
    fac = np.array(facilities, dtype=np.int64)
    zone_nodes = np.array(flows, dtype=np.int64) + offsets[:, 0]
    rows = np.concatenate([(u + offsets).ravel(), (v + offsets).ravel(),
                           (fac + offsets).ravel(), np.full(copies, source)])
    cols = np.concatenate([(v + offsets).ravel(), (u + offsets).ravel(),
                           np.full(copies * len(fac), sink), zone_nodes])
    data = np.concatenate([np.tile(cap, 2 * copies), np.full(copies * len(fac), unbounded),
                           np.full(copies, unbounded)]).astype(np.int32)
    size = copies * num_nodes + 2
    graph = csr_matrix((data, (rows, cols)), shape=(size, size))
    flow = maximum_flow(graph, source, sink).flow
    into = np.asarray(flow[source].toarray()).ravel()[zone_nodes]
    for z, n in zip(flows, into, strict=True):
        out[z] = int(n)
    return out


def _ratio(surviving: float, intact: float) -> float:
    if math.isinf(surviving) or math.isinf(intact):
        return math.inf
    if surviving == intact:
        return 1.0
    return surviving / intact if intact > 0 else math.inf


def restoration(instance: Instance, plan: Plan, scenario: Scenario, *,
                start: float | None = None) -> tuple[RepairStep, ...]:
    """The greedy restoration schedule and recovery curve of one scenario (module doc)."""
    failed = sorted(set(scenario.failed_edges))
    r0 = start if start is not None else evaluate_scenario(instance, plan, scenario).resilience
    steps = [RepairStep(0, None, r0)]
    if not failed:
        return tuple(steps)
    net = instance.network
    st = stakes(instance, plan, scenario)
    pairs = PairEvaluator(instance, plan, scenario, st)
    everything = np.ones(net.num_edges, dtype=bool)
    full_graph = Roads(net, everything).graph()
    full_dist, _ = source_distances(full_graph, st)
    full_live = st.live(full_dist)
    full = pairs.resilience(full_live)
    useful = on_reach_limited_paths(net, full_graph, st, full_dist, np.array(failed))
    alive = everything.copy()
    alive[failed] = False
    remaining = list(failed)
    while remaining:
        graph = Roads(net, alive).graph()
        dist, _ = source_distances(graph, st)
        live_now = st.live(dist)
        now = pairs.resilience(live_now)
        if len(steps) == 1:
            _check(scenario, "disrupted", now, r0)
            if not np.array_equal(live_now, full_live):
                repaired_all = dataclasses.replace(scenario, failed_edges=())
                _check(scenario, "fully repaired", full,
                       evaluate_scenario(instance, plan, repaired_all).resilience)
        if now >= full - TIE_TOL:
            # Nothing can rise any more: the rest in edge order.
            value = steps[-1].resilience
            steps += [RepairStep(len(steps) + n, e, value) for n, e in enumerate(remaining)]
            break
        candidates = np.array(remaining, dtype=np.int64)
        best_edge, best_value = None, now
        lives = live_with_each(net, graph, st, dist, live_now, candidates)
        for e, live in zip(remaining, lives, strict=True):
            if np.array_equal(live, live_now):
                continue  # no new stake pair: nothing changes
            value = pairs.resilience(live)
            if value > best_value + TIE_TOL:
                best_edge, best_value = e, value
        if best_edge is None:
            # No single repair helps: the first road that could ever matter, else the first.
            repaired = next((e for e in remaining if useful[e]), remaining[0])
            value = steps[-1].resilience
        else:
            repaired, value = best_edge, float(best_value)
        remaining.remove(repaired)
        alive[repaired] = True
        steps.append(RepairStep(len(steps), repaired, value))
    return tuple(steps)


def _check(scenario: Scenario, what: str, flows: float, evaluated: float) -> None:
    if abs(flows - evaluated) > CONSISTENCY_TOL:  # pragma: no cover - a bug if it happens
        raise RuntimeError(f"recovery of scenario {scenario.id}: the {what} resilience from "
                           f"live pairs is {flows}, the evaluation says {evaluated}")


def recover_scenario(instance: Instance, plan: Plan, scenario: Scenario, *,
                     start: float | None = None, intact: nx.Graph | None = None,
                     intact_nearest: dict[str, dict[int, float]] | None = None
                     ) -> ScenarioRecovery:
    """Every measure of design section 5 for one scenario.

    ``start`` is the plan's R_s in the scenario when already known; ``intact`` and
    ``intact_nearest`` (the intact road graph and each node's distance to the nearest open
    facility of each kind on it) are shared by all scenarios of a plan.
    """
    intact = intact if intact is not None else road_graph(instance)
    failed = set(scenario.failed_edges)
    surviving = road_graph(instance, scenario.failed_edges)
    facilities = _facility_nodes(instance, plan)
    affected = [int(i) for i in np.nonzero((scenario.need.sum(axis=1) > 0)
                                           | (scenario.evacuees > 0))[0]]
    reach = {"supply": instance.policy.supply_reach,
             "shelter": instance.policy.evacuation_reach}
    arcs = capacity_arcs(instance, failed)
    cut_off: dict[str, tuple[int, ...]] = {}
    out_of_reach: dict[str, tuple[int, ...]] = {}
    ratios: dict[int, dict[str, float]] = {z: {} for z in affected}
    paths: dict[int, dict[str, int | None]] = {z: {} for z in affected}
    for kind in KINDS:
        now = _nearest(surviving, facilities[kind])
        before = (intact_nearest[kind] if intact_nearest is not None
                  else _nearest(intact, facilities[kind]))
        cut_off[kind] = tuple(z for z in affected if z not in now and z in before)
        out_of_reach[kind] = tuple(z for z in affected
                                   if z not in now or not within(now[z], reach[kind]))
        for z in affected:
            ratios[z][kind] = _ratio(now.get(z, math.inf), before.get(z, math.inf))
        counted = disjoint_paths(instance.network.num_nodes, arcs, affected, facilities[kind],
                                 set(now))
        for z, n in counted.items():
            paths[z][kind] = n
    return ScenarioRecovery(
        scenario_id=scenario.id, affected=tuple(affected), cut_off=cut_off,
        out_of_reach=out_of_reach, detour_ratio=ratios, disjoint_paths=paths,
        restoration=restoration(instance, plan, scenario, start=start),
    )


def recovery(instance: Instance, plan: Plan,
             outcomes: list[ScenarioOutcome] | None = None, *,
             stop: Callable[[], bool] | None = None) -> list[ScenarioRecovery]:
    """:func:`recover_scenario` for every scenario, in instance order.

    ``outcomes`` (the plan's evaluated outcomes, e.g. from verification) save evaluating
    each disrupted scenario again. ``stop`` is asked before each scenario; when it says so,
    :class:`optimizer.stopping.Stopped` is raised (the section is optional, the plan is not).
    """
    intact = road_graph(instance)
    facilities = _facility_nodes(instance, plan)
    nearest = {kind: _nearest(intact, facilities[kind]) for kind in KINDS}
    out = []
    for n, s in enumerate(instance.scenarios):
        if stop is not None and stop():
            raise Stopped(f"{n} of {len(instance.scenarios)} scenarios done")
        out.append(recover_scenario(instance, plan, s,
                                    start=None if outcomes is None else outcomes[n].resilience,
                                    intact=intact, intact_nearest=nearest))
    return out
