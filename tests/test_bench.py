"""Benchmarks for researchers: registry and suites, the runner's processes, metrics, CLI.

The end-to-end test runs two tiny instances with HiGHS, CBC and GLPK, each in its own
process, and the solvers must agree. A hanging or crashing worker is simulated by stub
scripts: it costs one row (``timeout`` or ``crashed``), and the benchmark goes on.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import INSTANCES, tiny_doc

from optimizer.bench import runner
from optimizer.bench.metrics import (
    bracket,
    cross_check,
    performance_profile,
    problem_times,
    shifted_geometric_mean,
    summarise,
)
from optimizer.bench.objectives import ObjectiveSpec, parse_objective
from optimizer.bench.registry import FAMILIES, SIZE_CLASSES, SuiteEntry, read_suite, write_suite
from optimizer.bench.runner import BenchOptions, plan_runs, read_rows, run_bench
from optimizer.cli.bench import bench, suite
from optimizer.errors import UsageError
from optimizer.instance.reading import load_instance
from optimizer.solvers import pyomo_shell as external
from optimizer.sources.synthetic import geometric_instance

NEEDED = [s for s in ("cbc", "glpk") if external.availability(s)[0] is None]


# ----------------------------------------------------------------- registry and suites


def test_every_family_sweeps_known_size_classes() -> None:
    for family in FAMILIES.values():
        assert family.sizes and set(family.sizes) <= set(SIZE_CLASSES), family.name
        assert family.unavailable() == "", family.name  # the real networks ship here
    assert {"siouxfalls", "cambridge"} <= set(FAMILIES)  # the real networks in instances/


def test_write_suite_is_deterministic_and_loads(tmp_path: Path) -> None:
    first = write_suite("small", tmp_path / "a", ["geometric", "siouxfalls"])
    write_suite("small", tmp_path / "b", ["geometric", "siouxfalls"])
    names = [e.name for e in first]
    assert names == ["geometric-small-s0", "geometric-small-s1", "siouxfalls-small-s0"]
    for entry in first:
        other = tmp_path / "b" / entry.file.name
        assert entry.file.read_bytes() == other.read_bytes()
        instance = load_instance(entry.file)
        assert instance.name == entry.name and instance.scenarios
    # siouxfalls at seed 0 and the shipped count is the shipped instance's scenarios.
    shipped = load_instance(INSTANCES / "siouxfalls.json")
    ours = load_instance(tmp_path / "a" / "siouxfalls-small-s0.json")
    assert [s.id for s in ours.scenarios] == [s.id for s in shipped.scenarios]
    assert np.array_equal(ours.scenarios[3].need, shipped.scenarios[3].need)
    entries = read_suite(tmp_path / "a")
    assert [(e.name, e.family, e.size, e.seed) for e in entries] == [
        (e.name, e.family, e.size, e.seed) for e in first]
    manifest = json.loads((tmp_path / "a" / "suite.json").read_text(encoding="utf-8"))
    assert manifest["instances"][0]["parameters"] == {"nodes": 30, "scenarios": 10}


def test_read_suite_of_a_plain_folder_and_of_one_file(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(json.dumps(tiny_doc()), encoding="utf-8")
    (tmp_path / "a.json").write_text(json.dumps(tiny_doc()), encoding="utf-8")
    assert [e.name for e in read_suite(tmp_path)] == ["a", "b"]
    assert [e.name for e in read_suite(tmp_path / "b.json")] == ["b"]
    with pytest.raises(UsageError, match="no such suite folder"):
        read_suite(tmp_path / "missing")


def test_unknown_suite_or_family_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="suites are the size classes"):
        write_suite("huge", tmp_path)
    with pytest.raises(UsageError, match="unknown family nope"):
        write_suite("small", tmp_path, ["nope"])


@pytest.mark.parametrize(("text", "spec"), [
    ("instance", ObjectiveSpec(None)),
    ("worst_case", ObjectiveSpec("worst_case")),
    ("cvar:0.8", ObjectiveSpec("cvar", alpha=0.8)),
    ("min_cost:0.5", ObjectiveSpec("min_cost", target=0.5)),
])
def test_objectives_parse(text: str, spec: ObjectiveSpec) -> None:
    assert parse_objective(text) == spec and spec.label == text


@pytest.mark.parametrize("text", ["best", "expected:0.3", "cvar:1", "min_cost:x"])
def test_bad_objectives_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_objective(text)


# --------------------------------------------------------------------- planning runs


@pytest.fixture
def two_tiny(tmp_path: Path) -> list[SuiteEntry]:
    """tiny.json and a seeded 12-node instance, as a suite folder."""
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "tiny.json").write_text(json.dumps(tiny_doc()), encoding="utf-8")
    doc = geometric_instance(12, 4, seed=3, commodities=2)
    (folder / "geo12.json").write_text(json.dumps(doc), encoding="utf-8")
    return read_suite(folder)


def test_missing_method_module_and_missing_solver_are_skipped_rows(
        two_tiny: list[SuiteEntry], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runner.METHOD_MODULES, "decomposition", "optimizer.not_written_yet")
    fake = dataclasses.replace(external.SOLVERS["xpress"], interfaces=("no_such_interface",))
    monkeypatch.setitem(external.SOLVERS, "xpress", fake)
    options = BenchOptions(solvers=("highs", "xpress"), methods=("extensive", "decomposition"),
                           objectives=("instance", "min_cost"), repeat=2)
    runs = plan_runs(two_tiny[:1], options)
    assert len(runs) == 1 * 2 * 2 * 2 * 2
    reasons = {(r.objective.label, r.solver, r.method): r.skip for r in runs}
    assert reasons[("worst_case", "highs", "extensive")] == ""
    assert "optimizer.not_written_yet is missing" in reasons[
        ("worst_case", "highs", "decomposition")]
    assert "xpress is not installed" in reasons[("worst_case", "xpress", "extensive")]
    assert "min_cost needs a target" in reasons[("min_cost", "highs", "extensive")]
    row = runner.run_one(runs[2], options)  # skipped rows need no process
    assert row["status"] == "skipped" and "missing" in row["message"]


def test_unknown_solver_or_method_fails_before_any_run(two_tiny: list[SuiteEntry]) -> None:
    with pytest.raises(UsageError, match="unknown solver mosek"):
        plan_runs(two_tiny, BenchOptions(solvers=("mosek",)))
    with pytest.raises(UsageError, match="unknown method benders"):
        plan_runs(two_tiny, BenchOptions(methods=("benders",)))


# ------------------------------------------------------------------ real processes


@pytest.mark.skipif(bool(NEEDED), reason=f"not installed: {NEEDED}")
def test_bench_two_tiny_instances_three_solvers_agree(two_tiny: list[SuiteEntry],
                                                      tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    options = BenchOptions(solvers=("highs", "cbc", "glpk"), time_limit=60)
    rows = run_bench(two_tiny, options, out, suite="suite", command="resilience bench suite")
    assert len(rows) == 6
    written = read_rows(out)
    assert [r["status"] for r in written] == ["optimal"] * 6
    for instance in ("tiny", "geo12"):
        values = [float(r["objective_value"]) for r in written if r["instance"] == instance]
        assert max(values) - min(values) <= 1e-6 * max(1.0, abs(values[0])), values
    tiny = [r for r in written if r["instance"] == "tiny"]
    assert [float(r["objective_value"]) for r in tiny] == pytest.approx([0.25] * 3)
    for row in written:
        assert int(row["variables"]) > 0 and int(row["scenarios"]) > 0
        assert float(row["peak_memory_mb"]) > 10 and float(row["wall_seconds"]) > 0
        assert float(row["max_difference"]) <= 1e-6
        assert row["solver_version"]
    assert cross_check(written) == []
    sidecar = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["command"] == "resilience bench suite"
    assert sidecar["finished"] and sidecar["machine"]["cpus"] >= 1
    assert sidecar["versions"]["pyomo"] and sidecar["solvers"]["cbc"]["available"]
    assert sidecar["suite"]["instances"] == ["geo12", "tiny"]


def test_a_bad_instance_file_is_an_error_row_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    doc = tiny_doc()
    doc["depots"][0]["capacity"] = -5
    bad.write_text(json.dumps(doc), encoding="utf-8")
    rows = run_bench(read_suite(bad), BenchOptions(time_limit=30), tmp_path / "r.csv")
    assert rows[0]["status"] == "error"
    assert "bad.json" in rows[0]["message"] and "depots[0].capacity" in rows[0]["message"]


def _stub(tmp_path: Path, name: str, body: str) -> list[str]:
    """A worker stand-in: ``python STUB SPEC RESULT`` runs ``body``."""
    path = tmp_path / f"{name}.py"
    path.write_text("import json, os, signal, subprocess, sys, time\n"
                    "spec = json.load(open(sys.argv[1]))\n" + textwrap.dedent(body),
                    encoding="utf-8")
    return [sys.executable, str(path)]


def test_a_hang_and_a_crash_each_cost_one_row(two_tiny: list[SuiteEntry],
                                              tmp_path: Path) -> None:
    """The hanging worker and the solver it started are killed at the hard limit."""
    pids = tmp_path / "pids.txt"
    worker = _stub(tmp_path, "worker", f"""
        if spec["file"].endswith("geo12.json"):
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            open({str(pids)!r}, "w").write(str(child.pid))
            time.sleep(60)
        else:
            print("solver blew up", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGSEGV)
    """)
    options = BenchOptions(solvers=("highs",), time_limit=1, hard_limit=1.5)
    rows = run_bench(two_tiny, options, tmp_path / "r.csv", worker=worker)
    status = {r["instance"]: r for r in rows}
    assert status["geo12"]["status"] == "timeout"
    assert "hard limit of 1.5 s" in status["geo12"]["message"]
    assert status["tiny"]["status"] == "crashed"
    assert "SIGSEGV" in status["tiny"]["message"]
    assert "solver blew up" in status["tiny"]["message"]
    grandchild = Path(f"/proc/{int(pids.read_text(encoding='utf-8'))}/status")
    if grandchild.exists():  # killed, but maybe not yet reaped by whoever inherited it
        assert "zombie" in grandchild.read_text(encoding="utf-8")
    assert [r["status"] for r in read_rows(tmp_path / "r.csv")] == ["timeout", "crashed"]


def test_resume_skips_finished_rows(two_tiny: list[SuiteEntry], tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    worker = _stub(tmp_path, "worker", f"""
        open({str(calls)!r}, "a").write(spec["file"] + "\\n")
        json.dump({{"status": "optimal", "objective_value": 0.5, "time_seconds": 1.0}},
                  open(sys.argv[2], "w"))
    """)
    out = tmp_path / "r.csv"
    options = BenchOptions(solvers=("highs",), objectives=("instance", "expected"))
    run_bench(two_tiny[:1], options, out, worker=worker)
    assert len(calls.read_text(encoding="utf-8").splitlines()) == 2
    more = dataclasses.replace(options, repeat=2)
    rows = run_bench(two_tiny, more, out, resume=True, worker=worker, command="again")
    # 2 instances x 2 objectives x 2 repeats = 8 rows; 2 were there already.
    assert len(rows) == 8
    assert len(calls.read_text(encoding="utf-8").splitlines()) == 2 + 6
    sidecar = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["command"] == "again" and len(sidecar["history"]) == 1


# ---------------------------------------------------------------------------- metrics


def test_shifted_geometric_mean_by_hand() -> None:
    assert shifted_geometric_mean([1.0, 10.0, 100.0]) == pytest.approx(
        (11 * 20 * 110) ** (1 / 3) - 10)
    assert shifted_geometric_mean([5.0], shift=1.0) == pytest.approx(5.0)
    assert math.isnan(shifted_geometric_mean([]))


HAND = """\
instance,objective,solver,method,repeat,status,objective_value,bound,gap,time_seconds,time_limit,\
mip_gap
p1,worst_case,highs,extensive,1,optimal,0.5,0.5,0,1.0,60,0.0001
p1,worst_case,cbc,extensive,1,optimal,0.5,0.5,0,2.0,60,0.0001
p2,worst_case,highs,extensive,1,optimal,0.7,0.7,0,4.0,60,0.0001
p2,worst_case,cbc,extensive,1,optimal,0.7,0.7,0,2.0,60,0.0001
p3,worst_case,highs,extensive,1,feasible,0.2,0.4,1.0,60.0,60,0.0001
p3,worst_case,cbc,extensive,1,optimal,0.3,0.3,0,3.0,60,0.0001
p1,worst_case,glpk,extensive,1,skipped,,,,,60,0.0001
p1,worst_case,glpk,decomposition,1,timeout,,,,,60,0.0001
"""


@pytest.fixture
def hand_csv(tmp_path: Path) -> Path:
    path = tmp_path / "hand.csv"
    path.write_text(HAND, encoding="utf-8")
    return path


def test_summary_by_hand(hand_csv: Path) -> None:
    rows = read_rows(hand_csv)
    summaries = {s.label: s for s in summarise(rows)}
    highs = summaries["highs / extensive"]
    assert (highs.problems, highs.solved, highs.feasible, highs.failed) == (3, 2, 1, 0)
    # unsolved p3 counts at the time limit, 60 s
    assert highs.sgm_seconds == pytest.approx((11 * 14 * 70) ** (1 / 3) - 10)
    assert highs.solved_sgm_seconds == pytest.approx((11 * 14) ** 0.5 - 10)
    cbc = summaries["cbc / extensive"]
    assert cbc.solved == 3 and cbc.sgm_seconds == pytest.approx((12 * 12 * 13) ** (1 / 3) - 10)
    glpk = summaries["glpk / extensive"]
    assert (glpk.problems, glpk.skipped) == (0, 1) and math.isnan(glpk.sgm_seconds)
    assert summaries["glpk / decomposition"].failed == 1


def test_performance_profile_by_hand() -> None:
    times = {("a", "x"): {"p1": 1.0, "p2": 4.0, "p3": None},
             ("b", "x"): {"p1": 2.0, "p2": 2.0, "p3": 3.0}}
    profile = performance_profile(times)  # type: ignore[arg-type]
    # ratios a: 1, 2, inf; b: 2, 1, 1
    assert profile.problems == 3
    assert profile.taus.tolist() == [1.0, 2.0]
    assert profile.fractions[("a", "x")].tolist() == pytest.approx([1 / 3, 2 / 3])
    assert profile.fractions[("b", "x")].tolist() == pytest.approx([2 / 3, 1.0])


def test_profile_of_the_hand_csv_leaves_skipped_configurations_out(hand_csv: Path) -> None:
    times = problem_times(read_rows(hand_csv))
    assert times[("highs", "extensive")] == {("p1", "worst_case"): 1.0,
                                             ("p2", "worst_case"): 4.0,
                                             ("p3", "worst_case"): None}
    assert ("glpk", "extensive") not in times
    profile = performance_profile(times)
    assert profile.problems == 3
    assert profile.fractions[("glpk", "decomposition")].max() == 0.0


def test_cross_check_flags_brackets_that_do_not_meet(hand_csv: Path) -> None:
    rows = read_rows(hand_csv)
    # p3: highs stopped with [0.2, 0.4], cbc says 0.3 optimal: they agree.
    assert cross_check(rows) == []
    rows[1]["objective_value"] = rows[1]["bound"] = "0.51"  # cbc: 0.51 optimal on p1
    found = cross_check(rows)
    assert len(found) == 1
    d = found[0]
    assert (d.instance, d.first, d.second) == ("p1", ("cbc", "extensive"),
                                               ("highs", "extensive"))
    assert d.difference == pytest.approx(0.01)
    # Within the MIP gap, a solver that reports its incumbent as bound still agrees.
    rows[1]["objective_value"] = rows[1]["bound"] = "0.50004"
    assert cross_check(rows) == []


def test_brackets_follow_the_objective_sense() -> None:
    row: dict[str, Any] = {"status": "feasible", "objective": "min_cost:0.5",
                           "objective_value": "100", "bound": "90", "mip_gap": "0.0001"}
    assert bracket(row) == (90.0, 100.0)
    row["objective"] = "worst_case"
    row.update(objective_value="0.5", bound="")
    assert bracket(row) == (0.5, math.inf)
    row["status"] = "error"
    assert bracket(row) is None


# -------------------------------------------------------------------------------- CLI


def test_cli_summary_and_profile_picture(hand_csv: Path, tmp_path: Path) -> None:
    picture = tmp_path / "profile.png"
    result = CliRunner().invoke(bench, ["--summary", str(hand_csv), "--plot", str(picture)])
    assert result.exit_code == 0, result.output
    assert "highs" in result.stdout and "cross-check" in result.stdout
    assert picture.read_bytes().startswith(b"\x89PNG")
    markdown = CliRunner().invoke(bench, ["--summary", str(hand_csv), "--markdown"])
    assert markdown.stdout.startswith("| solver | method | problems | solved |")
    assert "| cbc | extensive | 3 | 3 | 0 | 0 | 0 |" in markdown.stdout


def test_cli_bench_runs_a_suite_file_and_writes_everything(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(bench, [str(INSTANCES / "tiny.json"), "--time-limit", "30",
                                        "-o", str(out), "--methods", "extensive"])
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["instance"], r["status"]) for r in rows] == [("tiny", "optimal")]
    assert "Benchmark summary" in result.stdout
    assert out.with_suffix(".json").is_file()
    assert (tmp_path / "r.profile.png").is_file()
    sidecar = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["command"].startswith("resilience bench ")
    assert "--time-limit 30" in sidecar["command"]


@pytest.mark.parametrize(("args", "message"), [
    ([], "give a SUITE folder"),
    (["nowhere"], "no such suite folder"),
    (["--summary", "x.csv", "suite"], "not both"),
    (["suite", "--solvers", "highs,mosek"], "unknown mosek"),
    (["suite", "-o", "r.txt"], "should end in .csv"),
])
def test_cli_bench_usage_errors(args: list[str], message: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "tiny.json").write_text(json.dumps(tiny_doc()), encoding="utf-8")
    result = CliRunner().invoke(bench, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_cli_suite_writes_a_folder_and_lists_families(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    result = CliRunner().invoke(suite, ["small", "-o", str(folder), "--families", "grid"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == [
        "grid-small-s0.json", "grid-small-s1.json", "suite.json"]
    listed = CliRunner().invoke(suite, ["--list"])
    assert listed.exit_code == 0 and "cambridge" in listed.stdout
    assert "rows=5" in listed.stdout
