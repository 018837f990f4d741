"""Which depot can serve which zone, and which zone can evacuate to which shelter.

Per scenario, the surviving road graph is the network less its failed edges; depot ``d``
serves zone ``i`` iff ``dist_s(d, i) <= supply_reach`` and zone ``i`` evacuates to shelter
``h`` iff ``dist_s(i, h) <= evacuation_reach``. The graph is undirected, so one
distance-bounded Dijkstra from each facility node gives all of its pairs: no all-pairs
search. scipy's csgraph runs it; networkx does the same independently in
``optimizer.evaluation.evaluate`` so the two can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from optimizer.instance.data import Instance

# Distances are sums of floats added in different orders by different libraries: a pair at
# exactly the reach limit must be classified the same way by both.
REACH_RTOL = 1e-9
# csgraph drops explicit zeros from sparse input, so zero-length roads get this length.
ZERO_LENGTH = 1e-12


def within(distance: float | np.ndarray, reach: float) -> bool | np.ndarray:
    """The reach rule shared by the model and the independent evaluation."""
    return distance <= reach + REACH_RTOL * max(1.0, reach)


@dataclass(frozen=True, eq=False)
class ScenarioReach:
    """Reachable pairs of one scenario, as parallel index arrays."""

    supply_depot: np.ndarray  # depot index d of each (d, i) pair
    supply_zone: np.ndarray  # node index i of each (d, i) pair
    shelter_zone: np.ndarray  # node index i of each (i, h) pair
    shelter_index: np.ndarray  # shelter index h of each (i, h) pair


class Roads(Protocol):
    """What :func:`surviving_graph` reads of a network: an instance's
    :class:`~optimizer.instance.data.Network`, or the
    :class:`~optimizer.sources.network.RoadNetwork` a source makes before a file exists."""

    @property
    def num_nodes(self) -> int: ...

    @property
    def num_edges(self) -> int: ...

    @property
    def edge_from(self) -> np.ndarray: ...

    @property
    def edge_to(self) -> np.ndarray: ...

    @property
    def edge_length(self) -> np.ndarray: ...


def surviving_graph(network: Roads, failed_edges: tuple[int, ...] = ()) -> csr_matrix:
    """Symmetric sparse adjacency of the roads that survive, shortest of parallel roads."""
    keep = np.ones(network.num_edges, dtype=bool)
    keep[list(failed_edges)] = False
    u, v = network.edge_from[keep], network.edge_to[keep]
    length = np.maximum(network.edge_length[keep], ZERO_LENGTH)
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    weights = np.concatenate([length, length])
    loops = rows != cols
    rows, cols, weights = rows[loops], cols[loops], weights[loops]
    n = network.num_nodes
    # Parallel roads: keep the shortest (csr_matrix would add them up).
    order = np.lexsort((weights, cols, rows))
    rows, cols, weights = rows[order], cols[order], weights[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return csr_matrix((weights[first], (rows[first], cols[first])), shape=(n, n))


def _distances_from(graph: csr_matrix, sources: np.ndarray, reach: float) -> np.ndarray:
    """(len(sources), N) distances, inf beyond ``reach``."""
    if len(sources) == 0:
        return np.zeros((0, graph.shape[0]))
    limit = np.inf if np.isinf(reach) else reach + REACH_RTOL * max(1.0, reach)
    return np.atleast_2d(dijkstra(graph, directed=False, indices=sources, limit=limit))


def pairs(instance: Instance, graph: csr_matrix,
          zones_needing_supply: np.ndarray | None = None,
          zones_evacuating: np.ndarray | None = None) -> ScenarioReach:
    """Reachable (depot, zone) and (zone, shelter) pairs on ``graph``.

    Zones outside the optional boolean masks are left out: a pair to a zone that needs
    nothing carries no flow.
    """
    depot_nodes = np.array([d.node for d in instance.depots], dtype=np.int64)
    shelter_nodes = np.array([h.node for h in instance.shelters], dtype=np.int64)
    dist_d = _distances_from(graph, depot_nodes, instance.policy.supply_reach)
    dist_h = _distances_from(graph, shelter_nodes, instance.policy.evacuation_reach)
    ok_d = np.isfinite(dist_d)
    ok_h = np.isfinite(dist_h)
    if zones_needing_supply is not None:
        ok_d &= zones_needing_supply[None, :]
    if zones_evacuating is not None:
        ok_h &= zones_evacuating[None, :]
    d_idx, i_idx = np.nonzero(ok_d)
    h_idx, j_idx = np.nonzero(ok_h)
    return ScenarioReach(d_idx, i_idx, j_idx, h_idx)


def scenario_pairs(instance: Instance) -> list[ScenarioReach]:
    """Reachable pairs of every scenario, for zones with need or evacuees > 0."""
    out = []
    cache: dict[tuple[int, ...], csr_matrix] = {}
    for s in instance.scenarios:
        graph = cache.get(s.failed_edges)
        if graph is None:
            graph = cache[s.failed_edges] = surviving_graph(instance.network, s.failed_edges)
        out.append(pairs(instance, graph, s.need.sum(axis=1) > 0, s.evacuees > 0))
    return out


def intact_shelter_reach(instance: Instance) -> np.ndarray:
    """Boolean (N, H): zone i has shelter h within evacuation reach on the intact network."""
    graph = surviving_graph(instance.network)
    shelter_nodes = np.array([h.node for h in instance.shelters], dtype=np.int64)
    dist = _distances_from(graph, shelter_nodes, instance.policy.evacuation_reach)
    return np.isfinite(dist).T.reshape(instance.network.num_nodes, len(instance.shelters))
