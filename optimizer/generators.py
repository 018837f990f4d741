"""Scenario generators: the ``scenario_generators[]`` of an instance file, as scenarios.

Pure data: numpy with a local :class:`numpy.random.Generator` per generator (never the
global one, so the same file and seed give byte-identical scenarios whatever ran before),
scipy and networkx for graph distances and centrality, shapely for polygons, no Pyomo and
no disk. Hazard-zone files are read by ``optimizer.instance.reading``, which passes a reader in.

Every generated scenario is a :class:`optimizer.instance.schema.Scenario` whose ``origin`` says
which
generator made it, of what kind, and with which parameters (seed, index, epicentre, radius,
zone, ...), so a report can say where it came from. Ids are ``NAME-1..NAME-count`` (hazard
zones: ``NAME-ZONE``). A generator's ``probability`` is shared equally by its scenarios;
without one they have none, and the usual rule applies (all scenarios equally likely).

Seeded generators give scenario ``i`` its own stream, spawned from the generator's seed, so
raising ``count`` appends scenarios and leaves the earlier ones as they were.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import shapely
from pydantic import ValidationError
from scipy.sparse import csr_matrix, identity
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import spsolve_triangular
from scipy.special import expit, ndtr
from shapely.geometry import shape as geojson_shape

from optimizer.errors import InputError, Problem
from optimizer.instance.build import build
from optimizer.instance.checks import (
    MAX_GENERATED_SCENARIOS,
    MAX_SCENARIOS_ENV,
    MAX_STRESS_STEPS_ENV,
    edge_id,
    generated_count,
    generated_ids,
    max_generated_scenarios,
    max_stress_steps,
)
from optimizer.instance.data import Instance
from optimizer.instance.schema import (
    Fragility,
    HazardFootprint,
    HazardZone,
    HazardZones,
    InstanceFile,
    RandomFailures,
    Scenario,
    ScenarioGenerator,
    Targeted,
)
from optimizer.plan import Plan

# The default limit on the scenarios one file's generators make (it lives in
# optimizer.instance.checks, which enforces it when a file is read); RESILIENCE_MAX_SCENARIOS
# overrides.
MAX_SCENARIOS = MAX_GENERATED_SCENARIOS

# (path as written in the file, JSON path of the field) -> the parsed GeoJSON document.
GeoJsonReader = Callable[[str, str], Any]

# Fractions in generated scenarios keep this many decimals: enough for any model, and the
# files and results stay readable.
FRACTION_DIGITS = 6
# Betweenness values equal to this many digits are ties, broken by the edges' order, so that
# rounding noise in the path sums cannot reorder equally central roads.
TIE_DIGITS = 12


@dataclass(eq=False)
class _Network:
    """The parts of a file the generators need, as arrays indexed like the file's lists."""

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
    def of(cls, f: InstanceFile) -> _Network:
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

    def distances_from(self, source: int) -> np.ndarray:
        """Shortest-path distances (edge lengths) from one node to every node, (N,)."""
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
        return dijkstra(self._graph, directed=False, indices=source)

    def segments(self) -> shapely.STRtree:
        """A spatial index over the roads' straight segments (needs coordinates)."""
        if self._segments is None:
            assert self.xy is not None
            lines = shapely.linestrings(np.stack([self.xy[self.u], self.xy[self.v]], axis=1)
                                        if len(self.u) else np.empty((0, 2, 2)))
            self._segments = shapely.STRtree(lines)
        return self._segments


# --------------------------------------------------------------------------- entry points


def expand(f: InstanceFile, *, file: str | Path = "<memory>",
           read_geojson: GeoJsonReader | None = None) -> InstanceFile:
    """The file with every generator's scenarios appended after the explicit ones.

    Parameters
    ----------
    f
        A parsed instance file whose cross-field checks passed (ids, references and the
        generators' own settings are taken as valid).
    file
        The file's name, for error messages.
    read_geojson
        Reads a hazard zone's ``geojson`` path; ``None`` rejects such paths.

    Returns
    -------
    InstanceFile
        A copy whose ``scenarios`` hold the explicit and then the generated scenarios, and
        whose ``scenario_generators`` is empty (expanding it again changes nothing).

    Raises
    ------
    InputError
        Naming the generator's JSON path: more scenarios than the limit, a polygon that is
        not one, a measure that is not available, ...
    """
    if not f.scenario_generators:
        return f
    generated = generate(f, file=file, read_geojson=read_geojson)
    return f.model_copy(update={"scenarios": [*f.scenarios, *generated],
                                "scenario_generators": []})


