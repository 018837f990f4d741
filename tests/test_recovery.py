"""Recovery paths (design section 5): worked by hand, then checked by brute force.

The hand-worked network is a 2 x 3 grid; a storm cuts two roads around corner C. A second,
three-road path shows what the crew does when no single repair helps. Random instances
then check the restoration schedule against a greedy that evaluates every remaining repair
with ``evaluate_scenario`` (so the pruning never skips a repair that matters), and the
disjoint-path counts against networkx.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from helpers import build, random_doc, tiny_doc
from rich.console import Console

from optimizer.evaluation.evaluate import evaluate_scenario, road_graph
from optimizer.evaluation.recovery import (
    capacity_arcs,
    disjoint_paths,
    recover_scenario,
    recovery,
    restoration,
)
from optimizer.instance.data import Instance, Scenario
from optimizer.pipeline import solve_and_verify
from optimizer.plan import Plan
from optimizer.results.document import parse_result
from optimizer.results.file import dumps, recovery_section
from optimizer.results.summary import print_summary
from optimizer.solvers.contract import SolveOptions

TOL = 1e-9

# ------------------------------------------------------------------------ the 2 x 3 grid
#
#     A --1-- B --1-- C        Roads in file order: AD(0) DE(1) EF(2) AB(3) BC(4) BE(5)
#     |       |       |        CF(6); all of length 1 except B-E, of length 2.
#     1       2       1        Depot at A with 150 kits; shelter at F with 100 places.
#     |       |       |        Supply and evacuation reach 2. Weights: supply 0.4,
#     D --1-- E --1-- F        shelter 0.6, economic 0.
#
# Storm: roads B-C and C-F fail; B (50 people), C (40) and E (60) are fully affected, one
# kit each, half of them evacuate: need 150, evacuees B 25, C 20, E 30 (75).
#
# Intact distances. From A: B 1, D 1, C 2 (A-B-C), E 2 (A-D-E), F 3.
#                   From F: C 1, E 1, B 2 (B-C-F), D 2.
# Surviving roads (AD, DE, EF, AB, BE). From A: B 1, D 1, E 2; C none (isolated).
#                                       From F: E 1, D 2, B 3 (F-E-B); C none.
#
# Disrupted: supply reaches B and E: 110/150 = 11/15; shelter reaches E only (B is at 3 >
# 2): 30/75 = 0.4. R0 = 0.4 * 11/15 + 0.6 * 0.4 = 8/15.
# Repair B-C alone: C from A at 2: supply 1; B to F still 3, C to F 5: shelter 0.4.
#   R = 0.4 + 0.24 = 0.64.
# Repair C-F alone: C from A at 4 (A-D-E-F-C): supply 11/15; C to F at 1: shelter
#   (30 + 20)/75 = 2/3. R = 0.4 * 11/15 + 0.4 = 52/75 = 0.6933.
# So the crew repairs C-F first although B-C comes first in edge order, then B-C: with
# both back B reaches F at 2 (B-C-F), everything is within reach, R = 1.
# Curve 8/15, 52/75, 1; area = mean over periods 0..2 = (40 + 52 + 75) / 225 = 167/225.
#
# Cut off (no path at all, although the intact network has one): C, from both kinds.
# Out of reach: supply C; shelter B (at 3) and C.
# Detour ratios: B supply 1/1 = 1, B shelter 3/2 = 1.5; E supply 2/2, shelter 1/1; C none.
# Edge-disjoint paths on the surviving roads: B to A: B-A and B-E-D-A, 2; B to F: F keeps
# one road (E-F), 1; E to A: E-D-A and E-B-A, 2; E to F: 1; C: 0 to both.
#
# Calm: no road fails, E is half affected (30 kits, 15 evacuees), everyone is served:
# R = 1, a curve of one point, area 1.


def grid_doc() -> dict[str, Any]:
    xy = {"A": (0, 0), "B": (1, 0), "C": (2, 0), "D": (0, 1), "E": (1, 1), "F": (2, 1)}
    population = {"B": 50, "C": 40, "E": 60}
    roads = [("A", "D", 1), ("D", "E", 1), ("E", "F", 1), ("A", "B", 1), ("B", "C", 1),
             ("B", "E", 2), ("C", "F", 1)]
    return {
        "schema_version": 1,
        "name": "grid",
        "network": {
            "nodes": [{"id": n, "x": x, "y": y, "population": population.get(n, 0)}
                      for n, (x, y) in xy.items()],
            "edges": [{"id": a + b, "from": a, "to": b, "length": w} for a, b, w in roads],
        },
        "commodities": [{"id": "kit", "per_capita_need": 1, "unit_volume": 1, "weight": 1}],
        "depots": [{"id": "depot_A", "node": "A", "fixed_cost": 0, "capacity": 200,
                    "unit_cost": {"kit": 1}}],
        "shelters": [{"id": "hall_F", "node": "F", "capacity": 100}],
        "compensation": {"max_pool": 0},
        "budget": 1000,
        "policy": {"supply_reach": 2, "evacuation_reach": 2},
        "resilience": {"weights": {"supply": 0.4, "shelter": 0.6, "economic": 0}},
        "scenarios": [
            {"id": "storm", "failed_edges": ["BC", "CF"],
             "affected": {"B": 1.0, "C": 1.0, "E": 1.0}, "evacuation_rate": 0.5,
             "economic_loss_rate": 0},
            {"id": "calm", "affected": {"E": 0.5}, "evacuation_rate": 0.5,
             "economic_loss_rate": 0},
        ],
    }


@pytest.fixture(scope="module")
def grid() -> Instance:
    return build(grid_doc())


GRID_PLAN = Plan(open_depots=(True,), stock=np.array([[150.0]]), open_shelters=(True,),
                 modules=(0,), compensation_pool=0.0)


def node(instance: Instance, name: str) -> int:
    return instance.network.node_ids.index(name)


def edge(instance: Instance, name: str) -> int:
    return instance.network.edge_ids.index(name)


def test_grid_storm_by_hand(grid: Instance) -> None:
    B, C, E = (node(grid, n) for n in "BCE")
    r = recover_scenario(grid, GRID_PLAN, grid.scenarios[0])
    assert r.affected == (B, C, E)
    assert r.cut_off == {"supply": (C,), "shelter": (C,)}
    assert r.out_of_reach == {"supply": (C,), "shelter": (B, C)}
    assert r.detour_ratio[B] == pytest.approx({"supply": 1.0, "shelter": 1.5})
    assert r.detour_ratio[E] == pytest.approx({"supply": 1.0, "shelter": 1.0})
    assert r.detour_ratio[C] == {"supply": np.inf, "shelter": np.inf}
    assert r.disjoint_paths == {B: {"supply": 2, "shelter": 1}, C: {"supply": 0, "shelter": 0},
                                E: {"supply": 2, "shelter": 1}}
    assert [s.period for s in r.restoration] == [0, 1, 2]
    assert [s.edge for s in r.restoration] == [None, edge(grid, "CF"), edge(grid, "BC")]
    assert [s.resilience for s in r.restoration] == pytest.approx([8 / 15, 52 / 75, 1.0],
                                                                   abs=TOL)
    assert r.area == pytest.approx(167 / 225, abs=TOL)
    assert r.repairs_to_full == 2


def test_grid_calm_has_a_one_point_curve(grid: Instance) -> None:
    E = node(grid, "E")
    r = recover_scenario(grid, GRID_PLAN, grid.scenarios[1])
    assert r.cut_off == {"supply": (), "shelter": ()}
    assert r.out_of_reach == {"supply": (), "shelter": ()}
    assert r.detour_ratio == {E: {"supply": 1.0, "shelter": 1.0}}
    # Intact grid: E-D-A and E-B-A reach the depot, E-F and E-B-C-F the shelter.
    assert r.disjoint_paths == {E: {"supply": 2, "shelter": 2}}
    assert [(s.period, s.edge) for s in r.restoration] == [(0, None)]
    assert r.area == pytest.approx(1.0)


def test_a_zone_at_its_facility_has_unbounded_paths(grid: Instance) -> None:
    # The depot sits at A: a zone there needs no road (None); its shelter count is A's own
    # road count to F: A-D-E-F and A-B-C-F, 2 on the intact grid.
    A = node(grid, "A")
    doc = grid_doc()
    doc["network"]["nodes"][0]["population"] = 10
    doc["scenarios"] = [{"id": "a", "affected": {"A": 1.0}}]
    inst = build(doc)
    r = recover_scenario(inst, GRID_PLAN, inst.scenarios[0])
    assert r.disjoint_paths == {A: {"supply": None, "shelter": 2}}
    assert r.detour_ratio == {A: {"supply": 1.0, "shelter": 1.0}}


# ---------------------------------------------------------- when no single repair helps
#
#   D --1-- A --1-- B --1-- C       Roads in file order: AD(0), AB(1), BC(2).
#
# Depot at A with 100 kits, zone C needs 100, supply reach 2, supply weight 1. All three
# roads fail: C is cut off, R0 = 0. No single repair helps (C needs both A-B and B-C).
# A-D lies on no path of length <= 2 between A and C, even with every road back
# (A-D-A-B-C is 4), so it can never matter: the crew repairs A-B (the first road that can),
# then B-C (R = 1), and A-D last. Curve 0, 0, 1, 1: area 0.5 (edge order alone would give
# 0, 0, 0, 1: area 0.25).


def test_no_single_repair_helps() -> None:
    doc = {
        "schema_version": 1, "name": "chain",
        "network": {"nodes": [{"id": n, "population": 100 if n == "C" else 0}
                              for n in "DABC"],
                    "edges": [{"id": "AD", "from": "A", "to": "D", "length": 1},
                              {"id": "AB", "from": "A", "to": "B", "length": 1},
                              {"id": "BC", "from": "B", "to": "C", "length": 1}]},
        "depots": [{"id": "depot_A", "node": "A", "capacity": 100, "unit_cost": {"kit": 1}}],
        "budget": 1000,
        "policy": {"supply_reach": 2},
        "resilience": {"weights": {"supply": 1, "shelter": 0, "economic": 0}},
        "scenarios": [{"id": "all_cut", "failed_edges": ["AD", "AB", "BC"],
                       "affected": {"C": 1.0}}],
    }
    inst = build(doc)
    plan = Plan((True,), np.array([[100.0]]), (), (), 0.0)
    steps = restoration(inst, plan, inst.scenarios[0]).steps
    assert [s.edge for s in steps] == [None, edge(inst, "AB"), edge(inst, "BC"),
                                       edge(inst, "AD")]
    assert [s.resilience for s in steps] == pytest.approx([0, 0, 1, 1], abs=TOL)
    r = recover_scenario(inst, plan, inst.scenarios[0])
    assert r.area == pytest.approx(0.5)
    assert r.cut_off["supply"] == (node(inst, "C"),)


# ------------------------------------------------------------------ the result document


def test_recovery_section_after_solve() -> None:
    # tiny.json: the optimum opens both depots with 25 kits. west_cut cuts A-B and affects
    # A: depot A alone serves it (25/100); once A-B is back depot C's 25 arrive too (0.5).
    # Curve 0.25, 0.5: area 0.375. tiny has no shelter: nobody is "cut off" from one, but
    # the evacuees are out of reach of any.
    solved = solve_and_verify(build(tiny_doc()), SolveOptions(mip_gap=0))
    doc = json.loads(dumps(solved.document))
    assert solved.verified
    rec = {r["id"]: r for r in doc["recovery"]}
    assert set(rec) == {"west_cut", "east_cut"}
    west = rec["west_cut"]
    assert west["cut_off"] == {"supply": [], "shelter": []}
    assert west["out_of_reach"] == {"supply": [], "shelter": ["A"]}
    assert west["detour_ratio"] == {"A": {"supply": 1.0, "shelter": None}}
    assert west["disjoint_paths"] == {"A": {"supply": None, "shelter": 0}}
    assert west["restoration"] == [
        {"period": 0, "repaired_edge": None, "resilience": 0.25},
        {"period": 1, "repaired_edge": "AB", "resilience": 0.5, "crew": 1, "start": 0}]
    assert west["crews"] == 1 and west["horizon"] == 1
    assert west["recovery_area"] == pytest.approx(0.375)
    # The recovery analysis only reads the plan.
    assert [d["stock"]["kit"] for d in doc["decisions"]["depots"]] == pytest.approx([25, 25])

    out = io.StringIO()
    print_summary(parse_result(doc), Console(file=out, width=200, highlight=False, emoji=False))
    assert ("recovery: lowest area 0.3750 in scenario east_cut (0.2500 -> 0.5000); 1 of its "
            "1 road repairs restore it fully") in out.getvalue()


def test_grid_section_writes_null_for_infinite_values(grid: Instance) -> None:
    section = recovery_section(grid, recovery(grid, GRID_PLAN))
    storm = json.loads(json.dumps(section, allow_nan=False))[0]
    assert storm["detour_ratio"]["C"] == {"supply": None, "shelter": None}
    assert storm["detour_ratio"]["B"] == {"supply": 1.0, "shelter": 1.5}
    assert [s["repaired_edge"] for s in storm["restoration"]] == [None, "CF", "BC"]
    assert storm["recovery_area"] == pytest.approx(167 / 225)


# ----------------------------------------------------------------------- random checks


def random_plan(instance: Instance, rng: np.random.Generator) -> Plan:
    volume = np.array([c.unit_volume for c in instance.commodities])
    opened = tuple(bool(rng.random() < 0.7) for _ in instance.depots)
    stock = np.zeros((len(instance.depots), len(instance.commodities)))
    for j, d in enumerate(instance.depots):
        if opened[j]:
            stock[j] = np.floor(rng.dirichlet(np.ones(len(volume))) * rng.random()
                                * d.capacity / volume)
    sheltered = tuple(bool(rng.random() < 0.7) for _ in instance.shelters)
    modules = tuple(int(rng.integers(0, h.max_modules + 1)) if z else 0
                    for h, z in zip(instance.shelters, sheltered, strict=True))
    return Plan(opened, stock, sheltered, modules, float(rng.random() * instance.max_pool))


def value_without(instance: Instance, plan: Plan, scenario: Scenario,
                  failed: set[int]) -> float:
    copy = dataclasses.replace(scenario, failed_edges=tuple(sorted(failed)))
    return evaluate_scenario(instance, plan, copy).resilience


@pytest.mark.parametrize("seed", range(8))
def test_restoration_is_the_brute_force_greedy(seed: int) -> None:
    """Every period: the repair taken is the best of all remaining ones, evaluated in full
    (ties and zero gains aside, which the brute force cannot tell apart), and every value
    on the curve is the evaluation of the roads still failed."""
    inst = build(random_doc(seed, nodes=(8, 12)))
    plan = random_plan(inst, np.random.default_rng(seed))
    for s in inst.scenarios:
        steps = restoration(inst, plan, s).steps
        failed = set(s.failed_edges)
        assert steps[0].resilience == pytest.approx(value_without(inst, plan, s, failed))
        assert sorted(step.edge for step in steps[1:]) == sorted(failed)  # type: ignore[type-var]
        for step in steps[1:]:
            assert step.edge is not None
            options = {e: value_without(inst, plan, s, failed - {e}) for e in sorted(failed)}
            best = max(options.values())
            previous = value_without(inst, plan, s, failed)
            if best > previous + TOL:
                assert options[step.edge] == pytest.approx(best, abs=TOL)
                first_best = min(e for e, v in options.items() if v >= best - TOL)
                assert step.edge == first_best
            else:
                assert options[step.edge] == pytest.approx(previous, abs=TOL)
            failed.remove(step.edge)
            assert step.resilience == pytest.approx(value_without(inst, plan, s, failed),
                                                    abs=TOL)
        assert steps[-1].resilience == pytest.approx(value_without(inst, plan, s, set()),
                                                     abs=TOL)


@pytest.mark.parametrize("seed", range(6))
def test_disjoint_paths_match_networkx(seed: int) -> None:
    inst = build(random_doc(seed, nodes=(8, 14)))
    rng = np.random.default_rng(seed)
    n = inst.network.num_nodes
    for s in inst.scenarios:
        facilities = sorted({int(v) for v in rng.choice(n, size=2, replace=False)})
        zones = list(range(n))
        graph = road_graph(inst, s.failed_edges)  # random_doc has no parallel roads
        reachable = set(nx.multi_source_dijkstra_path_length(graph, facilities))
        got = disjoint_paths(n, capacity_arcs(inst, set(s.failed_edges)), zones, facilities,
                             reachable)
        aux = nx.Graph()
        aux.add_edges_from(graph.edges, capacity=1)
        aux.add_edges_from((f, "sink") for f in facilities)  # no capacity: unbounded
        for z in zones:
            if z in facilities:
                assert got[z] is None
            elif z not in aux:
                assert got[z] == 0
            else:
                assert got[z] == nx.maximum_flow_value(aux, z, "sink"), (seed, s.id, z)


def test_one_repair_per_period_on_the_medium_example() -> None:
    """Periods run 0..F, one failed road each, even once nothing more can rise."""
    from optimizer.instance.reading import load_instance

    instance = load_instance(Path(__file__).resolve().parent.parent / "instances" /
                             "medium.json")
    doc = solve_and_verify(instance, SolveOptions()).document
    for entry, scenario in zip(doc["recovery"], instance.scenarios, strict=True):
        periods = [step["period"] for step in entry["restoration"]]
        assert periods == list(range(len(scenario.failed_edges) + 1)), entry["id"]
        repaired = [step["repaired_edge"] for step in entry["restoration"][1:]]
        assert sorted(repaired) == sorted(instance.network.edge_ids[j]
                                          for j in scenario.failed_edges)
        curve = [step["resilience"] for step in entry["restoration"]]
        assert entry["recovery_area"] == pytest.approx(sum(curve) / len(curve))
