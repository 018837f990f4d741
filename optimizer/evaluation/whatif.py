"""What a plan can still reach when roads fail or come back: the bookkeeping behind
recovery schedules (:mod:`optimizer.evaluation.recovery`) and stress tests
(:mod:`optimizer.evaluation.stress`).

Given the first stage, a scenario's resilience depends on the roads only through the set of
*live pairs*: (depot, zone) pairs within supply reach and (zone, shelter) pairs within
evacuation reach that can carry flow (design section 2). A pair can carry flow only when the
depot is open with stock left that the zone needs, or the shelter is open with places left
and the zone has evacuees; only those *stake* pairs are tracked. Two road networks with the
same live stake pairs give the same resilience, and removing roads can only remove pairs
(and lower resilience), so "what if this road fails too?" and "what if this road is
repaired?" become "which pairs change?", answered by bounded Dijkstra (scipy csgraph, the
same reach rule as :mod:`optimizer.evaluation.reachability`) before any maximum flow is run.

Graphs here are symmetric sparse adjacency matrices built from an *alive* edge mask, the
shortest of parallel roads kept, zero-length roads given a tiny positive length (csgraph
drops explicit zeros), self-loops dropped.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from optimizer.evaluation.reachability import REACH_RTOL, ZERO_LENGTH
from optimizer.instance.data import Instance, Network, Scenario
from optimizer.plan import Plan

# Resilience values closer than this are ties (max-flow values of equal arc sets built in
# another order differ in the last bits).
TIE_TOL = 1e-9
# Stake pairs per vectorised block of the reach-limited path test.
PAIR_BLOCK = 1024
# Copies of the network per batched Dijkstra call: the dense answer grows with its square.
BATCH = 8


def reach_limit(reach: float) -> float:
    """The largest distance :func:`optimizer.evaluation.reachability.within` accepts for
    ``reach``."""
    return np.inf if np.isinf(reach) else reach + REACH_RTOL * max(1.0, reach)


def node_pair(network: Network, edge: int) -> tuple[int, int]:
    u, v = int(network.edge_from[edge]), int(network.edge_to[edge])
    return (u, v) if u <= v else (v, u)


_BY_PAIR: weakref.WeakKeyDictionary[Network, dict[tuple[int, int], list[int]]] = (
    weakref.WeakKeyDictionary())


def edges_by_node_pair(network: Network) -> dict[tuple[int, int], list[int]]:
    """Every road between two nodes (parallel roads share a key), self-loops left out.

    Cached per network (do not change the answer).
    """
    out = _BY_PAIR.get(network)
    if out is None:
        out = {}
        lo = np.minimum(network.edge_from, network.edge_to).tolist()
        hi = np.maximum(network.edge_from, network.edge_to).tolist()
        for j, key in enumerate(zip(lo, hi, strict=True)):
            if key[0] != key[1]:
                out.setdefault(key, []).append(j)
        _BY_PAIR[network] = out
    return out


class Roads:
    """The alive roads as unique node pairs (the shortest of parallel roads), ready to be
    turned into csgraph adjacency with a few roads removed or restored."""

    def __init__(self, network: Network, alive: np.ndarray) -> None:
        self.network = network
        self.alive = alive
        self.by_pair = edges_by_node_pair(network)
        self.length = np.maximum(network.edge_length, ZERO_LENGTH)
        keep = alive & (network.edge_from != network.edge_to)
        a = np.minimum(network.edge_from, network.edge_to)[keep]
        b = np.maximum(network.edge_from, network.edge_to)[keep]
        w = self.length[keep]
        order = np.lexsort((w, b, a))
        a, b, w = a[order], b[order], w[order]
        first = np.ones(len(a), dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        self.u, self.v, self.w = a[first].astype(np.int64), b[first].astype(np.int64), w[first]
        self._slot: dict[tuple[int, int], int] | None = None

    @property
    def slot(self) -> dict[tuple[int, int], int]:
        """Position of each node pair in ``u``, ``v``, ``w``."""
        if self._slot is None:
            self._slot = {key: n for n, key in enumerate(zip(self.u.tolist(), self.v.tolist(),
                                                             strict=True))}
        return self._slot

    def arrays(self, removed: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, length) of the unique node pairs once the roads ``removed`` are lost (a
        parallel road that survives takes over)."""
        if not len(removed):
            return self.u, self.v, self.w
        w = self.w.copy()
        lost = {int(e) for e in removed}
        for key in {node_pair(self.network, e) for e in lost}:
            if key in self.slot:
                left = [e for e in self.by_pair[key] if self.alive[e] and e not in lost]
                w[self.slot[key]] = float(self.length[left].min()) if left else np.inf
        keep = np.isfinite(w)
        return self.u[keep], self.v[keep], w[keep]

    def graph(self, removed: Sequence[int] = ()) -> csr_matrix:
        return self.block([removed])

    def block(self, removed: Sequence[Sequence[int]]) -> csr_matrix:
        """Disjoint copies of the network, copy ``c`` without the roads ``removed[c]`` and
        with nodes ``c * N .. (c + 1) * N - 1``: one Dijkstra call answers for every copy."""
        n = self.network.num_nodes
        parts = [self.arrays(edges) for edges in removed]
        size = n * len(removed)
        if not parts:
            return csr_matrix((0, 0))
        u = np.concatenate([p[0] + c * n for c, p in enumerate(parts)])
        v = np.concatenate([p[1] + c * n for c, p in enumerate(parts)])
        w = np.concatenate([p[2] for p in parts])
        return csr_matrix((np.concatenate([w, w]), (np.concatenate([u, v]),
                                                    np.concatenate([v, u]))),
                          shape=(size, size))


