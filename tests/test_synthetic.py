"""The synthetic instance generator: seeded, valid, connected, scale-free in money."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import networkx as nx
import pytest

from optimizer.instance.checks import run_checks
from optimizer.instance.reading import build_instance, load_instance
from optimizer.instance.schema import InstanceFile
from optimizer.solvers.contract import SolveOptions
from optimizer.solvers.extensive import solve
from optimizer.solvers.presolve import redundancy_shortfall
from optimizer.sources.synthetic import geometric_instance, write_instance

ROOT = Path(__file__).resolve().parent.parent
MEDIUM = ROOT / "instances" / "medium.json"

CONFIGURATIONS: list[dict[str, Any]] = [
    {"nodes": 1, "scenarios": 1, "depots": 0, "shelters": 0},
    {"nodes": 2, "scenarios": 1},
    {"nodes": 12, "scenarios": 4},
    {"nodes": 30, "scenarios": 6, "seed": 5, "commodities": 3, "redundancy": 2,
     "existing_depots": 1, "existing_shelters": 2},
    {"nodes": 40, "scenarios": 3, "seed": 9, "commodities": 7, "depots": 6, "shelters": 6,
     "money_scale": 1e6, "budget_share": 0.0},
]


def _make_medium() -> ModuleType:
    """``instances/make_medium.py`` as a module (``instances`` is not a package)."""
    spec = importlib.util.spec_from_file_location("make_medium", ROOT / "instances" /
                                                  "make_medium.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _graph(doc: dict[str, Any]) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(n["id"] for n in doc["network"]["nodes"])
    graph.add_edges_from((e["from"], e["to"]) for e in doc["network"]["edges"])
    return graph


def test_same_seed_gives_identical_dicts() -> None:
    kwargs = {"seed": 7, "commodities": 2, "redundancy": 1, "existing_depots": 1}
    first = geometric_instance(30, 8, **kwargs)
    second = geometric_instance(30, 8, **kwargs)
    assert first == second
    assert json.dumps(first) == json.dumps(second)


def test_another_seed_differs() -> None:
    first = geometric_instance(30, 8, seed=1)
    second = geometric_instance(30, 8, seed=2)
    assert first["network"] != second["network"]
    assert first["scenarios"] != second["scenarios"]


@pytest.mark.parametrize("kwargs", CONFIGURATIONS)
def test_generated_dicts_validate(kwargs: dict[str, Any]) -> None:
    doc = geometric_instance(**kwargs)
    # Plain JSON types only: a round trip through text changes nothing.
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    parsed = InstanceFile.model_validate(doc)
    assert run_checks(parsed) == []
    instance = build_instance(parsed)
    assert instance.network.num_nodes == kwargs["nodes"]
    assert len(instance.scenarios) == kwargs["scenarios"]
    assert not instance.warnings
    # Every scenario has something at stake.
    assert all(s.affected for s in parsed.scenarios)
    assert redundancy_shortfall(instance) == []


@pytest.mark.parametrize("nodes", [2, 3, 10, 50, 150])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_graph_is_connected(nodes: int, seed: int) -> None:
    doc = geometric_instance(nodes, 1, seed=seed, depots=0, shelters=0)
    assert nx.is_connected(_graph(doc))
    ids = [e["id"] for e in doc["network"]["edges"]]
    assert len(ids) == len(set(ids))
    assert all(e["from"] != e["to"] for e in doc["network"]["edges"])


def test_facilities_stand_at_distinct_nodes() -> None:
    doc = geometric_instance(20, 2, seed=3, depots=5, shelters=5)
    nodes = [f["node"] for f in doc["depots"] + doc["shelters"]]
    assert len(nodes) == len(set(nodes)) == 10


def test_commodity_ids() -> None:
    doc = geometric_instance(10, 1, commodities=4)
    assert [c["id"] for c in doc["commodities"]] == ["water", "food", "kit", "medicine"]


def test_money_scale_multiplies_every_money_figure() -> None:
    base = geometric_instance(20, 3, seed=4, commodities=2, existing_depots=1)
    scaled = geometric_instance(20, 3, seed=4, commodities=2, existing_depots=1,
                                money_scale=1e6)
    assert scaled["budget"] == pytest.approx(base["budget"] * 1e6, rel=1e-12)
    assert scaled["compensation"]["max_pool"] == pytest.approx(
        base["compensation"]["max_pool"] * 1e6, rel=1e-12)
    for b, s in zip(base["depots"], scaled["depots"], strict=True):
        assert s["fixed_cost"] == pytest.approx(b["fixed_cost"] * 1e6, rel=1e-12)
        assert s["capacity"] == b["capacity"]  # a volume, not money
        assert s.get("existing_stock") == b.get("existing_stock")  # units, not money
    for b, s in zip(base["network"]["nodes"], scaled["network"]["nodes"], strict=True):
        assert s["economic_exposure"] == pytest.approx(b["economic_exposure"] * 1e6,
                                                       rel=1e-12)
        assert s["population"] == b["population"]
    assert scaled["scenarios"] == base["scenarios"]


def test_money_scale_does_not_change_the_worst_case_optimum() -> None:
    # Seed 2 with two depots and two shelters has an optimum strictly inside (0, 1) that
    # depends on how the budget is split, so a scaling mistake would show.
    values = []
    for money_scale in (1.0, 1e6):
        doc = geometric_instance(12, 4, seed=2, commodities=2, depots=2, shelters=2,
                                 money_scale=money_scale)
        instance = build_instance(InstanceFile.model_validate(doc))
        solution = solve(instance, SolveOptions(mip_gap=1e-9))
        assert solution.status.value == "optimal"
        assert solution.objective_value is not None
        values.append(solution.objective_value)
    assert 0.0 < values[0] < 1.0
    assert values[1] == pytest.approx(values[0], abs=1e-6)


def test_redundancy_raises_the_evacuation_reach_just_enough() -> None:
    doc = geometric_instance(40, 2, seed=11, shelters=4, redundancy=3)
    instance = build_instance(InstanceFile.model_validate(doc))
    assert redundancy_shortfall(instance) == []
    assert doc["policy"]["evacuation_reach"] >= doc["policy"]["supply_reach"]


@pytest.mark.parametrize("kwargs", [
    {"nodes": 0, "scenarios": 1},
    {"nodes": 5, "scenarios": 0},
    {"nodes": 5, "scenarios": 1, "depots": 3, "shelters": 3},
    {"nodes": 20, "scenarios": 1, "existing_depots": 3},
    {"nodes": 20, "scenarios": 1, "redundancy": 3},
    {"nodes": 20, "scenarios": 1, "money_scale": 0.0},
    {"nodes": 20, "scenarios": 1, "budget_share": float("nan")},
])
def test_inconsistent_arguments_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        geometric_instance(**kwargs)


def test_write_instance(tmp_path: Path) -> None:
    doc = geometric_instance(10, 2, seed=1)
    path = tmp_path / "x.json"
    write_instance(doc, path)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert json.loads(text) == doc
    assert load_instance(path).name == doc["name"]


def test_medium_json_is_what_make_medium_produces(tmp_path: Path) -> None:
    doc = _make_medium().build()
    assert json.loads(MEDIUM.read_text(encoding="utf-8")) == doc
    fresh = tmp_path / "medium.json"
    write_instance(doc, fresh)
    assert fresh.read_bytes() == MEDIUM.read_bytes()


def test_medium_instance_meets_its_brief() -> None:
    instance = load_instance(MEDIUM)
    assert instance.network.num_nodes >= 45 and len(instance.scenarios) >= 20
    assert [c.id for c in instance.commodities] == ["water", "food"]
    assert sum(d.existing for d in instance.depots) == 1
    assert any(sum(d.existing_stock) > 0 for d in instance.depots if d.existing)
    assert sum(h.existing for h in instance.shelters) == 1
    assert instance.policy.shelter_redundancy == 1
    assert redundancy_shortfall(instance) == []
    assert "synthetic" in instance.description.lower()
