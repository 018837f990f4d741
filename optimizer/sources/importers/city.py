"""Instances from a city's open GIS data: street centre lines, shelters, hazard polygons.

:func:`street_network` joins the street segments into a
:class:`~optimizer.sources.network.RoadNetwork` (its major-road junctions are the depot
candidates) and :func:`city_instance` hands it, with the data's shelters, to
:func:`optimizer.sources.assemble.assemble` and adds the hazard zones. The command is
``resilience generate geojson`` (:mod:`optimizer.cli.generate_real`). Inputs and rules follow.

Inputs are GeoJSON in longitude/latitude (RFC 7946), or with the ``gis`` extra any layer
GDAL reads, in any coordinate system (``optimizer.sources.importers.layers``):

- street centre lines (LineString or MultiLineString features), optionally with from/to
  node ids (``FromNode``/``ToNode`` by default);
- shelter points with a capacity property (``Capacity`` by default);
- hazard polygons (any number of files), each file one hazard zone.

Assumptions, each stated again in the instance's description:

- Coordinates are projected to metres with a local equirectangular projection around the
  centre of the streets' bounding box (:class:`optimizer.sources.importers.LocalProjection`), so
  lengths, reaches and hazard geometry are in metres.
- Junctions: with ``connect="ids"`` the from/to ids say which segments meet; with
  ``"endpoints"`` segments meet where their end points lie within ``snap`` metres of each
  other. ``"auto"`` (the default) uses the ids when every segment has both and every id's
  end points agree (within ``snap``), and the end points otherwise, naming junctions by the
  id most of their segments give them.
- Every street is two-way: one-way designations bind everyday traffic, not emergency
  vehicles or people on foot. A street's length is its centre line's length.
- Only the largest connected part of the street graph is kept (a street no road reaches
  can be neither supplied nor evacuated).
- Population: without census data, a given total is apportioned along street length --
  half of each segment's share to each of its end junctions, in whole people (largest
  remainders). Optionally it is gathered onto the junctions of major roads (each junction's
  people to the nearest one by road), which shrinks the model.
- Shelters stand at the junction nearest to their point; a shelter without a capacity gets
  ``default_capacity`` (by default the smallest capacity listed, so the plan does not count
  on places that may not exist). Opening a shelter costs money (staff, cots, supplies) like a
  generated one; none is open already.
- Depots: the data have none, so ``depots`` candidates stand at junctions of major roads
  (where trucks can reach them), spread by farthest-point sampling on road distance.
- Hazard polygons: each file's polygons are united, closed morphologically (grown then
  shrunk by ``close`` metres, which fills the street-wide gaps between parcels that a
  parcel-based layer leaves) and simplified to ``simplify`` metres, then written inline as a
  ``hazard_zones`` generator entry: roads touching the zone fail, facilities inside are
  lost, people inside are affected.
- That generator cuts off every affected junction (all its roads touch the zone), so no
  plan can supply or shelter anyone in those scenarios. With ``evacuation_scenarios`` each
  zone also gives an explicit scenario ``evacuate-ZONE``: the same flood forecast in time,
  its people leaving before the water closes the roads -- the same people affected, no road
  failed, and facilities inside the zone out of use (nobody shelters or stocks in a
  floodplain). These are the scenarios where depots and shelters make a difference.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from optimizer.choices import REACH_SHARE
from optimizer.errors import InputError, Problem
from optimizer.sources.assemble import Assembly, ShelterSite, Spread, assemble
from optimizer.sources.importers import LocalProjection, apportion
from optimizer.sources.importers.layers import read_layer
from optimizer.sources.importers.tntp import MAX_PROBLEMS, read_text
from optimizer.sources.network import RoadNetwork, largest_component

# Decimals kept in the file for metres: coordinates and lengths to the centimetre, hazard
# polygons to the decimetre (they were simplified to metres anyway).
DIGITS = 2
POLYGON_DIGITS = 1


@dataclass(frozen=True)
class Segment:
    """One street centre line, projected: its vertices (m), end ids and name."""

    feature: int
    xy: np.ndarray  # (k, 2) metres
    from_id: str | None
    to_id: str | None
    major: bool
    name: str

    @property
    def length(self) -> float:
        return float(np.hypot(*np.diff(self.xy, axis=0).T).sum())


@dataclass(frozen=True)
class ShelterPoint:
    """A shelter as the data give it (projected)."""

    feature: int
    name: str
    x: float
    y: float
    capacity: float | None


@dataclass(frozen=True)
class CityOptions:
    """Everything ``resilience generate geojson`` asks for besides the files."""

    population: int = 100_000
    depots: int = 6
    seed: int = 0
    commodities: int = 2
    budget_share: float = 0.3
    reach_share: float = REACH_SHARE
    supply_reach: float | None = None  # metres; default reach_share of the diameter
    evacuation_reach: float | None = None
    connect: str = "auto"  # "auto", "ids" or "endpoints"
    snap: float = 0.5  # metres
    from_field: str = "FromNode"
    to_field: str = "ToNode"
    major_field: str | None = "MajorRoad"  # truthy on major roads; None: every street
    capacity_field: str = "Capacity"
    name_field: str = "Name"
    default_capacity: float | None = None  # None: the smallest capacity listed
    zones: str = "all"  # "all" junctions, or "major" road junctions only
    close: float = 15.0  # metres
    simplify: float = 2.0  # metres
    hazard_name: str = "hazard"  # the hazard_zones generator's name (scenario id prefix)
    hazard_ids: tuple[str, ...] = ()  # default: each hazard file's stem
    affected: float = 0.5  # share of people affected inside a hazard zone
    evacuation_scenarios: bool = True  # also one pre-emptive evacuation per hazard zone
    evacuation_rate: float = 0.3
    economic_loss_rate: float = 0.5
    name: str = "city"
    source: str = "the files given"
    notes: str = ""


# ----------------------------------------------------------------------------- reading


def _read_geojson(path: str | Path) -> dict[str, Any]:
    """A layer as a GeoJSON FeatureCollection in longitude/latitude: GeoJSON as it is, any
    other format (Shapefile, GeoPackage, ...) through the ``gis`` extra
    (``optimizer.sources.importers.layers``)."""
    return read_layer(path, _read_json_layer)


def _read_json_layer(path: str | Path) -> dict[str, Any]:
    text = read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, [Problem("", f"invalid JSON at line {exc.lineno}, column "
                                            f"{exc.colno}: {exc.msg}")]) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" \
            or not isinstance(document.get("features"), list):
        raise InputError(path, [Problem("", "expected a GeoJSON FeatureCollection")])
    return document


def _id(value: Any) -> str | None:
    """A node id as text: 1097.0 -> '1097'; empty values are missing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value == int(value):
            return str(int(value))
    return str(value).strip()


