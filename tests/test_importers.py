"""Real networks: TNTP and city GIS importers, ``generate tntp|geojson``, shipped instances.

The real data ship in the repository (``instances/data/``, each source with its SOURCES.md
and licence), so a clone from anywhere runs every test here and nothing is skipped.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner, Result

from optimizer.cli.generate_real import geojson, tntp
from optimizer.errors import InputError
from optimizer.instance.checks import run_checks
from optimizer.instance.reading import load_instance
from optimizer.instance.schema import InstanceFile
from optimizer.pipeline import VERIFICATION_TOL, solve_and_verify
from optimizer.report import render_report
from optimizer.results.document import parse_result
from optimizer.solvers.contract import SolveOptions
from optimizer.sources.importers import LocalProjection, apportion, dumps_instance
from optimizer.sources.importers.tntp import (
    DEFAULT_ZONE_POPULATION,
    TntpOptions,
    parse_net,
    parse_nodes,
    parse_trips,
    tntp_instance,
    tntp_network,
)
from optimizer.sources.network import RoadNetwork, largest_component, spread_sites

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "instances" / "data"
TNTP = DATA / "transportation_networks"
SIOUX = TNTP / "SiouxFalls"

# A small net file with the variations of the real ones: tags with trailing tabs, a
# header comment, blank lines, comments between rows, rows led by a tab and ended by ';'.
NET = """<NUMBER OF ZONES> 2\t\t\t
<NUMBER OF NODES> 6
<FIRST THRU NODE> 3\t
<NUMBER OF LINKS> 13
<ORIGINAL HEADER>~ \tInit node \tTerm node \tCapacity \tLength \tFFT\t;
<END OF METADATA>\t\t


~\tinit_node\tterm_node\tcapacity\tlength\tfree_flow_time\tb\tpower\tspeed\ttoll\ttype\t;
\t1\t3\t900\t2\t2\t0.15\t4\t0\t0\t1\t;
\t3\t1\t900\t2\t2\t0.15\t4\t0\t0\t1\t;
\t1\t5\t900\t1\t1\t0.15\t4\t0\t0\t1\t;
\t5\t1\t900\t1\t1\t0.15\t4\t0\t0\t1\t;
 \t2   \t4  \t900 \t0.0 \t7.0 \t0.15 \t4 \t0 \t0 \t1 \t;\x20
\t4\t2\t900\t0\t9\t0.15\t4\t0\t0\t1\t;
~ the opposite direction is shorter: the road takes 3
\t3\t4\t900\t4\t4\t0.15\t4\t0\t0\t1\t;
\t4\t3\t900\t3\t3\t0.15\t4\t0\t0\t1\t;
\t4\t5\t900\t5\t5\t0.15\t4\t0\t0\t1\t;
\t5\t6\t900\t2\t2\t0.15\t4\t0\t0\t1\t;
\t6\t3\t900\t1\t1\t0.15\t4\t0\t0\t1\t;
\t1\t2\t900\t0.5\t0.5\t0.15\t4\t0\t0\t1\t;
\t2\t1\t900\t0.5\t0.5\t0.15\t4\t0\t0\t1\t;
"""
TRIPS = """<NUMBER OF ZONES> 2
<TOTAL OD FLOW> 30.0
<END OF METADATA>


Origin \t1\x20
    1 :      0.0;     2 :     10.0;\x20

