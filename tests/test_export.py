"""``resilience export``: the model as MPS or LP, solved by another reader to our optimum.

The exported MPS is read by highspy directly (``Highs.readModel``, no Pyomo) and must solve
to the engine's optimum: equal for the resilience objectives (maximised), and the engine's
cost divided by the budget for min_cost (money as a share of the budget).
"""

from __future__ import annotations

from pathlib import Path

import highspy
import pytest
from click.testing import CliRunner
from helpers import INSTANCES, build, tiny_doc, with_objective

from optimizer.cli.bench import export
from optimizer.errors import UsageError
from optimizer.instance.data import Instance
from optimizer.instance.reading import load_instance
from optimizer.solvers.contract import Solution, SolveOptions
from optimizer.solvers.export import export_model, with_overrides
from optimizer.solvers.extensive import solve

MEDIUM = INSTANCES / "medium.json"
TINY = INSTANCES / "tiny.json"


def solve_file(path: Path) -> tuple[float, highspy.ObjSense]:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 1e-6)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value, h.getLp().sense_


@pytest.fixture(scope="module")
def medium() -> tuple[Instance, Solution]:
    instance = load_instance(MEDIUM)
    return instance, solve(instance, SolveOptions())


@pytest.mark.parametrize("suffix", [".mps", ".lp"])
def test_exported_medium_solves_to_the_engines_optimum(tmp_path: Path, suffix: str,
                                                       medium: tuple[Instance, Solution]
                                                       ) -> None:
    instance, engine = medium
    path = tmp_path / f"medium{suffix}"
    exported = export_model(instance, path)
    value, sense = solve_file(path)
    assert sense == highspy.ObjSense.kMaximize and exported.sense == "maximise"
    assert exported.scale == 1.0
    # Both solves stop within their MIP gaps (1e-4 and 1e-6).
    assert value == pytest.approx(engine.objective_value, rel=2e-4)
    for key in ("variables", "constraints", "nonzeros", "scenarios"):
        assert exported.size[key] == engine.size[key]


@pytest.mark.parametrize("kind", ["worst_case", "expected", "cvar"])
def test_every_resilience_objective_is_exported_as_reported(tmp_path: Path, kind: str) -> None:
    instance = with_objective(build(tiny_doc()), kind, alpha=0.5)
    engine = solve(instance, SolveOptions())
    export_model(instance, tmp_path / "tiny.mps")
    value, _ = solve_file(tmp_path / "tiny.mps")
    assert value == pytest.approx(engine.objective_value, abs=1e-9)


def test_min_cost_is_money_as_a_share_of_the_budget(tmp_path: Path) -> None:
    """tiny with every scenario at resilience 0.2: both depots (100) and 2 x 20 kits = 140."""
    instance = with_objective(build(tiny_doc()), "min_cost", target=0.2)
    engine = solve(instance, SolveOptions())
    assert engine.objective_value == pytest.approx(140.0)
    exported = export_model(instance, tmp_path / "tiny.mps")
    value, sense = solve_file(tmp_path / "tiny.mps")
    assert sense == highspy.ObjSense.kMinimize and exported.sense == "minimise"
    assert exported.scale == instance.budget == 150.0
    assert value * exported.scale == pytest.approx(engine.objective_value)
    header = (tmp_path / "tiny.mps").read_text(encoding="utf-8")
    assert "times M" in header and "M = 150" in header


def test_file_has_symbolic_names_and_a_legend(tmp_path: Path) -> None:
    export_model(build(tiny_doc()), tmp_path / "tiny.lp")
    text = (tmp_path / "tiny.lp").read_text(encoding="utf-8")
    assert text.startswith("\\ resilience export")
    assert "depots d: 0=depot_A, 1=depot_C" in text
    assert "scenarios s: 0=west_cut, 1=east_cut" in text
    for name in ("y(0)", "x(1_0)", "worst", "c_u_budget_", "c_e_resilience(1)_"):
        assert name in text
    assert "tiebreak" not in text.split("\\* Source", 1)[1]  # only the primary objective


def test_cli_writes_the_file_and_keeps_stdout_clean(tmp_path: Path) -> None:
    out = tmp_path / "model.mps"
    result = CliRunner().invoke(export, [str(TINY), "-o", str(out), "--objective", "expected",
                                         "--budget", "250"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "maximise the expected resilience" in result.stderr
    value, _ = solve_file(out)
    engine = solve(with_overrides(load_instance(TINY), objective="expected", budget=250.0),
                   SolveOptions())
    assert value == pytest.approx(engine.objective_value, abs=1e-9)


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "model.txt"], "use a name ending in .mps or .lp"),
    (["-o", "model.mps", "--objective", "min_cost"], "min_cost needs a target"),
])
def test_cli_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    args = [a if not a.startswith("model") else str(tmp_path / a) for a in args]
    result = CliRunner().invoke(export, [str(TINY), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_min_cost_without_target_is_refused() -> None:
    with pytest.raises(UsageError, match="needs a target"):
        with_overrides(build(tiny_doc()), objective="min_cost")
