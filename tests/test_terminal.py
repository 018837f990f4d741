"""Start-up and terminal output (issue 13): ``--help`` and ``validate`` import no solver, and
output that goes to a file or a pipe is never wrapped mid-line nor cut to ``cou…``.

The commands run as a user runs them (a subprocess whose standard output and error are
files, not a terminal), so rich sees exactly what it sees under a pipe or in CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "instances" / "tiny.json"
MEDIUM = ROOT / "instances" / "medium.json"
HEAVY = ("pyomo", "highspy", "scipy", "matplotlib", "networkx", "shapely", "pyproj",
         "openpyxl", "pandas")


def _resilience(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimizer", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("args", [["--help"], ["solve", "--help"], ["report", "--help"],
                                  ["validate", str(TINY)]])
def test_help_and_validate_import_no_solver(args: list[str]) -> None:
    code = ("import sys\nfrom optimizer.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as exc:\n    assert not exc.code\n"
            f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
            "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def _no_cut_cells(text: str) -> None:
    assert "…" not in text, text


def test_piped_solve_summary_is_whole(tmp_path: Path) -> None:
    done = _resilience("solve", MEDIUM, "-o", tmp_path / "medium.result.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _no_cut_cells(done.stdout + done.stderr)
    result = json.loads((tmp_path / "medium.result.json").read_text())
    # One line per sentence: the long "what decided the plan" is never wrapped.
    decided = [line for line in done.stdout.splitlines() if line.startswith("what decided")]
    assert decided == [f"what decided the plan: {result['resilience']['decided_by']}"]
    # Counts with thousands separators, the gap as a percentage.
    held = [line for line in done.stdout.splitlines() if "places (" in line]
    assert held and all("," in line.split("places")[0] for line in held
                        if float(line.split()[-4].replace(",", "")) >= 1000)
    assert "gap 0" in done.stdout and "e+00" not in done.stdout
    out_of_sample = _resilience("evaluate", MEDIUM, tmp_path / "medium.result.json",
                                "--reseed", "1", cwd=tmp_path)
    assert out_of_sample.returncode == 0, out_of_sample.stderr
    _no_cut_cells(out_of_sample.stdout)
    assert "out of sample" in out_of_sample.stdout and "worst case" in out_of_sample.stdout


def test_piped_suite_list_is_whole() -> None:
    done = _resilience("suite", "--list")
    assert done.returncode == 0, done.stderr
    _no_cut_cells(done.stdout)
    assert "geometric_policy" in done.stdout