@dataclass(frozen=True, eq=False)
class Stakes:
    """The facilities and zones that matter in one scenario under one plan, and their pairs.

    ``sources`` lists the nodes of open depots with stock left (first) and of open shelters
    with places left; each stake pair ``p`` joins source row ``pair_source[p]`` to zone
    ``pair_zone[p]`` and is live when their distance is within ``pair_reach[p]``.
    """

    depots: np.ndarray  # depot indices with stock left
    shelters: np.ndarray  # shelter indices with places left
    sources: np.ndarray  # node of each source row: depots, then shelters
    source_limit: np.ndarray  # Dijkstra limit of each source row
    pair_source: np.ndarray  # (P,) source row
    pair_zone: np.ndarray  # (P,) zone node
    pair_reach: np.ndarray  # (P,) reach of the pair's kind
    pair_limit: np.ndarray  # (P,) largest distance the reach rule accepts
    pair_is_supply: np.ndarray  # (P,) bool
    zones: np.ndarray  # every zone node in a pair

    @property
    def num_pairs(self) -> int:
        return len(self.pair_zone)

    @property
    def limit(self) -> float:
        return float(self.source_limit.max()) if len(self.source_limit) else 0.0

    def live(self, dist: np.ndarray, offset: int = 0) -> np.ndarray:
        """Live pairs, given ``dist`` (rows: source rows; columns: nodes from ``offset``)."""
        if not self.num_pairs:
            return np.zeros(0, dtype=bool)
        d = dist[self.pair_source, self.pair_zone + offset]
        return (d <= self.pair_limit) & np.isfinite(d)


def stakes(instance: Instance, plan: Plan, scenario: Scenario) -> Stakes:
    """Which (depot, zone) and (zone, shelter) pairs could carry flow in ``scenario``."""
    stock = plan.total_stock(instance) * (1 - scenario.depot_loss)[:, None]
    capacity = plan.shelter_capacity(instance) * (1 - scenario.shelter_loss)
    policy = instance.policy
    depots = np.array([j for j in range(len(instance.depots))
                       if plan.open_depots[j] and (stock[j] > 0).any()], dtype=np.int64)
    shelters = np.array([j for j in range(len(instance.shelters))
                         if plan.open_shelters[j] and capacity[j] > 0], dtype=np.int64)
    sources = np.array([instance.depots[j].node for j in depots]
                       + [instance.shelters[j].node for j in shelters], dtype=np.int64)
    limits = np.array([reach_limit(policy.supply_reach)] * len(depots)
                      + [reach_limit(policy.evacuation_reach)] * len(shelters), dtype=float)
    # A depot serves a zone only in the commodities it holds and the zone needs.
    serves = ((stock[depots] > 0).astype(float) @ (scenario.need > 0).T.astype(float)) > 0
    d_rows, d_zones = np.nonzero(serves)
    evacuating = np.nonzero(scenario.evacuees > 0)[0]
    h_rows = np.repeat(np.arange(len(shelters)) + len(depots), len(evacuating))
    h_zones = np.tile(evacuating, len(shelters))
    pair_zone = np.concatenate([d_zones, h_zones]).astype(np.int64)
    is_supply = np.concatenate([np.ones(len(d_zones), bool), np.zeros(len(h_zones), bool)])
    pair_reach = np.where(is_supply, policy.supply_reach, policy.evacuation_reach)
    return Stakes(
        depots=depots, shelters=shelters, sources=sources, source_limit=limits,
        pair_source=np.concatenate([d_rows, h_rows]).astype(np.int64), pair_zone=pair_zone,
        pair_reach=pair_reach,
        pair_limit=np.where(is_supply, reach_limit(policy.supply_reach),
                            reach_limit(policy.evacuation_reach)).astype(float),
        pair_is_supply=is_supply, zones=np.unique(pair_zone),
    )