Origin 2
1 \t: \t15.5; \t2 \t: \t4.5; \t
"""
NODES = """Node\tX\tY\t;
1\t0\t0\t;
2\t4\t4\t;
3\t1\t0\t;
4\t3\t3\t;
5\t1\t1\t;
6\t2\t0\t;
"""


def _module(name: str) -> ModuleType:
    """``instances/NAME.py`` as a module (``instances`` is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "instances" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _roads(doc: dict[str, Any]) -> dict[frozenset[str], float]:
    return {frozenset((e["from"], e["to"])): e["length"] for e in doc["network"]["edges"]}


def _graph(doc: dict[str, Any]) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(n["id"] for n in doc["network"]["nodes"])
    graph.add_weighted_edges_from((e["from"], e["to"], e["length"])
                                  for e in doc["network"]["edges"])
    return graph


def _valid(doc: dict[str, Any]) -> None:
    parsed = InstanceFile.model_validate(json.loads(dumps_instance(doc)))
    assert run_checks(parsed) == []


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _solve_verified(path: Path, time_limit: float | None = None) -> dict[str, Any]:
    solved = solve_and_verify(load_instance(path), SolveOptions(time_limit=time_limit))
    document = solved.document
    assert document["status"] in ("optimal", "feasible"), document.get("message")
    assert solved.verification.max_difference < VERIFICATION_TOL
    assert not solved.verification.violations
    return document


# ------------------------------------------------------------------------- TNTP parsing


def test_net_metadata_comments_and_rows() -> None:
    net = parse_net(NET, "small_net.tntp")
    assert net.metadata["NUMBER OF ZONES"] == "2"
    assert net.metadata["NUMBER OF LINKS"] == "13"
    assert net.first_thru_node == 3
    assert len(net.links) == 13
    first = net.links[0]
    assert (first.init, first.term, first.length, first.free_flow_time) == (1, 3, 2.0, 2.0)
    assert net.links[4].line == 14  # line numbers count the header, blanks and comments


def test_directions_merge_into_the_shorter_road_and_centroids_become_leaves() -> None:
    imported = tntp_network(parse_net(NET), parse_nodes(NODES), parse_trips(TRIPS))
    net = imported.network
    roads = {frozenset((net.node_ids[u], net.node_ids[v])): length for u, v, length in
             zip(net.edge_from, net.edge_to, net.edge_length, strict=True)}
    assert roads == {
        frozenset(("1", "5")): 1.0,  # zone 1's shortest connector to a through node
        frozenset(("2", "4")): 7.0,  # length 0: free-flow time, the shorter direction
        frozenset(("3", "4")): 3.0,  # the shorter of the two directions
        frozenset(("4", "5")): 5.0,
        frozenset(("5", "6")): 2.0,  # a one-way link is a road too
        frozenset(("3", "6")): 1.0,
    }
    assert imported.dropped_connectors == 2  # 1-3, and the zone-to-zone link 1-2
    assert imported.time_for_length == 2
    degree = np.bincount(np.concatenate([net.edge_from, net.edge_to]))
    for zone in ("1", "2"):
        assert degree[net.node_ids.index(zone)] == 1  # a leaf: no path passes through it
    assert list(imported.through) == [n not in ("1", "2") for n in net.node_ids]
    population = dict(zip(net.node_ids, net.population, strict=True))
    assert population == {"1": 10.0, "2": 20.0, "3": 0.0, "4": 0.0, "5": 0.0, "6": 0.0}
    assert net.x is not None and list(net.x) == [0, 4, 1, 3, 1, 2]


def test_without_trips_each_zone_gets_the_default_population() -> None:
    net = tntp_network(parse_net(NET)).network
    assert net.x is None
    assert dict(zip(net.node_ids, net.population, strict=True))["1"] == DEFAULT_ZONE_POPULATION
    assert float(net.population.sum()) == 2 * DEFAULT_ZONE_POPULATION


def test_trips_are_summed_per_origin() -> None:
    assert parse_trips(TRIPS) == {1: 10.0, 2: 20.0}


def test_geojson_node_file() -> None:
    text = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": 7},
         "geometry": {"type": "Point", "coordinates": [-117.9, 33.8]}}]})
    assert parse_nodes(text) == {7: (-117.9, 33.8)}


