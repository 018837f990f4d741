"""``resilience sweep``: the budget frontier and the cost of worst-case targets.

The frontier of the test town is written by the click command and checked against
independent cold solves at the same budgets, against doing nothing (max flow), and for the
rules the issue sets: it never falls as the budget grows, each solve starts from the
previous plan, a solve that stops below the previous point is replaced by the previous
plan (and says so), and the picture marks where returns diminish.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_report import ok, run, town_doc

import optimizer.results.frontier as sweep_module
from optimizer.cli.report import sweep
from optimizer.errors import UsageError
from optimizer.evaluation.evaluate import evaluate_plan
from optimizer.instance.reading import load_instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.pipeline import solve_and_verify
from optimizer.plan import Plan
from optimizer.report.facts import Baseline
from optimizer.report.plots import frontier_picture
from optimizer.results.frontier import (
    Frontier,
    FrontierPoint,
    budgets_from_range,
)
from optimizer.results.frontier import (
    sweep as run_sweep,
)

BUDGETS = (150.0, 250.0, 400.0, 600.0)


@pytest.fixture(scope="module")
def town_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import json

    path = tmp_path_factory.mktemp("sweep") / "town.json"
    path.write_text(json.dumps(town_doc()), encoding="utf-8")
    return path


def read_frontier(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_frontier_csv_and_plot(tmp_path: Path, town_file: Path) -> None:
    out, plot = tmp_path / "frontier.csv", tmp_path / "frontier.png"
    budgets = ",".join(f"{b:g}" for b in reversed(BUDGETS))  # given in any order
    result = ok(run(sweep, town_file, "--budgets", budgets, "--targets", "0.5,0.6",
                    "-o", out, "--plot", plot))
    assert result.stdout == ""
    assert "budget 150.00: worst case" in result.stderr
    assert f"frontier written to {out}" in result.stderr
    rows = read_frontier(out)
    assert [r["kind"] for r in rows] == ["nothing", *["budget"] * 4, "target", "target"]

    instance = load_instance(town_file)
    outcomes = evaluate_plan(instance, Plan.nothing(instance))
    nothing = min(o.resilience for o in outcomes)
    assert float(rows[0]["worst_case"]) == pytest.approx(nothing)
    assert float(rows[0]["cost"]) == 0.0

    points = rows[1:5]
    assert [float(r["budget"]) for r in points] == list(BUDGETS)
    worst = [float(r["worst_case"]) for r in points]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(worst))
    previous_budget, previous_value = 0.0, nothing
    for row, budget in zip(points, BUDGETS, strict=True):
        # The same optimum as a cold solve of that budget, whatever the warm start.
        cold = solve_and_verify(dataclasses.replace(instance, budget=budget)).document
        assert float(row["worst_case"]) == pytest.approx(cold["resilience"]["worst_case"],
                                                         abs=1e-6)
        assert float(row["cost"]) <= budget + 1e-6
        assert float(row["marginal_worst_case_per_1000"]) == pytest.approx(
            (float(row["worst_case"]) - previous_value) / ((budget - previous_budget) / 1000))
        previous_budget, previous_value = budget, float(row["worst_case"])
        assert row["status"] == "optimal" and row["diminishing_returns"] in ("true", "false")

    targets = rows[5:]
    assert [float(r["target"]) for r in targets] == [0.5, 0.6]
    costs = [float(r["cost"]) for r in targets]
    assert costs == sorted(costs)
    for row in targets:
        target = float(row["target"])
        assert float(row["worst_case"]) >= target - 1e-6
        assert float(row["budget"]) == max(BUDGETS)  # the default ceiling
        # No swept plan that reaches the target is cheaper than the min_cost answer.
        reaching = [float(r["cost"]) for r in points if float(r["worst_case"]) >= target]
        assert all(float(row["cost"]) <= c + 1e-6 for c in reaching)

    import matplotlib.image

    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    picture = matplotlib.image.imread(plot)
    assert len(np.unique(picture.reshape(-1, picture.shape[-1]), axis=0)) > 20


def test_each_solve_starts_from_the_previous_plan(town_file: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    starts: list[tuple[float, Plan | None]] = []
    plans: dict[float, Plan] = {}
    real = sweep_module.solve_and_verify

    def recording(instance: Any, options: Any) -> Any:
        starts.append((instance.budget, options.start))
        solved = real(instance, options)
        plans[instance.budget] = solved.solution.plan
        return solved

    monkeypatch.setattr(sweep_module, "solve_and_verify", recording)
    frontier = run_sweep(load_instance(town_file), [400.0, 150.0, 250.0])
    assert [b for b, _ in starts] == [150.0, 250.0, 400.0]
    assert starts[0][1] is None
    assert starts[1][1] is plans[150.0] and starts[2][1] is plans[250.0]
    assert [p.budget for p in frontier.points] == [150.0, 250.0, 400.0]


def test_a_solve_that_falls_back_is_replaced_by_the_previous_plan(
        tmp_path: Path, town_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A solve stopped early below the previous point: that plan is carried forward."""
    real = sweep_module.solve_and_verify

    def stopping_early(instance: Any, options: Any) -> Any:
        if instance.budget == 400.0:  # as if stopped early with the plan of a poorer budget
            solved = real(dataclasses.replace(instance, budget=60.0), dataclasses.replace(
                options, start=None))
            solved.document["status"] = "feasible"
            return solved
        return real(instance, options)

    monkeypatch.setattr(sweep_module, "solve_and_verify", stopping_early)
    out = tmp_path / "frontier.csv"
    result = ok(run(sweep, town_file, "--budgets", "250,400,600", "-o", out))
    assert "carried forward" in result.stderr
    rows = read_frontier(out)[1:]
    assert rows[1]["worst_case"] == rows[0]["worst_case"]
    assert rows[1]["cost"] == rows[0]["cost"]
    assert "carried forward" in rows[1]["note"] and "250.00" in rows[1]["note"]
    assert float(rows[1]["marginal_worst_case_per_1000"]) == 0.0
    worst = [float(r["worst_case"]) for r in rows]
    assert worst == sorted(worst)