def generate(f: InstanceFile, *, file: str | Path = "<memory>",
             read_geojson: GeoJsonReader | None = None) -> list[Scenario]:
    """Every generator's scenarios, in the order of ``scenario_generators``.

    See :func:`expand` for the parameters and errors.
    """
    limit = max_generated_scenarios()
    net = _Network.of(f)
    total = len(f.scenarios)  # explicit and generated scenarios count against one limit
    scenarios: list[Scenario] = []
    for i, g in enumerate(f.scenario_generators):
        at = f"scenario_generators[{i}]"
        total += generated_count(g)
        if total > limit:
            field_ = {"hazard_zones": ".zones", "targeted": ""}.get(g.kind, ".count")
            raise InputError(file, [Problem(f"{at}{field_}", f"the explicit scenarios and "
                                            f"the generators would make {total:,} scenarios "
                                            f"up to here, more than the limit of {limit:,} "
                                            f"(set {MAX_SCENARIOS_ENV} to change it)")])
        place = _Place(file, at, read_geojson)
        if isinstance(g, Targeted) and g.measure == "stress":
            made = _targeted_by_stress(g, f, net, place)
        else:
            made = _GENERATE[g.kind](g, net, place)
        scenarios += made
    return scenarios


def reseeded(f: InstanceFile, offset: int) -> InstanceFile:
    """The same file with ``offset`` added to every generator's seed.

    For out-of-sample tests: the same generators with other seeds give other scenarios of
    the same kind. Generators without a seed (targeted, hazard zones) are unchanged.
    """
    changed = [g.model_copy(update={"seed": g.seed + offset}) if hasattr(g, "seed") else g
               for g in f.scenario_generators]
    return f.model_copy(update={"scenario_generators": changed})


# ------------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Place:
    """Where a generator is, for its error messages, and how to read its files."""

    file: str | Path
    at: str
    read_geojson: GeoJsonReader | None

    def error(self, message: str, suffix: str = "") -> InputError:
        return InputError(self.file, [Problem(f"{self.at}{suffix}", message)])


def _probability(g: ScenarioGenerator, count: int) -> float | None:
    return None if g.probability is None else g.probability / count


def _scenario(g: ScenarioGenerator, place: _Place, sid: str, probability: float | None,
              net: _Network, failed: Sequence[int], depot_loss: dict[str, float],
              shelter_loss: dict[str, float], affected: dict[str, float],
              origin: dict[str, Any]) -> Scenario:
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


def _fractions(ids: list[str], share: np.ndarray, scale: float) -> dict[str, float]:
    """``id -> scale * share`` rounded, for the positive ones, in the order of ``ids``."""
    values = np.round(np.clip(scale * share, 0.0, 1.0), FRACTION_DIGITS)
    return {ids[k]: float(values[k]) for k in np.flatnonzero(values > 0).tolist()}


