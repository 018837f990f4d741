"""Exit codes when the solver gives no plan or fails (issue 7): 3 and 4, with the reason,
and a result file that says so. HiGHS is made to report these outcomes, since real ones
depend on timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import optimizer.solve as solve_module
from optimizer.cli import main
from optimizer.highs_common import Run
from optimizer.status import Status

TINY = Path(__file__).resolve().parent.parent / "instances" / "tiny.json"


def _solve(tmp_path: Path) -> tuple[int, str, dict]:
    out = tmp_path / "result.json"
    ran = CliRunner().invoke(main, ["solve", str(TINY), "-o", str(out), "-q",
                                    "--method", "extensive"])
    return ran.exit_code, ran.stderr, json.loads(out.read_text())


def test_no_incumbent_at_the_limit_exits_3_and_says_so(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # HiGHS stopped (never run here: its model status stays "not set") with no plan.
    monkeypatch.setattr(solve_module, "run_highs",
                        lambda *a, **k: Run(Status.INFEASIBLE, 0.0, False, 0, 0))
    code, err, doc = _solve(tmp_path)
    assert code == 3
    assert "stopped at its limit before finding any feasible plan" in err
    assert doc["status"] == "infeasible" and doc["decisions"] is None


def test_a_solver_failure_exits_4_with_the_solvers_message(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solve_module, "run_highs",
                        lambda *a, **k: Run(Status.ERROR, 0.0, False, 0, 0))
    code, err, doc = _solve(tmp_path)
    assert code == 4
    assert "HiGHS failed" in err and "Traceback" not in err
    assert doc["status"] == "error"
