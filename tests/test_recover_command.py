"""Recovery within the time limit, and ``resilience recover`` filling in what it left.

A solve whose time limit leaves no time for recovery names every scenario it did not
analyse (``recovery_pending`` and a warning); ``recover`` then writes the same section a
solve without a limit writes. A clock that allows two scenarios analyses the two worst.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import build

from optimizer.cli import main
from optimizer.evaluation.evaluate import evaluate_plan
from optimizer.evaluation.recovery import analyse
from optimizer.instance.data import Instance
from optimizer.instance.reading import load_instance
from optimizer.pipeline import solve_and_verify
from optimizer.results.file import dumps, merge_recovery
from optimizer.solvers.contract import Solution, SolveOptions
from optimizer.solvers.dispatch import run as run_solve
from optimizer.sources.synthetic import geometric_instance

MEDIUM = Path(__file__).resolve().parent.parent / "instances" / "medium.json"


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """medium.json solved with and without time for recovery: (instance, full, cut)."""
    instance = load_instance(MEDIUM)
    full = json.loads(dumps(solve_and_verify(instance, SolveOptions()).document))
    # The solve takes all the time: it runs unlimited, but the command's clock started so
    # long ago that the limit is over when recovery begins.
    late = SolveOptions(time_limit=5.0, started=time.monotonic() - 100)

    def solve_without_limit(inst: Instance, options: SolveOptions) -> Solution:
        return run_solve(inst, dataclasses.replace(options, time_limit=None))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("optimizer.pipeline.run", solve_without_limit)
        cut = json.loads(dumps(solve_and_verify(instance, late).document))
    folder = tmp_path_factory.mktemp("recover")
    copy = folder / "medium.json"
    shutil.copyfile(MEDIUM, copy)
    return copy, full, cut


def test_no_time_left_names_every_scenario(medium: tuple[Path, dict, dict],
                                           tmp_path: Path) -> None:
    instance, _, cut = medium
    ids = [s["id"] for s in cut["scenarios"]]
    assert cut["recovery"] == []
    assert cut["recovery_pending"] == ids
    assert any(w.startswith("recovery paths not analysed for 20 scenarios")
               for w in cut["warnings"])
    # The reports say so too.
    path = tmp_path / "cut.result.json"
    path.write_text(dumps(cut), encoding="utf-8")
    for suffix in (".md", ".html"):
        out = tmp_path / f"cut{suffix}"
        assert run("report", path, "-o", out, "--instance", instance).exit_code == 0
        assert "20 scenarios were not analysed" in out.read_text(encoding="utf-8"), suffix
    folder = tmp_path / "tables"
    assert run("report", path, "-o", f"{folder}/", "--instance", instance).exit_code == 0
    pending = (folder / "recovery_pending.csv").read_text(encoding="utf-8").split()
    assert pending == ["scenario", *ids]


def test_recover_fills_in_what_the_limit_left(medium: tuple[Path, dict, dict],
                                              tmp_path: Path) -> None:
    instance, full, cut = medium
    # The plan of the cut solve, with the recovery of the full one to compare: use the
    # full solve's plan in both so the sections must be equal.
    doc = dict(full, recovery=[], recovery_pending=list(cut["recovery_pending"]),
               warnings=list(cut["warnings"]))
    path = tmp_path / "medium.result.json"
    path.write_text(dumps(doc), encoding="utf-8")
    result = run("recover", instance, path, "-q")
    assert result.exit_code == 0, result.output
    assert "result written to" in result.output
    back = json.loads(path.read_text(encoding="utf-8"))
    assert back["recovery"] == full["recovery"]
    assert back["recovery_pending"] == []
    assert not any(w.startswith("recovery paths not analysed") for w in back["warnings"])
    # Nothing left to do: says so and leaves the file alone.
    before = path.read_bytes()
    again = run("recover", instance, path)
    assert again.exit_code == 0 and "analysed already" in again.output
    assert path.read_bytes() == before


def test_recover_usage_errors(medium: tuple[Path, dict, dict], tmp_path: Path) -> None:
    instance, full, _ = medium
    path = tmp_path / "r.json"
    path.write_text(dumps(full), encoding="utf-8")
    bad = run("recover", instance, path, "--scenario", "nope")
    assert bad.exit_code == 2 and "no scenario 'nope'" in bad.output
    exact = run("recover", instance, path, "--exact")
    assert exact.exit_code == 2 and "--scenario" in exact.output
    # -o writes elsewhere and leaves RESULT as it was.
    before = path.read_bytes()
    out = tmp_path / "other.json"
    ok = run("recover", instance, path, "--scenario", "hazard-1", "--crews", "2", "-o", out,
             "-q")
    assert ok.exit_code == 0, ok.output
    assert path.read_bytes() == before
    entry = next(e for e in json.loads(out.read_text())["recovery"] if e["id"] == "hazard-1")
    assert entry["crews"] == 2


def test_a_deadline_keeps_the_worst_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = build(geometric_instance(30, 6, seed=2))
    import numpy as np
    from test_recovery import random_plan

    plan = random_plan(inst, np.random.default_rng(2))
    outcomes = evaluate_plan(inst, plan)
    starts = {n: o.resilience for n, o in enumerate(outcomes)}
    ticks = iter(range(1000))
    monkeypatch.setattr("optimizer.evaluation.recovery.time.monotonic", lambda: float(next(ticks)))
    # analyse reads the clock once at the start, then before and after each scenario (one
    # tick each), and starts a scenario only while one as long as the longest so far would
    # end before the deadline: a deadline of 5 lets two in (at 1 and 3) and stops at 5.
    run_ = analyse(inst, plan, starts, deadline=5.0, workers=1)
    worst = sorted(range(len(inst.scenarios)), key=lambda n: (starts[n], n))[:2]
    assert [r.scenario_id for r in run_.scenarios] == [inst.scenarios[n].id
                                                      for n in sorted(worst)]
    assert set(run_.pending) == {s.id for s in inst.scenarios} - {r.scenario_id
                                                                  for r in run_.scenarios}
    merged = merge_recovery({"recovery": None, "warnings": []}, inst, run_)
    assert merged["recovery_pending"] == [s.id for s in inst.scenarios
                                          if s.id in run_.pending]


def test_processes_give_the_same_section() -> None:
    import numpy as np
    from test_recovery import random_plan

    from optimizer.results.file import recovery_section

    inst = build(geometric_instance(40, 20, seed=4, commodities=2))
    plan = random_plan(inst, np.random.default_rng(4))
    here = analyse(inst, plan, workers=1)
    there = analyse(inst, plan, workers=2)
    assert there.where.startswith("processes")
    assert recovery_section(inst, list(here.scenarios)) == recovery_section(
        inst, list(there.scenarios))


def test_recover_exact_writes_both_schedules(tmp_path: Path) -> None:
    instance = tmp_path / "two_crews.json"
    shutil.copyfile(MEDIUM.parent / "two_crews.json", instance)
    result = tmp_path / "two.result.json"
    assert run("solve", instance, "-o", result, "-q").exit_code == 0
    ok = run("recover", instance, result, "--scenario", "storm", "--exact",
             "--time-limit", "60", "-q")
    assert ok.exit_code == 0, ok.output
    doc = json.loads(result.read_text(encoding="utf-8"))
    storm = next(e for e in doc["recovery"] if e["id"] == "storm")
    exact = storm["exact"]
    assert exact["status"] == "optimal"
    assert exact["greedy_area"] == pytest.approx(storm["recovery_area"])
    assert exact["recovery_area"] > storm["recovery_area"]
    assert exact["bound"] == pytest.approx(exact["recovery_area"], abs=1e-6)
    assert sorted(s["repaired_edge"] for s in exact["restoration"][1:]) == sorted(
        s["repaired_edge"] for s in storm["restoration"][1:])
    assert "exact area" in ok.output


def test_reports_show_crews_orders_and_greedy_against_optimal(tmp_path: Path) -> None:
    import csv

    from test_report import Page, md_tables

    instance = tmp_path / "two_crews.json"
    shutil.copyfile(MEDIUM.parent / "two_crews.json", instance)
    result = tmp_path / "two.result.json"
    assert run("solve", instance, "-o", result, "-q").exit_code == 0
    assert run("recover", instance, result, "--scenario", "storm", "--exact", "-q"
               ).exit_code == 0
    doc = json.loads(result.read_text(encoding="utf-8"))
    storm = next(e for e in doc["recovery"] if e["id"] == "storm")
    html_path = tmp_path / "two.html"
    assert run("report", result, "-o", html_path).exit_code == 0
    page = Page(html_path.read_text(encoding="utf-8"))
    assert "periods after the event, 2 crews" in html_path.read_text(encoding="utf-8")
    exact = page.rows("exact-recovery")
    assert exact["storm"][1:3] == [f"{storm['recovery_area']:.4f}",
                                   f"{storm['exact']['recovery_area']:.4f}"]
    folder = tmp_path / "tables"
    assert run("report", result, "-o", f"{folder}/").exit_code == 0

    def table(name: str) -> list[dict[str, str]]:
        with (folder / f"{name}.csv").open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    optimal = [r for r in table("recovery")
               if r["scenario"] == "storm" and r["schedule"] == "optimal"]
    assert [r["repaired_edge"] for r in optimal[1:]] == [
        s["repaired_edge"] for s in storm["exact"]["restoration"][1:]]
    assert {r["crew"] for r in optimal[1:]} == {"1", "2"}
    assert table("recovery_exact")[0]["status"] == "optimal"
    xlsx = tmp_path / "two.xlsx"
    assert run("report", result, "-o", xlsx).exit_code == 0
    md_path = tmp_path / "two.md"
    assert run("report", result, "-o", md_path).exit_code == 0
    tables = md_tables(md_path.read_text(encoding="utf-8"))
    order = tables["Order of repairs in the 3 worst scenarios"]
    assert order[0][:4] == ["scenario", "schedule", "#", "road"]
    assert {row[1] for row in order[1:]} == {"greedy", "optimal"}


def test_ctrl_c_during_recovery_keeps_what_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from test_recovery import random_plan

    import optimizer.evaluation.recovery as rec

    inst = build(geometric_instance(30, 5, seed=3))
    plan = random_plan(inst, np.random.default_rng(3))
    real = rec.recover_scenario
    calls = []

    def stopped_at_the_second(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rec, "recover_scenario", stopped_at_the_second)
    got = analyse(inst, plan, workers=1)
    assert got.interrupted
    assert len(got.scenarios) == 1 and len(got.pending) == 4
