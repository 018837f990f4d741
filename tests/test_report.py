"""``resilience report``: every format parsed and its numbers checked against the result.

A small town (nine zones on a grid, existing and candidate depots and shelters, four
scenarios with cut roads, a failed node and damaged facilities) is solved once; its report
is written as HTML, Markdown, CSV and GeoJSON through the click command, each file is
parsed back and the numbers are compared with the result document they came from (and the
do-nothing plan with an independent max-flow evaluation). A hand-built recovery section
checks the recovery curve, which the engine does not fill yet.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
import math
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from optimizer.cli.report import report
from optimizer.errors import InputError, UsageError
from optimizer.evaluation.evaluate import evaluate_plan
from optimizer.instance.data import Crs
from optimizer.instance.reading import load_instance
from optimizer.pipeline import solve_and_verify
from optimizer.plan import Plan
from optimizer.report import write_report
from optimizer.results.file import dumps

MONEY = 0.006  # money is shown with two decimals
SHARE = 5.1e-5  # resilience and its terms with four
PERCENT = 5.1e-4  # shares as percentages with one decimal
UNITS = 0.051  # units and people with at most one decimal


def town_doc(budget: float = 400.0) -> dict[str, Any]:
    """Nine zones on a 3 x 3 grid of roads, with every kind of decision in play."""
    pops = [120, 80, 60, 90, 150, 70, 50, 110, 40]
    nodes = [{"id": f"z{i}", "x": float(i % 3), "y": float(i // 3), "population": float(p),
              "economic_exposure": float(100 + 20 * i)} for i, p in enumerate(pops)]
    edges = []
    for i in range(9):
        if i % 3 < 2:
            edges.append({"id": f"r{i}_{i + 1}", "from": f"z{i}", "to": f"z{i + 1}",
                          "length": 1.0})
        if i < 6:
            edges.append({"id": f"r{i}_{i + 3}", "from": f"z{i}", "to": f"z{i + 3}",
                          "length": 1.0})
    edges.append({"id": "r0_4", "from": "z0", "to": "z4", "length": 1.5})
    return {
        "schema_version": 1, "name": "town",
        "description": "Nine zones on a 3 x 3 grid of roads: the reports' test instance.",
        "network": {"nodes": nodes, "edges": edges},
        "commodities": [
            {"id": "water", "per_capita_need": 1.0, "unit_volume": 1.0, "weight": 2.0},
            {"id": "food", "per_capita_need": 0.5, "unit_volume": 1.0, "weight": 1.0}],
        "depots": [
            {"id": "d_old", "node": "z0", "fixed_cost": 0, "capacity": 200,
             "unit_cost": {"water": 0.5, "food": 1.0},
             "existing_stock": {"water": 60, "food": 20}, "existing": True},
            {"id": "d_mid", "node": "z4", "fixed_cost": 60, "capacity": 400,
             "unit_cost": {"water": 0.5, "food": 1.0}},
            {"id": "d_far", "node": "z8", "fixed_cost": 40, "capacity": 300,
             "unit_cost": {"water": 0.6, "food": 1.2}}],
        "shelters": [
            {"id": "h_old", "node": "z2", "fixed_cost": 0, "capacity": 40, "existing": True},
            {"id": "h_west", "node": "z6", "fixed_cost": 50, "capacity": 60, "module_size": 20,
             "module_cost": 15, "max_modules": 2},
            {"id": "h_mid", "node": "z4", "fixed_cost": 70, "capacity": 100}],
        "compensation": {"max_pool": 300},
        "budget": budget,
        "policy": {"supply_reach": 2.0, "evacuation_reach": 2.0, "shelter_redundancy": 1},
        "resilience": {"weights": {"supply": 0.5, "shelter": 0.3, "economic": 0.2}},
        "objective": {"kind": "worst_case"},
        "scenarios": [
            {"id": "flood_east", "probability": 0.3, "failed_edges": ["r5_8", "r7_8"],
             "affected": {"z8": 1.0, "z5": 0.5, "z7": 0.5}, "depot_loss": {"d_far": 0.5},
             "evacuation_rate": 0.5, "economic_loss_rate": 0.5},
            {"id": "quake", "probability": 0.2, "failed_nodes": ["z4"],
             "affected": {"z1": 0.5, "z3": 0.5, "z4": 1.0, "z5": 0.3},
             "shelter_loss": {"h_mid": 0.5}, "evacuation_rate": 0.4,
             "economic_loss_rate": 0.6},
            {"id": "storm", "probability": 0.4, "failed_edges": ["r0_1"],
             "affected": {"z0": 0.3, "z1": 0.3, "z2": 0.3}, "evacuation_rate": 0.2,
             "economic_loss_rate": 0.2},
            {"id": "fire_west", "probability": 0.1, "failed_edges": ["r3_6", "r6_7"],
             "affected": {"z6": 1.0, "z3": 0.4}, "evacuation_rate": 0.6,
             "economic_loss_rate": 0.8}],
    }


def solve_to_files(folder: Path, doc: dict[str, Any], name: str = "town",
                   budget: float | None = None) -> tuple[Path, Path, dict[str, Any]]:
    """Write the instance, solve it (at ``budget``), write the result: (instance, result, doc)."""
    instance_path = folder / f"{name}.json"
    if not instance_path.exists():
        instance_path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    instance = load_instance(instance_path)
    if budget is not None:
        import dataclasses

        instance = dataclasses.replace(instance, budget=budget)
    solved = solve_and_verify(instance)
    assert solved.verified, solved.failure()
    suffix = "" if budget is None else f"-{budget:g}"
    result_path = folder / f"{name}{suffix}.result.json"
    result_path.write_text(dumps(solved.document), encoding="utf-8")
    return instance_path, result_path, solved.document


def run(command: Any, *args: Any) -> Result:
    return CliRunner().invoke(command, [str(a) for a in args])


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result


def num(text: str) -> float | None:
    """A number as the reports print it: ``1,234.50``, ``+0.0123``, ``45.0%``, ``–``."""
    text = text.strip().strip("*")
    if text in ("–", ""):
        return None
    if text.endswith("%"):
        return float(text[:-1].replace(",", "")) / 100
    return float(text.replace(",", ""))


class Page(HTMLParser):
    """Tables (by id) as rows of cell texts, cards (by id) as their texts, and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.cards: dict[str, list[str]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._card: str | None = None
        self._depth = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or f"table-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if tag == "div":
            if self._card is not None:
                self._depth += 1
            elif (a.get("id") or "").startswith("card-"):
                self._card, self._depth = a["id"], 0
                self.cards[self._card] = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "div" and self._card is not None:
            if self._depth == 0:
                self._card = None
            else:
                self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._card is not None and data.strip():
            self.cards[self._card].append(data.strip())

    def rows(self, table_id: str) -> dict[str, list[str]]:
        """Data rows keyed by their first cell."""
        return {r[0]: r[1:] for r in self.tables[table_id][1:]}


def md_tables(text: str) -> dict[str, list[list[str]]]:
    """Markdown pipe tables keyed by the heading above them (repeats get ' #2')."""
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            current = None
        elif line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if current is None:
                key = heading
                n = 2
                while key in tables:
                    key, n = f"{heading} #{n}", n + 1
                current = tables[key] = []
            if not all(set(c) <= set("-:") for c in cells):
                current.append(cells)
        else:
            current = None
    return tables


def csv_tables(folder: Path) -> dict[str, list[dict[str, str]]]:
    """Every ``NAME.csv`` of a report folder: one plain table each, header and rows."""
    return {path.stem: list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
            for path in sorted(folder.glob("*.csv"))}


def ranked(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(doc["scenarios"], key=lambda s: (s["resilience"], s["id"]))


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    return solve_to_files(tmp_path_factory.mktemp("town"), town_doc())


@pytest.fixture(scope="module")
def nothing(town: tuple[Path, Path, dict[str, Any]]) -> dict[str, float]:
    """Doing nothing, evaluated here by max flow: scenario id -> resilience."""
    instance = load_instance(town[0])
    outcomes = evaluate_plan(instance, Plan.nothing(instance))
    return {s.id: o.resilience for s, o in zip(instance.scenarios, outcomes, strict=True)}


def test_the_town_exercises_the_report(town: tuple[Path, Path, dict[str, Any]]) -> None:
    """The fixture must leave someone without help, or the unmet tables test nothing."""
    _, _, doc = town
    worst = ranked(doc)[0]
    assert worst["unmet"]["need"] and worst["resilience"] < 1
    assert any(d["open"] and sum(d["stock"].values()) > 0 for d in doc["decisions"]["depots"])


def test_html_report_numbers(tmp_path: Path, town: tuple[Path, Path, dict[str, Any]],
                             nothing: dict[str, float]) -> None:
    instance_path, result_path, doc = town
    out = tmp_path / "town.html"
    result = ok(run(report, result_path, "-o", out, "--instance", instance_path))
    assert result.stdout == ""
    assert f"report written to {out}" in result.stderr
    html = out.read_text(encoding="utf-8")
    page = Page(html)

    assert num(page.cards["card-worst"][1]) == pytest.approx(doc["resilience"]["worst_case"],
                                                             abs=SHARE)
    assert num(page.cards["card-expected"][1]) == pytest.approx(doc["resilience"]["expected"],
                                                                abs=SHARE)
    assert num(page.cards["card-cvar"][1]) == pytest.approx(doc["resilience"]["cvar"]["value"],
                                                            abs=SHARE)
    assert num(page.cards["card-cost"][1]) == pytest.approx(doc["cost"]["total"], abs=MONEY)
    worst_nothing = min(nothing.values())
    gain = (doc["resilience"]["worst_case"] - worst_nothing) / (doc["cost"]["total"] / 1000)
    assert num(page.cards["card-gain"][1]) == pytest.approx(gain, rel=5e-3)

    costs = page.rows("costs")
    for line in ("depots", "stock", "shelters", "modules", "compensation_pool", "total",
                 "budget"):
        assert num(costs[line.replace("_", " ")][0]) == pytest.approx(doc["cost"][line],
                                                                      abs=MONEY)
    assert num(costs["left unspent"][0]) == pytest.approx(
        doc["cost"]["budget"] - doc["cost"]["total"], abs=MONEY)

    worst = page.tables["worst-scenarios"][1:]
    assert [r[0] for r in worst] == [s["id"] for s in ranked(doc)[:5]]
    every = page.rows("all-scenarios")
    assert set(every) == {s["id"] for s in doc["scenarios"]}
    column = {h: n - 1 for n, h in enumerate(page.tables["all-scenarios"][0])}
    assert list(column)[:4] == ["scenario", "probability", "resilience", "ceiling"]
    for s in doc["scenarios"]:
        row = every[s["id"]]
        assert num(row[column["probability"]]) == pytest.approx(s["probability"], abs=PERCENT)
        for key in ("resilience", "supply", "shelter", "economic"):
            assert num(row[column[key]]) == pytest.approx(s[key], abs=SHARE), (s["id"], key)
        assert num(row[column["ceiling"]]) == pytest.approx(
            doc["resilience"]["ceilings"][s["id"]], abs=SHARE)
        assert num(row[column["doing nothing"]]) == pytest.approx(nothing[s["id"]], abs=SHARE)
        assert num(row[column["gain"]]) == pytest.approx(s["resilience"] - nothing[s["id"]],
                                                         abs=2 * SHARE)

    facilities = page.rows("facilities")
    for d in doc["decisions"]["depots"]:
        row = facilities[f"depot {d['id']}"]
        bought = {k: v for k, v in d["stock"].items() if v}
        shown = {k: num(v) for v, k in re.findall(r"(\d[\d,.]*) ([A-Za-z_]\w*)", row[2])}
        assert shown == pytest.approx(bought, abs=UNITS)
        assert row[1] == ("closed" if not d["open"] else
                          "existing" if d["id"] == "d_old" else "new")
    for h in doc["decisions"]["shelters"]:
        row = facilities[f"shelter {h['id']}"]
        if h["open"]:
            assert num(row[2].split(" places")[0]) == pytest.approx(h["capacity"], abs=UNITS)
    assert num(facilities["compensation pool"][2]) == pytest.approx(
        doc["decisions"]["compensation_pool"], abs=MONEY)

    # The three terms: the weights come from the instance, the rest from the result.
    terms = page.rows("terms")
    w = {"supply": 0.5, "shelter": 0.3, "economic": 0.2}
    first = ranked(doc)[0]
    probabilities = np.array([s["probability"] for s in doc["scenarios"]])
    for term in ("supply", "shelter", "economic"):
        values = np.array([s[term] for s in doc["scenarios"]])
        assert num(terms[term][0]) == pytest.approx(w[term], abs=SHARE)
        assert num(terms[term][1]) == pytest.approx(first[term], abs=SHARE)
        assert num(terms[term][2]) == pytest.approx(values.min(), abs=SHARE)
        assert num(terms[term][3]) == pytest.approx(probabilities @ values, abs=SHARE)
    for dimension in ("infrastructure", "economic", "social", "institutional"):
        assert f"dimension-{dimension}" in page.tables
    economic = page.rows("dimension-economic")
    assert num(economic["compensation pool"][0]) == pytest.approx(
        doc["decisions"]["compensation_pool"], abs=MONEY)
    institutional = page.rows("dimension-institutional")
    # The policy (redundancy 1) holds on the intact roads: everyone has a shelter in reach.
    assert num(institutional["population with 1+ open shelter within evacuation reach, "
                             "intact roads"][0]) == pytest.approx(1.0)

    unmet = page.rows("unmet-1")
    for zone, by_commodity in first["unmet"]["need"].items():
        assert num(unmet[zone][1]) == pytest.approx(by_commodity.get("water", 0.0), abs=UNITS)
        assert num(unmet[zone][2]) == pytest.approx(by_commodity.get("food", 0.0), abs=UNITS)
    for zone, people in first["unmet"]["evacuees"].items():
        assert num(unmet[zone][3]) == pytest.approx(people, abs=UNITS)
    assert num(unmet["total"][1]) == pytest.approx(
        sum(v.get("water", 0.0) for v in first["unmet"]["need"].values()), abs=UNITS)

    against = page.rows("against-nothing")
    assert page.tables["against-nothing"][0] == ["", "the plan", "doing nothing", "difference"]
    assert num(against["worst-case resilience"][0]) == pytest.approx(
        doc["resilience"]["worst_case"], abs=SHARE)
    assert num(against["worst-case resilience"][1]) == pytest.approx(worst_nothing, abs=SHARE)
    assert num(against["money spent"][0]) == pytest.approx(doc["cost"]["total"], abs=MONEY)
    assert num(against["money spent"][1]) == 0


def test_html_map_and_self_contained(tmp_path: Path,
                                     town: tuple[Path, Path, dict[str, Any]]) -> None:
    instance_path, result_path, doc = town
    out = tmp_path / "town.html"
    ok(run(report, result_path, "-o", out, "--instance", instance_path))
    html = out.read_text(encoding="utf-8")
    # The map: a circle per zone (plus two in the legend), the worst scenario's cut roads
    # dashed (plus one in the legend), a square per depot, a triangle per shelter.
    svg = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" viewBox'):]
    svg = svg[: svg.index("</svg>")]
    assert svg.count("<circle") == 9 + 2
    worst = ranked(doc)[0]["id"]
    cut = {"fire_west": 2, "flood_east": 2, "quake": 4, "storm": 1}[worst]
    assert svg.count('stroke-dasharray="6 3"') == cut + 1
    assert svg.count("<rect") == 3 + 4  # the legend's fourth: a damaged facility
    assert svg.count("<polygon") == 3 + 2
    # Labels per commodity (water and food do not add up) and the zones short of help named.
    for d in doc["decisions"]["depots"]:
        for k, units in d["stock"].items():
            if units:
                assert f"+{units:,.0f} {k}" in svg
    worst_doc = ranked(doc)[0]
    for zone in list(worst_doc["unmet"]["need"])[:3]:
        assert f'class="halo">{zone}</text>' in svg
    # Nothing to fetch: no script, no external reference; a policy that forbids loading.
    assert "<script" not in html
    assert not re.search(r'\b(?:src|href)="(?!#|data:)', html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "@page{size:A4" in html and "@media print" in html


def test_markdown_report_numbers(tmp_path: Path, town: tuple[Path, Path, dict[str, Any]],
                                 nothing: dict[str, float]) -> None:
    instance_path, result_path, doc = town
    out = tmp_path / "town.md"
    ok(run(report, result_path, "-o", out, "--instance", instance_path))
    tables = md_tables(out.read_text(encoding="utf-8"))
    key = {r[0]: r[1:] for r in tables["Key figures"][1:]}
    assert num(key["worst-case resilience"][0]) == pytest.approx(
        doc["resilience"]["worst_case"], abs=SHARE)
    assert num(key["worst-case resilience"][1]) == pytest.approx(min(nothing.values()),
                                                                 abs=SHARE)
    assert num(key["expected resilience"][0]) == pytest.approx(doc["resilience"]["expected"],
                                                               abs=SHARE)
    assert num(key["money spent"][0]) == pytest.approx(doc["cost"]["total"], abs=MONEY)
    costs = {r[0].strip("*"): r[1:] for r in tables["Cost against the budget"][1:]}
    for line in ("depots", "stock", "shelters", "modules", "compensation_pool", "total"):
        assert num(costs[line.replace("_", " ")][0]) == pytest.approx(doc["cost"][line],
                                                                      abs=MONEY)
    scenarios = tables["Resilience in every scenario"]
    assert [r[0] for r in scenarios[1:]] == [s["id"] for s in ranked(doc)]
    by_id = {s["id"]: s for s in doc["scenarios"]}
    column = {h: n for n, h in enumerate(scenarios[0])}
    for row in scenarios[1:]:
        assert num(row[column["resilience"]]) == pytest.approx(by_id[row[0]]["resilience"],
                                                               abs=SHARE)
        assert num(row[column["ceiling"]]) == pytest.approx(
            doc["resilience"]["ceilings"][row[0]], abs=SHARE)
        assert num(row[column["doing nothing"]]) == pytest.approx(nothing[row[0]], abs=SHARE)
    first = ranked(doc)[0]
    unmet = {r[0]: r[1:] for r in tables[f"{first['id']}: resilience "
                                         f"{first['resilience']:.4f}, probability "
                                         f"{100 * first['probability']:.1f}%"][1:]}
    for zone, need in first["unmet"]["need"].items():
        assert num(unmet[zone][1]) == pytest.approx(need.get("water", 0.0), abs=UNITS)
    assert {"Infrastructure", "Economic", "Social", "Institutional"} <= set(tables)


def test_csv_report_numbers(tmp_path: Path, town: tuple[Path, Path, dict[str, Any]],
                            nothing: dict[str, float]) -> None:
    instance_path, result_path, doc = town
    out = tmp_path / "town-tables"
    ok(run(report, result_path, "-o", f"{out}/", "--instance", instance_path))
    sections = csv_tables(out)
    assert set(sections) == {"summary", "costs", "depots", "shelters", "scenarios", "unmet",
                             "stages", "recovery", "recovery_zones"}
    summary = {r["key"]: r["value"] for r in sections["summary"]}
    assert float(summary["worst_case"]) == doc["resilience"]["worst_case"]
    assert float(summary["cvar"]) == doc["resilience"]["cvar"]["value"]
    assert summary["instance_sha256"] == doc["instance"]["sha256"]
    assert float(summary["do_nothing_worst_case"]) == pytest.approx(min(nothing.values()))
    costs = {r["line"]: float(r["amount"]) for r in sections["costs"]}
    assert costs == {k: doc["cost"][k] for k in costs}
    for row, d in zip(sections["depots"], doc["decisions"]["depots"], strict=True):
        assert row["depot"] == d["id"] and row["open"] == str(d["open"]).lower()
        assert {k: float(row[f"bought_{k}"]) for k in d["stock"]} == d["stock"]
    d_old = sections["depots"][0]
    assert float(d_old["on_hand_water"]) == 60 + doc["decisions"]["depots"][0]["stock"]["water"]
    for row, h in zip(sections["shelters"], doc["decisions"]["shelters"], strict=True):
        assert (row["shelter"], int(row["modules"]), float(row["capacity"])) == (
            h["id"], h["modules"], h["capacity"])
    for row, s in zip(sections["scenarios"], doc["scenarios"], strict=True):
        assert row["scenario"] == s["id"]
        for key in ("probability", "resilience", "supply", "shelter", "economic"):
            assert float(row[key]) == s[key]
        assert float(row["do_nothing"]) == pytest.approx(nothing[s["id"]])
        assert float(row["ceiling"]) == doc["resilience"]["ceilings"][s["id"]]
        assert row["pinned"] == str(s["id"] in doc["resilience"]["pinned"]).lower()
    unmet = {(r["scenario"], r["zone"]): r for r in sections["unmet"]}
    expected = {(s["id"], z) for s in doc["scenarios"]
                for z in set(s["unmet"]["need"]) | set(s["unmet"]["evacuees"])}
    assert set(unmet) == expected
    for s in doc["scenarios"]:
        for zone, need in s["unmet"]["need"].items():
            for k, units in need.items():
                assert float(unmet[(s["id"], zone)][f"unmet_{k}"]) == units
        for zone, people in s["unmet"]["evacuees"].items():
            assert float(unmet[(s["id"], zone)]["unsheltered"]) == people


def test_geojson_report(tmp_path: Path, town: tuple[Path, Path, dict[str, Any]]) -> None:
    instance_path, result_path, doc = town
    out = tmp_path / "town.geojson"
    ok(run(report, result_path, "-o", out, "--instance", instance_path, "--local-coordinates"))
    collection = json.loads(out.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    assert collection["crs"]["properties"]["name"] == "local"
    features = collection["features"]
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for f in features:
        assert f["type"] == "Feature" and f["geometry"]["type"] in ("Point", "LineString")
        by_kind.setdefault(f["properties"]["kind"], {})[f["properties"]["id"]] = f
    town_instance = town_doc()
    assert set(by_kind["zone"]) == {n["id"] for n in town_instance["network"]["nodes"]}
    assert by_kind["zone"]["z5"]["geometry"]["coordinates"] == [2.0, 1.0]
    worst = ranked(doc)[0]
    for zone, f in by_kind["zone"].items():
        p = f["properties"]
        assert p["scenario"] == worst["id"]
        need = worst["unmet"]["need"].get(zone, {})
        assert p["unmet_water"] == need.get("water", 0.0)
        assert p["unsheltered"] == worst["unmet"]["evacuees"].get(zone, 0.0)
        assert p["max_unmet_water"] == max(
            [s["unmet"]["need"].get(zone, {}).get("water", 0.0) for s in doc["scenarios"]])
    for d in doc["decisions"]["depots"]:
        p = by_kind["depot"][d["id"]]["properties"]
        assert p["open"] == d["open"]
        assert {k: p[f"bought_{k}"] for k in d["stock"]} == d["stock"]
    for h in doc["decisions"]["shelters"]:
        p = by_kind["shelter"][h["id"]]["properties"]
        assert (p["open"], p["capacity"], p["modules"]) == (h["open"], h["capacity"],
                                                             h["modules"])
    scenario = next(s for s in town_instance["scenarios"] if s["id"] == worst["id"])
    cut = set(scenario.get("failed_edges", []))
    for node in scenario.get("failed_nodes", []):
        cut |= {e["id"] for e in town_instance["network"]["edges"] if node in (e["from"], e["to"])}
    assert {i for i, f in by_kind["road"].items()
            if f["properties"]["cut_in_worst_scenario"]} == cut
    assert collection["resilience"]["worst_case"] == doc["resilience"]["worst_case"]


def test_geojson_needs_the_instance_and_coordinates(tmp_path: Path) -> None:
    doc = town_doc()
    for node in doc["network"]["nodes"]:
        del node["x"], node["y"]
    instance_path, result_path, _ = solve_to_files(tmp_path, doc, name="nowhere")
    result = run(report, result_path, "-o", tmp_path / "a.geojson")
    assert result.exit_code == 2 and "GeoJSON needs the instance" in result.stderr
    result = run(report, result_path, "-o", tmp_path / "a.geojson", "--instance",
                 instance_path)
    assert result.exit_code == 2 and "GeoJSON needs coordinates" in result.stderr
    assert "Traceback" not in result.output
    # The HTML map falls back on a schematic layout and says so.
    ok(run(report, result_path, "-o", tmp_path / "a.html", "--instance", instance_path))
    assert "schematic layout" in (tmp_path / "a.html").read_text(encoding="utf-8")


def test_report_without_instance(tmp_path: Path,
                                 town: tuple[Path, Path, dict[str, Any]]) -> None:
    _, result_path, doc = town
    out = tmp_path / "bare.html"
    result = ok(run(report, result_path, "-o", out))
    assert "no instance (give --instance INSTANCE)" in result.stderr
    html = out.read_text(encoding="utf-8")
    assert "The map needs the instance file" in html
    assert "This comparison needs the instance file" in html
    page = Page(html)
    assert num(page.cards["card-worst"][1]) == pytest.approx(doc["resilience"]["worst_case"],
                                                             abs=SHARE)
    assert "<svg" in html  # the charts do not need the instance


def test_instance_path_recorded_in_the_result(tmp_path: Path,
                                             town: tuple[Path, Path, dict[str, Any]]) -> None:
    instance_path, result_path, doc = town
    recorded = copy.deepcopy(doc)
    recorded["instance"]["path"] = str(instance_path)
    path = tmp_path / "recorded.result.json"
    path.write_text(json.dumps(recorded), encoding="utf-8")
    out = tmp_path / "recorded.html"
    result = ok(run(report, path, "-o", out))
    assert "warning" not in result.stderr
    assert 'class="map"' in out.read_text(encoding="utf-8")

    # A changed instance file: used, with a warning on the terminal and in the report.
    changed = town_doc()
    changed["description"] = "edited since the solve"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(changed), encoding="utf-8")
    result = ok(run(report, result_path, "-o", out, "--instance", edited))
    assert "is not the file" in result.stderr and "sha256" in result.stderr
    assert "is not the file" in out.read_text(encoding="utf-8")

    # A recorded path that has gone: a warning, and the report without the instance.
    recorded["instance"]["path"] = str(tmp_path / "gone.json")
    path.write_text(json.dumps(recorded), encoding="utf-8")
    result = ok(run(report, path, "-o", out))
    assert "cannot be found" in result.stderr


def recovery_document(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with a hand-made recovery section in the shape of design section 5."""
    out = copy.deepcopy(doc)
    out["recovery"] = []
    for s in doc["scenarios"]:
        flood = s["id"] == "flood_east"
        steps = [{"period": 0, "repaired_edge": None, "resilience": s["resilience"]}]
        if s["resilience"] < 1:
            middle = round((s["resilience"] + 1) / 2, 10)
            steps += [{"period": 1, "repaired_edge": "r5_8", "resilience": middle},
                      {"period": 2, "repaired_edge": "r7_8", "resilience": 1.0}]
        out["recovery"].append({
            "id": s["id"],
            "cut_off": {"supply": ["z8"] if flood else [], "shelter": []},
            "out_of_reach": {"supply": ["z8", "z7"] if flood else [],
                             "shelter": ["z8"] if flood else []},
            "detour_ratio": {"z5": {"supply": 1.5, "shelter": 1.0},
                             "z8": {"supply": None, "shelter": None}},
            "disjoint_paths": {"z5": {"supply": 2, "shelter": None},
                               "z8": {"supply": 0, "shelter": 1}},
            "restoration": steps,
            "recovery_area": sum(x["resilience"] for x in steps) / len(steps)})
    return out


def test_recovery_curve_from_a_constructed_document(
        tmp_path: Path, town: tuple[Path, Path, dict[str, Any]]) -> None:
    instance_path, _, doc = town
    with_recovery = recovery_document(doc)
    path = tmp_path / "recovery.result.json"
    path.write_text(json.dumps(with_recovery), encoding="utf-8")
    out = tmp_path / "recovery.html"
    ok(run(report, path, "-o", out, "--instance", instance_path))
    html = out.read_text(encoding="utf-8")
    assert 'aria-label="Recovery curves"' in html and "no recovery analysis" not in html
    table = Page(html).rows("recovery-table")
    assert set(table) == {s["id"] for s in doc["scenarios"]}
    assert table["flood_east"][:4] == ["supply: z8; shelter: none",
                                       "supply: z8, z7; shelter: z8",
                                       "supply: 1.5 (z5); shelter: 1 (z5)",
                                       "supply: 0 (z8); shelter: 1 (z8)"]
    assert table["storm"][0] == "none"
    for rec in with_recovery["recovery"]:
        row = table[rec["id"]]
        assert int(row[4]) == len(rec["restoration"]) - 1
        assert row[5] == "–"  # a file from before crews does not say
        assert int(row[6]) == rec["restoration"][-1]["period"]
        assert num(row[7]) == pytest.approx(rec["restoration"][0]["resilience"], abs=SHARE)
        assert num(row[8]) == pytest.approx(rec["restoration"][-1]["resilience"], abs=SHARE)
        assert num(row[9]) == pytest.approx(rec["recovery_area"], abs=SHARE)

    ok(run(report, path, "-o", f"{tmp_path / 'recovery'}/"))
    sections = csv_tables(tmp_path / "recovery")
    curve = [(r["scenario"], int(r["period"]), r["repaired_edge"], float(r["resilience"]))
             for r in sections["recovery"]]
    assert curve == [(rec["id"], step["period"], step["repaired_edge"] or "",
                      step["resilience"]) for rec in with_recovery["recovery"]
                     for step in rec["restoration"]]
    zones = {(r["scenario"], r["zone"], r["kind"]): r for r in sections["recovery_zones"]}
    z8 = zones[("flood_east", "z8", "supply")]
    assert (z8["cut_off"], z8["out_of_reach"], z8["detour_ratio"], z8["disjoint_paths"]) == (
        "true", "true", "", "0")
    assert zones[("flood_east", "z5", "supply")]["detour_ratio"] == "1.5"

    ok(run(report, path, "-o", tmp_path / "recovery.md"))
    tables = md_tables((tmp_path / "recovery.md").read_text(encoding="utf-8"))
    assert {r[0] for r in tables["Recovery after the event"][1:]} == {
        s["id"] for s in doc["scenarios"]}


def test_recovery_from_the_engine(tmp_path: Path,
                                  town: tuple[Path, Path, dict[str, Any]]) -> None:
    """The recovery section ``solve`` writes (issue 3), as the report shows it."""
    instance_path, result_path, doc = town
    if not doc.get("recovery"):
        pytest.skip("this engine writes no recovery section yet")
    out = tmp_path / "engine.html"
    ok(run(report, result_path, "-o", out, "--instance", instance_path))
    table = Page(out.read_text(encoding="utf-8")).rows("recovery-table")
    for rec in doc["recovery"]:
        row = table[rec["id"]]
        steps = rec["restoration"]
        assert int(row[4]) == sum(1 for x in steps if x["repaired_edge"] is not None)
        assert int(row[5]) == rec["crews"]
        assert num(row[8]) == pytest.approx(steps[-1]["resilience"], abs=SHARE)
        assert num(row[9]) == pytest.approx(rec["recovery_area"], abs=SHARE)
    # Without a recovery section, the report says so instead of drawing an empty curve.
    bare = {**doc, "recovery": None}
    path = tmp_path / "bare.result.json"
    path.write_text(json.dumps(bare), encoding="utf-8")
    ok(run(report, path, "-o", out))
    assert "no recovery analysis" in out.read_text(encoding="utf-8")


def test_results_without_a_plan_or_broken_are_refused(tmp_path: Path,
                                                     town: tuple[Path, Path, dict[str, Any]]
                                                     ) -> None:
    _, _, doc = town
    failed = {**doc, "status": "infeasible", "message": "no plan satisfies the budget",
              "decisions": None, "cost": None, "resilience": None, "scenarios": []}
    path = tmp_path / "failed.result.json"
    path.write_text(json.dumps(failed), encoding="utf-8")
    result = run(report, path, "-o", tmp_path / "x.html")
    assert result.exit_code == 2
    assert "no plan in this result (status infeasible: no plan satisfies the budget)" in \
        result.stderr
    broken = copy.deepcopy(doc)
    del broken["cost"]
    broken["scenarios"][1]["resilience"] = "high"
    path.write_text(json.dumps(broken), encoding="utf-8")
    result = run(report, path, "-o", tmp_path / "x.html")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cost: missing" in result.stderr and "scenarios[1].resilience" in result.stderr
    path.write_text("{", encoding="utf-8")
    result = run(report, path, "-o", tmp_path / "x.html")
    assert result.exit_code == 2 and "invalid JSON at line 1" in result.stderr
    result = run(report, tmp_path / "missing.json")
    assert result.exit_code == 2 and "cannot read" in result.stderr


def test_output_choices(tmp_path: Path, town: tuple[Path, Path, dict[str, Any]],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    instance_path, result_path, _ = town
    result = run(report, result_path, "-o", tmp_path / "x.pdf")
    assert result.exit_code == 2 and "cannot tell the format of" in result.stderr
    result = ok(run(report, result_path, "-o", "-", "--instance", instance_path))
    assert result.stdout.startswith("# Preparedness plan for town")
    result = ok(run(report, result_path, "-o", "-", "--format", "csv", "--table", "costs"))
    assert result.stdout.startswith("line,amount,share_of_budget\n")
    result = run(report, result_path, "-o", "-", "--format", "csv")
    assert result.exit_code == 2 and "--table (summary, costs, depots" in result.stderr
    result = run(report, result_path, "-o", tmp_path / "x.csv")
    assert result.exit_code == 2 and "a CSV file holds one table" in result.stderr
    result = run(report, result_path, "-o", tmp_path / "x.csv", "--table", "nope")
    assert result.exit_code == 2 and "no table 'nope' here; the tables are summary" in (
        result.stderr)
    result = run(report, result_path, "-o", "-", "--format", "xlsx")
    assert result.exit_code == 2 and "not text" in result.stderr
    result = ok(run(report, result_path, "-o", tmp_path / "x.txt", "--format", "md"))
    assert (tmp_path / "x.txt").read_text(encoding="utf-8").startswith("# Preparedness")
    monkeypatch.chdir(tmp_path)
    ok(run(report, result_path))
    written = tmp_path / "town.report.html"
    assert written.exists()
    # Written atomically, yet with the mode of any new file: reports are for sharing.
    mask = os.umask(0)
    os.umask(mask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~mask
    result = run(report, result_path, "-o", tmp_path / "no" / "such" / "x.html")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_write_report_picks_the_format(tmp_path: Path,
                                       town: tuple[Path, Path, dict[str, Any]]) -> None:
    """What ``solve --report FILE`` calls: the document in memory, the format by extension."""
    instance_path, _, doc = town
    instance = load_instance(instance_path)
    # The town's grid read as longitude and latitude, so that GeoJSON may be written.
    instance = dataclasses.replace(instance, network=dataclasses.replace(
        instance.network, crs=Crs(epsg=4326)))
    for suffix, start in ((".html", "<!DOCTYPE html>"), (".md", "# Preparedness"),
                          (".geojson", "{")):
        path = tmp_path / f"memory{suffix}"
        write_report(doc, path, instance)
        assert path.read_text(encoding="utf-8").startswith(start)
    write_report(doc, tmp_path / "costs.csv", instance, table="costs")
    assert (tmp_path / "costs.csv").read_text(encoding="utf-8").startswith("line,amount,")
    write_report(doc, f"{tmp_path / 'tables'}/", instance)
    assert (tmp_path / "tables" / "summary.csv").read_text(encoding="utf-8").startswith(
        "key,value\n")
    write_report(doc, tmp_path / "memory.xlsx", instance)
    assert (tmp_path / "memory.xlsx").read_bytes().startswith(b"PK")  # a zip, as xlsx is
    write_report(doc, tmp_path / "bare.md")  # no instance: still a report
    with pytest.raises(UsageError, match="cannot tell the format"):
        write_report(doc, tmp_path / "memory.docx", instance)
    with pytest.raises(InputError, match="no plan in this result"):
        write_report({**doc, "decisions": None}, tmp_path / "x.md")


def test_text_formats_do_not_load_matplotlib(tmp_path: Path,
                                             town: tuple[Path, Path, dict[str, Any]]) -> None:
    instance_path, result_path, _ = town
    code = f"""
import sys
from optimizer.cli.report import report, compare, sweep
from optimizer.results.document import read_result
from optimizer.report import render_report
from optimizer.instance.reading import load_instance
import optimizer.results.frontier
result, _ = read_result({str(result_path)!r})
instance = load_instance({str(instance_path)!r})
for fmt in ("md", "csv", "xlsx", "geojson"):
    render_report(result, fmt, instance, local_coordinates=True)
assert "matplotlib" not in sys.modules, "matplotlib was imported"
render_report(result, "html", instance)
assert "matplotlib" in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def test_geojson_without_a_crs_is_refused(tmp_path: Path,
                                          town: tuple[Path, Path, dict[str, Any]]) -> None:
    """Metres written as degrees put a town off the planet: refuse, say how to fix it."""
    instance_path, result_path, _ = town
    out = tmp_path / "town.geojson"
    got = run(report, result_path, "-o", out, "--instance", instance_path)
    assert got.exit_code == 2, got.output
    assert "network.crs is not given" in got.output and "--local-coordinates" in got.output
    assert "Traceback" not in got.output and not out.exists()


@pytest.mark.parametrize(("crs", "lon", "lat"), [
    # The town's grid as longitude and latitude near Greenwich...
    ({"epsg": 4326}, 2.0, 1.0),
    # ...and as metres east and north of Boston's State House in the local projection.
    ({"projection": "equirectangular", "lon0": -71.0637, "lat0": 42.3588},
     -71.0637 + math.degrees(2.0 / (6371008.8 * math.cos(math.radians(42.3588)))),
     42.3588 + math.degrees(1.0 / 6371008.8)),
])
def test_geojson_is_longitude_latitude_from_the_crs(tmp_path: Path, crs: dict[str, Any],
                                                    lon: float, lat: float) -> None:
    doc = town_doc()
    doc["network"]["crs"] = crs
    instance_path, result_path, _ = solve_to_files(tmp_path, doc)
    out = tmp_path / "town.geojson"
    ok(run(report, result_path, "-o", out, "--instance", instance_path))
    collection = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in collection  # RFC 7946: WGS84 always, no crs member
    z5 = next(f for f in collection["features"] if f["properties"]["id"] == "z5")
    assert z5["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-6)


def test_spreadsheet_and_tidy_csv_load_in_openpyxl_and_pandas(tmp_path: Path) -> None:
    """What a budget officer and an analyst do with the files: open the .xlsx, read every
    CSV table with ``pandas.read_csv`` as it is."""
    import pandas as pd
    from openpyxl import load_workbook

    doc = town_doc()
    doc["currency"] = "EUR"
    instance_path, result_path, result = solve_to_files(tmp_path, doc)
    xlsx = tmp_path / "town.xlsx"
    ok(run(report, result_path, "-o", xlsx, "--instance", instance_path))
    book = load_workbook(xlsx)
    assert book.sheetnames == ["summary", "costs", "depots", "shelters", "scenarios", "unmet",
                               "stages", "recovery", "recovery_zones"]
    for ws in book:
        assert ws.freeze_panes == "A2"  # the header row stays in view
        assert all(c.font.bold for c in ws[1])
        assert ws.column_dimensions["A"].width > 4
    costs = {r[0].value: r[1] for r in book["costs"].iter_rows(min_row=2)}
    assert costs["total"].value == result["cost"]["total"]  # a number, not text
    assert isinstance(costs["total"].value, float) and "EUR" in costs["total"].number_format
    scenarios = list(book["scenarios"].iter_rows(min_row=2))
    assert scenarios[0][2].value == result["scenarios"][0]["resilience"]
    assert scenarios[0][2].number_format == "0.00%"  # a share reads as a percentage
    depots = list(book["depots"].iter_rows(min_row=2))
    assert depots[0][3].value is result["decisions"]["depots"][0]["open"]
    summary = {r[0].value: r[1] for r in book["summary"].iter_rows(min_row=2)}
    assert summary["currency"].value == "EUR" and "EUR" in summary["budget"].number_format
    assert summary["worst_case"].number_format == "0.00%"

    folder = tmp_path / "tables"
    ok(run(report, result_path, "-o", f"{folder}/", "--instance", instance_path))
    assert {p.stem for p in folder.glob("*.csv")} == set(book.sheetnames)
    for path in folder.glob("*.csv"):
        frame = pd.read_csv(path)
        assert list(frame.columns) == [c.value for c in book[path.stem][1]]
        assert len(frame) == book[path.stem].max_row - 1
    frame = pd.read_csv(folder / "scenarios.csv")
    assert frame["resilience"].dtype == float
    assert frame["resilience"].tolist() == [s["resilience"] for s in result["scenarios"]]
    costs_only = tmp_path / "costs.csv"
    ok(run(report, result_path, "-o", costs_only, "--table", "costs"))
    frame = pd.read_csv(costs_only).set_index("line")
    assert frame.loc["total", "amount"] == result["cost"]["total"]
    # The people's formats name the currency too: the cost table, the card, the chart.
    page = tmp_path / "town.html"
    ok(run(report, result_path, "-o", page, "--instance", instance_path))
    html = page.read_text(encoding="utf-8")
    assert "amount (EUR)" in html and "money spent (EUR)" in html
    assert "| line | amount (EUR) | share of budget |" in ok(run(
        report, result_path, "-o", "-", "--instance", instance_path)).stdout


def test_the_same_sheets_give_the_same_xlsx_bytes_at_any_time(monkeypatch) -> None:
    """openpyxl stamps the workbook's properties and every zip entry with the clock: the
    same result made another file each time. Here the clock moves a day between two runs."""
    import datetime as real_datetime
    import io
    import zipfile

    import openpyxl.writer.excel as excel
    from openpyxl import load_workbook

    from optimizer.report.sheets import Kind, Sheet
    from optimizer.report.xlsx import workbook

    sheets = [Sheet("plan", ("depot", "stock"), (Kind.TEXT, Kind.UNITS),
                    (("d1", 12.0), ("d2", 3.5)))]
    first = workbook(sheets)

    class Later(real_datetime.datetime):
        @classmethod
        def now(cls, tz=None):  # the signature openpyxl calls
            return real_datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=tz)

    later = type("datetime_module", (), {"datetime": Later, "timezone": real_datetime.timezone})
    monkeypatch.setattr(excel, "datetime", later)
    monkeypatch.setattr(zipfile.time, "time", lambda: 1_900_000_000.0)  # 2030
    second = workbook(sheets)
    assert first == second
    book = load_workbook(io.BytesIO(second))
    assert [row for row in book["plan"].iter_rows(values_only=True)] == [
        ("depot", "stock"), ("d1", 12.0), ("d2", 3.5)]
