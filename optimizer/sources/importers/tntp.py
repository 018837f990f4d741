"""Instances from the TransportationNetworks (TNTP) format.

:func:`tntp_network` reads the files into a :class:`~optimizer.sources.network.RoadNetwork`
(its through nodes are the facility candidates) and :func:`tntp_instance` hands it to
:func:`optimizer.sources.assemble.assemble`, with the synthetic hazards scaled to the
network (:func:`optimizer.sources.importers.hazard_footprint`). The command is
``resilience generate tntp`` (:mod:`optimizer.cli.generate_real`). The rules follow.

TNTP files (https://github.com/bstabler/TransportationNetworks) are tab-separated text: a
metadata header of ``<KEY> value`` lines ending with ``<END OF METADATA>``, comment lines
starting with ``~``, and data rows ending with ``;``. Three files matter here:

- ``*_net.tntp``: one directed link per row, ``init term capacity length free_flow_time b
  power speed toll type``;
- ``*_node.tntp``: ``node x y`` per row (or a GeoJSON FeatureCollection of points with an
  ``id`` property, as Anaheim ships it);
- ``*_trips.tntp``: ``Origin k`` blocks of ``destination : flow;`` pairs.

How a directed, zone-based traffic network becomes our undirected road graph:

- each pair of opposite links (and any repeated link) becomes one undirected road with the
  shorter of their lengths, since an evacuation or a supply truck may use either direction;
- a road's length is the ``length`` column, or the free-flow time where the length is 0
  (Sioux Falls sets lengths equal to free-flow times anyway); the file's units are kept;
- ``<FIRST THRU NODE>``: nodes numbered below it are zone centroids that traffic must not
  pass through. Shortest paths on an undirected graph would cut through a centroid wherever
  its connectors offer a shortcut, so each centroid keeps only its shortest connector to a
  through node (ties: the nearest by coordinates, then the lowest node number) and becomes a
  leaf: its people still reach the network, and no path can pass through it (a centroid
  linked only to other centroids keeps its shortest such link);
- zone populations are the trip productions (each origin's row sum of the OD table) when a
  trips file is given, else :data:`DEFAULT_ZONE_POPULATION` per zone; a trip table counts
  trips, not residents, so this is a proxy for where people are and how many;
- nodes no road reaches are left out (the importer keeps the largest connected part).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.choices import REACH_SHARE
from optimizer.errors import InputError, Problem
from optimizer.sources.assemble import Assembly, Spread, assemble
from optimizer.sources.importers import (
    RADIUS_SHARE,
    LocalProjection,
    hazard_footprint,
    significant,
)
from optimizer.sources.network import RoadNetwork, largest_component, network_extent

# People per zone when no trip table is given.
DEFAULT_ZONE_POPULATION = 1000.0
# Problems collected before giving up on a file: enough to see a pattern, not a flood.
MAX_PROBLEMS = 10
SOURCE = ("TransportationNetworks for Research (https://github.com/bstabler/"
          "TransportationNetworks); licence: data donated for academic research purposes "
          "only, users must cite the source (repository README, section License)")

_TAG = re.compile(r"^\s*<([^>]*)>(.*)$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = re.compile(rf"^\s*(\d+)\s*:\s*({_NUMBER})\s*$")


@dataclass(frozen=True)
class Link:
    """One directed link of a net file."""

    init: int
    term: int
    length: float
    free_flow_time: float
    line: int


@dataclass(frozen=True)
class TntpNet:
    """A parsed net file: its metadata (keys upper-case, single-spaced) and its links."""

    source: str
    metadata: dict[str, str]
    links: tuple[Link, ...]

    def number(self, key: str) -> int | None:
        """An integer metadata value such as ``FIRST THRU NODE``, or None when absent."""
        value = self.metadata.get(key)
        if value is None or not value.split():
            return None
        return int(float(value.split()[0]))

    @property
    def first_thru_node(self) -> int:
        return self.number("FIRST THRU NODE") or 1


@dataclass
class _Problems:
    source: str
    items: list[Problem] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.items.append(Problem(f"line {line}", message))
        if len(self.items) >= MAX_PROBLEMS:
            self.raise_if_any()

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(self.source, self.items)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    yield from enumerate(text.splitlines(), start=1)


def split_metadata(text: str) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """The ``<KEY> value`` header and the numbered lines after it.

    The header ends at ``<END OF METADATA>``; a file without that tag has as header the tag
    lines it starts with (blank and ``~`` lines between them are allowed). Keys are
    upper-cased with single spaces; values are stripped of blanks and a trailing ``;``.
    """
    lines = list(_lines(text))
    metadata: dict[str, str] = {}
    end = None
    for position, (_, line) in enumerate(lines):
        match = _TAG.match(line)
        if match:
            key = " ".join(match.group(1).upper().split())
            if key == "END OF METADATA":
                end = position + 1
                break
            metadata[key] = match.group(2).strip().rstrip(";").strip()
        elif line.strip() and not line.lstrip().startswith("~"):
            break
        # Tag lines, blanks and comments before the first data row are header.
        end = position + 1
    return metadata, lines[end or 0:]


def _data_rows(lines: list[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    """Whitespace-separated fields of each data row, comments, blanks and ``;`` removed."""
    for number, line in lines:
        content = line.split("~", 1)[0] if not line.lstrip().startswith("~") else ""
        content = content.split(";", 1)[0].strip()
        if content:
            yield number, content.split()


def _node_number(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value) or value < 0:
        return None
    return int(value)


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_net(text: str, source: str = "<net>") -> TntpNet:
    """Parse a TNTP net file.

    Parameters
    ----------
    text
        The file's text.
    source
        Its name, for messages.

    Raises
    ------
    InputError
        Naming the file and line of every row that is not ``init term capacity length
        free_flow_time ...`` with whole node numbers and finite non-negative numbers.
    """
    metadata, body = split_metadata(text)
    problems = _Problems(source)
    links = []
    for number, fields in _data_rows(body):
        if fields[0].lower() == "origin":
            raise InputError(source, [Problem(f"line {number}", "an 'Origin' block: this is "
                                              "a trip table, not a net file")])
        if len(fields) < 5:
            problems.add(number, f"expected at least 5 fields (init node, term node, capacity, "
                                 f"length, free flow time), found {len(fields)}")
            continue
        init, term = _node_number(fields[0]), _node_number(fields[1])
        length, time = _float(fields[3]), _float(fields[4])
        if init is None or term is None:
            problems.add(number, f"node numbers must be whole numbers >= 0, not "
                                 f"{fields[0]!r} and {fields[1]!r}")
            continue
        if length is None or length < 0 or time is None or time < 0:
            problems.add(number, f"length and free flow time must be finite numbers >= 0, "
                                 f"not {fields[3]!r} and {fields[4]!r}")
            continue
        links.append(Link(init, term, length, time, number))
    problems.raise_if_any()
    if not links:
        raise InputError(source, [Problem("", "no links: a net file has one row per link "
                                              "after <END OF METADATA>")])
    return TntpNet(source, metadata, tuple(links))


def parse_nodes(text: str, source: str = "<nodes>") -> dict[int, tuple[float, float]]:
    """Node coordinates from a TNTP node file (``node x y ;`` rows after an optional
    ``Node X Y`` header) or a GeoJSON FeatureCollection of points with an ``id`` property.

    Raises
    ------
    InputError
        Naming the file and the line (or feature) of every unusable row.
    """
    if text.lstrip().startswith("{"):
        return _parse_geojson_nodes(text, source)
    _, body = split_metadata(text)
    problems = _Problems(source)
    coordinates: dict[int, tuple[float, float]] = {}
    first = True
    for number, fields in _data_rows(body):
        node = _node_number(fields[0])
        if node is None and first:  # the "Node X Y" header
            first = False
            continue
        first = False
        x = _float(fields[1]) if len(fields) > 1 else None
        y = _float(fields[2]) if len(fields) > 2 else None
        if node is None or x is None or y is None:
            problems.add(number, f"expected 'node x y' with a whole node number and finite "
                                 f"coordinates, found {' '.join(fields)!r}")
            continue
        if node in coordinates:
            problems.add(number, f"node {node} is given twice")
            continue
        coordinates[node] = (x, y)
    problems.raise_if_any()
    return coordinates


def _parse_geojson_nodes(text: str, source: str) -> dict[int, tuple[float, float]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, [Problem("", f"invalid JSON at line {exc.lineno}, column "
                                              f"{exc.colno}: {exc.msg}")]) from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise InputError(source, [Problem("features", "expected a GeoJSON FeatureCollection "
                                                      "of points")])
    problems: list[Problem] = []
    coordinates: dict[int, tuple[float, float]] = {}
    for k, feature in enumerate(features):
        at = f"features[{k}]"
        properties = (feature or {}).get("properties") or {}
        raw = next((properties[key] for key in ("id", "node", "Node", "ID", "node_id")
                    if key in properties), feature.get("id") if isinstance(feature, dict)
                   else None)
        node = _node_number(str(raw)) if raw is not None else None
        geometry = (feature or {}).get("geometry") or {}
        point = geometry.get("coordinates") if geometry.get("type") == "Point" else None
        if node is None:
            problems.append(Problem(f"{at}.properties.id", f"no whole node number (got {raw!r})"))
        elif not (isinstance(point, list) and len(point) >= 2
                  and all(isinstance(v, int | float) for v in point[:2])):
            problems.append(Problem(f"{at}.geometry", "expected a Point with coordinates"))
        elif node in coordinates:
            problems.append(Problem(f"{at}.properties.id", f"node {node} is given twice"))
        else:
            coordinates[node] = (float(point[0]), float(point[1]))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise InputError(source, problems)
    return coordinates


def parse_trips(text: str, source: str = "<trips>") -> dict[int, float]:
    """Trip productions: each origin's total flow over all destinations.

    Raises
    ------
    InputError
        Naming the file and line of a pair before any ``Origin``, a malformed pair or a
        negative flow.
    """
    _, body = split_metadata(text)
    problems = _Problems(source)
    productions: dict[int, float] = {}
    origin: int | None = None
    for number, line in body:
        content = "" if line.lstrip().startswith("~") else line.strip()
        if not content:
            continue
        head = content.split()
        if head[0].lower() == "origin":
            origin = _node_number(head[1]) if len(head) > 1 else None
            if origin is None:
                problems.add(number, f"expected 'Origin k' with a zone number, found "
                                     f"{content!r}")
            else:
                productions.setdefault(origin, 0.0)
            continue
        for chunk in content.split(";"):
            if not chunk.strip():
                continue
            match = _PAIR.match(chunk)
            if origin is None:
                problems.add(number, "destination flows before any 'Origin k' line")
                break
            if match is None:
                problems.add(number, f"expected 'destination : flow', found {chunk.strip()!r}")
                continue
            flow = float(match.group(2))
            if not math.isfinite(flow) or flow < 0:
                problems.add(number, f"flow must be a finite number >= 0, not "
                                     f"{match.group(2)}")
                continue
            productions[origin] += flow
    problems.raise_if_any()
    if not productions:
        raise InputError(source, [Problem("", "no 'Origin k' blocks: not a trips file")])
    return productions


def read_text(path: str | Path) -> str:
    """A data file's text, or an :class:`InputError` naming it."""
    path = Path(path)
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InputError(path, [Problem("", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise InputError(path, [Problem("", f"not UTF-8 text (byte {exc.start})")]) from None


@dataclass(frozen=True, eq=False)
class TntpImport:
    """A net file's road network, and what the import did, for its description and warnings.

    The network's candidate nodes (:attr:`RoadNetwork.candidates`) are the through nodes.
    """

    network: RoadNetwork
    directed_links: int
    time_for_length: int  # links whose length was 0 and took the free-flow time
    dropped_connectors: int
    notes: tuple[str, ...]

    @property
    def through(self) -> np.ndarray:
        """(N,) bool: may carry through traffic (facility candidates)."""
        assert self.network.candidates is not None
        return self.network.candidates

    @property
    def zones(self) -> tuple[int, ...]:
        """Node numbers of the zones that kept people."""
        network = self.network
        return tuple(int(n) for n, p in zip(network.node_ids, network.population, strict=True)
                     if p > 0)


def tntp_network(net: TntpNet, coordinates: dict[int, tuple[float, float]] | None = None,
                 productions: dict[int, float] | None = None, *,
                 projection: LocalProjection | None = None,
                 nodes_source: str = "<nodes>") -> TntpImport:
    """The undirected road network of a parsed net file (module docstring for the rules).

    Parameters
    ----------
    net
        A parsed net file.
    coordinates
        Node number -> (x, y); every node of the network must have one.
    productions
        Zone number -> people (trip productions); default :data:`DEFAULT_ZONE_POPULATION`
        for each zone.
    projection
        Applied to the coordinates when they are longitude and latitude.
    nodes_source
        The coordinates' file name, for messages.

    Raises
    ------
    InputError
        If the coordinates miss a node of the network.
    """
    first_thru = net.first_thru_node
    notes: list[str] = []
    declared = net.number("NUMBER OF LINKS")
    if declared is not None and declared != len(net.links):
        notes.append(f"{net.source}: the header says {declared} links, the file has "
                     f"{len(net.links)}")
    roads, time_for_length = _roads(net, notes)
    dropped_connectors = _centroids_as_leaves(roads, first_thru, coordinates)
    numbers = _node_numbers(net, roads, productions, notes)
    population = _population(net, numbers, productions)
    x, y = _coordinates(numbers, coordinates, projection, nodes_source)
    index = {node: i for i, node in enumerate(numbers)}
    keys = sorted(roads)
    network = RoadNetwork(
        node_ids=tuple(str(node) for node in numbers),
        population=population,
        edge_from=np.array([index[u] for u, _ in keys], dtype=np.int64),
        edge_to=np.array([index[v] for _, v in keys], dtype=np.int64),
        edge_length=np.array([roads[k] for k in keys], dtype=float),
        edge_ids=tuple(f"{u}-{v}" for u, v in keys),
        x=x, y=y,
        candidates=np.array([node >= first_thru for node in numbers], dtype=bool),
    )
    network, dropped = largest_component(network)
    if dropped:
        notes.append(f"{len(dropped)} node(s) no road connects to the rest were left out: "
                     + ", ".join(dropped[:10]) + (" ..." if len(dropped) > 10 else ""))
    return TntpImport(network, len(net.links), time_for_length, dropped_connectors,
                      tuple(notes))


def _roads(net: TntpNet, notes: list[str]) -> tuple[dict[tuple[int, int], float], int]:
    """Opposite and repeated links as one road with the shorter length, keyed by (lower,
    higher) node number; and how many links took the free-flow time for a length of 0."""
    roads: dict[tuple[int, int], float] = {}
    time_for_length = 0
    loops = 0
    for link in net.links:
        if link.init == link.term:
            loops += 1
            continue
        length = link.length
        if length == 0 and link.free_flow_time > 0:
            length = link.free_flow_time
            time_for_length += 1
        key = (min(link.init, link.term), max(link.init, link.term))
        roads[key] = min(length, roads.get(key, math.inf))
    if loops:
        notes.append(f"{loops} links from a node to itself were dropped")
    return roads, time_for_length


def _centroids_as_leaves(roads: dict[tuple[int, int], float], first_thru: int,
                         coordinates: dict[int, tuple[float, float]] | None) -> int:
    """Zone centroids below ``<FIRST THRU NODE>`` keep their shortest connector only (module
    docstring): ``roads`` loses the others, and their number is returned."""
    if first_thru <= 1:
        return 0
    by_zone: dict[int, list[tuple[int, int]]] = {}
    for key in roads:
        for end in key:
            if end < first_thru:
                by_zone.setdefault(end, []).append(key)

    def rank(zone: int, key: tuple[int, int]) -> tuple[float, ...]:
        other = key[0] if key[1] == zone else key[1]
        through = 0 if other >= first_thru else 1
        gap = 0.0
        if coordinates and zone in coordinates and other in coordinates:
            (x0, y0), (x1, y1) = coordinates[zone], coordinates[other]
            gap = math.hypot(x1 - x0, y1 - y0)
        return (through, roads[key], gap, other)

    keep = {min(keys, key=lambda k, z=zone: rank(z, k)) for zone, keys in by_zone.items()}
    dropped = 0
    for key in [k for keys in by_zone.values() for k in keys]:
        if key not in keep and key in roads:
            del roads[key]
            dropped += 1
    return dropped


def _node_numbers(net: TntpNet, roads: dict[tuple[int, int], float],
                  productions: dict[int, float] | None, notes: list[str]) -> list[int]:
    """The nodes that have a road or produce trips, ascending."""
    numbers = sorted({end for key in roads for end in key}
                     | ({z for z in productions if productions[z] > 0} if productions else set()))
    declared = net.number("NUMBER OF NODES")
    if declared is not None and declared != len(numbers):
        notes.append(f"{net.source}: the header says {declared} nodes, "
                     f"{len(numbers)} have roads")
    return numbers


def _population(net: TntpNet, numbers: list[int], productions: dict[int, float] | None
                ) -> np.ndarray:
    """People per node: the trip productions, or :data:`DEFAULT_ZONE_POPULATION` per zone."""
    first_thru = net.first_thru_node
    zones_declared = net.number("NUMBER OF ZONES")
    if productions is not None:
        return np.array([round(productions.get(node, 0.0), 6) for node in numbers])
    if first_thru > 1:
        is_zone = [node < first_thru for node in numbers]
    elif zones_declared:
        is_zone = [node <= zones_declared for node in numbers]
    else:
        is_zone = [True] * len(numbers)
    return np.where(is_zone, DEFAULT_ZONE_POPULATION, 0.0)


def _coordinates(numbers: list[int], coordinates: dict[int, tuple[float, float]] | None,
                 projection: LocalProjection | None, nodes_source: str
                 ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The nodes' x and y, projected if asked; ``None`` without coordinates.

    Raises
    ------
    InputError
        If a node has no coordinates.
    """
    if coordinates is None:
        return None, None
    missing = [node for node in numbers if node not in coordinates]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise InputError(nodes_source, [Problem("", f"no coordinates for {len(missing)} "
                                                    f"node(s) of the network: {shown}")])
    x = np.array([coordinates[node][0] for node in numbers])
    y = np.array([coordinates[node][1] for node in numbers])
    if projection is not None:
        x, y = projection(x, y)
    return x, y


@dataclass(frozen=True)
class TntpOptions:
    """What ``resilience generate tntp`` asks for besides the files."""

    depots: int = 5
    shelters: int = 5
    scenarios: int = 20
    seed: int = 0
    commodities: int = 2
    budget_share: float = 0.3
    reach_share: float = REACH_SHARE
    lonlat: bool | None = None  # None: GeoJSON node files are lon/lat, TNTP ones are not
    name: str | None = None
    source: str = SOURCE
    notes: str = ""  # appended to the description (units, caveats of this network)


def tntp_instance(net_path: str | Path, nodes_path: str | Path | None = None,
                  trips_path: str | Path | None = None,
                  options: TntpOptions | None = None) -> tuple[dict[str, Any], list[str]]:
    """An instance from TNTP files.

    Parameters
    ----------
    net_path, nodes_path, trips_path
        The net file, and optionally node coordinates (TNTP or GeoJSON) and a trip table.
    options
        Counts, seed and shares (:class:`TntpOptions`).

    Returns
    -------
    tuple
        The instance dict (write it with :func:`optimizer.sources.importers.dumps_instance`) and
        warnings worth showing a user (header counts that disagree with the data, nodes
        left out).

    Raises
    ------
    InputError
        A file cannot be read or parsed; the message names the file and the line.
    ValueError
        The options do not fit the network (more facilities than through nodes, ...).
    """
    o = options or TntpOptions()
    net_path = Path(net_path)
    net = parse_net(read_text(net_path), str(net_path))
    coordinates, projection = _read_nodes(nodes_path, o)
    productions = parse_trips(read_text(trips_path), str(trips_path)) if trips_path else None
    imported = tntp_network(net, coordinates, productions, projection=projection,
                            nodes_source=str(nodes_path))
    _check_fit(imported, o)
    extent = network_extent(imported.network)
    generator = hazard_footprint(imported.network, o.scenarios, o.seed, extent=extent)
    assembly = Assembly(
        name=o.name or net_path.name.removesuffix(".tntp").removesuffix("_net"),
        description="", placement=Spread(o.depots, o.shelters), commodities=o.commodities,
        budget_share=o.budget_share, reach_share=o.reach_share,
        crs=None if projection is None else projection.crs(),
    )
    assembled = assemble(imported.network, assembly, np.random.default_rng(o.seed),
                         scenario_generators=[generator])
    document = assembled.document
    files = _Files(net_path, nodes_path, trips_path)
    document["description"] = _describe(net, imported, o, assembled.diameter, extent,
                                        generator, files, projection, document)
    return document, list(imported.notes)


def _read_nodes(nodes_path: str | Path | None, o: TntpOptions
                ) -> tuple[dict[int, tuple[float, float]] | None, LocalProjection | None]:
    """The node file's coordinates, and the projection that takes them to metres when they
    are longitude and latitude.

    Raises
    ------
    InputError
        If coordinates said to be longitude and latitude are out of range.
    """
    if nodes_path is None:
        return None, None
    nodes_text = read_text(nodes_path)
    coordinates = parse_nodes(nodes_text, str(nodes_path))
    lonlat = o.lonlat if o.lonlat is not None else nodes_text.lstrip().startswith("{")
    if not (lonlat and coordinates):
        return coordinates, None
    values = np.array(list(coordinates.values()))
    if np.abs(values[:, 0]).max() > 180 or np.abs(values[:, 1]).max() > 90:
        raise InputError(nodes_path, [Problem("", "coordinates out of longitude/"
                                                  "latitude range; are they "
                                                  "projected already? (--no-lonlat)")])
    return coordinates, LocalProjection.around(values[:, 0], values[:, 1])


def _check_fit(imported: TntpImport, o: TntpOptions) -> None:
    """Raise ValueError when the options do not fit the network."""
    if not (imported.network.population > 0).any():
        raise ValueError("no zone has people: the trip table produces no trips from the "
                         "network's nodes")
    if o.scenarios < 1:
        raise ValueError(f"scenarios must be at least 1 (got {o.scenarios})")
    through = int(imported.through.sum())
    if o.depots + o.shelters > through:
        raise ValueError(f"depots + shelters ({o.depots + o.shelters}) must not exceed the "
                         f"{through} through nodes: every facility stands at its own one")


# ------------------------------------------------------------------------- description


@dataclass(frozen=True)
class _Files:
    """The files an instance came from."""

    net: Path
    nodes: str | Path | None
    trips: str | Path | None


def _describe(net: TntpNet, imported: TntpImport, o: TntpOptions, diameter: float,
              extent: float, generator: dict[str, Any], files: _Files,
              projection: LocalProjection | None, document: dict[str, Any]) -> str:
    """The instance's description: sources, and every rule of the import with its numbers."""
    parts = [*_describe_network(net, imported, o, files),
             *_describe_people(imported, files, projection),
             _describe_facilities(o, diameter, document),
             _describe_hazards(extent, generator, files, projection)]
    if imported.notes:
        parts.append("Import notes: " + "; ".join(n.replace(f"{net.source}: ", "")
                                                 for n in imported.notes) + ".")
    if o.notes:
        parts.append(o.notes)
    return " ".join(parts)


def _describe_network(net: TntpNet, imported: TntpImport, o: TntpOptions, files: _Files
                      ) -> list[str]:
    network = imported.network
    first_thru = net.first_thru_node
    names = [f"{files.net.name} (links)"]
    if files.nodes is not None:
        names.append(f"{Path(files.nodes).name} (node coordinates)")
    if files.trips is not None:
        names.append(f"{Path(files.trips).name} (trip table)")
    parts = [
        f"Real road network imported by optimizer.sources.importers.tntp from the TNTP files "
        f"{', '.join(names)}. Source: {o.source}.",
        f"Network: {network.num_nodes} nodes and {network.num_edges} undirected roads from "
        f"{imported.directed_links} directed links; the links of both directions between two "
        "nodes are one road with the shorter length (either direction may be used in an "
        "emergency). Lengths are the file's length column in its own units"
        + (f", or the free-flow time for the {imported.time_for_length} links whose length "
           "is 0" if imported.time_for_length else "") + ".",
    ]
    if first_thru > 1:
        parts.append(
            f"<FIRST THRU NODE> is {first_thru}: nodes 1-{first_thru - 1} are zone "
            "centroids that traffic may not pass through, so each keeps only its shortest "
            "connector to a through node (ties: the nearest by coordinates, then the lowest "
            f"node number) and is a leaf of the graph ({imported.dropped_connectors} other "
            "connectors dropped); depots and shelters stand at through nodes only.")
    else:
        parts.append("<FIRST THRU NODE> is 1: every node may carry through traffic.")
    return parts


def _describe_people(imported: TntpImport, files: _Files,
                     projection: LocalProjection | None) -> list[str]:
    total = float(imported.network.population.sum())
    if files.trips is not None:
        parts = [
            f"Population: each zone's trip productions (its row sum in the OD table) stand "
            f"in for its people, {total:,.{0 if total == int(total) else 1}f} in all over "
            f"{len(imported.zones)} zones; a "
            "trip table counts trips, not residents, so this places people where trips "
            "start."]
    else:
        parts = [f"Population: no trip table, so each zone has "
                 f"{DEFAULT_ZONE_POPULATION:,.0f} people ({total:,.0f} in all)."]
    if files.nodes is None:
        parts.append("No coordinates: hazards measure road distances from an epicentre node.")
    elif projection is not None:
        parts.append(f"Coordinates are longitude/latitude, projected to metres with a "
                     f"{projection.describe()}.")
    else:
        parts.append("Coordinates are the node file's, unprojected.")
    return parts


def _describe_facilities(o: TntpOptions, diameter: float, document: dict[str, Any]) -> str:
    policy = document["policy"]
    return (
        f"Facilities (none in the data): {len(document['depots'])} candidate depots and "
        f"{len(document['shelters'])} candidate shelters at through nodes spread over the "
        f"network by farthest-point sampling on road distance (seed {o.seed}). Money follows "
        "optimizer.sources.synthetic's conventions scaled to the population: economic "
        "exposure 20-60 "
        "per person; each depot holds 50-100% of an equal share of everyone's need and its "
        "building costs 30-60% of filling it; each shelter has places for 5-15% of an equal "
        "share of everyone at 40-80 per place, plus 1-4 modules of 20-40% of its places at "
        "30-60 per place; the compensation pool may reach a tenth of all exposure; the budget "
        f"is {o.budget_share:.0%} of the cost of opening, filling and reserving everything. "
        f"Supply and evacuation reach {policy['supply_reach']:g} are {o.reach_share:g} of the "
        f"network's weighted diameter ({diameter:g}).")


def _describe_hazards(extent: float, generator: dict[str, Any], files: _Files,
                      projection: LocalProjection | None) -> str:
    radius = generator["radius"]
    unit = (" m" if projection is not None else "" if files.nodes is not None
            else " (length units)")
    fragility = generator["fragility"]
    return (
        f"Scenarios: the hazard_footprint generator '{generator['name']}' expands into "
        f"{generator['count']} equally likely hazards when the file is loaded (seed "
        f"{generator['seed']}), the synthetic instances' hazards scaled to this network: "
        f"epicentres at zones drawn by population, radius {radius[0]:g}-{radius[1]:g}{unit} "
        f"({RADIUS_SHARE[0]:.0%}-{RADIUS_SHARE[1]:.0%} of the network's extent, "
        f"{significant(extent):g}); a road fails with a {fragility['curve']} "
        f"probability of its midpoint's distance (median {fragility['median']:g}, spread "
        f"{fragility['spread']:g} of the radius); facilities lose up to "
        f"{generator['facility_loss']:.0%} and zones have up to {generator['affected']:.0%} of "
        f"their people affected, falling to 0 at the radius; {generator['evacuation_rate']:.0%} "
        f"of the affected seek a shelter and {generator['economic_loss_rate']:.0%} of their "
        "exposure is lost.")


__all__ = [
    "DEFAULT_ZONE_POPULATION",
    "Link",
    "TntpImport",
    "TntpNet",
    "TntpOptions",
    "parse_net",
    "parse_nodes",
    "parse_trips",
    "split_metadata",
    "tntp_instance",
    "tntp_network",
]
