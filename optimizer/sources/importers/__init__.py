"""Instances from real road networks: what every importer shares.

An importer (``optimizer.sources.importers.tntp`` for the TransportationNetworks format,
``optimizer.sources.importers.city`` for a city's open GIS data) reads its files into a
:class:`RoadNetwork` -- node ids, optional coordinates, people per node and undirected roads
-- and :func:`assemble` turns that into an instance dict in the file format of design
section 3, with the money conventions of :mod:`optimizer.sources.synthetic`:

- commodities from :data:`optimizer.sources.synthetic.COMMODITIES` (water, then food, ...);
- economic exposure 20-60 money units per resident;
- each candidate depot holds 50-100% of an equal share of everyone's full need, its unit
  costs are the catalogue's +-20% and its building costs 30-60% of filling it;
- a generated shelter has places for 5-15% of an equal share of everyone; every shelter
  costs 40-80 per place to open, and has 1-4 modules of 20-40% of its places at 30-60 per
  place;
- the compensation pool may reach a tenth of all exposure, and the budget is a share
  (default 30%) of the cost of opening everything, filling every depot, adding every module
  and reserving the largest pool;
- supply and evacuation reach are a share (default 0.4) of the intact network's weighted
  diameter.

The draws come from one local :class:`numpy.random.Generator` seeded by the caller, so an
import is a pure function of its files and options. Only the importers read files; this
module works on data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from optimizer.sources.synthetic import COMMODITIES, HAZARD, REACH_SHARE, hazard_generator

# Mean Earth radius (IUGG), metres: the scale of the local projection.
EARTH_RADIUS = 6_371_008.8
# csgraph reads an explicit zero as "no road"; zero-length roads (TNTP centroid connectors)
# get this length in the graph algorithms here, as in ``optimizer.evaluation.reachability``.
ZERO_LENGTH = 1e-12
# Hazard radius range as shares of the network's extent: the synthetic hazards' radii,
# which are shares of the unit square.
RADIUS_SHARE: tuple[float, float] = (float(HAZARD["radius"][0]), float(HAZARD["radius"][1]))
# Width of the instance JSON: containers that fit on a line stay on one line.
LINE_WIDTH = 100


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
    """

    node_ids: tuple[str, ...]
    population: np.ndarray
    edge_from: np.ndarray
    edge_to: np.ndarray
    edge_length: np.ndarray
    edge_ids: tuple[str, ...]
    x: np.ndarray | None = None
    y: np.ndarray | None = None

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def num_edges(self) -> int:
        return len(self.edge_ids)

    def graph(self) -> csr_matrix:
        """Symmetric sparse adjacency, shortest of parallel roads."""
        n = self.num_nodes
        length = np.maximum(self.edge_length, ZERO_LENGTH)
        rows = np.concatenate([self.edge_from, self.edge_to])
        cols = np.concatenate([self.edge_to, self.edge_from])
        weights = np.concatenate([length, length])
        order = np.lexsort((weights, cols, rows))
        rows, cols, weights = rows[order], cols[order], weights[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        return csr_matrix((weights[first], (rows[first], cols[first])), shape=(n, n))

    def distances(self, sources: np.ndarray | list[int]) -> np.ndarray:
        """Shortest-path distances from each source, (len(sources), N)."""
        if len(sources) == 0:
            return np.zeros((0, self.num_nodes))
        return np.atleast_2d(dijkstra(self.graph(), directed=False,
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
        )


def largest_component(network: RoadNetwork) -> tuple[RoadNetwork, list[str]]:
    """The largest connected part of the network, and the ids of the nodes left out.

    A node no road reaches can get neither supplies nor shelter in any plan, so its people
    would only lower every scenario's resilience by a constant; an importer keeps the
    connected city and says what it dropped. Ties go to the part with the lowest node index.
    """
    if network.num_nodes == 0:
        return network, []
    _, labels = connected_components(network.graph(), directed=False)
    sizes = np.bincount(labels)
    keep = labels == int(np.argmax(sizes))
    dropped = [i for i, k in zip(network.node_ids, keep, strict=True) if not k]
    if not dropped:
        return network, []
    return network.subset(keep), dropped


def weighted_diameter(network: RoadNetwork) -> float:
    """The longest shortest path of the (connected) network; 1 when it has no length."""
    if network.num_nodes < 2:
        return 1.0
    dist = dijkstra(network.graph(), directed=False)
    finite = dist[np.isfinite(dist)]
    diameter = float(finite.max()) if finite.size else 0.0
    return diameter if diameter > 0 else 1.0


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


@dataclass(frozen=True)
class LocalProjection:
    """Longitude/latitude (degrees) to metres east and north of a centre.

    Equirectangular around the centre: x = R (lon - lon0) cos(lat0), y = R (lat - lat0),
    with lon, lat in radians and R the mean Earth radius. Over a city (a few km) its
    distances are within about 0.1% of the geodesic ones, well inside the precision of a
    street centre line.
    """

    lon0: float
    lat0: float

    @classmethod
    def around(cls, lon: np.ndarray, lat: np.ndarray, digits: int = 6) -> LocalProjection:
        """Centred on the middle of the bounding box, rounded to ``digits`` decimals."""
        return cls(round(float((np.min(lon) + np.max(lon)) / 2), digits),
                   round(float((np.min(lat) + np.max(lat)) / 2), digits))

    def __call__(self, lon: np.ndarray | float, lat: np.ndarray | float
                 ) -> tuple[np.ndarray, np.ndarray]:
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        x = EARTH_RADIUS * np.radians(lon - self.lon0) * math.cos(math.radians(self.lat0))
        y = EARTH_RADIUS * np.radians(lat - self.lat0)
        return x, y

    def crs(self) -> dict[str, Any]:
        """The instance's ``network.crs`` for coordinates this projection made."""
        return {"projection": "equirectangular", "lon0": self.lon0, "lat0": self.lat0,
                "radius": EARTH_RADIUS}

    def describe(self) -> str:
        return (f"local equirectangular projection around longitude {self.lon0:.6f}, "
                f"latitude {self.lat0:.6f} (x = R (lon - lon0) cos lat0, y = R (lat - lat0), "
                f"R = {EARTH_RADIUS:.1f} m)")


def round_up(value: float, digits: int) -> float:
    """Round up, so a reach computed to include a pair still includes it in the file."""
    scale = 10.0**digits
    return math.ceil(value * scale - 1e-9) / scale


def significant(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits (radii and reaches read better)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(round(value, digits - 1 - math.floor(math.log10(abs(value)))))


@dataclass(frozen=True)
class ShelterSite:
    """A shelter the data name: where it stands and how many people it takes."""

    id: str
    node: int
    capacity: float


@dataclass(frozen=True)
class Assembly:
    """Options of :func:`assemble` (the economic and policy side of an import)."""

    name: str
    description: str
    seed: int = 0
    commodities: int = 2
    depots: int = 5
    shelters: int = 5  # generated shelters; ignored when ``shelter_sites`` are given
    depot_candidates: np.ndarray | None = None  # node indices; default every node
    shelter_candidates: np.ndarray | None = None
    shelter_sites: tuple[ShelterSite, ...] | None = None
    budget_share: float = 0.3
    reach_share: float = REACH_SHARE
    supply_reach: float | None = None  # overrides reach_share
    evacuation_reach: float | None = None
    digits: int = 4  # decimals of coordinates and lengths in the file
    crs: dict[str, Any] | None = None  # network.crs: where x and y lie on the Earth


@dataclass(frozen=True, eq=False)
class Assembled:
    """An assembled instance and where :func:`assemble` put things."""

    document: dict[str, Any]
    depot_nodes: list[int]
    shelter_nodes: list[int]
    diameter: float


def assemble(network: RoadNetwork, options: Assembly, *,
             scenario_generators: list[dict[str, Any]] | None = None,
             scenarios: list[dict[str, Any]] | None = None) -> Assembled:
    """An instance dict for ``network`` with facilities, money and reach (module docstring).

    Parameters
    ----------
    network
        A connected road network with people at its nodes.
    options
        Names, counts, shares and candidate nodes.
    scenario_generators, scenarios
        Written as they are; give at least one of them for the file to be valid.

    Returns
    -------
    Assembled
        The instance file (JSON types only), the node indices of the depots and shelters,
        and the intact network's weighted diameter.

    Raises
    ------
    ValueError
        If there are more facilities than candidate nodes, or no commodity is asked for.
    """
    o = options
    if o.commodities < 1:
        raise ValueError(f"commodities must be at least 1 (got {o.commodities})")
    rng = np.random.default_rng(o.seed)
    n = network.num_nodes
    population = network.population
    exposure = np.round(population * rng.uniform(20.0, 60.0, size=n))

    catalogue = [COMMODITIES[k] if k < len(COMMODITIES) else
                 (f"c{k}", 1.0, 1.0, 1.0, 10.0) for k in range(o.commodities)]
    need = np.array([c[1] for c in catalogue])
    volume = np.array([c[2] for c in catalogue])
    base_cost = np.array([c[4] for c in catalogue])
    volume_per_person = float(need @ volume)
    total_people = float(population.sum())
    total_volume = total_people * volume_per_person

    everywhere = np.arange(n)
    depot_candidates = everywhere if o.depot_candidates is None else o.depot_candidates
    depot_sites = spread_sites(network, depot_candidates, o.depots, rng)
    if o.shelter_sites is None:
        shelter_candidates = everywhere if o.shelter_candidates is None else \
            o.shelter_candidates
        free = np.setdiff1d(shelter_candidates, depot_sites)
        nodes = spread_sites(network, free, o.shelters, rng)
        share = total_people / max(o.shelters, 1)
        sites = tuple(ShelterSite(f"h{h}", node,
                                  float(max(10, round(share * rng.uniform(0.05, 0.15)))))
                      for h, node in enumerate(nodes))
    else:
        sites = o.shelter_sites

    full_cost = 0.0
    depot_docs = []
    for d, node in enumerate(depot_sites):
        capacity = float(round(total_volume / len(depot_sites) * rng.uniform(0.5, 1.0)))
        unit_cost = np.round(base_cost * rng.uniform(0.8, 1.2, size=len(catalogue)), 2)
        cost_per_volume = float(need @ unit_cost) / volume_per_person
        fixed_cost = float(round(capacity * cost_per_volume * rng.uniform(0.3, 0.6)))
        full_cost += fixed_cost + capacity * cost_per_volume
        depot_docs.append({
            "id": f"d{d}", "node": network.node_ids[node], "fixed_cost": fixed_cost,
            "capacity": capacity,
            "unit_cost": {c[0]: float(u) for c, u in zip(catalogue, unit_cost, strict=True)},
        })

    shelter_docs = []
    for site in sites:
        capacity = float(site.capacity)
        module_size = float(max(5, round(max(capacity, 10.0) * rng.uniform(0.2, 0.4))))
        max_modules = int(rng.integers(1, 5))
        fixed_cost = float(round(capacity * rng.uniform(40.0, 80.0)))
        module_cost = float(round(module_size * rng.uniform(30.0, 60.0)))
        full_cost += fixed_cost + max_modules * module_cost
        shelter_docs.append({
            "id": site.id, "node": network.node_ids[site.node], "fixed_cost": fixed_cost,
            "capacity": capacity, "module_size": module_size, "module_cost": module_cost,
            "max_modules": max_modules,
        })

    max_pool = float(round(0.1 * float(exposure.sum())))
    full_cost += max_pool
    budget = float(round(o.budget_share * full_cost))

    diameter = weighted_diameter(network)
    supply_reach = o.supply_reach if o.supply_reach is not None else \
        round_up(o.reach_share * diameter, o.digits)
    evacuation_reach = o.evacuation_reach if o.evacuation_reach is not None else \
        round_up(o.reach_share * diameter, o.digits)

    node_docs = []
    for i in range(n):
        doc: dict[str, Any] = {"id": network.node_ids[i]}
        if network.x is not None and network.y is not None:
            doc["x"] = round(float(network.x[i]), o.digits)
            doc["y"] = round(float(network.y[i]), o.digits)
        doc["population"] = float(population[i])
        doc["economic_exposure"] = float(exposure[i])
        node_docs.append(doc)
    edge_docs = [{"id": network.edge_ids[j], "from": network.node_ids[network.edge_from[j]],
                  "to": network.node_ids[network.edge_to[j]],
                  "length": round(float(network.edge_length[j]), o.digits)}
                 for j in range(network.num_edges)]

    document: dict[str, Any] = {
        "schema_version": 1,
        "name": o.name,
        "description": o.description,
        "network": {"nodes": node_docs, "edges": edge_docs,
                    **({"crs": o.crs} if o.crs is not None else {})},
        "commodities": [
            {"id": c[0], "per_capita_need": c[1], "unit_volume": c[2], "weight": c[3]}
            for c in catalogue
        ],
        "depots": depot_docs,
        "shelters": shelter_docs,
        "compensation": {"max_pool": max_pool},
        "budget": budget,
        "policy": {
            "supply_reach": supply_reach,
            "evacuation_reach": evacuation_reach,
            "shelter_redundancy": 0,
            "integer_stock": True,
        },
        "resilience": {"weights": {"supply": 0.4, "shelter": 0.4, "economic": 0.2}},
        "objective": {"kind": "worst_case"},
    }
    if scenarios:
        document["scenarios"] = scenarios
    if scenario_generators:
        document["scenario_generators"] = scenario_generators
    return Assembled(document, depot_sites, [s.node for s in sites], diameter)


def network_extent(network: RoadNetwork) -> float:
    """The size a hazard is measured against: the longer side of the coordinates' bounding
    box, or the weighted diameter when the network has no coordinates (the hazard generator
    then measures graph distances)."""
    if network.x is not None and network.y is not None and network.num_nodes > 1:
        side = max(float(np.ptp(network.x)), float(np.ptp(network.y)))
        if side > 0:
            return side
    return weighted_diameter(network)


def hazard_footprint(network: RoadNetwork, count: int, seed: int) -> dict[str, Any]:
    """A ``hazard_footprint`` generator entry: the synthetic instances' hazards
    (:func:`optimizer.sources.synthetic.hazard_generator`: epicentres at zones drawn by population,
    fragility, losses and rates) with their radii, shares of the unit square there, taken as
    shares of this network's extent (:func:`network_extent`)."""
    entry = hazard_generator(count, seed)
    extent = network_extent(network)
    entry["radius"] = [significant(share * extent) for share in RADIUS_SHARE]
    return entry


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Whole numbers proportional to ``weights`` that add up to ``total`` exactly.

    Largest remainders (Hamilton's method), ties to the lowest index, so the result is
    deterministic and never off by a person.
    """
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights))
    exact = total * weights / weights.sum()
    whole = np.floor(exact)
    short = round(total - whole.sum())
    order = np.lexsort((np.arange(len(weights)), -(exact - whole)))
    whole[order[:short]] += 1
    return whole


def dumps_instance(document: dict[str, Any]) -> str:
    """An instance as JSON text: indented, but every object or array that fits in
    :data:`LINE_WIDTH` characters on one line (a node, a road, a coordinate pair) stays on
    one. Real networks have thousands of nodes and polygons thousands of vertices; one line
    each keeps the file small and its diffs readable. Keys keep their order, so the same
    dict always gives the same bytes."""
    return _render(document, 0) + "\n"


def _render(value: Any, level: int, prefix: int = 0) -> str:
    compact = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    if not isinstance(value, dict | list) or not value or \
            2 * level + prefix + len(compact) <= LINE_WIDTH:
        return compact
    pad = "  " * (level + 1)
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            head = json.dumps(key, ensure_ascii=False) + ": "
            items.append(pad + head + _render(item, level + 1, len(head)))
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    return "[\n" + ",\n".join(pad + _render(item, level + 1) for item in value) + "\n" + \
        "  " * level + "]"


__all__ = [
    "Assembled",
    "Assembly",
    "LocalProjection",
    "RoadNetwork",
    "ShelterSite",
    "apportion",
    "assemble",
    "dumps_instance",
    "hazard_footprint",
    "largest_component",
    "network_extent",
    "spread_sites",
    "weighted_diameter",
]
