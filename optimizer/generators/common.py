"""What every scenario generator shares: the network as arrays, where a generator sits in
the file (for its errors), seeded streams, the fragility curves, and turning arrays into a
:class:`~optimizer.instance.schema.Scenario`.

Each kind's own module (``hazard_footprint``, ``random_failures``, ``targeted``,
``hazard_zones``) builds on these; ``optimizer.generators.registry`` lists the kinds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pydantic import ValidationError
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.special import expit, ndtr

from optimizer.errors import InputError, Problem
from optimizer.instance.checks import edge_id
from optimizer.instance.schema import Fragility, InstanceFile, Scenario, ScenarioGenerator

# (path as written in the file, JSON path of the field) -> the parsed GeoJSON document.
GeoJsonReader = Callable[[str, str], Any]

# Fractions in generated scenarios keep this many decimals: enough for any model, and the
# files and results stay readable.
FRACTION_DIGITS = 6


@dataclass(eq=False)
class NetworkView:
    """The parts of a file the generators need, as arrays indexed like the file's lists.

    Built once per expansion and shared by its generators, so the shortest-path graph and
    the spatial index are made at most once.
    """

    node_ids: list[str]
    population: np.ndarray  # (N,)
    xy: np.ndarray | None  # (N, 2) when every node has coordinates
    edge_ids: list[str]
    u: np.ndarray  # (E,) node index
    v: np.ndarray
    length: np.ndarray
    depot_ids: list[str]
    depot_nodes: np.ndarray  # (D,) node index
    shelter_ids: list[str]
    shelter_nodes: np.ndarray  # (H,)
    _graph: csr_matrix | None = field(default=None, repr=False)
    _segments: Any = field(default=None, repr=False)

    @classmethod
    def of(cls, f: InstanceFile) -> NetworkView:
        nodes = f.network.nodes
        index = {n.id: i for i, n in enumerate(nodes)}
        has_xy = all(n.x is not None and n.y is not None for n in nodes)
        edges = f.network.edges
        return cls(
            node_ids=[n.id for n in nodes],
            population=np.array([n.population for n in nodes], dtype=float),
            xy=np.array([(n.x, n.y) for n in nodes], dtype=float) if has_xy else None,
            edge_ids=[edge_id(e) for e in edges],
            u=np.array([index[e.from_] for e in edges], dtype=np.int64),
            v=np.array([index[e.to] for e in edges], dtype=np.int64),
            length=np.array([e.length for e in edges], dtype=float),
            depot_ids=[d.id for d in f.depots],
            depot_nodes=np.array([index[d.node] for d in f.depots], dtype=np.int64),
            shelter_ids=[h.id for h in f.shelters],
            shelter_nodes=np.array([index[h.node] for h in f.shelters], dtype=np.int64),
        )

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    def graph(self) -> csr_matrix:
        """The roads as a sparse adjacency (upper triangle, shortest of parallel roads, no
        self-loops), built on first use and kept."""
        # Not reachability.surviving_graph: zero lengths floor at 1e-300, not ZERO_LENGTH.
        if self._graph is None:
            shortest: dict[tuple[int, int], float] = {}
            for a, b, w in zip(self.u.tolist(), self.v.tolist(), self.length.tolist(),
                               strict=True):
                if a != b:
                    key = (min(a, b), max(a, b))
                    shortest[key] = min(w, shortest.get(key, math.inf))
            rows = [a for a, _ in shortest]
            cols = [b for _, b in shortest]
            # csgraph reads a stored zero as "no edge"; a zero-length road is still a road.
            weights = np.maximum(np.array(list(shortest.values()), dtype=float), 1e-300)
            self._graph = csr_matrix((weights, (rows, cols)),
                                     shape=(self.num_nodes, self.num_nodes))
        return self._graph

    def distances_from(self, source: int) -> np.ndarray:
        """Shortest-path distances (edge lengths) from one node to every node, (N,)."""
        return dijkstra(self.graph(), directed=False, indices=source)

    def segments(self) -> shapely.STRtree:
        """A spatial index over the roads' straight segments (needs coordinates)."""
        if self._segments is None:
            assert self.xy is not None
            lines = shapely.linestrings(np.stack([self.xy[self.u], self.xy[self.v]], axis=1)
                                        if len(self.u) else np.empty((0, 2, 2)))
            self._segments = shapely.STRtree(lines)
        return self._segments