def _positions(coordinates: Any) -> np.ndarray | None:
    try:
        array = np.array(coordinates, dtype=float)
    except (TypeError, ValueError):
        return None
    if array.ndim != 2 or array.shape[0] < 2 or array.shape[1] < 2 \
            or not np.isfinite(array[:, :2]).all():
        return None
    return array[:, :2]


def read_streets(path: str | Path, o: CityOptions
                 ) -> tuple[list[Segment], LocalProjection, list[str]]:
    """Street segments projected around the centre of their bounding box.

    A MultiLineString whose parts join end to end is one segment; one whose parts do not
    join keeps its first and last points as ends and the sum of its parts as length (a
    warning says which).

    Raises
    ------
    InputError
        Naming the file and ``features[k].geometry`` of every feature that is not a line
        of at least two finite positions.
    """
    document = _read_geojson(path)
    problems: list[Problem] = []
    notes: list[str] = []
    raw: list[tuple[int, np.ndarray, dict[str, Any]]] = []
    for k, feature in enumerate(document["features"]):
        geometry = (feature or {}).get("geometry") or {}
        properties = (feature or {}).get("properties") or {}
        kind = geometry.get("type")
        if kind not in ("LineString", "MultiLineString"):
            problems.append(Problem(f"features[{k}].geometry", f"expected a LineString or "
                                                               f"MultiLineString, not {kind!r}"))
            continue
        lonlat = _line(k, geometry, properties, notes)
        if lonlat is None:
            problems.append(Problem(f"features[{k}].geometry.coordinates", "expected at "
                                    "least two positions of finite numbers"))
        else:
            raw.append((k, lonlat, properties))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise InputError(path, problems)
    if not raw:
        raise InputError(path, [Problem("features", "no street segments")])
    segments, projection = _projected(path, raw, o)
    return segments, projection, notes


def _line(k: int, geometry: dict[str, Any], properties: dict[str, Any], notes: list[str]
          ) -> np.ndarray | None:
    """A LineString's or MultiLineString's positions, or ``None`` when they are unusable."""
    if geometry.get("type") == "LineString":
        return _positions(geometry.get("coordinates"))
    parts = [_positions(p) for p in geometry.get("coordinates") or []]
    if not parts or any(p is None for p in parts):
        return None
    gaps = [float(np.abs(a[-1] - b[0]).max()) for a, b in pairwise(parts)]  # type: ignore[index]
    if any(g > 1e-7 for g in gaps):
        notes.append(f"features[{k}] ({properties.get('Street', '?')}): a "
                     "MultiLineString whose parts do not join; its ends are its "
                     "first and last points")
    return np.concatenate(parts)  # type: ignore[arg-type]