def _losses(net: _Network, share: np.ndarray, facility_loss: float, affected: float
            ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Depot losses, shelter losses and affected zones, scaling each node's ``share``."""
    return (_fractions(net.depot_ids, share[net.depot_nodes], facility_loss),
            _fractions(net.shelter_ids, share[net.shelter_nodes], facility_loss),
            _fractions(net.node_ids, share, affected))


def _streams(seed: int, count: int) -> list[np.random.Generator]:
    """One generator per scenario, spawned from the seed: scenario i depends on (seed, i)."""
    return np.random.default_rng(seed).spawn(count)


# -------------------------------------------------------------------- hazard footprints


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


def _hazard_footprint(g: HazardFootprint, net: _Network, place: _Place) -> list[Scenario]:
    """Circles (or graph balls) of random centre and radius; damage falls with distance.

    A road fails with the fragility curve's probability of its midpoint's distance, in
    shares of the radius; roads whose midpoint lies outside the radius never fail.
    Facilities and zones inside lose ``facility_loss`` and ``affected`` times
    ``1 - distance / radius``.
    """
    population = net.population
    with np.errstate(over="ignore"):  # populations near the float limit overflow their sum
        if not np.isfinite(population.sum()):
            population = population / population.max()
    total_pop = float(population.sum())
    weights = (population / total_pop
               if g.epicentres == "population" and total_pop > 0 else None)
    ids = generated_ids(g)
    probability = _probability(g, g.count)
    if net.xy is not None:
        low, high = net.xy.min(axis=0), net.xy.max(axis=0)
        with np.errstate(over="ignore"):
            span = high - low
        if weights is None and not np.isfinite(span).all():
            raise place.error("the nodes' coordinates span more than 1.8e308, too far to draw "
                              "epicentres between them; scale them down", ".epicentres")
        mid = (net.xy[net.u] + net.xy[net.v]) / 2
    scenarios = []
    for index, rng in enumerate(_streams(g.seed, g.count), start=1):
        origin: dict[str, Any] = {"seed": g.seed, "index": index, "epicentres": g.epicentres}
        if net.xy is not None:
            if weights is None:
                centre = np.array([rng.uniform(low[0], high[0]), rng.uniform(low[1], high[1])])
            else:
                node = int(rng.choice(net.num_nodes, p=weights))
                centre = net.xy[node]
                origin["epicentre_node"] = net.node_ids[node]
            origin["epicentre"] = [float(centre[0]), float(centre[1])]
            origin["distance"] = "euclidean"
            node_d = np.hypot(net.xy[:, 0] - centre[0], net.xy[:, 1] - centre[1])
            edge_d = np.hypot(mid[:, 0] - centre[0], mid[:, 1] - centre[1])
        else:
            node = int(rng.choice(net.num_nodes, p=weights))
            origin["epicentre"] = net.node_ids[node]
            origin["distance"] = "network"
            node_d = net.distances_from(node)
            # The nearer end plus half the road: the network distance to its midpoint.
            edge_d = np.minimum(node_d[net.u], node_d[net.v]) + net.length / 2
        radius = float(rng.uniform(g.radius[0], g.radius[1]))
        origin["radius"] = radius
        # One draw per road whatever the radius, so the stream is the same shape every time.
        draws = rng.random(len(net.edge_ids))
        p = np.zeros(len(net.edge_ids))
        node_share = np.zeros(net.num_nodes)
        if radius > 0:  # a footprint of no size touches nothing
            edge_share = edge_d / radius
            inside = np.flatnonzero(edge_share < 1)
            p[inside] = failure_probability(edge_share[inside], g.fragility)
            node_share = np.clip(1.0 - node_d / radius, 0.0, 1.0)
        failed = np.flatnonzero(draws < p).tolist()
        scenarios.append(_scenario(
            g, place, ids[index - 1], probability, net, failed,
            *_losses(net, node_share, g.facility_loss, g.affected), origin))
    return scenarios


# ---------------------------------------------------------------------- random failures


def _random_failures(g: RandomFailures, net: _Network, place: _Place) -> list[Scenario]:
    """Independent failures; a failed depot or shelter loses everything (loss 1)."""
    ids = generated_ids(g)
    probability = _probability(g, g.count)
    everyone = np.ones(net.num_nodes)
    affected = _fractions(net.node_ids, everyone, g.affected)
    scenarios = []
    for index, rng in enumerate(_streams(g.seed, g.count), start=1):
        edges = rng.random(len(net.edge_ids)) < g.edge_failure
        depots = rng.random(len(net.depot_ids)) < g.depot_failure
        shelters = rng.random(len(net.shelter_ids)) < g.shelter_failure
        scenarios.append(_scenario(
            g, place, ids[index - 1], probability, net, np.flatnonzero(edges).tolist(),
            _fractions(net.depot_ids, depots.astype(float), 1.0),
            _fractions(net.shelter_ids, shelters.astype(float), 1.0),
            dict(affected), {"seed": g.seed, "index": index}))
    return scenarios


# ----------------------------------------------------------------------------- targeted


def edge_betweenness(net: _Network) -> np.ndarray:
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
        return _networkx_betweenness(net)
    arcs = np.flatnonzero(net.u != net.v)
    tail = np.concatenate([net.u[arcs], net.v[arcs]])
    head = np.concatenate([net.v[arcs], net.u[arcs]])
    weight = np.concatenate([net.length[arcs], net.length[arcs]])
    arc_edge = np.concatenate([arcs, arcs])
    net.distances_from(0)  # builds the graph
    assert net._graph is not None
    chunk = max(1, 2_000_000 // n)  # distance rows held at once
    for start in range(0, n, chunk):
        rows = dijkstra(net._graph, directed=False,
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


def _networkx_betweenness(net: _Network) -> np.ndarray:
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


def _targeted(g: Targeted, net: _Network, place: _Place) -> list[Scenario]:
    """One scenario: the ``edges`` most central roads fail (ties: the earlier road)."""
    scores = edge_betweenness(net)
    order = sorted(range(len(scores)), key=lambda j: (-round(float(scores[j]), TIE_DIGITS), j))
    chosen = order[:g.edges]
    origin = {"measure": g.measure, "edges": g.edges,
              "scores": {net.edge_ids[j]: round(float(scores[j]), TIE_DIGITS) for j in chosen}}
    return [_scenario(g, place, generated_ids(g)[0], _probability(g, 1), net, sorted(chosen),
                      {}, {}, _fractions(net.node_ids, np.ones(net.num_nodes), g.affected),
                      origin)]


def _targeted_by_stress(g: Targeted, f: InstanceFile, net: _Network,
                        place: _Place) -> list[Scenario]:
    """One scenario: the ``edges`` roads whose loss the stress search finds most damaging.

    No plan exists while a file is loaded, so the roads are those that hurt most with every
    candidate depot open and full, every shelter open with all its modules and the largest
    pool: the network's own weak points, whatever the plan. Exact for up to two roads, a
    greedy search beyond (``origin.method`` says which).
    """
    # Imported here: the stress search brings the recourse evaluation, which a file with
    # no targeted generator never needs.
    from optimizer.evaluation.stress import WorkBudget, WorkLimitExceeded, most_damaging_edges

    base = f.model_copy(update={"scenarios": [Scenario(id="reference")],
                                "scenario_generators": []})
    instance = build(base)
    share = g.affected
    people = instance.network.population * share
    per_capita = np.array([c.per_capita_need for c in instance.commodities])
    with np.errstate(over="ignore"):  # numbers near the float limit: refused just below
        reference = dataclasses.replace(
            instance.scenarios[0], need=np.outer(people, per_capita),
            evacuees=people * g.evacuation_rate,
            economic_loss=instance.network.exposure * share * g.economic_loss_rate)
        plan = everything_plan(instance)
    if not all(np.isfinite(a).all() for a in (reference.need, reference.evacuees,
                                              reference.economic_loss, plan.stock)):
        raise place.error("cannot measure stress: a zone's need, evacuees or loss, or what a "
                          "depot holds, is over 1.8e308; scale the instance's numbers down")
    try:
        attack = most_damaging_edges(instance, plan, g.edges, reference,
                                     WorkBudget(max_stress_steps()))
    except WorkLimitExceeded as exc:
        raise place.error(
            f"the stress search for the {g.edges} most damaging of the "
            f"{instance.network.num_edges:,} roads is too large: {exc.what} would take "
            f"about {exc.needed:.2g} steps, more than the limit of {exc.limit:.2g} (set "
            f"{MAX_STRESS_STEPS_ENV} to change it); use measure 'betweenness' or fewer "
            "edges", ".edges") from None
    chosen = sorted(attack.edges)
    origin = {"measure": g.measure, "edges": g.edges, "method": attack.method,
              "plan": "every candidate open and full",
              "resilience_before": round(float(attack.resilience_before), TIE_DIGITS),
              "resilience_after": round(float(attack.resilience), TIE_DIGITS)}
    return [_scenario(g, place, generated_ids(g)[0], _probability(g, 1), net, chosen, {}, {},
                      _fractions(net.node_ids, np.ones(net.num_nodes), g.affected), origin)]


def everything_plan(instance: Instance) -> Plan:
    """Every candidate open, each depot filled to its volume (shared equally among the
    commodities), every module added and the largest pool: the most a community could do."""
    volumes = np.array([c.unit_volume for c in instance.commodities])
    K = len(volumes)
    stock = np.zeros((len(instance.depots), K))
    for d, depot in enumerate(instance.depots):
        room = depot.capacity - float(np.dot(depot.existing_stock, volumes))
        stock[d] = np.floor(max(room, 0.0) / K / volumes)
    return Plan(open_depots=tuple(True for _ in instance.depots), stock=stock,
                open_shelters=tuple(True for _ in instance.shelters),
                modules=tuple(h.max_modules for h in instance.shelters),
                compensation_pool=instance.max_pool)


# ------------------------------------------------------------------------- hazard zones


class _GeoError(Exception):
    """A GeoJSON problem at a path inside the GeoJSON document."""

    def __init__(self, inner: str, message: str) -> None:
        super().__init__(message)
        self.inner = inner
        self.message = message


POLYGONAL = ("Polygon", "MultiPolygon")


def _geometries(doc: Any, inner: str = "") -> list[tuple[str, Any]]:
    """(inner path, geometry object) of every geometry in a geometry, Feature or collection."""
    if not isinstance(doc, dict):
        raise _GeoError(inner, "must be a GeoJSON object (a geometry, Feature or "
                        "FeatureCollection)")
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise _GeoError(inner, "a FeatureCollection needs a features array")
        found = []
        for k, feature in enumerate(features):
            found += _geometries(feature, f"{inner}.features[{k}]")
        return found
    if kind == "Feature":
        geometry = doc.get("geometry")
        return [] if geometry is None else _geometries(geometry, f"{inner}.geometry")
    if kind == "GeometryCollection":
        parts = doc.get("geometries")
        if not isinstance(parts, list):
            raise _GeoError(inner, "a GeometryCollection needs a geometries array")
        found = []
        for k, part in enumerate(parts):
            found += _geometries(part, f"{inner}.geometries[{k}]")
        return found
    if kind in POLYGONAL:
        return [(inner, doc)]
    raise _GeoError(inner, f"type {kind!r} is not a polygon; a hazard zone is made of "
                    "Polygon or MultiPolygon geometries")


def geojson_polygon(doc: Any) -> shapely.Geometry:
    """The union of the polygons in a GeoJSON geometry, Feature or FeatureCollection.

    Invalid rings (self-crossing, wrongly wound) are repaired with ``make_valid``.

    Raises
    ------
    _GeoError
        With the path inside the document of what is wrong.
    """
    polygons = []
    for inner, geometry in _geometries(doc):
        try:
            shape = geojson_shape(geometry)
        except Exception as exc:  # shapely raises several kinds for malformed coordinates
            raise _GeoError(inner, f"not a valid {geometry.get('type')}: {exc}") from None
        if not shape.is_valid:
            shape = shapely.make_valid(shape)
        polygons += [p for p in shapely.get_parts(shape)
                     if p.geom_type in POLYGONAL and not p.is_empty]
    if not polygons:
        raise _GeoError("", "holds no polygon")
    return shapely.union_all(polygons)


def _zone_polygon(zone: HazardZone, j: int, place: _Place) -> tuple[shapely.Geometry, str]:
    at = f".zones[{j}]"
    if zone.geometry is not None:
        try:
            return geojson_polygon(zone.geometry), "inline"
        except _GeoError as exc:
            raise place.error(exc.message, f"{at}.geometry{exc.inner}") from None
    assert zone.geojson is not None
    if place.read_geojson is None:
        raise place.error("a geojson path needs the instance file's folder; load the file "
                          "from disk", f"{at}.geojson")
    doc = place.read_geojson(zone.geojson, f"{place.at}{at}.geojson")
    try:
        return geojson_polygon(doc), zone.geojson
    except _GeoError as exc:
        where = exc.inner.lstrip(".") or "the document"
        raise place.error(f"{zone.geojson}: {where}: {exc.message}", f"{at}.geojson") from None


def _hazard_zones(g: HazardZones, net: _Network, place: _Place) -> list[Scenario]:
    """One scenario per polygon: roads crossing it fail, facilities and zones inside suffer.

    A road fails when its straight segment touches the polygon; a node is inside when it
    lies in the polygon or on its boundary.
    """
    if net.xy is None:
        raise place.error("hazard_zones needs x and y on every node")
    probability = _probability(g, len(g.zones))
    ids = generated_ids(g)
    tree = net.segments()
    scenarios = []
    for j, zone in enumerate(g.zones):
        polygon, source = _zone_polygon(zone, j, place)
        shapely.prepare(polygon)
        failed = sorted(int(k) for k in tree.query(polygon, predicate="intersects"))
        inside = shapely.intersects_xy(polygon, net.xy[:, 0], net.xy[:, 1]).astype(float)
        scenarios.append(_scenario(
            g, place, ids[j], probability, net, failed,
            *_losses(net, inside, zone.facility_loss, zone.affected),
            {"zone": zone.id, "source": source}))
    return scenarios


_GENERATE: dict[str, Callable[[Any, _Network, _Place], list[Scenario]]] = {
    "hazard_footprint": _hazard_footprint,
    "random_failures": _random_failures,
    "targeted": _targeted,
    "hazard_zones": _hazard_zones,
}

__all__ = ["MAX_SCENARIOS", "MAX_SCENARIOS_ENV", "GeoJsonReader", "edge_betweenness", "expand",
           "failure_probability", "generate", "geojson_polygon", "reseeded"]
