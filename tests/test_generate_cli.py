"""``resilience generate grid|geometric``: the written file validates, is seeded, solves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.cli.generate import generate
from optimizer.instance.reading import load_instance
from optimizer.pipeline import solve_and_verify

SMALL_GRID = ["grid", "--rows", "3", "--cols", "4", "--scenarios", "4", "--seed", "5"]
SMALL_GEOMETRIC = ["geometric", "--nodes", "15", "--scenarios", "4", "--seed", "5"]


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(generate, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", [SMALL_GRID, SMALL_GEOMETRIC], ids=["grid", "geometric"])
def test_writes_a_valid_instance_with_a_generator(args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "inst.json"
    code, stdout, stderr = _run([*args, "-o", str(out)])
    assert code == 0, stderr
    assert stdout == ""  # the answer is the file; the summary goes to standard error
    assert f"wrote {out}" in stderr and "4 scenarios" in stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["scenario_generators"][0]["kind"] == "hazard_footprint"
    assert doc["scenario_generators"][0]["seed"] == 5
    instance = load_instance(out)
    assert len(instance.scenarios) == 4
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left over


def test_grid_options_reach_the_instance(tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    code, _, stderr = _run(["grid", "--rows", "3", "--cols", "5", "--scenarios", "2",
                            "--commodities", "2", "--depots", "2", "--shelters", "3",
                            "--existing-depots", "1", "--redundancy", "2",
                            "--budget-share", "0.5", "--money-scale", "1000",
                            "--population", "10", "20", "--name", "town", "-o", str(out)])
    assert code == 0, stderr
    instance = load_instance(out)
    assert instance.name == "town" and instance.network.num_nodes == 15
    assert instance.network.num_edges == 3 * 4 + 2 * 5
    assert [c.id for c in instance.commodities] == ["water", "food"]
    assert (len(instance.depots), len(instance.shelters)) == (2, 3)
    assert instance.depots[0].existing and instance.policy.shelter_redundancy == 2
    assert set(instance.network.population) <= {0.0, *map(float, range(10, 21))}


def test_explicit_writes_the_scenarios(tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    code, _, stderr = _run([*SMALL_GEOMETRIC, "--explicit", "-o", str(out)])
    assert code == 0, stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "scenario_generators" not in doc
    assert [s["id"] for s in doc["scenarios"]] == [f"hazard-{i}" for i in range(1, 5)]
    assert all(s["origin"]["kind"] == "hazard_footprint" for s in doc["scenarios"])
    compact = tmp_path / "c.json"
    _run([*SMALL_GEOMETRIC, "-o", str(compact)])
    assert ([s.id for s in load_instance(compact).scenarios]
            == [s.id for s in load_instance(out).scenarios])


def test_same_options_same_bytes_other_seed_other_file(tmp_path: Path) -> None:
    paths = [tmp_path / f"{k}.json" for k in "abc"]
    _run([*SMALL_GEOMETRIC, "--explicit", "-o", str(paths[0])])
    _run([*SMALL_GEOMETRIC, "--explicit", "-o", str(paths[1])])
    _run([*SMALL_GEOMETRIC[:-1], "6", "--explicit", "-o", str(paths[2])])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_dash_prints_parseable_json() -> None:
    code, stdout, stderr = _run([*SMALL_GRID, "-o", "-"])
    assert code == 0, stderr
    assert json.loads(stdout)["name"] == "grid-3x4x4-s5"
    assert "wrote standard output" in stderr


def test_the_written_instance_solves_and_verifies(tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    _run([*SMALL_GRID, "--commodities", "2", "--redundancy", "1", "-o", str(out)])
    solved = solve_and_verify(load_instance(out))
    assert solved.verified and solved.document["status"] == "optimal"


@pytest.mark.parametrize(("args", "words"), [
    (["geometric", "--nodes", "3", "--depots", "2", "--shelters", "2"],
     ["inconsistent options", "depots + shelters (4) must not exceed nodes (3)"]),
    (["grid", "--rows", "2", "--cols", "2", "--redundancy", "3"],
     ["redundancy must be in 0..1"]),
    (["grid", "--rows", "2", "--cols", "2", "--population", "50", "10"],
     ["population must be (smallest, largest)"]),
])
def test_inconsistent_options_exit_2(args: list[str], words: list[str],
                                     tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    code, _, stderr = _run([*args, "-o", str(out)])
    assert code == 2
    for w in words:
        assert w in stderr
    assert not out.exists()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _run(["grid", "--rows", "2", "--cols", "2"])[0] == 2  # no -o
    assert _run(["grid", "--rows", "0", "--cols", "2", "-o", str(tmp_path / "x")])[0] == 2
    code, _, stderr = _run([*SMALL_GRID, "-o", str(tmp_path / "missing" / "x.json")])
    assert code == 2 and "does not exist" in stderr
