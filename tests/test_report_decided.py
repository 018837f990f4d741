"""What decided the plan, in the report and the comparison.

A result records each scenario's ceiling (the most any plan could reach there), the
scenarios pinned at it (no plan can do better there), the solver's stages and a sentence
saying what decided the plan. The medium instance is solved once: its worst case is pinned
at the ceiling of one scenario, so the plan is chosen by the leximin levels after it. Every
format is parsed back and compared with the result document; the town instance is solved
under the relative objective; a result stripped of the new fields stands for a file written
before them; and a hand-made result with HTML in its ids and sentence checks the escaping.
"""

from __future__ import annotations

import copy
import dataclasses
import html as htmllib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_report import (
    MONEY,
    SHARE,
    Page,
    csv_tables,
    md_tables,
    num,
    ok,
    run,
    town_doc,
)

from optimizer.cli.report import compare, report
from optimizer.instance.reading import load_instance
from optimizer.instance.schema import ObjectiveKind
from optimizer.pipeline import solve_and_verify
from optimizer.report import render_report
from optimizer.results.document import parse_result
from optimizer.results.file import dumps

MEDIUM = Path(__file__).resolve().parents[1] / "instances" / "medium.json"
STAGE_WORDS = {"objective": "worst case", "tiebreak_expected": "expected resilience",
               "tiebreak_cost": "total cost"}


def stage_words(name: str) -> str:
    if name.startswith("leximin_"):
        return f"worst case over scenarios not pinned (level {name.removeprefix('leximin_')})"
    return STAGE_WORDS[name]


def shown_stages(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in doc["solver"]["stages"] if s["objective"] != "recourse"]


