"""Scenario generators: seeded and deterministic, right on hand-checked examples, and every
bad generator named by file and JSON path.

Bad files live in ``tests/data/generators/`` (one per failure mode, each a small network
with one thing wrong; its ``description`` says what), with ``zones.json`` the valid one.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from optimizer import generators
from optimizer.errors import InputError, UsageError
from optimizer.generators.betweenness import networkx_betweenness
from optimizer.generators.common import NetworkView
from optimizer.instance.checks import run_checks
from optimizer.instance.reading import build_instance, expand_generators, load_instance
from optimizer.instance.schema import Fragility, InstanceFile, Scenario
from optimizer.pipeline import solve_and_verify
from optimizer.sources.synthetic import grid_instance

DATA = Path(__file__).resolve().parent / "data" / "generators"

POLYGON_D = {"type": "Polygon",  # a square around D = (2, 2): covers D, crosses road BD
             "coordinates": [[[1.5, 1.5], [2.5, 1.5], [2.5, 2.5], [1.5, 2.5], [1.5, 1.5]]]}
FORD = {"type": "Polygon",  # a strip across road AB between its ends, covering no node
        "coordinates": [[[0.9, -1], [1.1, -1], [1.1, 1], [0.9, 1], [0.9, -1]]]}


def base_doc(*, xy: bool = True) -> dict[str, Any]:
    """A - B - C along y = 0 (roads of length 2) and a spur B - D up to (2, 2)."""
    nodes = [{"id": "A", "x": 0.0, "y": 0.0, "population": 100.0},
             {"id": "B", "x": 2.0, "y": 0.0, "population": 0.0},
             {"id": "C", "x": 4.0, "y": 0.0, "population": 100.0},
             {"id": "D", "x": 2.0, "y": 2.0, "population": 50.0, "economic_exposure": 100.0}]
    if not xy:
        for n in nodes:
            del n["x"], n["y"]
    return {
        "schema_version": 1,
        "name": "gen",
        "network": {"nodes": nodes, "edges": [
            {"id": "AB", "from": "A", "to": "B", "length": 2.0},
            {"id": "BC", "from": "B", "to": "C", "length": 2.0},
            {"id": "BD", "from": "B", "to": "D", "length": 2.0}]},
        "commodities": [{"id": "kit"}],
        "depots": [{"id": "dA", "node": "A", "fixed_cost": 10.0, "capacity": 200.0,
                    "unit_cost": {"kit": 1.0}},
                   {"id": "dC", "node": "C", "fixed_cost": 10.0, "capacity": 200.0,
                    "unit_cost": {"kit": 1.0}}],
        "shelters": [{"id": "hD", "node": "D", "fixed_cost": 10.0, "capacity": 100.0}],
        "compensation": {"max_pool": 50.0},
        "budget": 250.0,
        "policy": {"supply_reach": 10.0, "evacuation_reach": 10.0},
    }


def with_generators(*specs: dict[str, Any], xy: bool = True, **changes: Any) -> dict:
    doc = base_doc(xy=xy)
    doc["scenario_generators"] = list(specs)
    doc.update(changes)
    return doc


def expanded(doc: dict[str, Any]) -> list[Scenario]:
    """The generated scenarios of a valid dict (checks must pass first)."""
    parsed = InstanceFile.model_validate(copy.deepcopy(doc))
    assert run_checks(parsed) == []
    return generators.generate(parsed)


def dumped(doc: dict[str, Any]) -> str:
    return json.dumps([s.model_dump(mode="json") for s in expanded(doc)])


FOOTPRINT = {"kind": "hazard_footprint", "name": "quake", "count": 12, "seed": 3,
             "radius": [1.0, 3.0]}
SEEDED = {
    "footprint_uniform": (FOOTPRINT, True),
    "footprint_population": ({**FOOTPRINT, "epicentres": "population",
                              "fragility": {"curve": "lognormal", "median": 0.6,
                                            "spread": 0.4}}, True),
    "footprint_network": (FOOTPRINT, False),
    "random_failures": ({"kind": "random_failures", "name": "storm", "count": 12, "seed": 3,
                         "edge_failure": 0.4, "depot_failure": 0.3, "shelter_failure": 0.3},
                        True),
}


# ------------------------------------------------------------------------ determinism


@pytest.mark.parametrize("case", sorted(SEEDED))
def test_same_seed_gives_byte_identical_scenarios(case: str) -> None:
    spec, xy = SEEDED[case]
    doc = with_generators(spec, xy=xy)
    first = dumped(doc)
    np.random.seed(12345)  # the global generator must play no part
    np.random.random(7)
    assert dumped(doc) == first


@pytest.mark.parametrize("case", sorted(SEEDED))
def test_another_seed_gives_other_scenarios(case: str) -> None:
    spec, xy = SEEDED[case]
    one = [s.model_dump(exclude={"origin"}) for s in expanded(with_generators(spec, xy=xy))]
    other = [s.model_dump(exclude={"origin"})
             for s in expanded(with_generators({**spec, "seed": 4}, xy=xy))]
    assert one != other


@pytest.mark.parametrize("case", sorted(SEEDED))
def test_more_scenarios_keep_the_first_ones(case: str) -> None:
    spec, xy = SEEDED[case]
    few = dumped(with_generators({**spec, "count": 3}, xy=xy))
    many = json.loads(dumped(with_generators({**spec, "count": 6}, xy=xy)))
    assert json.loads(few) == many[:3]


def test_unseeded_generators_are_deterministic() -> None:
    doc = with_generators({"kind": "targeted", "name": "attack", "edges": 2},
                          {"kind": "hazard_zones", "name": "flood",
                           "zones": [{"id": "d", "geometry": POLYGON_D}]})
    assert dumped(doc) == dumped(doc)


def test_reseeded_changes_seeded_generators_only() -> None:
    parsed = InstanceFile.model_validate(with_generators(
        FOOTPRINT, {"kind": "targeted", "name": "attack", "edges": 1}))
    other = generators.reseeded(parsed, 100)
    assert [g.model_dump() for g in other.scenario_generators] == [
        {**parsed.scenario_generators[0].model_dump(), "seed": 103},
        parsed.scenario_generators[1].model_dump()]
    assert generators.generate(other)[-1] == generators.generate(parsed)[-1]
    assert generators.generate(other)[0] != generators.generate(parsed)[0]


# -------------------------------------------------------------------------- semantics


def test_ids_origin_rates_and_order() -> None:
    doc = with_generators({**FOOTPRINT, "count": 2, "evacuation_rate": 0.4},
                          {"kind": "random_failures", "name": "storm", "count": 2},
                          scenarios=[{"id": "given", "affected": {"A": 1.0}}])
    parsed = InstanceFile.model_validate(doc)
    full = generators.expand(parsed)
    assert [s.id for s in full.scenarios] == ["given", "quake-1", "quake-2", "storm-1",
                                             "storm-2"]
    assert full.scenario_generators == []
    assert generators.expand(full) is full
    quake = full.scenarios[1]
    assert quake.evacuation_rate == 0.4 and quake.economic_loss_rate == 0.5
    assert quake.origin is not None
    assert {k: quake.origin[k] for k in ("generator", "kind", "seed", "index", "distance")} == {
        "generator": "quake", "kind": "hazard_footprint", "seed": 3, "index": 1,
        "distance": "euclidean"}
    x, y = quake.origin["epicentre"]
    assert 0 <= x <= 4 and 0 <= y <= 2 and 1 <= quake.origin["radius"] <= 3
    assert full.scenarios[3].origin == {"generator": "storm", "kind": "random_failures",
                                        "seed": 0, "index": 1}


def test_probability_is_shared_by_a_generators_scenarios() -> None:
    doc = with_generators({**FOOTPRINT, "count": 4, "probability": 0.6},
                          {"kind": "hazard_zones", "name": "flood", "probability": 0.3,
                           "zones": [{"id": "d", "geometry": POLYGON_D},
                                     {"id": "ford", "geometry": FORD}]},
                          scenarios=[{"id": "given", "probability": 0.1,
                                      "affected": {"A": 1.0}}])
    instance = build_instance(InstanceFile.model_validate(doc))
    assert instance.probabilities == pytest.approx([0.1, 0.15, 0.15, 0.15, 0.15, 0.15, 0.15])
    assert not instance.warnings


def test_without_any_probability_all_scenarios_are_equally_likely() -> None:
    doc = with_generators({**FOOTPRINT, "count": 3},
                          scenarios=[{"id": "given", "affected": {"A": 1.0}}])
    instance = build_instance(InstanceFile.model_validate(doc))
    assert instance.probabilities == pytest.approx([0.25] * 4)


def test_fragility_curves() -> None:
    share = np.array([0.0, 0.25, 0.5, 1.0, 2.0])
    logistic = generators.failure_probability(share, Fragility(median=0.5, spread=0.1))
    assert logistic[2] == pytest.approx(0.5)
    assert logistic[0] == pytest.approx(1 / (1 + math.exp(-5)))
    lognormal = generators.failure_probability(share, Fragility(curve="lognormal",
                                                                median=0.5, spread=0.4))
    assert lognormal[0] == 1.0 and lognormal[2] == pytest.approx(0.5)
    assert lognormal[3] == pytest.approx(0.5 * math.erfc(math.log(2) / 0.4 / math.sqrt(2)))
    for p in (logistic, lognormal):
        assert np.all(np.diff(p) < 0)  # survival rises with distance


# A curve that is a step: certain failure inside 0.9 of the radius, none beyond.
STEP = {"curve": "logistic", "median": 0.9, "spread": 0.001}


def test_footprint_by_hand_with_coordinates() -> None:
    # Only A has people, so the epicentre is A = (0, 0); the radius is exactly 3.
    doc = with_generators({"kind": "hazard_footprint", "name": "q", "count": 1,
                           "epicentres": "population", "radius": [3.0, 3.0],
                           "fragility": STEP, "facility_loss": 0.5, "affected": 0.8})
    doc["network"]["nodes"][2]["population"] = 0.0
    doc["network"]["nodes"][3]["population"] = 0.0
    (s,) = expanded(doc)
    # Midpoints: AB (1, 0) at 1/3 of the radius; BD (2, 1) at sqrt(5)/3 = 0.745; BC (3, 0)
    # at exactly the radius, outside the footprint.
    assert s.failed_edges == ["AB", "BD"]
    assert s.depot_loss == {"dA": 0.5}  # dC is at C, 4 away
    assert s.shelter_loss == pytest.approx({"hD": 0.5 * (1 - math.sqrt(8) / 3)}, abs=1e-6)
    assert s.affected == pytest.approx({"A": 0.8, "B": 0.8 / 3,
                                        "D": 0.8 * (1 - math.sqrt(8) / 3)}, abs=1e-6)
    assert s.origin is not None and s.origin["epicentre"] == [0.0, 0.0]
    assert s.origin["epicentre_node"] == "A" and s.origin["radius"] == 3.0


def test_footprint_by_hand_on_graph_distances() -> None:
    # No coordinates: the epicentre is node A, distances are road lengths: B 2, C and D 4.
    doc = with_generators({"kind": "hazard_footprint", "name": "q", "count": 1,
                           "epicentres": "population", "radius": [3.0, 3.0],
                           "fragility": STEP, "facility_loss": 1.0, "affected": 0.6},
                          xy=False)
    doc["network"]["nodes"][2]["population"] = 0.0
    doc["network"]["nodes"][3]["population"] = 0.0
    (s,) = expanded(doc)
    # Road midpoints: AB at 1 (1/3 of the radius), BC and BD at 3 (the radius: outside).
    assert s.failed_edges == ["AB"]
    assert s.depot_loss == {"dA": 1.0}
    assert s.affected == pytest.approx({"A": 0.6, "B": 0.2})
    assert s.origin is not None
    assert s.origin["epicentre"] == "A" and s.origin["distance"] == "network"


def test_a_footprint_of_no_size_covers_nothing() -> None:
    for xy in (True, False):
        doc = with_generators({**FOOTPRINT, "radius": [0.0, 0.0], "count": 5,
                               "epicentres": "population"}, xy=xy)
        for s in expanded(doc):
            assert (s.failed_edges, s.depot_loss, s.shelter_loss, s.affected) == (
                [], {}, {}, {})


def test_a_footprint_far_from_everything_covers_nothing() -> None:
    # Uniform epicentres in the network's bounding box, a radius of a millionth: no node
    # and no road midpoint is that close to a random point.
    doc = with_generators({**FOOTPRINT, "radius": [1e-6, 1e-6], "count": 20})
    assert all(not (s.failed_edges or s.depot_loss or s.shelter_loss or s.affected)
               for s in expanded(doc))


def test_random_failures_with_probability_zero_and_one() -> None:
    none = {"kind": "random_failures", "name": "calm", "count": 3, "edge_failure": 0.0,
            "depot_failure": 0.0, "shelter_failure": 0.0, "affected": 0.25}
    for s in expanded(with_generators(none)):
        assert (s.failed_edges, s.depot_loss, s.shelter_loss) == ([], {}, {})
        assert s.affected == dict.fromkeys("ABCD", 0.25)
    every = {**none, "name": "doom", "edge_failure": 1.0, "depot_failure": 1.0,
             "shelter_failure": 1.0, "affected": 1.0}
    for s in expanded(with_generators(every)):
        assert s.failed_edges == ["AB", "BC", "BD"]
        assert s.depot_loss == {"dA": 1.0, "dC": 1.0} and s.shelter_loss == {"hD": 1.0}
        assert s.affected == dict.fromkeys("ABCD", 1.0)


def test_random_failure_rates_are_about_right() -> None:
    doc = with_generators({"kind": "random_failures", "name": "r", "count": 400,
                           "edge_failure": 0.3, "depot_failure": 0.5})
    scenarios = expanded(doc)
    edge_rate = sum(len(s.failed_edges) for s in scenarios) / (3 * 400)
    depot_rate = sum(len(s.depot_loss) for s in scenarios) / (2 * 400)
    assert edge_rate == pytest.approx(0.3, abs=0.05)
    assert depot_rate == pytest.approx(0.5, abs=0.06)


def _graph_doc(graph: nx.Graph) -> dict[str, Any]:
    doc = base_doc()
    doc["network"] = {
        "nodes": [{"id": f"v{n}", "population": 10.0} for n in graph.nodes],
        "edges": [{"id": f"e{u}_{v}", "from": f"v{u}", "to": f"v{v}", "length": 1.0}
                  for u, v in graph.edges]}
    doc["depots"] = [{"id": "d", "node": "v0", "capacity": 100.0}]
    doc["shelters"] = [{"id": "h", "node": "v0", "capacity": 100.0}]
    return doc


def test_targeted_picks_the_bridge_of_a_barbell() -> None:
    graph = nx.barbell_graph(5, 0)  # two 5-cliques joined by the edge (4, 5)
    doc = _graph_doc(graph)
    doc["scenario_generators"] = [{"kind": "targeted", "name": "attack", "edges": 1,
                                   "affected": 0.4}]
    (s,) = expanded(doc)
    assert s.id == "attack-1"
    assert s.failed_edges == ["e4_5"]
    assert s.affected == {f"v{n}": 0.4 for n in graph.nodes}
    assert s.origin is not None and list(s.origin["scores"]) == ["e4_5"]


def test_targeted_by_stress_cuts_what_hurts_the_community_most() -> None:
    # A path v0 - v1 - v2 - v3 - v4 with the only depot and shelter at v0. Betweenness
    # picks a middle road (e1_2); the stress search sees that losing e0_1 cuts everyone but
    # v0 off from both facilities, the most damaging single failure.
    doc = _graph_doc(nx.path_graph(5))
    doc["scenario_generators"] = [{"kind": "targeted", "name": "attack", "edges": 1,
                                   "measure": "stress"}]
    (s,) = expanded(doc)
    assert s.failed_edges == ["e0_1"]
    assert s.origin is not None and s.origin["method"] == "exact"
    assert s.origin["resilience_after"] < s.origin["resilience_before"]
    doc["scenario_generators"][0]["measure"] = "betweenness"
    assert expanded(doc)[0].failed_edges == ["e1_2"]


def test_targeted_by_stress_on_a_barbell_cuts_the_bridge() -> None:
    doc = _graph_doc(nx.barbell_graph(5, 0))
    doc["scenario_generators"] = [{"kind": "targeted", "name": "attack", "edges": 1,
                                   "measure": "stress"}]
    assert expanded(doc)[0].failed_edges == ["e4_5"]


def test_targeted_breaks_ties_by_road_order() -> None:
    # A path: the two middle roads of five carry the most shortest paths, equally.
    doc = _graph_doc(nx.path_graph(5))
    doc["scenario_generators"] = [{"kind": "targeted", "name": "attack", "edges": 1}]
    assert expanded(doc)[0].failed_edges == ["e1_2"]
    doc["scenario_generators"][0]["edges"] = 3
    assert expanded(doc)[0].failed_edges == ["e0_1", "e1_2", "e2_3"]


def _network(doc: dict[str, Any]) -> NetworkView:
    return NetworkView.of(InstanceFile.model_validate(doc))


def test_targeted_keeps_parallel_roads_apart() -> None:
    doc = _graph_doc(nx.path_graph(3))
    doc["network"]["edges"].append({"id": "twin", "from": "v0", "to": "v1", "length": 1.0})
    scores = generators.edge_betweenness(_network(doc))
    assert scores[2] > 0 and scores[0] == pytest.approx(scores[2])


@pytest.mark.parametrize("case", ["grid_ties", "random_integer", "disconnected", "multi"])
def test_betweenness_is_networkx_betweenness(case: str) -> None:
    rng = np.random.default_rng(len(case))
    if case == "grid_ties":  # many equally short paths, lengths not exact in binary
        graph = nx.convert_node_labels_to_integers(nx.grid_2d_graph(4, 5))
        lengths = [0.1] * graph.number_of_edges()
    else:
        graph = nx.gnm_random_graph(25, 20 if case == "disconnected" else 60, seed=3)
        lengths = rng.integers(1, 4, graph.number_of_edges()).tolist()
    doc = _graph_doc(graph)
    for edge, length in zip(doc["network"]["edges"], lengths, strict=True):
        edge["length"] = float(length)
    if case == "multi":
        doc["network"]["edges"] += [{"id": "twin", "from": "v0", "to": "v1", "length": 1.0},
                                    {"id": "loop", "from": "v2", "to": "v2", "length": 1.0}]
    net = _network(doc)
    expected = networkx_betweenness(net)
    assert generators.edge_betweenness(net) == pytest.approx(expected, abs=1e-12)
    if case == "disconnected":
        assert not nx.is_connected(graph)


def test_hazard_zone_covering_one_node_and_crossing_one_road() -> None:
    doc = with_generators({"kind": "hazard_zones", "name": "flood", "zones": [
        {"id": "spur", "geometry": {"type": "Feature", "properties": {},
                                    "geometry": POLYGON_D},
         "affected": 0.6, "facility_loss": 0.5},
        {"id": "ford", "geometry": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": FORD},
            {"type": "Feature", "properties": {}, "geometry": None}]}}]})
    spur, ford = expanded(doc)
    assert (spur.id, spur.failed_edges, spur.shelter_loss, spur.depot_loss, spur.affected) == (
        "flood-spur", ["BD"], {"hD": 0.5}, {}, {"D": 0.6})
    assert (ford.id, ford.failed_edges, ford.affected, ford.depot_loss) == (
        "flood-ford", ["AB"], {}, {})
    assert spur.origin == {"generator": "flood", "kind": "hazard_zones", "zone": "spur",
                           "source": "inline"}


def test_hazard_zone_polygons_are_united_and_repaired() -> None:
    bowtie = {"type": "Polygon",  # self-crossing around A: make_valid keeps both halves
              "coordinates": [[[-0.5, -0.5], [0.5, 0.5], [0.5, -0.5], [-0.5, 0.5],
                               [-0.5, -0.5]]]}
    doc = with_generators({"kind": "hazard_zones", "name": "z", "zones": [
        {"id": "two", "geometry": {"type": "GeometryCollection",
                                   "geometries": [POLYGON_D, bowtie]}}]})
    (s,) = expanded(doc)
    assert s.failed_edges == ["AB", "BD"]
    assert set(s.affected) == {"A", "D"}


def test_hazard_zones_read_from_a_file_next_to_the_instance() -> None:
    instance = load_instance(DATA / "zones.json")
    assert [s.id for s in instance.scenarios] == ["flood-spur", "flood-ford"]
    spur, ford = instance.scenarios
    assert [instance.network.edge_ids[j] for j in spur.failed_edges] == ["BD"]
    assert [instance.network.edge_ids[j] for j in ford.failed_edges] == ["AB"]
    assert spur.evacuees[3] == pytest.approx(50 * 0.6 * 0.3)


def test_geojson_path_inside_the_folder_may_be_absolute(tmp_path: Path) -> None:
    (tmp_path / "zones").mkdir()
    (tmp_path / "zones" / "d.geojson").write_text(json.dumps(POLYGON_D), encoding="utf-8")
    for written in ("zones/d.geojson", str(tmp_path / "zones" / "d.geojson")):
        doc = with_generators({"kind": "hazard_zones", "name": "f",
                               "zones": [{"id": "d", "geojson": written}]})
        path = tmp_path / "instance.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        (s,) = load_instance(path).scenarios
        assert s.failed_edges == (2,)


def test_geojson_symlink_out_of_the_folder_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside.geojson"
    outside.write_text(json.dumps(POLYGON_D), encoding="utf-8")
    folder = tmp_path / "instance"
    folder.mkdir()
    (folder / "link.geojson").symlink_to(outside)
    doc = with_generators({"kind": "hazard_zones", "name": "f",
                           "zones": [{"id": "d", "geojson": "link.geojson"}]})
    (folder / "i.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match=r"zones\[0\]\.geojson: 'link.geojson' lies outside"):
        load_instance(folder / "i.json")


def test_geojson_paths_need_a_folder_in_memory() -> None:
    parsed = InstanceFile.model_validate(with_generators(
        {"kind": "hazard_zones", "name": "f", "zones": [{"id": "d", "geojson": "d.json"}]}))
    with pytest.raises(InputError, match="needs the instance file's folder"):
        generators.expand(parsed)


# ---------------------------------------------------------------------- limits, checks


def test_the_limit_is_enforced_and_can_be_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = with_generators({"kind": "random_failures", "name": "r", "count": 6})
    monkeypatch.setenv("RESILIENCE_MAX_SCENARIOS", "5")
    parsed = InstanceFile.model_validate(doc)
    problems = run_checks(parsed)
    assert [p.path for p in problems] == ["scenario_generators[0].count"]
    assert "6 scenarios" in problems[0].message and "limit of 5" in problems[0].message
    with pytest.raises(InputError, match=r"scenario_generators\[0\]\.count: .*limit of 5"):
        generators.expand(parsed)
    monkeypatch.setenv("RESILIENCE_MAX_SCENARIOS", "6")
    assert len(generators.expand(parsed).scenarios) == 6
    monkeypatch.setenv("RESILIENCE_MAX_SCENARIOS", "lots")
    with pytest.raises(UsageError, match="RESILIENCE_MAX_SCENARIOS"):
        run_checks(parsed)


def test_the_default_limit_stops_a_huge_count_before_any_work() -> None:
    doc = with_generators({"kind": "random_failures", "name": "r", "count": 10**12})
    problems = run_checks(InstanceFile.model_validate(doc))
    assert [p.path for p in problems] == ["scenario_generators[0].count"]
    assert str(generators.MAX_SCENARIOS) == "10000"


def test_checks_run_again_on_the_expanded_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    # A generator that made a scenario naming a road the network lacks must not get past
    # the reader (this guards the generators themselves).
    broken = Scenario(id="r-1", failed_edges=["nowhere"])
    monkeypatch.setattr(generators, "generate", lambda f, **_: [broken])
    parsed = InstanceFile.model_validate(with_generators(
        {"kind": "random_failures", "name": "r", "count": 1}))
    with pytest.raises(InputError, match=r"scenarios\[0\]\.failed_edges\[0\]: unknown edge"):
        expand_generators(parsed)


# file -> [(JSON path, [words of that problem's message]), ...]
BAD: dict[str, list[tuple[str, list[str]]]] = {
    "path_escape.json": [("scenario_generators[0].zones[0].geojson",
                          ["'../bad/flood.geojson' lies outside the instance's folder"])],
    "absolute_path_outside.json": [("scenario_generators[0].zones[0].geojson",
                                    ["'/etc/hostname' lies outside"])],
    "geojson_missing.json": [("scenario_generators[0].zones[0].geojson",
                              ["nowhere.geojson: cannot read"])],
    "geojson_syntax_error.json": [("scenario_generators[0].zones[0].geojson",
                                   ["broken.geojson: invalid JSON at line 2"])],
    "not_a_polygon.json": [("scenario_generators[0].zones[0].geometry.features[1].geometry",
                            ["'Point' is not a polygon"])],
    "zone_without_geometry.json": [("scenario_generators[0].zones[0]",
                                    ["exactly one of geometry", "geojson"])],
    "zones_without_coordinates.json": [("scenario_generators[0]",
                                        ["needs x and y on every node", "'B', 'C'"])],
    "radius_reversed.json": [("scenario_generators[0].radius",
                              ["smallest radius 2 is larger than the largest 1"])],
    "too_many_scenarios.json": [("scenario_generators[1].count",
                                 ["12,000 scenarios", "limit of 10,000",
                                  "RESILIENCE_MAX_SCENARIOS"])],
    "generated_id_taken.json": [("scenario_generators[0].name",
                                 ["'quake-2' (also scenarios[0])"])],
    "duplicate_generator_name.json": [("scenario_generators[1].name",
                                       ["duplicate name 'r'", "scenario_generators[0]"])],
    "probabilities_partly_given.json": [("scenario_generators[0].probability",
                                         ["every scenario a probability or none",
                                          "scenario generator", "generator 'storms'"])],
    "probabilities_sum_far_from_one.json": [("scenarios",
                                             ["scenarios and scenario generators sum to 0.7"])],
    "targeted_too_many_edges.json": [("scenario_generators[0].edges",
                                      ["asks for 4 roads but the network has 3"])],
    "unknown_generator_kind.json": [("scenario_generators[0]",
                                     ["unknown kind 'meteor'", "'hazard_footprint'"])],
}


def test_every_bad_file_has_an_expected_message() -> None:
    assert {p.name for p in DATA.glob("*.json")} == set(BAD) | {"zones.json"}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_generator_files_name_file_path_and_problem(name: str) -> None:
    with pytest.raises(InputError) as info:
        load_instance(DATA / name)
    exc = info.value
    assert exc.file == str(DATA / name)
    assert [p.path for p in exc.problems] == [path for path, _ in BAD[name]]
    for problem, (_, words) in zip(exc.problems, BAD[name], strict=True):
        for w in words:
            assert w in problem.message, f"{w!r} not in {problem.message!r}"


# ------------------------------------------------------------------------------ solving


def test_an_instance_with_every_kind_of_generator_solves_and_verifies() -> None:
    doc = with_generators(
        {**FOOTPRINT, "count": 3, "epicentres": "population"},
        {"kind": "random_failures", "name": "storm", "count": 3, "edge_failure": 0.3,
         "depot_failure": 0.2, "affected": 0.5},
        {"kind": "targeted", "name": "attack", "edges": 1},
        {"kind": "hazard_zones", "name": "flood",
         "zones": [{"id": "d", "geometry": POLYGON_D}, {"id": "ford", "geometry": FORD}]},
        scenarios=[{"id": "given", "failed_edges": ["BC"], "affected": {"C": 1.0}}])
    instance = build_instance(InstanceFile.model_validate(doc))
    assert len(instance.scenarios) == 10
    solved = solve_and_verify(instance)
    assert solved.verified
    assert solved.document["status"] == "optimal"
    assert [s["id"] for s in solved.document["scenarios"]][:3] == ["given", "quake-1",
                                                                    "quake-2"]


def test_a_grid_with_a_generator_solves_and_verifies() -> None:
    doc = grid_instance(4, 4, 6, seed=1, commodities=2, redundancy=1,
                        scenario_generators=True)
    assert "scenarios" not in doc and doc["scenario_generators"][0]["count"] == 6
    instance = build_instance(InstanceFile.model_validate(doc))
    assert len(instance.scenarios) == 6
    solved = solve_and_verify(instance)
    assert solved.verified and solved.document["status"] == "optimal"


def test_explicit_synthetic_scenarios_are_the_generators() -> None:
    explicit = grid_instance(3, 5, 4, seed=2)
    compact = grid_instance(3, 5, 4, seed=2, scenario_generators=True)
    assert explicit["scenarios"] == [
        s.model_dump(mode="json", exclude_defaults=True)
        for s in generators.generate(InstanceFile.model_validate(compact))]
    assert all(s["origin"]["generator"] == "hazard" for s in explicit["scenarios"])


POLYGON = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}


@pytest.mark.parametrize(("kind", "key", "member", "inner"), [
    ("FeatureCollection", "features", {"type": "Feature", "geometry": POLYGON},
     ".features[0].geometry"),
    ("GeometryCollection", "geometries", POLYGON, ".geometries[0]")])
def test_a_zone_collection_is_read_through_its_members(kind: str, key: str, member: dict,
                                                       inner: str) -> None:
    """Each member's geometry at its inner path; without a members array, the message
    names the array the collection needs."""
    from optimizer.generators.hazard_zones import GeoError, _geometries

    assert _geometries({"type": kind, key: [member]}) == [(inner, POLYGON)]
    with pytest.raises(GeoError, match=f"a {kind} needs a {key} array"):
        _geometries({"type": kind, key: {"not": "a list"}})