def _projected(path: str | Path, raw: list[tuple[int, np.ndarray, dict[str, Any]]],
               o: CityOptions) -> tuple[list[Segment], LocalProjection]:
    """The segments in metres, around the centre of their bounding box.

    Raises
    ------
    InputError
        If the coordinates are not longitude and latitude.
    """
    every = np.concatenate([xy for _, xy, _ in raw])
    if np.abs(every[:, 0]).max() > 180 or np.abs(every[:, 1]).max() > 90:
        raise InputError(path, [Problem("features", "coordinates are not longitude/latitude "
                                                    "(GeoJSON is WGS84 by RFC 7946)")])
    projection = LocalProjection.around(every[:, 0], every[:, 1])
    segments = []
    for k, lonlat, properties in raw:
        x, y = projection(lonlat[:, 0], lonlat[:, 1])
        major = True if o.major_field is None else bool(properties.get(o.major_field))
        segments.append(Segment(k, np.column_stack([x, y]), _id(properties.get(o.from_field)),
                                _id(properties.get(o.to_field)), major,
                                str(properties.get("Street") or properties.get("ID") or "")))
    return segments, projection


def read_shelters(path: str | Path, projection: LocalProjection, o: CityOptions
                  ) -> list[ShelterPoint]:
    """Shelter points with their capacities (``None`` where the data give none).

    Raises
    ------
    InputError
        Naming ``features[k]`` of a feature that is not a point, or whose capacity is not a
        number >= 0.
    """
    document = _read_geojson(path)
    problems: list[Problem] = []
    shelters = []
    for k, feature in enumerate(document["features"]):
        geometry = (feature or {}).get("geometry") or {}
        properties = (feature or {}).get("properties") or {}
        point = geometry.get("coordinates")
        if geometry.get("type") != "Point" or not isinstance(point, list) or len(point) < 2 \
                or not all(isinstance(v, int | float) for v in point[:2]):
            problems.append(Problem(f"features[{k}].geometry", "expected a Point"))
            continue
        value = properties.get(o.capacity_field)
        capacity = None
        if value is not None and not (isinstance(value, str) and not value.strip()):
            try:
                capacity = float(str(value).replace(",", ""))
            except ValueError:
                capacity = -1.0
            if not math.isfinite(capacity) or capacity < 0:
                problems.append(Problem(f"features[{k}].properties.{o.capacity_field}",
                                        f"capacity must be a number >= 0, not {value!r}"))
                continue
        x, y = projection(point[0], point[1])
        name = str(properties.get(o.name_field) or f"shelter {k + 1}")
        shelters.append(ShelterPoint(k, name, float(x), float(y), capacity))
    if problems:
        raise InputError(path, problems[:MAX_PROBLEMS])
    if not shelters:
        raise InputError(path, [Problem("features", "no shelter points")])
    return shelters


def read_hazard(path: str | Path, projection: LocalProjection, o: CityOptions
                ) -> shapely.Geometry:
    """One hazard zone from a polygon file: united, projected, closed, simplified.

    Raises
    ------
    InputError
        Naming the file when it holds no polygon.
    """
    document = _read_geojson(path)
    polygons = []
    for feature in document["features"]:
        geometry = (feature or {}).get("geometry")
        if not geometry or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        try:
            shape = shapely.geometry.shape(geometry)
        except Exception:  # shapely raises several kinds for malformed rings
            continue
        shape = shapely.transform(shape, lambda c: np.column_stack(projection(c[:, 0],
                                                                              c[:, 1])))
        polygons.append(shapely.make_valid(shape) if not shape.is_valid else shape)
    if not polygons:
        raise InputError(path, [Problem("features", "no Polygon or MultiPolygon features")])
    zone = shapely.union_all(polygons)
    if o.close > 0:
        zone = zone.buffer(o.close, join_style="mitre").buffer(-o.close, join_style="mitre")
    if o.simplify > 0:
        zone = zone.simplify(o.simplify)
    zone = shapely.set_precision(zone, 10.0**-POLYGON_DIGITS)
    return shapely.make_valid(zone) if not zone.is_valid else zone


