"""The shipped JSON Schema: in sync with the pydantic models, and true of every instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimizer.reading import load_instance
from optimizer.schema import SCHEMA_COPY, SCHEMA_PATH, render_json_schema

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
        f"{path} is out of date with optimizer/schema.py; "
        "run `python -m optimizer.schema` and commit the result")


def test_the_schema_ships_in_the_package_and_an_instance_may_name_it() -> None:
    """An installed package has the schema (package data), ``resilience schema`` prints it,
    and an instance that names it in ``$schema`` for its editor still loads."""
    import tomllib

    from click.testing import CliRunner

    from optimizer.cli import main

    project = tomllib.loads((INSTANCES.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert SCHEMA_PATH.name in project["tool"]["setuptools"]["package-data"]["optimizer"]
    printed = CliRunner().invoke(main, ["schema"])
    assert printed.exit_code == 0 and json.loads(printed.stdout) == json.loads(
        SCHEMA_PATH.read_text(encoding="utf-8"))
    document = json.loads((INSTANCES / "tiny.json").read_text(encoding="utf-8"))
    document = {"$schema": "../optimizer/instance.schema.json", **document}
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

    from optimizer.schema import InstanceFile

    doc = json.loads((INSTANCES / "tiny.json").read_text())
    for variant in ("omitted", "empty"):
        if variant == "omitted":
            doc.pop("commodities", None)
        else:
            doc["commodities"] = []
        ids = [c.id for c in InstanceFile.model_validate(doc).commodities]
        assert ids == ["kit"], variant