@dataclass(frozen=True)
class Place:
    """Where a generator is, for its error messages, and how to read its files."""

    file: str | Path
    at: str
    read_geojson: GeoJsonReader | None

    def error(self, message: str, suffix: str = "") -> InputError:
        return InputError(self.file, [Problem(f"{self.at}{suffix}", message)])


# What every kind's module offers (see optimizer.generators.registry): the generator's spec,
# the whole file (the stress search builds an instance from it), the network as arrays and
# the generator's place -> its scenarios, in order. The spec is typed Any because each kind
# takes its own pydantic model.
Generate = Callable[[Any, InstanceFile, NetworkView, Place], list[Scenario]]


def shared_probability(g: ScenarioGenerator, count: int) -> float | None:
    """Each of ``count`` scenarios' share of the generator's probability, if it has one."""
    return None if g.probability is None else g.probability / count


def make_scenario(g: ScenarioGenerator, place: Place, sid: str, probability: float | None,
                  net: NetworkView, failed: Sequence[int], depot_loss: dict[str, float],
                  shelter_loss: dict[str, float], affected: dict[str, float],
                  origin: dict[str, Any]) -> Scenario:
    """A scenario of ``g``'s, its ``origin`` naming the generator and its kind first."""
    try:
        return Scenario(
            id=sid, probability=probability,
            failed_edges=[net.edge_ids[j] for j in failed],
            depot_loss=depot_loss, shelter_loss=shelter_loss, affected=affected,
            evacuation_rate=g.evacuation_rate, economic_loss_rate=g.economic_loss_rate,
            origin={"generator": g.name, "kind": g.kind, **origin},
        )
    except ValidationError as exc:  # e.g. an id over the length limit
        first = exc.errors()[0]
        raise place.error(f"cannot make scenario {sid[:60]!r}: {first['msg']}") from None


def fractions(ids: list[str], share: np.ndarray, scale: float) -> dict[str, float]:
    """``id -> scale * share`` rounded, for the positive ones, in the order of ``ids``."""
    values = np.round(np.clip(scale * share, 0.0, 1.0), FRACTION_DIGITS)
    return {ids[k]: float(values[k]) for k in np.flatnonzero(values > 0).tolist()}


def losses(net: NetworkView, share: np.ndarray, facility_loss: float, affected: float
           ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Depot losses, shelter losses and affected zones, scaling each node's ``share``."""
    return (fractions(net.depot_ids, share[net.depot_nodes], facility_loss),
            fractions(net.shelter_ids, share[net.shelter_nodes], facility_loss),
            fractions(net.node_ids, share, affected))


def streams(seed: int, count: int) -> list[np.random.Generator]:
    """One generator per scenario, spawned from the seed: scenario i depends on (seed, i)."""
    return np.random.default_rng(seed).spawn(count)


def failure_probability(share: np.ndarray, fragility: Fragility) -> np.ndarray:
    """A road's failure probability at ``share`` = distance / radius from the epicentre.

    logistic: ``1 / (1 + exp((share - median) / spread))``; lognormal:
    ``1 - Phi(ln(share / median) / spread)``. Both are 0.5 at the median and fall with
    distance (survival rises with it).
    """
    share = np.asarray(share, dtype=float)
    if fragility.curve == "logistic":
        return expit(-(share - fragility.median) / fragility.spread)
    with np.errstate(divide="ignore"):
        return ndtr(-np.log(share / fragility.median) / fragility.spread)