def polygon_geojson(zone: shapely.Geometry) -> dict[str, Any]:
    """A polygonal geometry as GeoJSON with coordinates rounded for the file."""
    mapping = shapely.geometry.mapping(zone)

    def rounded(value: Any) -> Any:
        if isinstance(value, list | tuple):
            if value and isinstance(value[0], int | float):
                return [round(float(v), POLYGON_DIGITS) for v in value[:2]]
            return [rounded(v) for v in value]
        return value

    return {"type": mapping["type"], "coordinates": rounded(mapping["coordinates"])}


# ---------------------------------------------------------------------------- junctions


@dataclass
class _Junctions:
    """End point -> junction, and what the ids said about it."""

    of_end: np.ndarray  # (2 * segments,) junction index of each segment's start, end
    xy: np.ndarray  # (J, 2)
    names: list[str]
    mode: str
    notes: list[str] = field(default_factory=list)


def _clusters(points: np.ndarray, snap: float) -> np.ndarray:
    """Label points within ``snap`` of each other (transitively) with the same cluster,
    numbered by first appearance."""
    pairs = cKDTree(points).query_pairs(snap, output_type="ndarray") if snap > 0 else \
        np.empty((0, 2), dtype=np.int64)
    n = len(points)
    if snap <= 0:  # exact coordinates only
        _, labels = np.unique(points, axis=0, return_inverse=True)
    else:
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
    labels = np.asarray(labels).ravel()
    order = {}
    for label in labels.tolist():
        order.setdefault(label, len(order))
    return np.array([order[label] for label in labels.tolist()], dtype=np.int64)


def _junctions(segments: list[Segment], o: CityOptions) -> _Junctions:
    """Where the segments meet: by their from/to ids or by their end points (module
    docstring, ``o.connect``)."""
    ends = np.array([p for s in segments for p in (s.xy[0], s.xy[-1])])
    ids = [i for s in segments for i in (s.from_id, s.to_id)]
    where: dict[str, list[int]] = {}
    for k, node in enumerate(ids):
        if node is not None:
            where.setdefault(node, []).append(k)
    mode, notes = _connect_by(ends, ids, where, o)
    if mode == "ids":
        return _junctions_by_ids(ends, ids, where, o.snap, notes)
    return _junctions_by_end_points(ends, ids, o.snap, notes)


def _connect_by(ends: np.ndarray, ids: list[str | None], where: dict[str, list[int]],
                o: CityOptions) -> tuple[str, list[str]]:
    """``"ids"`` or ``"endpoints"``: as ``o.connect`` says, or for ``"auto"`` the ids when
    every end has one and each id's end points lie within ``o.snap``; and a note saying
    why the ids were not used."""
    # Where each id's end points lie, and how far apart they are.
    spread: dict[str, float] = {}
    for node, ks in where.items():
        pts = ends[ks]
        spread[node] = float(np.hypot(*(pts.max(axis=0) - pts.min(axis=0))))
    disagree = {node: d for node, d in spread.items() if d > o.snap}
    missing = sum(1 for i in ids if i is None)
    mode = o.connect
    notes = []
    if mode == "auto":
        mode = "ids" if not missing and not disagree else "endpoints"
        if mode == "endpoints" and (missing or disagree):
            worst = max(disagree.items(), key=lambda kv: kv[1]) if disagree else None
            notes.append(
                f"the {o.from_field}/{o.to_field} ids were not used to connect streets: "
                + ", ".join(filter(None, [
                    f"{missing} segment end(s) have no id" if missing else "",
                    f"{len(disagree)} ids name end points more than {o.snap:g} m apart "
                    f"(up to {worst[1]:,.0f} m, id {worst[0]})" if worst else ""]))
                + f"; segments meet where their end points lie within {o.snap:g} m, and "
                "junctions are named by the id most of their segments give them")
    return mode, notes


def _junctions_by_ids(ends: np.ndarray, ids: list[str | None], where: dict[str, list[int]],
                      snap: float, notes: list[str]) -> _Junctions:
    """Junction = id; an end without an id joins the nearest id'd end within ``snap``, or
    starts a junction of its own."""
    names: list[str] = []
    index: dict[str, int] = {}
    of_end = np.empty(len(ids), dtype=np.int64)
    labelled = [k for k, i in enumerate(ids) if i is not None]
    tree = cKDTree(ends[labelled]) if labelled else None
    for k, node in enumerate(ids):
        if node is None and tree is not None:
            distance, nearest = tree.query(ends[k])
            if distance <= snap:
                node = ids[labelled[int(nearest)]]
        if node is None:
            node = f"p{k}"
        if node not in index:
            index[node] = len(names)
            names.append(node)
        of_end[k] = index[node]
    xy = np.zeros((len(names), 2))
    for j, node in enumerate(names):
        ks = where.get(node) or [k for k in range(len(ids)) if of_end[k] == j]
        xy[j] = ends[ks].mean(axis=0)
    return _Junctions(of_end, xy, names, "ids", notes)


