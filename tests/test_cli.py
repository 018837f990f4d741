"""The ``resilience`` command on ``instances/tiny.json``: exit codes, files and streams.

Design section 4: 0 a plan, 2 bad input or usage, 3 infeasible, 4 solver or internal
failure (including a result that does not stand up to independent evaluation). Standard
output carries only what the command is asked to print.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from optimizer.cli import main

TINY = Path(__file__).resolve().parent.parent / "instances" / "tiny.json"
RESILIENCE = Path(sys.executable).parent / "resilience"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_clean_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    if code != 0:
        assert isinstance(result.exception, SystemExit)


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """tiny.json solved once: (instance copy, result file)."""
    folder = tmp_path_factory.mktemp("solved")
    instance = folder / "tiny.json"
    shutil.copyfile(TINY, instance)
    out = folder / "tiny.result.json"
    assert_clean_exit(run("solve", instance, "-o", out, "--quiet"), 0)
    return instance, out


def _tampered(tmp_path: Path, result: Path, change: Any) -> Path:
    doc = json.loads(result.read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "tampered.result.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def test_validate_says_valid() -> None:
    result = run("validate", TINY)
    assert_clean_exit(result, 0)
    assert f"{TINY}: valid" in result.stdout
    assert "2 depots" in result.stdout and "2 scenarios" in result.stdout


def test_solve_writes_a_verified_optimal_result(solved: tuple[Path, Path]) -> None:
    _, out = solved
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["status"] == "optimal"
    assert doc["verification"]["max_difference"] < 1e-6
    assert doc["resilience"]["worst_case"] == pytest.approx(0.25, abs=1e-6)
    assert doc["cost"]["total"] <= doc["cost"]["budget"] + 1e-6


def test_solve_to_stdout_prints_only_json(tmp_path: Path) -> None:
    """A real process, so that anything the solver writes to file descriptor 1 shows."""
    if not RESILIENCE.exists():
        pytest.skip(f"no console script at {RESILIENCE}")
    proc = subprocess.run([str(RESILIENCE), "solve", str(TINY), "-o", "-"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "optimal"
    assert "worst case" in proc.stderr  # the summary goes to standard error
    assert list(tmp_path.iterdir()) == []  # and no result file is written


def test_min_cost_without_target_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run("solve", TINY, "--objective", "min_cost", "-o", out)
    assert_clean_exit(result, 2)
    assert "target" in result.stderr
    assert not out.exists()


def test_output_onto_the_instance_is_refused(tmp_path: Path) -> None:
    instance = tmp_path / "tiny.json"
    shutil.copyfile(TINY, instance)
    before = instance.read_bytes()
    result = run("solve", instance, "-o", instance)
    assert_clean_exit(result, 2)
    assert "is the input file" in result.stderr
    assert instance.read_bytes() == before


def test_output_into_a_missing_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "folder" / "r.json"
    result = run("solve", TINY, "-o", out)
    assert_clean_exit(result, 2)
    assert "does not exist" in result.stderr and str(out.parent.parent.parent) in result.stderr


def test_evaluate_accepts_an_honest_result(solved: tuple[Path, Path]) -> None:
    instance, out = solved
    result = run("evaluate", instance, out)
    assert_clean_exit(result, 0)
    assert "max difference" in result.stdout


def test_evaluate_rejects_stock_over_budget(solved: tuple[Path, Path], tmp_path: Path) -> None:
    instance, out = solved

    def overspend(doc: dict[str, Any]) -> None:
        doc["decisions"]["depots"][0]["stock"]["kit"] = 100.0  # 100 more kits, 75 over budget

    result = run("evaluate", instance, _tampered(tmp_path, out, overspend))
    assert_clean_exit(result, 4)
    assert "plan violation" in result.stdout
    assert "over the budget" in result.stdout
    assert "does not stand up" in result.stderr


def test_evaluate_rejects_a_tampered_resilience(solved: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    instance, out = solved

    def boast(doc: dict[str, Any]) -> None:
        doc["scenarios"][0]["resilience"] = 0.9

    result = run("evaluate", instance, _tampered(tmp_path, out, boast))
    assert_clean_exit(result, 4)
    assert "max difference from" in result.stdout and "west_cut" in result.stdout
    assert "does not stand up" in result.stderr


def test_infeasible_redundancy_exits_3_naming_the_zones(tmp_path: Path) -> None:
    doc = json.loads(TINY.read_text(encoding="utf-8"))
    doc["shelters"] = [{"id": "hall_B", "node": "B", "capacity": 200}]
    doc["policy"].update(shelter_redundancy=2, evacuation_reach=5)
    instance = tmp_path / "redundant.json"
    instance.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    out = tmp_path / "redundant.result.json"
    result = run("solve", instance, "-o", out, "--quiet")
    assert_clean_exit(result, 3)
    assert "2 open shelters" in result.stderr
    # The populated zones, each with its one shelter in reach; B has nobody to shelter.
    assert "A (1 within reach)" in result.stderr and "C (1 within reach)" in result.stderr
    assert "B (" not in result.stderr
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["status"] == "infeasible"
    assert "A (1 within reach)" in written["message"]
    assert written["decisions"] is None


@pytest.mark.parametrize("command", [[], ["validate"], ["solve"], ["evaluate"]],
                         ids=lambda c: " ".join(c) or "main")
def test_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert_clean_exit(result, 0)
    assert result.stdout.startswith("Usage:")
    assert result.stderr == ""