def test_budgets_without_a_plan_are_reported(tmp_path: Path, town_file: Path) -> None:
    """Below the cheapest shelter the redundancy policy cannot be met: a row says so."""
    out = tmp_path / "frontier.csv"
    ok(run(sweep, town_file, "--budget-range", "10:250:2", "-o", out, "--quiet"))
    rows = read_frontier(out)
    assert rows[1]["status"] == "infeasible" and rows[1]["worst_case"] == ""
    assert "alone costs at least 50.00" in rows[1]["note"]
    assert "budget 10.00" in rows[1]["note"]
    # The first budget with a plan measures its gain from doing nothing at budget 0.
    assert float(rows[2]["marginal_worst_case_per_1000"]) == pytest.approx(
        (float(rows[2]["worst_case"]) - float(rows[0]["worst_case"])) / 0.25)


def _frontier(rates: list[float]) -> Frontier:
    points, value, budget = [], 0.1, 0.0
    for r in rates:
        budget += 1000.0
        value += r
        points.append(FrontierPoint(budget, "optimal", value, value, value, value, budget, r,
                                    None, "", None))
    return Frontier("synthetic", "worst_case", 0.9, Baseline({}, 0.1, 0.2, 0.1),
                    tuple(points), ())


@pytest.mark.parametrize(("rates", "knee"), [
    ([0.03, 0.05, 0.01, 0.005], 2000.0),  # best 0.05; after it everything < 0.0125
    ([0.05, 0.04, 0.01], 2000.0),  # the second segment still pays
    ([0.01, 0.02, 0.03], None),  # still rising at the end of the range
    ([0.0, 0.0], None),  # nothing buys anything
    ([0.05, 0.001, 0.04, 0.001], 3000.0),  # a later jump (a facility) resets the knee
])
def test_where_returns_diminish(rates: list[float], knee: float | None) -> None:
    frontier = _frontier(rates)
    assert (None if frontier.knee is None else frontier.knee.budget) == knee
    if knee is not None:
        assert [frontier.diminishing(p) for p in frontier.points] == [
            p.budget > knee for p in frontier.points]