def _junctions_by_end_points(ends: np.ndarray, ids: list[str | None], snap: float,
                             notes: list[str]) -> _Junctions:
    """Junction = end points within ``snap`` of each other, named by the id most of its
    segment ends give it (``p{j}`` when none is left)."""
    labels = _clusters(ends, snap)
    count = int(labels.max()) + 1
    votes: list[dict[str, int]] = [{} for _ in range(count)]
    for k, node in enumerate(ids):
        if node is not None:
            votes[labels[k]][node] = votes[labels[k]].get(node, 0) + 1
    # Each id names the junction that gives it most votes (ties: the first junction).
    claims: dict[str, tuple[int, int]] = {}
    for j, v in enumerate(votes):
        for node, n in v.items():
            if node not in claims or n > claims[node][0]:
                claims[node] = (n, j)
    names = []
    used = set()
    for j, v in enumerate(votes):
        ranked = sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))
        name = next((node for node, _ in ranked if claims[node][1] == j and node not in used),
                    None)
        name = name or f"p{j}"
        used.add(name)
        names.append(name)
    xy = np.zeros((count, 2))
    np.add.at(xy, labels, ends)
    xy /= np.bincount(labels, minlength=count)[:, None]
    return _Junctions(labels, xy, names, "endpoints", notes)


# ----------------------------------------------------------------------------- network


@dataclass(frozen=True, eq=False)
class StreetImport:
    """The street network with people on it, and how it was made, for the description.

    The network's candidate nodes (:attr:`RoadNetwork.candidates`) are the junctions of
    major roads, where trucks reach a depot.
    """

    network: RoadNetwork
    mode: str  # how segments met: "ids" or "endpoints"
    segments: int
    street_length: float  # metres, kept streets
    notes: tuple[str, ...]

    @property
    def major(self) -> np.ndarray:
        """(N,) bool: junction on a major road."""
        assert self.network.candidates is not None
        return self.network.candidates


def street_network(segments: list[Segment], o: CityOptions) -> StreetImport:
    """Junctions, roads and population (module docstring for the rules)."""
    junctions = _junctions(segments, o)
    u = junctions.of_end[0::2]
    v = junctions.of_end[1::2]
    lengths = np.array([s.length for s in segments])
    loops = u == v
    keep = ~loops
    n = len(junctions.names)
    major = np.zeros(n, dtype=bool)
    for s, a, b in zip(segments, u, v, strict=True):
        if s.major:
            major[a] = major[b] = True
    network = RoadNetwork(
        node_ids=tuple(junctions.names),
        population=np.zeros(n),
        edge_from=u[keep], edge_to=v[keep], edge_length=lengths[keep],
        edge_ids=tuple(f"s{s.feature}" for s, k in zip(segments, keep, strict=True) if k),
        x=junctions.xy[:, 0], y=junctions.xy[:, 1],
        candidates=major,
    )
    network, dropped = largest_component(network)
    notes = list(junctions.notes)
    if loops.any():
        notes.append(f"{int(loops.sum())} segment(s) that start and end at the same junction "
                     "were left out (they connect nothing)")
    kept = set(network.node_ids)
    left_out = [s for s, a, k in zip(segments, u, keep, strict=True)
                if k and junctions.names[a] not in kept]
    if dropped:
        names = sorted({s.name for s in left_out} - {""})
        notes.append(f"{len(left_out)} segment(s) not connected to the rest of the street "
                     f"network were left out ({', '.join(names[:5])})")
    network = network.with_population(_people(network, o))
    return StreetImport(network, junctions.mode, len(segments),
                        float(network.edge_length.sum()), tuple(notes))


def _people(network: RoadNetwork, o: CityOptions) -> np.ndarray:
    """``o.population`` along street length: half of each road's share to each end, then
    gathered onto major-road junctions if ``o.zones`` says so."""
    weight = np.zeros(network.num_nodes)
    np.add.at(weight, network.edge_from, network.edge_length / 2)
    np.add.at(weight, network.edge_to, network.edge_length / 2)
    population = apportion(o.population, weight)
    if o.zones == "major":
        assert network.candidates is not None
        population = _gather(network, population, network.candidates)
    elif o.zones != "all":
        raise ValueError(f"zones must be 'all' or 'major', not {o.zones!r}")
    return population


