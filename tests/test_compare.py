"""``resilience compare``: plans of one instance at two budgets, side by side.

Every format is parsed back and its numbers checked against the two result files, the
do-nothing plan against an independent max-flow evaluation, and the gains per 1,000 of
money recomputed here. Results of other instances or scenario sets are refused unless
``--force``.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from test_report import (
    MONEY,
    PERCENT,
    SHARE,
    Page,
    csv_tables,
    md_tables,
    num,
    ok,
    run,
    solve_to_files,
    town_doc,
)

from optimizer.cli.report import compare
from optimizer.evaluation.evaluate import evaluate_plan
from optimizer.evaluation.outcome import ResilienceSummary
from optimizer.instance.reading import load_instance
from optimizer.plan import Plan

Solved = tuple[Path, Path, dict[str, Any], Path, dict[str, Any]]


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Solved:
    """town.json solved at budget 250 and at its own 400: (instance, low, doc, high, doc)."""
    folder = tmp_path_factory.mktemp("compare")
    instance, low, low_doc = solve_to_files(folder, town_doc(), budget=250.0)
    _, high, high_doc = solve_to_files(folder, town_doc())
    assert low_doc["instance"]["sha256"] == high_doc["instance"]["sha256"]
    return instance, low, low_doc, high, high_doc


@pytest.fixture(scope="module")
def nothing(two: Solved) -> ResilienceSummary:
    instance = load_instance(two[0])
    values = [o.resilience for o in evaluate_plan(instance, Plan.nothing(instance))]
    return ResilienceSummary.of(values, instance.probabilities, instance.objective.alpha)


def test_the_options_differ(two: Solved) -> None:
    _, _, low, _, high = two
    assert high["resilience"]["worst_case"] > low["resilience"]["worst_case"]
    assert high["cost"]["total"] > low["cost"]["total"]


def test_html_comparison_numbers(tmp_path: Path, two: Solved,
                                 nothing: ResilienceSummary) -> None:
    instance, low_path, low, high_path, high = two
    out = tmp_path / "comparison.html"
    result = ok(run(compare, low_path, high_path, "-o", out, "--instance", instance))
    assert result.stdout == "" and "comparison written to" in result.stderr
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    options = page.rows("options")
    assert list(options) == ["doing nothing", "town-250", "town"]
    # The map of what differs: each facility the plans treat differently orange, labelled
    # with every plan's choice; the others not labelled.
    svg = html[html.index('aria-label="What differs'):]
    svg = svg[:svg.index("</svg>")]
    by_id = {(d["id"]): (d, h) for d, h in zip(low["decisions"]["depots"],
                                                 high["decisions"]["depots"], strict=True)}
    for fid, (a, b) in by_id.items():
        labelled = f'class="halo">{fid}: ' in svg
        assert labelled == (a != b), fid
    assert any(a != b for a, b in by_id.values()) or any(
        a != b for a, b in zip(low["decisions"]["shelters"], high["decisions"]["shelters"],
                               strict=True))
    assert num(options["doing nothing"][3]) == pytest.approx(nothing.worst_case, abs=SHARE)
    assert num(options["doing nothing"][4]) == pytest.approx(nothing.expected, abs=SHARE)
    assert num(options["doing nothing"][5]) == pytest.approx(nothing.cvar, abs=SHARE)
    for label, doc in (("town-250", low), ("town", high)):
        row = options[label]
        assert num(row[0]) == pytest.approx(doc["cost"]["budget"], abs=MONEY)
        assert row[1] == doc["status"]
        assert num(row[2]) == pytest.approx(doc["cost"]["total"], abs=MONEY)
        assert num(row[3]) == pytest.approx(doc["resilience"]["worst_case"], abs=SHARE)
        assert num(row[4]) == pytest.approx(doc["resilience"]["expected"], abs=SHARE)
        assert num(row[5]) == pytest.approx(doc["resilience"]["cvar"]["value"], abs=SHARE)
        per_1000 = doc["cost"]["total"] / 1000
        assert num(row[6]) == pytest.approx(
            (doc["resilience"]["worst_case"] - nothing.worst_case) / per_1000, rel=5e-3)
        assert num(row[7]) == pytest.approx(
            (doc["resilience"]["expected"] - nothing.expected) / per_1000, rel=5e-3)
    assert num(options["town-250"][8]) is None
    step = (high["resilience"]["worst_case"] - low["resilience"]["worst_case"]) / (
        (high["cost"]["total"] - low["cost"]["total"]) / 1000)
    assert num(options["town"][8]) == pytest.approx(step, rel=5e-3)

    costs = page.rows("costs")
    for line in ("depots", "stock", "shelters", "modules", "compensation_pool", "total",
                 "budget"):
        row = costs[line.replace("_", " ")]
        assert num(row[0]) == pytest.approx(low["cost"][line], abs=MONEY)
        assert num(row[1]) == pytest.approx(high["cost"][line], abs=MONEY)
        assert num(row[2]) == pytest.approx(high["cost"][line] - low["cost"][line], abs=MONEY)

    res = page.rows("resilience")
    for name, key in (("worst case", "worst_case"), ("expected", "expected")):
        assert num(res[name][0]) == pytest.approx(low["resilience"][key], abs=SHARE)
        assert num(res[name][2]) == pytest.approx(
            high["resilience"][key] - low["resilience"][key], abs=2 * SHARE)

    facilities = page.rows("facilities")
    for kind in ("depots", "shelters"):
        for a, b in zip(low["decisions"][kind], high["decisions"][kind], strict=True):
            row = facilities[f"{kind[:-1]} {a['id']}"]
            assert (row[-1] == "changed") == (a != b), a["id"]
            assert row[0].startswith("open") == a["open"]
            assert row[1].startswith("open") == b["open"]
    assert num(facilities["compensation pool"][0]) == pytest.approx(
        low["decisions"]["compensation_pool"], abs=MONEY)

    scenarios = page.rows("scenario-differences")
    nothing_by_id = dict(zip([s.id for s in load_instance(instance).scenarios],
                             [o.resilience for o in evaluate_plan(
                                 load_instance(instance), Plan.nothing(load_instance(instance)))],
                             strict=True))
    for a, b in zip(low["scenarios"], high["scenarios"], strict=True):
        row = scenarios[a["id"]]
        assert num(row[0]) == pytest.approx(a["probability"], abs=PERCENT)
        assert num(row[1]) == pytest.approx(a["resilience"], abs=SHARE)
        assert num(row[2]) == pytest.approx(b["resilience"], abs=SHARE)
        assert num(row[3]) == pytest.approx(nothing_by_id[a["id"]], abs=SHARE)
        assert num(row[4]) == pytest.approx(b["resilience"] - a["resilience"], abs=2 * SHARE)

    # What a budget officer reads first: the difference in words.
    extra = high["cost"]["total"] - low["cost"]["total"]
    assert f"town against town-250: costs {extra:,.2f} more" in html
    assert 'aria-label="Resilience per scenario, by option"' in html
    assert "<script" not in html


def test_markdown_comparison_numbers(tmp_path: Path, two: Solved) -> None:
    instance, low_path, low, high_path, high = two
    out = tmp_path / "comparison.md"
    ok(run(compare, low_path, high_path, "-o", out, "--instance", instance,
           "--labels", "lean,full"))
    tables = md_tables(out.read_text(encoding="utf-8"))
    options = {r[0]: r[1:] for r in tables["Options"][1:]}
    assert set(options) == {"doing nothing", "lean", "full"}
    assert num(options["full"][3]) == pytest.approx(high["resilience"]["worst_case"], abs=SHARE)
    costs = {r[0].strip("*"): r[1:] for r in tables["Cost lines"][1:]}
    assert num(costs["total"][0]) == pytest.approx(low["cost"]["total"], abs=MONEY)
    assert num(costs["total"][2]) == pytest.approx(high["cost"]["total"] - low["cost"]["total"],
                                                   abs=MONEY)
    scenarios = {r[0]: r[1:] for r in tables["Scenario by scenario"][1:]}
    assert set(scenarios) == {s["id"] for s in low["scenarios"]}
    assert tables["Scenario by scenario"][0][:4] == ["scenario", "probability", "lean", "full"]


def test_spreadsheet_comparison_opens_in_openpyxl_and_pandas(tmp_path: Path,
                                                            two: Solved) -> None:
    import pandas as pd
    from openpyxl import load_workbook

    instance, low_path, low, high_path, high = two
    out = tmp_path / "comparison.xlsx"
    ok(run(compare, low_path, high_path, "-o", out, "--instance", instance))
    book = load_workbook(out)
    assert book.sheetnames == ["options", "costs", "resilience", "facilities", "scenarios"]
    assert all(ws.freeze_panes == "A2" for ws in book)
    costs = {r[0].value: [c.value for c in r[1:]] for r in book["costs"].iter_rows(min_row=2)}
    assert costs["total"] == [low["cost"]["total"], high["cost"]["total"]]
    worst = next(r for r in book["resilience"].iter_rows(min_row=2) if r[0].value ==
                 "worst_case")
    assert worst[1].value == low["resilience"]["worst_case"]
    assert worst[1].number_format == "0.00%"
    folder = tmp_path / "tables"
    ok(run(compare, low_path, high_path, "-o", f"{folder}/", "--instance", instance))
    frame = pd.read_csv(folder / "costs.csv").set_index("line")
    assert frame.loc["total"].tolist() == [low["cost"]["total"], high["cost"]["total"]]


def test_csv_comparison_numbers(tmp_path: Path, two: Solved,
                                nothing: ResilienceSummary) -> None:
    instance, low_path, low, high_path, high = two
    out = tmp_path / "comparison"
    ok(run(compare, low_path, high_path, "-o", f"{out}/", "--instance", instance))
    sections = csv_tables(out)
    assert set(sections) == {"options", "costs", "resilience", "facilities", "scenarios"}
    options = {r["option"]: r for r in sections["options"]}
    assert float(options["doing nothing"]["worst_case"]) == pytest.approx(nothing.worst_case)
    for label, doc in (("town-250", low), ("town", high)):
        assert float(options[label]["cost"]) == doc["cost"]["total"]
        assert float(options[label]["worst_case"]) == doc["resilience"]["worst_case"]
        assert float(options[label]["cvar"]) == doc["resilience"]["cvar"]["value"]
        assert float(options[label]["worst_case_gain_per_1000"]) == pytest.approx(
            (doc["resilience"]["worst_case"] - nothing.worst_case) / (doc["cost"]["total"]
                                                                       / 1000))
    costs = {r["line"]: r for r in sections["costs"]}
    for line, row in costs.items():
        assert (float(row["town-250"]), float(row["town"])) == (low["cost"][line],
                                                                high["cost"][line])
    facilities = {(r["facility"], r["field"]): r for r in sections["facilities"]}
    for a, b in zip(low["decisions"]["depots"], high["decisions"]["depots"], strict=True):
        for k, units in a["stock"].items():
            row = facilities[(a["id"], f"bought_{k}")]
            assert (float(row["town-250"]), float(row["town"])) == (units, b["stock"][k])
            assert row["changed"] == str(units != b["stock"][k]).lower()
    for a, b in zip(low["decisions"]["shelters"], high["decisions"]["shelters"], strict=True):
        row = facilities[(a["id"], "capacity")]
        assert (float(row["town-250"]), float(row["town"])) == (a["capacity"], b["capacity"])
    scenarios = {r["scenario"]: r for r in sections["scenarios"]}
    for a, b in zip(low["scenarios"], high["scenarios"], strict=True):
        row = scenarios[a["id"]]
        assert (float(row["town-250"]), float(row["town"])) == (a["resilience"],
                                                                b["resilience"])
        assert float(row["town - town-250"]) == pytest.approx(b["resilience"]
                                                              - a["resilience"])


def _altered(tmp_path: Path, path: Path, name: str, change: Any) -> Path:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    out = tmp_path / name
    out.write_text(json.dumps(doc), encoding="utf-8")
    return out


def test_other_instances_are_refused_unless_forced(tmp_path: Path, two: Solved) -> None:
    _, low_path, _, high_path, _ = two
    other = _altered(tmp_path, high_path, "other.result.json",
                     lambda d: d["instance"].update(sha256="0" * 64))
    result = run(compare, low_path, other, "-o", tmp_path / "c.html")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "not comparable" in result.stderr and "another instance file" in result.stderr
    assert "--force" in result.stderr
    assert not (tmp_path / "c.html").exists()
    result = ok(run(compare, low_path, other, "-o", tmp_path / "c.html", "--force"))
    assert "compared anyway (--force)" in result.stderr
    assert "Compared with --force" in (tmp_path / "c.html").read_text(encoding="utf-8")


def test_other_scenario_sets_are_refused(tmp_path: Path, two: Solved) -> None:
    _, low_path, _, high_path, _ = two

    def rename(doc: dict[str, Any]) -> None:
        doc["scenarios"][0]["id"] = "tsunami"

    other = _altered(tmp_path, high_path, "renamed.result.json", rename)
    result = run(compare, low_path, other, "-o", tmp_path / "c.md")
    assert result.exit_code == 2
    assert "other scenarios" in result.stderr and "tsunami" in result.stderr
    ok(run(compare, low_path, other, "-o", tmp_path / "c.md", "--force"))
    text = (tmp_path / "c.md").read_text(encoding="utf-8")
    assert "tsunami" in text and "flood_east" in text


def test_usage_errors(tmp_path: Path, two: Solved) -> None:
    _, low_path, low, high_path, _ = two
    result = run(compare, low_path, "-o", tmp_path / "c.html")
    assert result.exit_code == 2 and "at least two result files" in result.stderr
    result = run(compare, low_path, high_path, "-o", tmp_path / "c.pdf")
    assert result.exit_code == 2 and "cannot tell the format" in result.stderr
    result = run(compare, low_path, high_path, "--labels", "one")
    assert result.exit_code == 2 and "--labels gives 1 names for 2 results" in result.stderr
    failed = copy.deepcopy(low)
    failed.update(status="infeasible", decisions=None)
    path = tmp_path / "failed.result.json"
    path.write_text(json.dumps(failed), encoding="utf-8")
    result = run(compare, low_path, path, "-o", tmp_path / "c.html")
    assert result.exit_code == 2 and "no plan in this result" in result.stderr


def test_comparison_without_instance_and_to_stdout(two: Solved) -> None:
    _, low_path, low, high_path, _ = two
    result = ok(run(compare, low_path, high_path, "-o", "-"))
    assert result.stdout.startswith("# Comparing 2 plans for town")
    options = md_tables(result.stdout)["Options"]
    assert [r[0] for r in options[1:]] == ["town-250", "town"]
    assert options[1][7] == "–"  # no gain against doing nothing without the instance
    assert "no instance" in result.stderr
    result = ok(run(compare, low_path, high_path, low_path, "-o", "-", "--format", "csv",
                    "--table", "options"))
    options = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["option"] for r in options] == ["town-250 #1", "town", "town-250 #3"]
    assert float(options[2]["cost"]) == low["cost"]["total"]