def source_distances(graph: csr_matrix, st: Stakes, *, offsets: np.ndarray | None = None,
                     predecessors: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Bounded Dijkstra from every source row (once per copy when ``offsets`` are given).

    Returns (distances, predecessors) with one row per source row, or per (copy, source
    row) in copy-major order.
    """
    sources = st.sources if offsets is None else (offsets[:, None] + st.sources).ravel()
    if len(sources) == 0:
        empty = np.zeros((0, graph.shape[0]))
        return empty, (empty.astype(np.int32) if predecessors else None)
    if predecessors:
        dist, pred = dijkstra(graph, directed=False, indices=sources, limit=st.limit,
                              return_predecessors=True)
        return np.atleast_2d(dist), np.atleast_2d(pred)
    return np.atleast_2d(dijkstra(graph, directed=False, indices=sources, limit=st.limit)), None


def live_after(roads: Roads, st: Stakes, removed: Sequence[Sequence[int]], *,
               predecessors: bool = False) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Live pairs (and the sources' shortest-path trees) once each road set of ``removed``
    is lost."""
    out: list[tuple[np.ndarray, np.ndarray | None]] = []
    n = roads.network.num_nodes
    rows = len(st.sources)
    for start in range(0, len(removed), BATCH):
        chunk = removed[start:start + BATCH]
        graph = roads.block(chunk)
        offsets = np.arange(len(chunk), dtype=np.int64) * n
        dist, pred = source_distances(graph, st, offsets=offsets, predecessors=predecessors)
        for c in range(len(chunk)):
            d = dist[c * rows:(c + 1) * rows]
            p = None
            if pred is not None:
                p = pred[c * rows:(c + 1) * rows, c * n:(c + 1) * n].astype(np.int64)
                p = np.where(p >= 0, p - c * n, -1)
            out.append((st.live(d, offset=c * n) if rows else np.zeros(0, bool),
                        p))
    return out


def on_reach_limited_paths(network: Network, graph: csr_matrix, st: Stakes,
                           source_dist: np.ndarray, edges: np.ndarray,
                           zone_dist: np.ndarray | None = None) -> np.ndarray:
    """(E,) mask: which of ``edges`` lie on some path of length <= reach between a stake
    pair, i.e. ``dist(f, u) + len + dist(v, z) <= reach`` in one orientation or the other.

    ``source_dist`` are the bounded distances from the stake sources on ``graph``; the
    zones' (rows: ``st.zones``) are computed here unless given. An edge outside the mask can
    be lost without changing any live pair, and (on a graph that lacks it) restored without
    creating one.
    """
    out = np.zeros(network.num_edges, dtype=bool)
    if not st.num_pairs or not len(edges):
        return out
    if zone_dist is None:
        zone_dist = np.atleast_2d(dijkstra(graph, directed=False, indices=st.zones,
                                           limit=st.limit))
    zone_row = np.searchsorted(st.zones, st.pair_zone)
    u, v = network.edge_from[edges], network.edge_to[edges]
    length = np.maximum(network.edge_length[edges], ZERO_LENGTH)
    # A little slack over the reach rule: the test may keep a useless road, never drop a
    # useful one because two sums of the same lengths differ in the last bit.
    finite = np.where(np.isinf(st.pair_reach), 1.0, st.pair_reach)
    slack = st.pair_limit + 1e-9 * np.maximum(1.0, finite)
    for start in range(0, st.num_pairs, PAIR_BLOCK):
        block = slice(start, start + PAIR_BLOCK)
        from_f = source_dist[st.pair_source[block]]
        to_z = zone_dist[zone_row[block]]
        through = np.minimum(from_f[:, u] + to_z[:, v], from_f[:, v] + to_z[:, u])
        through += length[None, :]
        hit = np.isfinite(through) & (through <= slack[block, None])
        out[edges] |= hit.any(axis=0)
    return out


def live_with_each(network: Network, graph: csr_matrix, st: Stakes, source_dist: np.ndarray,
                   live: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(len(edges), P): the live pairs once each road of ``edges``, alone, is restored to
    ``graph`` (on which the sources' distances are ``source_dist`` and ``live`` is live).

    No Dijkstra per road: a shortest path that uses the restored road ``(u, v)`` uses it
    once, so the new distance of a pair (f, z) is the least of its old distance and
    ``dist(f, u) + len + dist(v, z)`` in either orientation, all on ``graph``.
    """
    out = np.repeat(live[None, :], len(edges), axis=0)
    dead = np.nonzero(~live)[0]
    if not len(dead) or not len(edges):
        return out
    zones = np.unique(st.pair_zone[dead])
    zone_dist = np.atleast_2d(dijkstra(graph, directed=False, indices=zones, limit=st.limit))
    zone_row = np.searchsorted(zones, st.pair_zone[dead])
    u, v = network.edge_from[edges], network.edge_to[edges]
    length = np.maximum(network.edge_length[edges], ZERO_LENGTH)
    su, sv = source_dist[:, u], source_dist[:, v]  # (sources, roads)
    zu, zv = zone_dist[:, u], zone_dist[:, v]
    for start in range(0, len(dead), PAIR_BLOCK):
        block = dead[start:start + PAIR_BLOCK]
        rows, zrows = st.pair_source[block], zone_row[start:start + PAIR_BLOCK]
        via = np.minimum(su[rows] + zv[zrows], sv[rows] + zu[zrows]) + length
        out[:, block] = (via <= st.pair_limit[block, None]).T
    return out


def tree_path(pred: np.ndarray, source: int, zone: int) -> list[tuple[int, int]]:
    """Node pairs on the predecessor-tree path from ``source`` to ``zone``."""
    path = []
    node = zone
    while node != source:
        parent = int(pred[node])
        if parent < 0:
            break
        path.append((parent, node) if parent <= node else (node, parent))
        node = parent
    return path


class PairEvaluator:
    """R_s of a scenario as a function of its live stake pairs, by maximum flow.

    The same flows as :func:`optimizer.evaluation.evaluate.evaluate_scenario` (supply per commodity,
    then shelter; compensation does not depend on roads), but over given pairs instead of
    Dijkstra, computed by :func:`bipartite_max_flow`. Searches meet the same pair sets many
    times, and a change of roads often touches one commodity or only shelter: each flow
    is cached by the live pairs that can carry it (a depot with that commodity left and a
    zone that needs it), so only the flows whose pairs changed are computed again.
    """

    def __init__(self, instance: Instance, plan: Plan, scenario: Scenario, st: Stakes) -> None:
        self.st = st
        stock = plan.total_stock(instance) * (1 - scenario.depot_loss)[:, None]
        self.stock = stock[st.depots]
        self.capacity = (plan.shelter_capacity(instance) * (1 - scenario.shelter_loss))[
            st.shelters]
        self.need = scenario.need
        self.evacuees = scenario.evacuees
        self.om = instance.commodity_weights
        self.total_need = float((scenario.need * self.om).sum())
        self.total_evacuees = float(scenario.evacuees.sum())
        total_loss = float(scenario.economic_loss.sum())
        economic = (min(plan.compensation_pool, total_loss) / total_loss
                    if total_loss > 0 else 1.0)
        self.w = instance.weights
        self.economic_part = self.w.economic * economic
        self.cache: dict[bytes, float] = {}
        # The pairs that can carry each flow: commodity k, then shelter.
        rows = np.minimum(st.pair_source, max(len(st.depots) - 1, 0))
        self.layers: list[np.ndarray] = []
        for k in range(self.need.shape[1]):
            held = self.stock[rows, k] > 0 if len(st.depots) else np.zeros(st.num_pairs, bool)
            self.layers.append(st.pair_is_supply & held & (self.need[st.pair_zone, k] > 0))
        self.layers.append(~st.pair_is_supply)
        self.flows: list[dict[bytes, float]] = [{} for _ in self.layers]

    def resilience(self, live: np.ndarray) -> float:
        key = np.packbits(live).tobytes()
        value = self.cache.get(key)
        if value is None:
            value = self.cache[key] = self._evaluate(live)
        return value

    def _flow(self, layer: int, live: np.ndarray) -> float:
        st = self.st
        mask = live & self.layers[layer]
        key = np.packbits(mask).tobytes()
        value = self.flows[layer].get(key)
        if value is not None:
            return value
        rows, zones = st.pair_source[mask], st.pair_zone[mask]
        if layer < len(self.layers) - 1:
            adjacency = np.zeros((len(st.depots), len(self.need)), dtype=bool)
            adjacency[rows, zones] = True
            value = bipartite_max_flow(self.stock[:, layer], self.need[:, layer], adjacency)
        else:
            adjacency = np.zeros((len(st.shelters), len(self.evacuees)), dtype=bool)
            adjacency[rows - len(st.depots), zones] = True
            value = bipartite_max_flow(self.capacity, self.evacuees, adjacency)
        self.flows[layer][key] = value
        return value

    def _evaluate(self, live: np.ndarray) -> float:
        supply = 1.0
        if self.total_need > 0:
            delivered = 0.0
            for k in range(self.need.shape[1]):
                delivered += self.om[k] * self._flow(k, live)
            supply = delivered / self.total_need
        shelter = 1.0
        if self.total_evacuees > 0:
            shelter = self._flow(len(self.layers) - 1, live)
            shelter /= self.total_evacuees
        return self.w.supply * supply + self.w.shelter * shelter + self.economic_part


# Up to this many facilities, a bipartite max flow is found by enumerating its cuts.
ENUMERATE_UP_TO = 12


def bipartite_max_flow(supply: np.ndarray, demand: np.ndarray, adjacency: np.ndarray) -> float:
    """Max flow source -> facility f (``supply[f]``) -> zone z (unbounded, where
    ``adjacency[f, z]``) -> sink (``demand[z]``).

    A shelter's flow runs the other way (zone -> shelter), which is the same value read
    backwards. Minimum cut: put a facility set A on the source side; every zone A reaches
    must follow (its arcs are unbounded), so the cut costs
    ``supply(not A) + demand(N(A))``, and the max flow is the least such cost over all A.
    With few facilities that is a small matrix product; otherwise networkx preflow-push.
    """
    facilities = np.nonzero((supply > 0) & adjacency.any(axis=1))[0]
    if len(facilities) == 0:
        return 0.0
    zones = np.nonzero(adjacency[facilities].any(axis=0) & (demand > 0))[0]
    a = supply[facilities].astype(float)
    b = demand[zones].astype(float)
    adj = adjacency[np.ix_(facilities, zones)]
    if len(facilities) <= ENUMERATE_UP_TO:
        subsets = _subsets(len(facilities))
        reached = (subsets.astype(float) @ adj.astype(float)) > 0
        cost = (~subsets).astype(float) @ a + reached.astype(float) @ b
        return float(cost.min())
    graph = nx.DiGraph()
    for i, f in enumerate(facilities):
        graph.add_edge("source", ("f", int(f)), capacity=float(a[i]))
    for j, z in enumerate(zones):
        graph.add_edge(("z", int(z)), "sink", capacity=float(b[j]))
    for i, j in zip(*np.nonzero(adj), strict=True):
        graph.add_edge(("f", int(facilities[i])), ("z", int(zones[j])))
    return float(nx.maximum_flow_value(graph, "source", "sink"))


_SUBSETS: dict[int, np.ndarray] = {}


def _subsets(n: int) -> np.ndarray:
    """(2**n, n) boolean: row m is the subset whose bit i is set in m."""
    if n not in _SUBSETS:
        _SUBSETS[n] = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    return _SUBSETS[n]