def _gather(network: RoadNetwork, population: np.ndarray, onto: np.ndarray) -> np.ndarray:
    """Each node's people moved to the nearest node of ``onto`` by road (ties: lowest)."""
    targets = np.flatnonzero(onto)
    if len(targets) == 0:
        raise ValueError("no major-road junction to gather the population onto")
    distance = network.distances(targets)
    nearest = targets[np.argmin(distance, axis=0)]
    gathered = np.zeros(network.num_nodes)
    np.add.at(gathered, nearest, population)
    return gathered


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "shelter"


def shelter_sites(network: RoadNetwork, shelters: list[ShelterPoint], o: CityOptions
                  ) -> tuple[tuple[ShelterSite, ...], dict[str, Any]]:
    """Each shelter at its nearest junction, with its capacity or the default."""
    known = [s.capacity for s in shelters if s.capacity is not None]
    default = o.default_capacity if o.default_capacity is not None else \
        (min(known) if known else 0.0)
    assert network.x is not None and network.y is not None
    tree = cKDTree(np.column_stack([network.x, network.y]))
    sites = []
    used: dict[str, int] = {}
    snapped = []
    for s in shelters:
        distance, node = tree.query([s.x, s.y])
        slug = _slug(s.name)
        used[slug] = used.get(slug, 0) + 1
        sid = slug if used[slug] == 1 else f"{slug}-{used[slug]}"
        capacity = s.capacity if s.capacity is not None else float(default)
        sites.append(ShelterSite(sid, int(node), float(capacity)))
        snapped.append(float(distance))
    info = {
        "missing": [s.name for s in shelters if s.capacity is None],
        "default": float(default),
        "listed": float(sum(known)),
        "snap_max": max(snapped),
        "snap_median": float(np.median(snapped)),
    }
    return tuple(sites), info


# ---------------------------------------------------------------------------- instance


@dataclass(frozen=True, eq=False)
class CityImport:
    """Everything an import made, for callers that add scenarios of their own."""

    document: dict[str, Any]
    network: RoadNetwork
    zones: dict[str, shapely.Geometry]  # hazard id -> polygon as written
    shelters: tuple[ShelterSite, ...]
    projection: LocalProjection
    notes: tuple[str, ...]


def city_instance(streets: str | Path, shelters: str | Path,
                  hazards: list[str | Path] | tuple[str | Path, ...] = (),
                  options: CityOptions | None = None) -> CityImport:
    """An instance from street centre lines, shelter points and hazard polygons.

    Parameters
    ----------
    streets, shelters, hazards
        GeoJSON files in longitude/latitude.
    options
        Field names, counts, shares and geometry tolerances (:class:`CityOptions`).

    Returns
    -------
    CityImport
        The instance dict (``document``; write it with
        :func:`optimizer.sources.importers.dumps_instance`) and the pieces it was made of.

    Raises
    ------
    InputError
        A file cannot be read or is not what it should be; the message names the file and
        the feature.
    ValueError
        The options do not fit the data.
    """
    o = options or CityOptions()
    _check_options(o, hazards)
    segments, projection, notes = read_streets(streets, o)
    city = street_network(segments, o)
    network = city.network
    notes += list(city.notes)
    sites, shelter_info = shelter_sites(network, read_shelters(shelters, projection, o), o)
    zones, written = _hazard_zones(hazards, projection, o)
    assembly = Assembly(
        name=o.name, description="", placement=Spread(o.depots, named=sites),
        commodities=o.commodities, budget_share=o.budget_share, reach_share=o.reach_share,
        supply_reach=o.supply_reach, evacuation_reach=o.evacuation_reach, digits=DIGITS,
        crs=projection.crs(),
    )
    assembled = assemble(network, assembly, np.random.default_rng(o.seed),
                         scenario_generators=[_zones_generator(written, o)] if zones else None)
    document = assembled.document
    result = CityImport(document, network, zones, sites, projection, tuple(notes))
    if o.evacuation_scenarios and zones:
        scenarios = [evacuation_scenario(result, zid, o) for zid in zones]
        generated = document.pop("scenario_generators")
        document["scenarios"] = scenarios
        document["scenario_generators"] = generated
    document["description"] = describe(city, o, projection, shelter_info, zones,
                                       assembled.diameter, document, streets, shelters,
                                       hazards, notes)
    return result


def _check_options(o: CityOptions, hazards: list[str | Path] | tuple[str | Path, ...]
                   ) -> None:
    """Raise ValueError for options that fit no data."""
    if o.connect not in ("auto", "ids", "endpoints"):
        raise ValueError(f"connect must be auto, ids or endpoints, not {o.connect!r}")
    if o.population < 1:
        raise ValueError(f"population must be at least 1 (got {o.population})")
    if o.hazard_ids and len(o.hazard_ids) != len(hazards):
        raise ValueError(f"{len(o.hazard_ids)} hazard ids for {len(hazards)} hazard files")


