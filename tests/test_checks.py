"""Warnings about valid files: a network in separate parts is named, not refused."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from optimizer.cli import main
from optimizer.instance.reading import load_instance

TINY = Path(__file__).resolve().parent.parent / "instances" / "tiny.json"


def test_a_disconnected_network_is_a_warning_naming_its_parts(tmp_path: Path) -> None:
    doc = json.loads(TINY.read_text())
    doc["network"]["nodes"].append({"id": "island", "population": 10})
    path = tmp_path / "islands.json"
    path.write_text(json.dumps(doc))
    (warning,) = load_instance(path).warnings
    assert "2 separate parts" in warning
    assert "{A, B, C} (3 nodes)" in warning and "{island} (1 node)" in warning
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0
    assert "separate parts" in result.stderr


def test_a_connected_network_has_no_warning() -> None:
    assert load_instance(TINY).warnings == ()