def old(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as a result file written before ceilings, pinning and stages were recorded."""
    out = copy.deepcopy(doc)
    for key in ("ceilings", "pinned", "decided_by"):
        out["resilience"].pop(key, None)
    out["solver"].pop("stages", None)
    out["objective"]["bound"] = out["objective"]["gap"] = None
    return out


def paragraph(html: str, pid: str) -> str | None:
    found = re.search(rf'<p id="{pid}">(.*?)</p>', html, re.S)
    return None if found is None else htmllib.unescape(found.group(1))


def sentence(doc: dict[str, Any]) -> str:
    text = doc["resilience"]["decided_by"]
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """instances/medium.json solved: (result file, document)."""
    solved = solve_and_verify(load_instance(MEDIUM))
    assert solved.verified, solved.failure()
    path = tmp_path_factory.mktemp("medium") / "medium.result.json"
    path.write_text(dumps(solved.document), encoding="utf-8")
    return path, solved.document


@pytest.fixture(scope="module")
def relative(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """The town solved under the relative objective: (instance, result, document)."""
    folder = tmp_path_factory.mktemp("relative")
    instance_path = folder / "town.json"
    instance_path.write_text(json.dumps(town_doc()), encoding="utf-8")
    instance = load_instance(instance_path)
    instance = dataclasses.replace(instance, objective=dataclasses.replace(
        instance.objective, kind=ObjectiveKind.RELATIVE))
    solved = solve_and_verify(instance)
    assert solved.verified, solved.failure()
    path = folder / "town-relative.result.json"
    path.write_text(dumps(solved.document), encoding="utf-8")
    return instance_path, path, solved.document


def test_medium_is_decided_by_a_pinned_scenario(medium: tuple[Path, dict[str, Any]]) -> None:
    """The fixture must pin a scenario and run leximin levels, or the tests test nothing."""
    _, doc = medium
    res = doc["resilience"]
    assert res["pinned"] and res["decided_by"]
    for sid in res["pinned"]:
        assert res["ceilings"][sid] == pytest.approx(res["worst_case"], abs=1e-6)
    names = [s["objective"] for s in doc["solver"]["stages"]]
    assert "leximin_2" in names and "recourse" in names


def assert_pinned_named(text: str, doc: dict[str, Any]) -> None:
    """Every pinned scenario is named with its ceiling, and what pinning means is said."""
    res = doc["resilience"]
    for sid in res["pinned"]:
        assert f"{sid} (ceiling {res['ceilings'][sid]:.4f})" in text
    assert "No plan can do better in th" in text


def assert_stage_rows(rows: list[list[str]], doc: dict[str, Any]) -> None:
    """A stages table (header, then one row per stage but the recourse): the stage in
    words, its value (money for the cost stage) and its status."""
    assert rows[0] == ["#", "stage", "value", "status"]
    expected = shown_stages(doc)
    assert [r[1] for r in rows[1:]] == [stage_words(s["objective"]) for s in expected]
    for row, stage in zip(rows[1:], expected, strict=True):
        tolerance = MONEY if stage["objective"] == "tiebreak_cost" else SHARE
        assert num(row[2]) == pytest.approx(stage["value"], abs=tolerance)
        assert row[3] == stage["status"]


def test_html_report_says_what_decided_the_plan(tmp_path: Path,
                                                medium: tuple[Path, dict[str, Any]]) -> None:
    path, doc = medium
    out = tmp_path / "medium.html"
    ok(run(report, path, "-o", out, "--instance", MEDIUM))
    html = out.read_text(encoding="utf-8")
    # Near the top: after the summary, before the plan.
    assert html.index('id="summary"') < html.index('<section id="decided">') \
        < html.index('<section id="plan">')
    assert "<h2>What decided the plan</h2>" in html
    assert paragraph(html, "decided-by") == sentence(doc)

    pinned = paragraph(html, "pinned")
    assert pinned is not None
    res = doc["resilience"]
    assert_pinned_named(pinned, doc)

    page = Page(html)
    stages = page.tables["stages"]
    assert_stage_rows(stages, doc)
    assert "recourse" not in "".join(r[1] for r in stages)
    assert re.search(r"<td[^>]*>329,05\d\.\d\d</td>", html)  # the cost stage reads as money

    # The scenario tables: a ceiling column, pinned scenarios marked.
    worst = page.tables["worst-scenarios"]
    assert worst[0][:4] == ["scenario", "probability", "resilience", "ceiling"]
    ranked = sorted(doc["scenarios"], key=lambda s: (s["resilience"], s["id"]))
    for row, s in zip(worst[1:], ranked, strict=False):
        mark = " (pinned)" if s["id"] in res["pinned"] else ""
        assert row[0] == s["id"] + mark
        assert num(row[3]) == pytest.approx(res["ceilings"][s["id"]], abs=SHARE)
    assert html.count('<tr class="pinned">') == 2 * len(res["pinned"])  # worst and all
    assert "no plan can do better there" in html


def test_markdown_report_says_what_decided_the_plan(tmp_path: Path,
                                                    medium: tuple[Path, dict[str, Any]]) -> None:
    path, doc = medium
    out = tmp_path / "medium.md"
    ok(run(report, path, "-o", out, "--instance", MEDIUM))
    text = out.read_text(encoding="utf-8")
    assert text.index("## Key figures") < text.index("## What decided the plan") \
        < text.index("## Where the plan puts things")
    assert sentence(doc) in text
    res = doc["resilience"]
    assert_pinned_named(text, doc)
    tables = md_tables(text)
    assert_stage_rows(tables["What decided the plan"], doc)
    scenarios = tables["Resilience in every scenario"]
    assert scenarios[0][3] == "ceiling"
    marked = {r[0].removesuffix(" (pinned)") for r in scenarios[1:] if r[0].endswith(
        " (pinned)")}
    assert marked == set(res["pinned"])
    for row in scenarios[1:]:
        assert num(row[3]) == pytest.approx(res["ceilings"][row[0].removesuffix(" (pinned)")],
                                            abs=SHARE)


def test_csv_report_has_ceilings_pinning_and_stages(tmp_path: Path,
                                                    medium: tuple[Path, dict[str, Any]]) -> None:
    path, doc = medium
    out = tmp_path / "medium"
    ok(run(report, path, "-o", f"{out}/", "--instance", MEDIUM))
    sections = csv_tables(out)
    res = doc["resilience"]
    summary = {r["key"]: r["value"] for r in sections["summary"]}
    assert summary["decided_by"] == res["decided_by"]
    assert json.loads(summary["pinned_scenarios"]) == res["pinned"]
    for row, s in zip(sections["scenarios"], doc["scenarios"], strict=True):
        assert float(row["ceiling"]) == res["ceilings"][s["id"]]
        assert row["pinned"] == ("true" if s["id"] in res["pinned"] else "false")
    stages = sections["stages"]
    expected = shown_stages(doc)
    assert [r["stage"] for r in stages] == [s["objective"] for s in expected]
    for n, (row, stage) in enumerate(zip(stages, expected, strict=True), start=1):
        assert int(row["order"]) == n
        assert row["description"] == stage_words(stage["objective"])
        assert row["status"] == stage["status"]
        assert float(row["value"]) == stage["value"]  # full precision
        assert float(row["seconds"]) == stage["seconds"]


def test_relative_objective_in_words(tmp_path: Path,
                                     relative: tuple[Path, Path, dict[str, Any]]) -> None:
    instance, path, doc = relative
    assert doc["objective"]["kind"] == "relative"
    out = tmp_path / "relative.html"
    ok(run(report, path, "-o", out, "--instance", instance))
    html = out.read_text(encoding="utf-8")
    assert "objective share of ceiling (relative)" in html
    stages = Page(html).tables["stages"]
    assert stages[1][1] == "share of ceiling (relative)"
    assert num(stages[1][2]) == pytest.approx(shown_stages(doc)[0]["value"], abs=SHARE)
    explained = paragraph(html, "relative")
    assert explained is not None
    assert f"at least {100 * doc['objective']['value']:.1f}% of what is physically possible" \
        in explained
    assert "objective relative" not in html

    md = tmp_path / "relative.md"
    ok(run(report, path, "-o", md, "--instance", instance))
    text = md.read_text(encoding="utf-8")
    assert "objective share of ceiling (relative)" in text
    assert "of what is physically possible there" in text

    csv_out = tmp_path / "relative"
    ok(run(report, path, "-o", f"{csv_out}/", "--instance", instance))
    sections = csv_tables(csv_out)
    summary = {r["key"]: r["value"] for r in sections["summary"]}
    assert summary["objective"] == "relative"  # the CSV keeps the file's names
    assert sections["stages"][0]["description"] == "share of ceiling (relative)"


def test_older_result_still_renders(tmp_path: Path, medium: tuple[Path, dict[str, Any]]) -> None:
    _, doc = medium
    path = tmp_path / "older.result.json"
    path.write_text(json.dumps(old(doc)), encoding="utf-8")
    result = parse_result(json.loads(path.read_text(encoding="utf-8")))
    assert result.resilience.ceilings is None and result.resilience.pinned is None
    assert result.resilience.decided_by == "" and result.solver is not None
    assert result.solver.stages == []

    html = (tmp_path / "older.html")
    ok(run(report, path, "-o", html, "--instance", MEDIUM))
    text = html.read_text(encoding="utf-8")
    page = Page(text)
    assert '<section id="decided">' in text and "does not record what decided" in text
    assert "stages" not in page.tables and paragraph(text, "pinned") is None
    assert "ceiling" not in page.tables["all-scenarios"][0]
    assert "(pinned)" not in text
    assert "bound –" in text  # objective bound and gap may be null

    md = tmp_path / "older.md"
    ok(run(report, path, "-o", md))
    assert "does not record what decided" in md.read_text(encoding="utf-8")

    csv_out = tmp_path / "older"
    ok(run(report, path, "-o", f"{csv_out}/"))
    sections = csv_tables(csv_out)
    assert "stages" not in sections
    assert all(r["ceiling"] == "" and r["pinned"] == "" for r in sections["scenarios"])
    summary = {r["key"]: r["value"] for r in sections["summary"]}
    assert summary["decided_by"] == "" and summary["pinned_scenarios"] == ""

    # The oldest shape: no solver section at all, null sentence, null ceilings.
    bare = old(doc)
    del bare["solver"]
    bare["resilience"].update(decided_by=None, ceilings=None, pinned=None)
    for fmt in ("html", "md", "csv"):
        assert render_report(parse_result(bare), fmt)


def test_comparison_shows_what_decided_each_plan(tmp_path: Path,
                                                 medium: tuple[Path, dict[str, Any]]) -> None:
    path, doc = medium
    older = tmp_path / "older.result.json"
    older.write_text(json.dumps(old(doc)), encoding="utf-8")
    res = doc["resilience"]

    out = tmp_path / "comparison.html"
    ok(run(compare, older, path, "-o", out))
    html = out.read_text(encoding="utf-8")
    assert '<section id="decided">' in html and "What decided each plan" in html
    decisions = Page(html).rows("decisions")
    assert list(decisions) == ["older", "medium"]
    assert decisions["older"][1:] == ["–", "not recorded"]
    assert decisions["medium"][0] == "worst case"
    for sid in res["pinned"]:
        assert f"{sid} (ceiling {res['ceilings'][sid]:.4f})" in decisions["medium"][1]
    assert decisions["medium"][2] == sentence(doc)

    md = tmp_path / "comparison.md"
    ok(run(compare, older, path, "-o", md))
    text = md.read_text(encoding="utf-8")
    table = {r[0]: r[1:] for r in md_tables(text)["What decided each plan"][1:]}
    assert table["medium"][2] == sentence(doc)
    assert table["older"][2] == "not recorded"

    csv_out = tmp_path / "comparison"
    ok(run(compare, older, path, "-o", f"{csv_out}/"))
    options = {r["option"]: r for r in csv_tables(csv_out)[
        "options"]}
    assert int(options["medium"]["pinned"]) == len(res["pinned"])
    assert json.loads(options["medium"]["pinned_scenarios"]) == res["pinned"]
    assert options["medium"]["decided_by"] == res["decided_by"]
    assert options["medium"]["objective"] == "worst_case"
    assert options["older"]["pinned"] == "" and options["older"]["decided_by"] == ""


def test_comparison_names_the_relative_objective(
        tmp_path: Path, relative: tuple[Path, Path, dict[str, Any]]) -> None:
    instance, rel_path, _ = relative
    solved = solve_and_verify(load_instance(instance))  # the same file, its own objective
    plain = tmp_path / "town.result.json"
    plain.write_text(dumps(solved.document), encoding="utf-8")
    out = tmp_path / "comparison.md"
    ok(run(compare, plain, rel_path, "-o", out, "--instance", instance))
    table = {r[0]: r[1:] for r in md_tables(out.read_text(encoding="utf-8"))[
        "What decided each plan"][1:]}
    assert table["town-relative"][0] == "share of ceiling (relative)"
    assert table["town"][0] == "worst case"


# ------------------------------------------------------------------------ escaping

EVIL_ID = '<img src=x onerror=alert(1)>'
EVIL_SENTENCE = ('<script>alert("decided")</script> & *bold* [link](http://example.com) '
                 '| pipe\n# heading')


def evil_document(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its worst scenario renamed to HTML, pinned, and an HTML sentence."""
    out = copy.deepcopy(doc)
    worst = min(out["scenarios"], key=lambda s: (s["resilience"], s["id"]))
    sid = worst["id"]
    worst["id"] = EVIL_ID
    res = out["resilience"]
    res["ceilings"] = {EVIL_ID if k == sid else k: v for k, v in res["ceilings"].items()}
    res["ceilings"][EVIL_ID] = worst["resilience"]
    res["pinned"] = [EVIL_ID]
    res["decided_by"] = EVIL_SENTENCE
    out["recovery"] = None
    out["solver"]["stages"].append({"objective": "<b>odd</b>", "status": "<i>x</i>",
                                    "value": 1.0, "seconds": 0.0})
    return out


def test_html_escapes_ids_and_the_sentence(medium: tuple[Path, dict[str, Any]]) -> None:
    doc = evil_document(medium[1])
    html = render_report(parse_result(doc), "html")
    for raw in ("<script>", "<img", "<b>odd", "<i>x"):
        assert raw not in html
    assert paragraph(html, "decided-by") == EVIL_SENTENCE[0].upper() + EVIL_SENTENCE[1:] + "."
    pinned = paragraph(html, "pinned")
    assert pinned is not None and f"{EVIL_ID} (ceiling" in pinned
    page = Page(html)
    assert page.tables["worst-scenarios"][1][0] == EVIL_ID + " (pinned)"
    assert page.tables["stages"][-1][1:] == ["<b>odd</b>", "1", "<i>x</i>"]


def test_markdown_passes_no_raw_html(medium: tuple[Path, dict[str, Any]]) -> None:
    """Rendered by a CommonMark renderer that lets raw HTML through, nothing becomes a tag,
    a link or emphasis: the ids and the sentence read as they are in the file."""
    markdown_it = pytest.importorskip("markdown_it")
    doc = evil_document(medium[1])
    text = render_report(parse_result(doc), "md")
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    for raw in ("<script", "<img", "<a ", "<em>", "<strong>bold", "<b>odd", "<i>x",
                "<h1>heading"):
        assert raw not in rendered, raw
    visible = htmllib.unescape(re.sub(r"<[^>]+>", "", rendered))
    assert " ".join(EVIL_SENTENCE.split()) in visible
    assert f"{EVIL_ID} (pinned)" in visible and f"{EVIL_ID} (ceiling" in visible

    comparison = _comparison_text(doc, copy.deepcopy(doc))
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(
        comparison)
    assert "<script" not in rendered and "<img" not in rendered
    assert " ".join(EVIL_SENTENCE.split()) in htmllib.unescape(re.sub(r"<[^>]+>", "",
                                                                      rendered))


def _comparison_text(a: dict[str, Any], b: dict[str, Any]) -> str:
    from optimizer.report import render_comparison
    from optimizer.report.compare import compare as build

    comparison = build([("a.result.json", parse_result(a), None),
                        ("b.result.json", parse_result(b), None)])
    html = render_comparison(comparison, "html")
    assert "<script>" not in html and "<img" not in html
    return render_comparison(comparison, "md")
