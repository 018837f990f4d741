"""The road network every instance source makes: node ids, people, undirected roads.

The synthetic generators (:mod:`optimizer.sources.synthetic`) draw a :class:`RoadNetwork`,
the importers (:mod:`optimizer.sources.importers.tntp`, :mod:`~.city`) read one, and
:func:`optimizer.sources.assemble.assemble` turns it into an instance document. The graph
helpers here (shortest paths, largest connected part, diameter, spread sites) are what the
sources need before a file exists; the engine's validated network, read from a file, is
:class:`optimizer.instance.data.Network`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra, shortest_path

# csgraph reads an explicit zero as "no road": zero-length roads (TNTP centroid connectors,
# coincident random points) get the engine's ZERO_LENGTH in the graph algorithms here too.
from optimizer.evaluation.reachability import ZERO_LENGTH, surviving_graph


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """An undirected road graph with people at its nodes.

    Attributes
    ----------
    node_ids
        Node ids as written to the instance.
    population
        People per node, (N,).
    edge_from, edge_to, edge_length
        Undirected roads by node index, (E,); parallel roads and zero lengths are allowed,
        self-loops are not.
    edge_ids
        Road ids as written to the instance.
    x, y
        Coordinates, (N,), or ``None`` when the data have none.
    candidates
        (N,) bool: the nodes where a generated facility may stand (a TNTP network's through
        nodes, a city's major-road junctions); ``None``: every node.
    """

    node_ids: tuple[str, ...]
    population: np.ndarray
    edge_from: np.ndarray
    edge_to: np.ndarray
    edge_length: np.ndarray
    edge_ids: tuple[str, ...]
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    candidates: np.ndarray | None = None

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def num_edges(self) -> int:
        return len(self.edge_ids)

    def candidate_nodes(self) -> np.ndarray:
        """Indices of the nodes where a generated facility may stand, ascending."""
        if self.candidates is None:
            return np.arange(self.num_nodes)
        return np.flatnonzero(self.candidates)

    def with_population(self, population: np.ndarray) -> RoadNetwork:
        """The same roads with other people at the nodes."""
        return dataclasses.replace(self, population=population)

    @cached_property
    def graph(self) -> csr_matrix:
        """Symmetric sparse adjacency, shortest of parallel roads: the engine's
        :func:`~optimizer.evaluation.reachability.surviving_graph` with no road failed,
        built on first use and kept (the roads never change)."""
        return surviving_graph(self)

    def distances(self, sources: np.ndarray | list[int]) -> np.ndarray:
        """Shortest-path distances from each source, (len(sources), N)."""
        if len(sources) == 0:
            return np.zeros((0, self.num_nodes))
        return np.atleast_2d(dijkstra(self.graph, directed=False,
                                      indices=np.asarray(sources, dtype=np.int64)))

    def subset(self, keep: np.ndarray) -> RoadNetwork:
        """The network on the nodes where ``keep`` is true, and the roads between them."""
        index = np.full(self.num_nodes, -1, dtype=np.int64)
        index[keep] = np.arange(int(keep.sum()))
        roads = keep[self.edge_from] & keep[self.edge_to]
        return RoadNetwork(
            node_ids=tuple(i for i, k in zip(self.node_ids, keep, strict=True) if k),
            population=self.population[keep],
            edge_from=index[self.edge_from[roads]],
            edge_to=index[self.edge_to[roads]],
            edge_length=self.edge_length[roads],
            edge_ids=tuple(e for e, k in zip(self.edge_ids, roads, strict=True) if k),
            x=None if self.x is None else self.x[keep],
            y=None if self.y is None else self.y[keep],
            candidates=None if self.candidates is None else self.candidates[keep],
        )


def all_distances(network: RoadNetwork) -> np.ndarray:
    """All-pairs shortest-path distances, (N, N), by Dijkstra on :attr:`RoadNetwork.graph`."""
    if network.num_nodes < 2:
        return np.zeros((network.num_nodes, network.num_nodes))
    return dijkstra(network.graph, directed=False)


def all_distances_as_listed(network: RoadNetwork) -> np.ndarray:
    """All-pairs shortest-path distances, (N, N), by scipy's own choice of method.

    The roads go to csgraph as listed (one entry each; parallel roads would add up, which
    the synthetic networks never have), and ``shortest_path`` picks Floyd-Warshall when
    there are at least N*N/4 of them for N nodes, Dijkstra otherwise. Floyd-Warshall adds a
    path's lengths in another order, so a distance can differ in its last bit from
    :func:`all_distances`; the synthetic instances have always been measured this way
    (:class:`optimizer.sources.assemble.Conventions`).
    """
    n = network.num_nodes
    if network.num_edges == 0:
        return np.zeros((n, n))
    length = np.maximum(network.edge_length, ZERO_LENGTH)
    graph = csr_matrix((length, (network.edge_from, network.edge_to)), shape=(n, n))
    return shortest_path(graph, directed=False)


def diameter_of(distances: np.ndarray) -> float:
    """The longest finite distance of an all-pairs matrix; 1 when it has no length (one
    node, or roads of length 0), so that shares of it stay meaningful."""
    if len(distances) < 2:
        return 1.0
    finite = distances[np.isfinite(distances)]
    diameter = float(finite.max()) if finite.size else 0.0
    return diameter if diameter > 0 else 1.0


def weighted_diameter(network: RoadNetwork) -> float:
    """The longest shortest path of the (connected) network; 1 when it has no length."""
    return diameter_of(all_distances(network))


def largest_component(network: RoadNetwork) -> tuple[RoadNetwork, list[str]]:
    """The largest connected part of the network, and the ids of the nodes left out.

    A node no road reaches can get neither supplies nor shelter in any plan, so its people
    would only lower every scenario's resilience by a constant; an importer keeps the
    connected city and says what it dropped. Ties go to the part with the lowest node index.
    """
    if network.num_nodes == 0:
        return network, []
    _, labels = connected_components(network.graph, directed=False)
    sizes = np.bincount(labels)
    keep = labels == int(np.argmax(sizes))
    dropped = [i for i, k in zip(network.node_ids, keep, strict=True) if not k]
    if not dropped:
        return network, []
    return network.subset(keep), dropped


def spread_sites(network: RoadNetwork, candidates: np.ndarray, count: int,
                 rng: np.random.Generator) -> list[int]:
    """``count`` candidate nodes spread over the network, by farthest-point sampling.

    The first site is a seeded uniform draw among the candidates; each next one is the
    candidate farthest (by road) from the sites already chosen, ties to the lowest node
    index. That covers the network evenly whatever its shape, and the same seed always gives
    the same sites.

    Raises
    ------
    ValueError
        If there are fewer candidates than sites asked for.
    """
    candidates = np.asarray(sorted(int(c) for c in candidates), dtype=np.int64)
    if count > len(candidates):
        raise ValueError(f"{count} sites asked for, but only {len(candidates)} candidate "
                         "nodes")
    if count <= 0:
        return []
    chosen = [int(candidates[int(rng.integers(len(candidates)))])]
    nearest = network.distances([chosen[0]])[0, candidates]
    while len(chosen) < count:
        # Unreachable candidates (inf) are chosen last, never first.
        score = np.where(np.isfinite(nearest), nearest, -1.0)
        score[np.isin(candidates, chosen)] = -2.0
        pick = int(candidates[int(np.argmax(score))])
        chosen.append(pick)
        nearest = np.minimum(nearest, network.distances([pick])[0, candidates])
    return chosen


def network_extent(network: RoadNetwork) -> float:
    """The size a hazard is measured against: the longer side of the coordinates' bounding
    box, or the weighted diameter when the network has no coordinates (the hazard generator
    then measures graph distances)."""
    if network.x is not None and network.y is not None and network.num_nodes > 1:
        side = max(float(np.ptp(network.x)), float(np.ptp(network.y)))
        if side > 0:
            return side
    return weighted_diameter(network)


__all__ = [
    "RoadNetwork",
    "all_distances",
    "all_distances_as_listed",
    "diameter_of",
    "largest_component",
    "network_extent",
    "spread_sites",
    "weighted_diameter",
]
