"""Length-weighted edge betweenness of the road network, fast (scipy) with networkx as the
reference and the fallback.

Used by the ``targeted`` generator's ``betweenness`` measure (``targeted.py``).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix, identity
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import spsolve_triangular

from optimizer.generators.common import NetworkView


def edge_betweenness(net: NetworkView) -> np.ndarray:
    """Each road's edge betweenness (shortest paths weighted by length), (E,).

    The values of :func:`networkx.edge_betweenness_centrality` (normalised), computed by
    Brandes' accumulation with scipy: for each source, Dijkstra distances give the DAG of
    tight arcs, and two sparse triangular solves count the shortest paths through each arc
    (``sigma`` forwards, the dependencies backwards). Networkx's pure-Python loops take
    minutes on a city network; this takes seconds. Parallel roads are kept apart: each
    carries its share of the paths. Networks with zero-length roads (which make the DAG
    cyclic) go to networkx.
    """
    n, m = net.num_nodes, len(net.edge_ids)
    scores = np.zeros(m)
    if n < 2 or m == 0:
        return scores
    if (net.length <= 0).any():
        return networkx_betweenness(net)
    arcs = np.flatnonzero(net.u != net.v)
    tail = np.concatenate([net.u[arcs], net.v[arcs]])
    head = np.concatenate([net.v[arcs], net.u[arcs]])
    weight = np.concatenate([net.length[arcs], net.length[arcs]])
    arc_edge = np.concatenate([arcs, arcs])
    graph = net.graph()
    chunk = max(1, 2_000_000 // n)  # distance rows held at once
    for start in range(0, n, chunk):
        rows = dijkstra(graph, directed=False,
                        indices=np.arange(start, min(n, start + chunk)))
        for d in np.atleast_2d(rows):
            finite = np.isfinite(d)
            scale = float(d[finite].max())
            with np.errstate(invalid="ignore"):  # inf - inf where neither end is reached
                tight = finite[tail] & (np.abs(d[tail] + weight - d[head]) <= 1e-10 * scale)
            if not tight.any():
                continue
            reached = np.flatnonzero(finite)
            order = reached[np.argsort(d[reached], kind="stable")]
            rank = np.full(n, -1)
            rank[order] = np.arange(len(order))
            t, h = rank[tail[tight]], rank[head[tight]]
            size = len(order)
            eye = identity(size, format="csr")
            # sigma[h] = sum of sigma[t] over tight arcs t -> h; the source (rank 0) has 1.
            counts = csr_matrix((np.ones(len(t)), (h, t)), shape=(size, size))
            rhs = np.zeros(size)
            rhs[0] = 1.0
            sigma = spsolve_triangular((eye - counts).tocsr(), rhs, lower=True)
            # y[v] = (1 + delta[v]) / sigma[v] = 1 / sigma[v] + sum of y[h] over arcs v -> h.
            y = spsolve_triangular((eye - counts.T).tocsr(), 1.0 / sigma, lower=False)
            np.add.at(scores, arc_edge[tight], sigma[t] * y[h])
    return scores / (n * (n - 1))


def networkx_betweenness(net: NetworkView) -> np.ndarray:
    """:func:`edge_betweenness` by networkx: slow, but right with zero-length roads."""
    import networkx as nx  # here: loading a file with generators need not import networkx

    graph = nx.MultiGraph()
    graph.add_nodes_from(range(net.num_nodes))
    for j, (a, b, w) in enumerate(zip(net.u.tolist(), net.v.tolist(), net.length.tolist(),
                                      strict=True)):
        graph.add_edge(a, b, key=j, length=w)
    centrality = nx.edge_betweenness_centrality(graph, weight="length")
    scores = np.zeros(len(net.edge_ids))
    for (_, _, j), value in centrality.items():
        scores[j] = value
    return scores