def _hazard_zones(hazards: list[str | Path] | tuple[str | Path, ...],
                  projection: LocalProjection, o: CityOptions
                  ) -> tuple[dict[str, shapely.Geometry], dict[str, dict[str, Any]]]:
    """Each hazard file's zone by id: as a shape, and as GeoJSON for the file."""
    zones: dict[str, shapely.Geometry] = {}
    written: dict[str, dict[str, Any]] = {}
    for k, path in enumerate(hazards):
        zid = o.hazard_ids[k] if o.hazard_ids else _slug(Path(path).stem)
        if zid in zones:
            raise ValueError(f"two hazard zones named {zid!r}; give hazard ids")
        written[zid] = polygon_geojson(read_hazard(path, projection, o))
        # The polygon exactly as the file holds it, so "inside" here is what the
        # generator will find when the file is loaded.
        zones[zid] = shapely.geometry.shape(written[zid])
    return zones, written


def _zones_generator(written: dict[str, dict[str, Any]], o: CityOptions) -> dict[str, Any]:
    """The ``hazard_zones`` generator entry: one zone per hazard file."""
    return {
        "name": o.hazard_name,
        "kind": "hazard_zones",
        "evacuation_rate": o.evacuation_rate,
        "economic_loss_rate": o.economic_loss_rate,
        "zones": [{"id": zid, "geometry": geometry, "affected": o.affected}
                  for zid, geometry in written.items()],
    }


def inside(network: RoadNetwork, zone: shapely.Geometry) -> np.ndarray:
    """Which nodes lie in the zone or on its boundary (the hazard_zones generator's rule)."""
    assert network.x is not None and network.y is not None
    return shapely.intersects_xy(zone, network.x, network.y)


def evacuation_scenario(city: CityImport, zone: str, o: CityOptions, *,
                        scenario_id: str | None = None,
                        shelter_loss: dict[str, float] | None = None) -> dict[str, Any]:
    """The pre-emptive evacuation of a hazard zone, as an explicit scenario.

    The people inside the zone are affected as in the zone's generated scenario (share
    ``o.affected``, the same evacuation and loss rates), but no road has failed yet; depots
    and shelters inside the zone are out of use (loss 1). ``shelter_loss`` adds losses
    elsewhere (a shelter closed for another reason).
    """
    network = city.network
    within = inside(network, city.zones[zone])
    document = city.document
    node_index = {n: i for i, n in enumerate(network.node_ids)}
    depot_loss = {d["id"]: 1.0 for d in document["depots"] if within[node_index[d["node"]]]}
    losses = {h["id"]: 1.0 for h in document["shelters"] if within[node_index[h["node"]]]}
    losses.update(shelter_loss or {})
    affected = {network.node_ids[i]: o.affected for i in np.flatnonzero(within)
                if network.population[i] > 0}
    return {
        "id": scenario_id or f"evacuate-{zone}",
        "depot_loss": depot_loss,
        "shelter_loss": losses,
        "affected": affected,
        "evacuation_rate": o.evacuation_rate,
        "economic_loss_rate": o.economic_loss_rate,
    }


def describe(city: StreetImport, o: CityOptions, projection: LocalProjection,
             shelter_info: dict[str, Any], zones: dict[str, shapely.Geometry], diameter: float,
             document: dict[str, Any], streets: str | Path, shelters: str | Path,
             hazards: list[str | Path] | tuple[str | Path, ...],
             notes: list[str] | tuple[str, ...] = ()) -> str:
    """The instance's description: sources, and every assumption with its numbers."""
    files = [Path(streets).name, Path(shelters).name, *(Path(h).name for h in hazards)]
    parts = [*_describe_streets(city, o, projection, files, notes),
             _describe_shelters(o, shelter_info, document),
             _describe_depots(city, o, diameter, document),
             *_describe_hazards(city.network, o, zones)]
    if o.notes:
        parts.append(o.notes)
    return " ".join(parts)