@pytest.mark.parametrize(("parse", "text", "message"), [
    (parse_net, "<END OF METADATA>\n\t1\t2\t100\t;\n", "line 2: expected at least 5 fields"),
    (parse_net, "<END OF METADATA>\n1\t2\t9\t1\t1\t;\nx\t2\t100\t1\t1\t;\n",
     "line 3: node numbers must be whole numbers"),
    (parse_net, "<END OF METADATA>\n1\t2\t9\t-1\t1\t;\n", "line 2: length and free flow"),
    (parse_net, "<END OF METADATA>\nOrigin 1\n2 : 3.0;\n", "this is a trip table"),
    (parse_net, "<END OF METADATA>\n~ nothing\n", "no links"),
    (parse_trips, "<END OF METADATA>\n2 : 3.0;\n", "line 2: destination flows before"),
    (parse_trips, "<END OF METADATA>\nOrigin 1\n2 : 3.0; 3 = 4;\n",
     "line 3: expected 'destination : flow'"),
    (parse_nodes, "Node X Y ;\n1 0.5 ;\n", "line 2: expected 'node x y'"),
])
def test_unparsable_input_names_the_file_and_line(parse: Any, text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse(text, "some.tntp")
    assert str(info.value).startswith("some.tntp: ")
    assert message in str(info.value)


def test_missing_coordinates_name_the_node_file() -> None:
    with pytest.raises(InputError, match=r"nodes.tntp: no coordinates for 1 node\(s\).*: 6"):
        tntp_network(parse_net(NET), parse_nodes(NODES.replace("6\t2\t0\t;\n", "")),
                     nodes_source="nodes.tntp")


# ----------------------------------------------------------------------- shared helpers


def test_apportion_is_exact_and_proportional() -> None:
    people = apportion(1000, np.array([1.0, 1.0, 1.0, 0.0]))
    assert people.sum() == 1000 and list(people) == [334, 333, 333, 0]


def test_local_projection_measures_metres() -> None:
    projection = LocalProjection(0.0, 42.0)
    x, y = projection(np.array([0.001]), np.array([42.001]))
    assert x[0] == pytest.approx(6_371_008.8 * math.radians(0.001) * math.cos(math.radians(42)))
    assert y[0] == pytest.approx(111.195, abs=1e-3)


def test_spread_sites_are_deterministic_and_far_apart() -> None:
    n = 11  # a path 0-1-...-10
    path = RoadNetwork(tuple(map(str, range(n))), np.ones(n), np.arange(n - 1),
                       np.arange(1, n), np.ones(n - 1), tuple(map(str, range(n - 1))))
    rng = np.random.default_rng
    first = spread_sites(path, np.arange(n), 3, rng(4))
    assert first == spread_sites(path, np.arange(n), 3, rng(4))
    assert first[1] == (0 if first[0] > 5 else 10)  # then the far end of the path
    assert min(abs(a - b) for a in first for b in first if a != b) >= 3
    lonely = RoadNetwork(("a", "b", "c"), np.ones(3), np.array([0]), np.array([1]),
                         np.ones(1), ("a-b",))
    kept, dropped = largest_component(lonely)
    assert kept.node_ids == ("a", "b") and dropped == ["c"]


# ----------------------------------------------------------------------- Sioux Falls


def _csv(name: str) -> list[list[str]]:
    lines = (SIOUX / "CSV-data" / name).read_text(encoding="utf-8").splitlines()[1:]
    return [line.split(",") for line in lines if line.strip()]


def test_sioux_falls_import_matches_the_data() -> None:
    doc, warnings = tntp_instance(SIOUX / "SiouxFalls_net.tntp", SIOUX / "SiouxFalls_node.tntp",
                                  SIOUX / "SiouxFalls_trips.tntp",
                                  TntpOptions(scenarios=3, lonlat=True))
    assert warnings == []
    assert len(doc["network"]["nodes"]) == 24
    assert len(doc["network"]["edges"]) == 38
    # Checked against the repository's CSV copy of the same network: a0 is the free-flow
    # time, which Sioux Falls uses as length; each unordered pair is one road.
    expected: dict[frozenset[str], float] = {}
    for _, a, b, a0, *_ in _csv("SiouxFalls_net.csv"):
        key = frozenset((a, b))
        expected[key] = min(float(a0), expected.get(key, math.inf))
    assert _roads(doc) == expected
    productions: dict[str, float] = {}
    for origin, _, flow in _csv("SiouxFalls_od.csv"):
        productions[origin] = productions.get(origin, 0.0) + float(flow)
    assert {n["id"]: n["population"] for n in doc["network"]["nodes"]} == productions
    assert sum(productions.values()) == 360_600
    assert doc["scenario_generators"][0]["kind"] == "hazard_footprint"
    assert nx.is_connected(_graph(doc))
    _valid(doc)


def test_same_seed_same_instance_other_seed_other_sites() -> None:
    files = (SIOUX / "SiouxFalls_net.tntp", SIOUX / "SiouxFalls_node.tntp",
             SIOUX / "SiouxFalls_trips.tntp")
    first = tntp_instance(*files, TntpOptions(seed=3))[0]
    assert dumps_instance(first) == dumps_instance(tntp_instance(*files, TntpOptions(seed=3))[0])
    other = tntp_instance(*files, TntpOptions(seed=4))[0]
    assert other["scenario_generators"][0]["seed"] == 4
    assert [d["node"] for d in first["depots"]] != [d["node"] for d in other["depots"]]


# ------------------------------------------------------------------- shipped instances


@pytest.mark.parametrize("name", ["siouxfalls", "cambridge"])
def test_shipped_instance_is_rebuilt_identically(name: str) -> None:
    script = _module(f"make_{name}")
    committed = (ROOT / "instances" / f"{name}.json").read_text(encoding="utf-8")
    assert dumps_instance(script.build()) == committed


# (west, south, east, north) in degrees: the City of Cambridge, MA (US Census TIGER place
# boundary, with 0.01 degree of margin for the streets that cross the city line) and the
# City of Sioux Falls, SD.
CITY_BOUNDS = {"cambridge": (-71.171, 42.342, -71.053, 42.414),
               "siouxfalls": (-96.84, 43.46, -96.63, 43.64)}


@pytest.mark.parametrize("name", ["siouxfalls", "cambridge"])
def test_shipped_instance_validates_and_solves_verified(name: str) -> None:
    path = ROOT / "instances" / f"{name}.json"
    assert path.stat().st_size < 1_000_000
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert "Licence" in doc["description"] and "https://github.com/" in doc["description"]
    instance = load_instance(path)
    assert len(instance.scenarios) == (20 if name == "siouxfalls" else 5)
    assert all(s.failed_edges for s in instance.scenarios if s.id.startswith("flood"))
    result = _solve_verified(path)
    assert 0 < result["resilience"]["worst_case"] <= result["resilience"]["expected"] <= 1
    # The GeoJSON report lands in the city, in longitude and latitude (RFC 7946), where a
    # GIS (geopandas, QGIS) reading EPSG:4326 puts it.
    west, south, east, north = CITY_BOUNDS[name]
    collection = json.loads(render_report(parse_result(result), "geojson", instance))
    assert "crs" not in collection and "equirectangular" in collection["crs_source"]
    points = [c for f in collection["features"] for c in (
        [f["geometry"]["coordinates"]] if f["geometry"]["type"] == "Point"
        else f["geometry"]["coordinates"])]
    assert len(points) > instance.network.num_nodes
    for lon, lat in points:
        assert west <= lon <= east and south <= lat <= north, (lon, lat)


def test_cambridge_holds_the_fifteen_shelters_and_the_census_population() -> None:
    doc = json.loads((ROOT / "instances" / "cambridge.json").read_text(encoding="utf-8"))
    shelters = {h["id"]: h["capacity"] for h in doc["shelters"]}
    assert len(shelters) == 15
    assert shelters["cambridge-rindge-and-latin"] == 4618
    assert sum(shelters.values()) == 10_457 + shelters["gately-youth-center"]
    assert sum(n["population"] for n in doc["network"]["nodes"]) == 118_403
    zones = [z["id"] for z in doc["scenario_generators"][0]["zones"]]
    assert zones == ["100-year", "500-year"]
    assert "2020" in doc["description"] and "PDDL" in doc["description"]


# ------------------------------------------------------ a TNTP network not tried before


def _invoke(command: Any, *args: Any) -> Result:
    return CliRunner().invoke(command, [str(a) for a in args])


@pytest.mark.parametrize(("folder", "net", "nodes", "trips"), [
    ("Berlin-Friedrichshain", "friedrichshain-center_net.tntp",
     "friedrichshain-center_node.tntp", "friedrichshain-center_trips.tntp"),
    ("Anaheim", "Anaheim_net.tntp", "anaheim_nodes.geojson", "Anaheim_trips.tntp"),
    ("Eastern-Massachusetts", "EMA_net.tntp", None, "EMA_trips.tntp"),
])
def test_another_tntp_network_imports_and_solves(tmp_path: Path, folder: str, net: str,
                                                 nodes: str | None, trips: str) -> None:
    out = tmp_path / "net.json"
    args = ["--net", TNTP / folder / net, "--trips", TNTP / folder / trips,
            "--scenarios", 3, "--seed", 11, "-o", out]
    if nodes:
        args += ["--nodes", TNTP / folder / nodes]
    result = _invoke(tntp, *args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output.replace("\n", "")
    doc = json.loads(out.read_text(encoding="utf-8"))
    first_thru = int(next(line for line in (TNTP / folder / net).read_text().splitlines()
                          if "FIRST THRU NODE" in line).split(">")[1].split()[0])
    graph = _graph(doc)
    assert nx.is_connected(graph)
    for node in graph:
        if int(node) < first_thru:
            assert graph.degree(node) == 1  # a centroid is a leaf
    for facility in doc["depots"] + doc["shelters"]:
        assert int(facility["node"]) >= first_thru
    _solve_verified(out, time_limit=20)


def test_generate_tntp_reports_bad_input_and_usage() -> None:
    wrong = _invoke(tntp, "--net", SIOUX / "SiouxFalls_trips.tntp", "-o", "x.json")
    assert wrong.exit_code == 2
    assert "SiouxFalls_trips.tntp: line 6: an 'Origin' block" in wrong.output
    crowded = _invoke(tntp, "--net", SIOUX / "SiouxFalls_net.tntp", "--depots", 20,
                      "--shelters", 10, "-o", "x.json")
    assert crowded.exit_code == 2 and "must not exceed the 24 through nodes" in crowded.output
    nowhere = _invoke(tntp, "--net", SIOUX / "SiouxFalls_net.tntp", "-o", "/no/such/x.json")
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.output
    for result in (wrong, crowded, nowhere):
        assert "Traceback" not in result.output


def test_generate_tntp_to_standard_output() -> None:
    result = CliRunner().invoke(
        tntp, ["--net", str(SIOUX / "SiouxFalls_net.tntp"), "--scenarios", "2", "-o", "-"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["network"]["edges"]) == 38
    assert "1,000 people per zone" not in doc["description"]
    assert "each zone has 1,000 people" in doc["description"]


# --------------------------------------------------------------------------- a small city

LAT = 42.0
STEP = 0.001  # degrees: about 83 m east-west and 111 m north-south at 42 degrees north


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _line(*points: tuple[float, float], **properties: Any) -> dict[str, Any]:
    coordinates = [[x * STEP, LAT + y * STEP] for x, y in points]
    return _feature({"type": "LineString", "coordinates": coordinates}, **properties)


def _collection(*features: dict[str, Any]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def _city(tmp_path: Path, *, ids: bool = True) -> tuple[Path, Path, Path]:
    """A 3x2 grid of blocks (12 junctions, 17 streets) plus a lone street far away."""
    features = []
    number = 0

    def node(x: int, y: int) -> int:
        return 100 + 10 * y + x

    for y in range(3):
        for x in range(4):
            for dx, dy in ((1, 0), (0, 1)):
                if x + dx > 3 or y + dy > 2:
                    continue
                number += 1
                properties: dict[str, Any] = {"Street": f"street {number}",
                                              "Direction": "1" if number % 3 else "0",
                                              "MajorRoad": 1 if y == dy == 0 else None}
                if ids:
                    properties |= {"FromNode": float(node(x, y)),
                                   "ToNode": float(node(x + dx, y + dy))}
                features.append(_line((x, y), (x + dx, y + dy), **properties))
    features.append(_line((50, 50), (51, 50), Street="lonely lane", FromNode=900.0,
                          ToNode=901.0))
    streets = _write(tmp_path, "streets.geojson", _collection(*features))
    point = {"type": "Point", "coordinates": [3 * STEP, LAT + 2 * STEP]}
    shelters = _write(tmp_path, "shelters.geojson", _collection(
        _feature(point, Name="North School", Capacity=120),
        _feature({"type": "Point", "coordinates": [0.1 * STEP, LAT + 1.9 * STEP]},
                 Name="West Hall", Capacity=None)))
    square = [[[-0.5 * STEP, LAT - 0.5 * STEP], [0.5 * STEP, LAT - 0.5 * STEP],
               [0.5 * STEP, LAT + 0.5 * STEP], [-0.5 * STEP, LAT + 0.5 * STEP],
               [-0.5 * STEP, LAT - 0.5 * STEP]]]
    hazard = _write(tmp_path, "low-corner.geojson", _collection(
        _feature({"type": "Polygon", "coordinates": square}),
        _feature({"type": "Point", "coordinates": [0, LAT]})))  # not a polygon: ignored
    return streets, shelters, hazard


def test_generate_geojson_builds_a_valid_city(tmp_path: Path) -> None:
    streets, shelters, hazard = _city(tmp_path)
    out = tmp_path / "city.json"
    result = _invoke(geojson, "--streets", streets, "--shelters", shelters, "--hazard", hazard,
                     "--population", 1000, "--depots", 2, "--seed", 5, "-o", out)
    assert result.exit_code == 0, result.output
    assert "lonely lane" in result.output  # the disconnected street is named in a warning
    doc = json.loads(out.read_text(encoding="utf-8"))
    nodes = {n["id"]: n for n in doc["network"]["nodes"]}
    assert len(nodes) == 12 and len(doc["network"]["edges"]) == 17
    assert "100" in nodes and "123" in nodes  # junctions named by FromNode/ToNode
    assert sum(n["population"] for n in nodes.values()) == 1000
    east = math.radians(STEP) * 6_371_008.8 * math.cos(math.radians(42.001))
    lengths = sorted({round(e["length"]) for e in doc["network"]["edges"]})
    assert lengths == [round(east), 111]  # metres, one-way streets included as two-way
    capacities = {h["id"]: h["capacity"] for h in doc["shelters"]}
    assert capacities == {"north-school": 120.0, "west-hall": 120.0}  # smallest listed
    assert {h["node"] for h in doc["shelters"]} == {"123", "120"}
    for depot in doc["depots"]:
        assert depot["node"] in {"100", "101", "102", "103"}  # on the major road
    zone = doc["scenario_generators"][0]["zones"][0]
    assert zone["id"] == "low-corner" and zone["geometry"]["type"] == "Polygon"
    instance = load_instance(out)
    by_id = {s.id: s for s in instance.scenarios}
    assert set(by_id) == {"evacuate-low-corner", "hazard-low-corner"}
    corner = instance.network.node_ids.index("100")
    assert by_id["hazard-low-corner"].evacuees[corner] > 0
    assert len(by_id["hazard-low-corner"].failed_edges) == 2  # the corner's two streets
    assert by_id["evacuate-low-corner"].failed_edges == ()
    assert by_id["evacuate-low-corner"].evacuees[corner] > 0
    _solve_verified(out)


def test_streets_without_ids_meet_at_shared_end_points(tmp_path: Path) -> None:
    streets, shelters, hazard = _city(tmp_path, ids=False)
    out = tmp_path / "city.json"
    result = _invoke(geojson, "--streets", streets, "--shelters", shelters, "--hazard", hazard,
                     "--depots", 1, "-o", out)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["network"]["nodes"]) == 12 and len(doc["network"]["edges"]) == 17
    assert "segment end(s) have no id" in result.output
    assert nx.is_connected(_graph(doc))


def test_population_gathered_onto_major_roads(tmp_path: Path) -> None:
    streets, shelters, hazard = _city(tmp_path)
    out = tmp_path / "city.json"
    result = _invoke(geojson, "--streets", streets, "--shelters", shelters, "--hazard", hazard,
                     "--population", 5000, "--zones", "major", "--depots", 1, "-o", out)
    assert result.exit_code == 0, result.output
    people = {n["id"]: n["population"] for n in
              json.loads(out.read_text(encoding="utf-8"))["network"]["nodes"]}
    assert sum(people.values()) == 5000
    assert {node for node, p in people.items() if p > 0} == {"100", "101", "102", "103"}


def test_generate_geojson_names_the_file_and_feature(tmp_path: Path) -> None:
    streets, shelters, hazard = _city(tmp_path)
    broken = _write(tmp_path, "broken.geojson", _collection(
        _line((0, 0), (1, 0)), _feature({"type": "Point", "coordinates": [0, 0]})))
    result = _invoke(geojson, "--streets", broken, "--shelters", shelters, "--hazard", hazard,
                     "-o", tmp_path / "x.json")
    assert result.exit_code == 2
    assert f"{broken}: features[1].geometry: expected a LineString" in result.output
    bad_capacity = _write(tmp_path, "bad.geojson", _collection(_feature(
        {"type": "Point", "coordinates": [0, LAT]}, Name="A", Capacity="many")))
    result = _invoke(geojson, "--streets", streets, "--shelters", bad_capacity, "--hazard",
                     hazard, "-o", tmp_path / "x.json")
    assert result.exit_code == 2
    assert "features[0].properties.Capacity: capacity must be a number" in result.output
    no_hazard = _invoke(geojson, "--streets", streets, "--shelters", shelters,
                        "-o", tmp_path / "x.json")
    assert no_hazard.exit_code == 2 and "--hazard" in no_hazard.output
    assert not (tmp_path / "x.json").exists()


def test_local_projection_is_the_crs_it_writes() -> None:
    """What the importers project by hand, pyproj undoes from the ``network.crs`` they write:
    so GeoJSON of an imported instance is where the source data were."""
    from optimizer.geo import to_lonlat
    from optimizer.instance.data import Crs

    lon = np.array([-71.16, -71.11, -71.06])
    lat = np.array([42.35, 42.38, 42.40])
    projection = LocalProjection.around(lon, lat)
    x, y = projection(lon, lat)
    back_lon, back_lat = to_lonlat(Crs(**projection.crs()), x, y)
    assert np.allclose(back_lon, lon, atol=1e-9) and np.allclose(back_lat, lat, atol=1e-9)


def test_city_layers_in_any_format_and_crs(tmp_path: Path) -> None:
    """With the gis extra: the same city as GeoPackage and Shapefile in Massachusetts state
    plane metres (EPSG:26986) gives the instance the GeoJSON gives (lengths to a
    millimetre), and its GeoJSON report lands where the streets were."""
    pyogrio = pytest.importorskip("pyogrio")
    import pyproj
    import shapely

    from optimizer.sources.importers.layers import read_layer

    streets, shelters, hazard = _city(tmp_path)
    to_plane = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:26986", always_xy=True)
    converted = {}
    for source, suffix in ((streets, ".gpkg"), (shelters, ".shp"), (hazard, ".gpkg")):
        document = json.loads(source.read_text(encoding="utf-8"))
        features = [f for f in document["features"]]
        shapes = [shapely.transform(shapely.geometry.shape(f["geometry"]),
                                    lambda c: np.column_stack(to_plane.transform(c[:, 0],
                                                                                 c[:, 1])))
                  for f in features]
        keys = sorted({k for f in features for k in f["properties"]})
        fields = [_column([f["properties"].get(k) for f in features]) for k in keys]
        target = tmp_path / f"{source.stem}{suffix}"
        kind = {".gpkg": "Unknown", ".shp": "Point"}[suffix]
        pyogrio.raw.write(target, shapely.to_wkb(shapes), fields, fields=keys,
                          crs="EPSG:26986", geometry_type=kind,
                          driver="GPKG" if suffix == ".gpkg" else "ESRI Shapefile")
        converted[source.name] = target
    back = read_layer(converted["streets.geojson"], None)
    first = json.loads(streets.read_text(encoding="utf-8"))["features"][0]
    assert np.allclose(back["features"][0]["geometry"]["coordinates"],
                       first["geometry"]["coordinates"], atol=1e-9)

    outs = []
    for files in ((streets, shelters, hazard), (converted["streets.geojson"],
                                                converted["shelters.geojson"],
                                                converted["low-corner.geojson"])):
        out = tmp_path / f"city-{len(outs)}.json"
        result = _invoke(geojson, "--streets", files[0], "--shelters", files[1], "--hazard",
                         files[2], "--hazard-id", "low-corner", "--population", 1000,
                         "--depots", 2, "--seed", 5, "-o", out)
        assert result.exit_code == 0, result.output
        outs.append(json.loads(out.read_text(encoding="utf-8")))
    plain, gis = outs
    assert [n["id"] for n in gis["network"]["nodes"]] == [n["id"] for n in plain["network"]
                                                          ["nodes"]]
    assert np.allclose([e["length"] for e in gis["network"]["edges"]],
                       [e["length"] for e in plain["network"]["edges"]], atol=1e-3)
    assert {h["id"]: h["capacity"] for h in gis["shelters"]} == {
        h["id"]: h["capacity"] for h in plain["shelters"]}
    assert gis["network"]["crs"]["projection"] == "equirectangular"


def _column(values: list[Any]) -> np.ndarray:
    """A layer's field as GDAL stores it: numbers as reals (missing: NaN), else text."""
    if all(v is None or isinstance(v, int | float) for v in values):
        return np.array([np.nan if v is None else float(v) for v in values])
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def test_a_layer_format_without_the_gis_extra_says_how_to_get_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from optimizer.sources.importers.layers import read_layer

    monkeypatch.setitem(sys.modules, "pyogrio", None)  # as if not installed
    with pytest.raises(InputError, match=r"needs the gis extra \(pip install"):
        read_layer(tmp_path / "streets.shp", None)
