"""The shipped JSON Schema: in sync with the pydantic models, and true of every instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimizer.instance.reading import load_instance
from optimizer.instance.schema import SCHEMA_COPY, SCHEMA_PATH, render_json_schema

INSTANCES = Path(__file__).resolve().parent.parent / "instances"
BAD = Path(__file__).resolve().parent / "data" / "bad"
INSTANCE_FILES = sorted(p for p in INSTANCES.glob("*.json") if p != SCHEMA_COPY)

# Bad files whose one problem is a single field's type, range, presence or name: the JSON
# Schema must reject them as the loader does. (Cross-field problems are beyond a schema.)
FIELD_LEVEL_BAD = [
    "alpha_one.json", "budget_string.json", "fraction_over_one.json", "misplaced_field.json",
    "missing_budget.json", "missing_node_id.json", "negative_capacity.json", "no_nodes.json",
    "no_scenarios.json", "top_level_array.json", "unknown_field_near_name.json",
    "unknown_nested_field.json",
]


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", [SCHEMA_PATH, SCHEMA_COPY], ids=lambda p: p.parent.name)
def test_schema_file_is_in_sync_with_the_models(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == render_json_schema(), (
        f"{path} is out of date with optimizer/instance/schema.py; "
        "run `python -m optimizer.instance.schema` and commit the result")


def test_the_schema_ships_in_the_package_and_an_instance_may_name_it() -> None:
    """An installed package has the schema (package data), ``resilience schema`` prints it,
    and an instance that names it in ``$schema`` for its editor still loads."""
    import tomllib

    from click.testing import CliRunner

    from optimizer.cli import main

    project = tomllib.loads((INSTANCES.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert SCHEMA_PATH.name in project["tool"]["setuptools"]["package-data"]["optimizer.instance"]
    printed = CliRunner().invoke(main, ["schema"])
    assert printed.exit_code == 0 and json.loads(printed.stdout) == json.loads(
        SCHEMA_PATH.read_text(encoding="utf-8"))
    document = json.loads((INSTANCES / "tiny.json").read_text(encoding="utf-8"))
    document = {"$schema": "../optimizer/instance/instance.schema.json", **document}
    assert _validator().is_valid(document)
    from optimizer import load_instance as api_load

    assert api_load(document).name == "tiny"


def test_there_are_instances_to_check() -> None:
    assert any(p.name == "tiny.json" for p in INSTANCE_FILES)


@pytest.mark.parametrize("path", INSTANCE_FILES, ids=lambda p: p.name)
def test_instance_loads(path: Path) -> None:
    inst = load_instance(path)
    assert inst.scenarios


@pytest.mark.parametrize("path", INSTANCE_FILES, ids=lambda p: p.name)
def test_instance_matches_the_json_schema(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    errors = [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(document)]
    assert not errors, f"{path.name} breaks {SCHEMA_PATH.name}: " + "; ".join(errors)


@pytest.mark.parametrize("name", FIELD_LEVEL_BAD)
def test_json_schema_rejects_field_level_mistakes(name: str) -> None:
    document = json.loads((BAD / name).read_text(encoding="utf-8"))
    assert not _validator().is_valid(document)


def test_omitted_commodities_default_to_one_kit() -> None:
    """DESIGN section 3: one commodity `kit` when none is given (omitted or empty)."""
    import json

    from optimizer.instance.schema import InstanceFile

    doc = json.loads((INSTANCES / "tiny.json").read_text())
    for variant in ("omitted", "empty"):
        if variant == "omitted":
            doc.pop("commodities", None)
        else:
            doc["commodities"] = []
        ids = [c.id for c in InstanceFile.model_validate(doc).commodities]
        assert ids == ["kit"], variant


# --------------------------------------------- the schema states the loader's bounds

def _every_number_field() -> dict:
    """An instance that gives every number field a value (as floats; integer fields are
    left out, their bounds are type and sign), with every scenario generator."""
    doc = json.loads((INSTANCES / "tiny.json").read_text(encoding="utf-8"))
    for node in doc["network"]["nodes"]:
        node.update(x=float(node["x"]), y=float(node["y"]), economic_exposure=10.0)
    doc["commodities"][0].update(per_capita_need=1.0, unit_volume=1.0, weight=1.0)
    doc["depots"][0].update(existing_stock={"kit": 1.0}, unit_cost={"kit": 1.0},
                            fixed_cost=50.0, capacity=100.0)
    doc["shelters"] = [{"id": "s", "node": "B", "fixed_cost": 1.0, "capacity": 10.0,
                        "module_size": 5.0, "module_cost": 1.0, "max_modules": 2}]
    doc["compensation"] = {"max_pool": 10.0}
    doc["budget"] = 150.0
    doc["policy"] = {"supply_reach": 5.0, "evacuation_reach": 5.0}
    doc["resilience"] = {"weights": {"supply": 0.5, "shelter": 0.25, "economic": 0.25}}
    doc["objective"] = {"kind": "cvar", "alpha": 0.5, "target": 0.5}
    doc["scenarios"][0].update(
        probability=0.5, depot_loss={"depot_A": 0.5}, shelter_loss={"s": 0.5},
        evacuation_rate=0.5, economic_loss_rate=0.5, need={"A": {"kit": 10.0}},
        evacuees={"A": 10.0}, economic_loss={"A": 10.0})
    doc["scenario_generators"] = [
        {"kind": "hazard_footprint", "name": "h", "count": 1, "radius": [0.5, 1.0],
         "fragility": {"median": 0.5, "spread": 0.15}, "facility_loss": 0.5,
         "affected": 0.5, "evacuation_rate": 0.5, "economic_loss_rate": 0.5,
         "probability": 0.25},
        {"kind": "random_failures", "name": "r", "count": 1, "edge_failure": 0.5,
         "depot_failure": 0.5, "shelter_failure": 0.5, "affected": 0.5, "probability": 0.25},
    ]
    doc["scenarios"][1]["probability"] = 0.0
    return doc


def _float_leaves(value: object, at: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _float_leaves(v, (*at, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _float_leaves(v, (*at, i))]
    return [at] if isinstance(value, float) else []


# At and around every edge the loader knows: 0, the smallest magnitude, the largest, signs.
EDGES = (0.0, 1e-12, 0.5e-12, -0.5e-12, 1e-300, 0.5, 1.0, 1.5, -1.0, 1e15, 1.5e15, -1e15,
         -1.5e15, 1e200)


def test_the_json_schema_states_every_bound_the_loader_enforces() -> None:
    """Issue 15: the schema and the loader agree on every number field at every edge (the
    loader's field checks; cross-field rules are beyond a schema)."""
    import copy

    from pydantic import ValidationError

    from optimizer.instance.schema import InstanceFile

    base = _every_number_field()
    validator = _validator()
    assert validator.is_valid(base)
    InstanceFile.model_validate(copy.deepcopy(base))
    leaves = _float_leaves(base)
    assert len(leaves) > 40
    disagreements = []
    for at in leaves:
        for value in EDGES:
            doc = copy.deepcopy(base)
            parent = doc
            for key in at[:-1]:
                parent = parent[key]
            parent[at[-1]] = value
            try:
                InstanceFile.model_validate(doc)
                loader = True
            except ValidationError:
                loader = False
            if validator.is_valid(doc) != loader:
                disagreements.append(f"{'.'.join(map(str, at))} = {value:g}: loader "
                                     f"{'accepts' if loader else 'refuses'}")
    assert not disagreements, "; ".join(disagreements[:10])