def _describe_streets(city: StreetImport, o: CityOptions, projection: LocalProjection,
                      files: list[str], notes: list[str] | tuple[str, ...]) -> list[str]:
    network = city.network
    connect = (f"segments meet where their {o.from_field}/{o.to_field} ids say"
               if city.mode == "ids" else
               f"segments meet where their end points lie within {o.snap:g} m of each other")
    return [
        f"Real city network imported by optimizer.sources.importers.city from {', '.join(files)}. "
        f"Source: {o.source}.",
        f"Geometry: longitude/latitude projected to metres with a {projection.describe()}; "
        "lengths, reaches and hazard polygons are in metres.",
        f"Streets: {city.segments} centre-line segments; {connect}; "
        f"{network.num_nodes} junctions and {network.num_edges} roads "
        f"({city.street_length / 1000:,.1f} km) in the largest connected part. Every street "
        "is two-way here: one-way rules bind everyday traffic, not emergency vehicles or "
        "people on foot. A road's length is its centre line's."
        + (" Import notes: " + "; ".join(notes) + "." if notes else ""),
        f"Population: {o.population:,} people apportioned along street length (only the "
        "total comes from a census; no census geography is used): half of each road's share "
        "to each of its end junctions, in whole people"
        + (", then gathered onto the nearest major-road junction" if o.zones == "major"
           else "") + ".",
    ]


def _describe_shelters(o: CityOptions, shelter_info: dict[str, Any],
                       document: dict[str, Any]) -> str:
    missing = shelter_info["missing"]
    return (
        f"Shelters: the {len(document['shelters'])} shelters of the data at their nearest "
        f"junction (median {shelter_info['snap_median']:.0f} m, at most "
        f"{shelter_info['snap_max']:.0f} m away), with their listed capacities "
        f"({shelter_info['listed']:,.0f} places in all)"
        + (f"; {', '.join(missing)} lists no capacity and is given "
           f"{shelter_info['default']:,.0f}" + (" (the smallest listed, so the plan does "
                                                "not count on places that may not exist)"
                                                if o.default_capacity is None else "")
           if missing else "")
        + ". None is open already: opening one (staff, cots, supplies) costs 40-80 per place, "
        "and each may add 1-4 modules of 20-40% of its places at 30-60 per place.")


def _describe_depots(city: StreetImport, o: CityOptions, diameter: float,
                     document: dict[str, Any]) -> str:
    policy = document["policy"]
    return (
        f"Depots (none in the data): {len(document['depots'])} candidates at junctions of "
        f"major roads ({o.major_field} set; {int(city.major.sum())} junctions), spread by "
        f"farthest-point sampling on road distance (seed {o.seed}); each holds 50-100% of "
        "an equal share of everyone's need and its building costs 30-60% of filling it. "
        "Money otherwise follows "
        "optimizer.sources.synthetic: economic exposure 20-60 per person, a compensation pool "
        "of up "
        f"to a tenth of all exposure, and a budget of {o.budget_share:.0%} of the cost of "
        "opening, filling and reserving everything. Supply reach "
        f"{policy['supply_reach']:,.0f} m, evacuation reach "
        f"{policy['evacuation_reach']:,.0f} m (the network's weighted diameter is "
        f"{diameter:,.0f} m).")


def _describe_hazards(network: RoadNetwork, o: CityOptions,
                      zones: dict[str, shapely.Geometry]) -> list[str]:
    parts = []
    if zones:
        counts = ", ".join(f"{zid} {zone.area / 1e6:.2f} km2 with "
                           f"{int(inside(network, zone).sum())} junctions"
                           for zid, zone in zones.items())
        parts.append(
            f"Hazards: each polygon file is one hazard zone of the hazard_zones generator "
            f"'{o.hazard_name}' ({counts}): its polygons united, closed by {o.close:g} m "
            "(grown and shrunk again, which fills the street-wide gaps a parcel layer leaves) and "
            f"simplified to {o.simplify:g} m. When the file is loaded each zone becomes a "
            "scenario: roads touching the zone fail, facilities inside are lost, and "
            f"{o.affected:.0%} of the people inside are affected ({o.evacuation_rate:.0%} of "
            f"them seek a public shelter; {o.economic_loss_rate:.0%} of their exposure is "
            "lost).")
    if zones and o.evacuation_scenarios:
        parts.append(
            "In those scenarios every junction with people inside a zone is cut off, so no "
            "plan can supply or shelter them; the explicit scenarios "
            + ", ".join(f"evacuate-{zid}" for zid in zones)
            + " are the same floods forecast in time: the same people affected, leaving "
            "before the water closes the roads (no road failed), with depots and shelters "
            "inside the zone out of use.")
    return parts


__all__ = [
    "CityImport",
    "CityOptions",
    "Segment",
    "ShelterPoint",
    "StreetImport",
    "city_instance",
    "evacuation_scenario",
    "inside",
    "polygon_geojson",
    "read_hazard",
    "read_shelters",
    "read_streets",
    "shelter_sites",
    "street_network",
]