def test_the_plot_marks_diminishing_returns() -> None:
    svg = frontier_picture(_frontier([0.03, 0.05, 0.01, 0.005]), "svg").decode("utf-8")
    root = ET.fromstring(svg)
    texts = "".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "returns diminish" in texts and "25% of the best rate" in texts
    assert "returns diminish" not in frontier_picture(_frontier([0.01, 0.02]), "svg").decode()


def test_budget_options(tmp_path: Path, town_file: Path) -> None:
    assert budgets_from_range("0:100:5") == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert budgets_from_range("7:7:1") == [7.0]
    for bad in ("1:2", "a:b:c", "5:1:3", "0:10:0", "1:2:3:4"):
        with pytest.raises(UsageError, match="--budget-range"):
            budgets_from_range(bad)
    cases = [
        (["--budgets", "1,2", "--budget-range", "1:2:2"], "not both"),
        ([], "give --budgets"),
        (["--budgets", "1,x"], "expected numbers"),
        (["--budgets", "-5"], "every value must lie"),
        (["--targets", "1.5"], "every value must lie in [0, 1]"),
        (["--budgets", "100", "--plot", tmp_path / "f.jpg"], "cannot tell the format"),
        (["--budgets", "100", "-o", tmp_path / "f.txt"], "cannot tell the format"),
    ]
    for args, message in cases:
        result = run(sweep, town_file, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and "Traceback" not in result.output


def test_targets_only_to_stdout(town_file: Path) -> None:
    result = ok(run(sweep, town_file, "--targets", "0.99", "-o", "-", "--quiet",
                    "--ceiling", "300"))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["kind"] for r in rows] == ["nothing", "target"]
    assert rows[1]["status"] == "infeasible" and "0.99" in rows[1]["note"]
    assert float(rows[1]["budget"]) == 300.0


def test_a_csv_sweep_does_not_load_matplotlib(town_file: Path) -> None:
    code = f"""
import sys
from optimizer.instance.reading import load_instance
from optimizer.results.frontier import sweep
from optimizer.report.tables import frontier_csv
frontier = sweep(load_instance({str(town_file)!r}), [250.0])
frontier_csv(frontier)
assert "matplotlib" not in sys.modules, "matplotlib was imported"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_sweep_maximises_the_objective_asked_for(town_file: Path) -> None:
    frontier = run_sweep(load_instance(town_file), [250.0, 400.0],
                         objective=ObjectiveKind.EXPECTED)
    assert frontier.objective == "expected"
    assert [p.value for p in frontier.points] == [p.expected for p in frontier.points]
    assert frontier.points[1].expected >= frontier.points[0].expected


def test_sweep_results_carry_the_frontier_into_report_and_compare(tmp_path: Path,
                                                                 town_file: Path) -> None:
    """``sweep --results`` writes each budget's result with the frontier; the HTML report of
    one shows it with its own budget marked, and a comparison of them shows it too."""
    import json

    from optimizer.cli.report import compare, report

    folder = tmp_path / "results"
    done = ok(run(sweep, town_file, "--budgets", "150,400", "-o", tmp_path / "f.csv",
                  "--results", folder, "-q"))
    assert "2 result files written" in done.stderr
    paths = sorted(folder.glob("*.result.json"))
    assert [p.name for p in paths] == ["town-budget-150.result.json",
                                       "town-budget-400.result.json"]
    document = json.loads(paths[0].read_text())
    frontier = read_frontier(tmp_path / "f.csv")
    assert [p["kind"] for p in document["frontier"]["points"]] == [r["kind"] for r in frontier]
    assert [p["worst_case"] for p in document["frontier"]["points"]] == [
        float(r["worst_case"]) for r in frontier]

    html = tmp_path / "r.html"
    ok(run(report, paths[0], "-o", html))  # the instance found through the recorded path
    page = html.read_text()
    assert 'id="frontier"' in page and "The budget frontier" in page
    assert page.count('class="changed"') >= 1  # this result's budget marked
    ok(run(compare, *paths, "-o", tmp_path / "c.html"))
    assert "The budget frontier" in (tmp_path / "c.html").read_text()
    ok(run(compare, *paths, "-o", f"{tmp_path / 'tables'}/"))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "tables" / "frontier.csv").read_text())))
    assert [r["kind"] for r in rows] == [r["kind"] for r in frontier]
