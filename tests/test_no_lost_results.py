"""Nothing lost (issue 12, bullets 1 and 3; issue 15, bullet 5).

* A result file is only replaced by a result: every usage or input error (exit 2) of every
  command that writes files leaves the folder exactly as it was, byte for byte; a solve that
  ran and failed writes its document beside a result that holds a plan (``NAME.error.json``)
  unless ``--force``.
* Options are checked at the boundary with the bounds of their instance-file twins: a clear
  message naming the option (or the JSON path) and exit 2.
* An output that cannot be written (a folder, a full disk) is exit 2 with a clear message,
  and never half a file.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from optimizer.cli import main
from optimizer.errors import UsageError
from optimizer.files import write_atomic

TINY = Path(__file__).resolve().parent.parent / "instances" / "tiny.json"


def run(*args: Any) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (names and bytes); folders as empty markers."""
    out: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_fifo():
            out[rel] = b"<fifo>"
        elif p.is_dir():
            out[rel + "/"] = b""
        else:
            out[rel] = p.read_bytes()
    return out


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny.json solved once; its result is copied into each test's folder."""
    folder = tmp_path_factory.mktemp("solved")
    out = folder / "tiny.result.json"
    result = run("solve", TINY, "-o", out, "--quiet")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture()
def folder(tmp_path: Path, solved: Path) -> Path:
    """A planner's folder: the instance, its last good result, every output the commands
    write already there, a bad instance, a bad result, and a folder named like a file."""
    shutil.copyfile(TINY, tmp_path / "tiny.json")
    shutil.copyfile(solved, tmp_path / "tiny.result.json")
    doc = json.loads(solved.read_text(encoding="utf-8"))
    doc["decisions"]["depots"][0]["open"] = "false"  # strict: not a boolean
    (tmp_path / "bad.result.json").write_text(json.dumps(doc), encoding="utf-8")
    (tmp_path / "bad.json").write_text('{"network": ', encoding="utf-8")
    for name in ("report.md", "cmp.md", "frontier.csv", "frontier.png", "stress.json",
                 "eval.json", "model.lp", "gen.json", "bench.csv", "report.docx"):
        (tmp_path / name).write_text(f"an earlier {name}\n", encoding="utf-8")
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "folder.png").mkdir()
    return tmp_path


# ------------------------------------------------------------------------ solve, exit 2

SOLVE_USAGE = {
    "solver not installed": ["--solver", "gurobi"],
    "decomposition with another solver": ["--method", "decomposition", "--solver", "glpk"],
    "unknown solver": ["--solver", "nope"],
    "unknown method": ["--method", "nope"],
    "unknown objective": ["--objective", "nope"],
    "min_cost without a target": ["--objective", "min_cost"],
    "mip gap 2": ["--mip-gap", "2"],
    "mip gap 1": ["--mip-gap", "1"],
    "mip gap negative": ["--mip-gap", "-0.1"],
    "mip gap nan": ["--mip-gap", "nan"],
    "time limit 0": ["--time-limit", "0"],
    "time limit inf": ["--time-limit", "inf"],
    "threads 0": ["--threads", "0"],
    "workers 0": ["--workers", "0"],
    "alpha 1": ["--alpha", "1"],
    "target 1.5": ["--target", "1.5"],
    "budget negative": ["--budget", "-1"],
    "budget nan": ["--budget", "nan"],
    "budget beyond the file's bound": ["--budget", "1e16"],
    "scheduler garbage": ["--scheduler", "garbage"],
    "scheduler without a port": ["--scheduler", "tcp://localhost"],
    "report with an unknown extension": ["--report", "report.docx"],
    "report into a missing folder": ["--report", "no/such/report.md"],
    "report at a folder": ["--report", "folder.png"],
    "unknown option": ["--frobnicate"],
}


@pytest.mark.parametrize("args", SOLVE_USAGE.values(), ids=SOLVE_USAGE.keys())
def test_a_usage_error_in_solve_leaves_every_file_as_it_was(
        folder: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    if args[:2] == ["--solver", "gurobi"]:
        from optimizer.solvers.pyomo_shell import availability

        if availability("gurobi")[0] is not None:
            pytest.skip("gurobi is installed here")
    monkeypatch.chdir(folder)
    before = snapshot(folder)
    result = run("solve", "tiny.json", "-o", "tiny.result.json", "--quiet", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert snapshot(folder) == before


SOLVE_INPUT = {
    "invalid instance": (["bad.json"], None),
    "missing instance": (["missing.json"], None),
    "instance too large": (["tiny.json"], ("env", "RESILIENCE_MAX_FILE_BYTES", "10")),
    "bad scenario limit": (["tiny.json"], ("env", "RESILIENCE_MAX_SCENARIOS", "many")),
    "model too large for memory": (["tiny.json"], ("memory", None, None)),
    "output at a folder": (["tiny.json", "-o", "folder.json"], None),
    "output onto the instance": (["tiny.json", "-o", "tiny.json"], None),
}


@pytest.mark.parametrize("args, setup", SOLVE_INPUT.values(), ids=SOLVE_INPUT.keys())
def test_an_input_error_in_solve_leaves_every_file_as_it_was(
        folder: Path, args: list[str], setup: tuple[str, Any, Any] | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder)
    if setup is not None and setup[0] == "env":
        monkeypatch.setenv(setup[1], setup[2])
    if setup is not None and setup[0] == "memory":
        import optimizer.solvers.extensive

        monkeypatch.setattr(optimizer.solvers.extensive, "available_bytes", lambda: 1.0)
    out = [] if "-o" in args else ["-o", "tiny.result.json"]
    before = snapshot(folder)
    result = run("solve", *args, *out, "--quiet", "--method", "extensive")
    assert result.exit_code == 2, result.output
    assert snapshot(folder) == before


def _infeasible(folder: Path) -> list[str]:
    return ["tiny.json", "--objective", "min_cost", "--target", "1", "--budget", "10"]


def test_a_failed_solve_never_replaces_a_result_that_holds_a_plan(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder)
    before = (folder / "tiny.result.json").read_bytes()
    result = run("solve", *_infeasible(folder), "-o", "tiny.result.json", "--quiet")
    assert result.exit_code == 3, result.output
    assert (folder / "tiny.result.json").read_bytes() == before
    beside = json.loads((folder / "tiny.error.json").read_text(encoding="utf-8"))
    assert beside["status"] == "infeasible" and beside["decisions"] is None
    assert "tiny.result.json holds a plan and is kept" in result.stderr
    assert "tiny.error.json" in result.stderr


def test_force_lets_a_failed_solve_replace_the_result(folder: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder)
    result = run("solve", *_infeasible(folder), "-o", "tiny.result.json", "--quiet", "--force")
    assert result.exit_code == 3, result.output
    doc = json.loads((folder / "tiny.result.json").read_text(encoding="utf-8"))
    assert doc["status"] == "infeasible"
    assert not (folder / "tiny.error.json").exists()


def test_a_failed_solve_writes_its_document_where_no_plan_is_lost(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder)
    result = run("solve", *_infeasible(folder), "-o", "fresh.result.json", "--quiet")
    assert result.exit_code == 3, result.output
    assert json.loads((folder / "fresh.result.json").read_text())["status"] == "infeasible"
    # A document without a plan may be replaced by the next failure, at its own place.
    result = run("solve", *_infeasible(folder), "-o", "fresh.result.json", "--quiet")
    assert result.exit_code == 3
    assert not (folder / "fresh.error.json").exists()


# ----------------------------------------------------------- other commands, exit 2

OTHER_USAGE = {
    "report: a tampered result": ["report", "bad.result.json", "-o", "report.md"],
    "report: an invalid instance": ["report", "tiny.result.json", "-o", "report.md",
                                    "--instance", "bad.json"],
    "report: unknown extension": ["report", "tiny.result.json", "-o", "report.docx"],
    "report: unknown format": ["report", "tiny.result.json", "-o", "report.md", "--format",
                               "pdf"],
    "report: onto its result": ["report", "tiny.result.json", "-o", "tiny.result.json",
                                "--format", "md"],
    "report: at a folder": ["report", "tiny.result.json", "-o", "folder.json", "--format",
                            "md"],
    "compare: one result": ["compare", "tiny.result.json", "-o", "cmp.md"],
    "compare: a tampered result": ["compare", "tiny.result.json", "bad.result.json", "-o",
                                   "cmp.md"],
    "compare: onto an input": ["compare", "tiny.result.json", "cmp.md", "-o", "cmp.md"],
    "sweep: nan budget": ["sweep", "tiny.json", "--budgets", "nan", "-o", "frontier.csv"],
    "sweep: infinite budget": ["sweep", "tiny.json", "--budgets", "100,inf", "-o",
                               "frontier.csv"],
    "sweep: bad range": ["sweep", "tiny.json", "--budget-range", "0:inf:3", "-o",
                         "frontier.csv"],
    "sweep: mip gap 2": ["sweep", "tiny.json", "--budgets", "100", "--mip-gap", "2", "-o",
                         "frontier.csv"],
    "sweep: invalid instance": ["sweep", "bad.json", "--budgets", "100", "-o",
                                "frontier.csv"],
    "sweep: plot at a folder": ["sweep", "tiny.json", "--budgets", "100", "-o",
                                "frontier.csv", "--plot", "folder.png", "-q"],
    "sweep: plot of an unknown kind": ["sweep", "tiny.json", "--budgets", "100", "-o",
                                       "frontier.csv", "--plot", "report.docx", "-q"],
    "stress: a tampered result": ["stress", "tiny.json", "bad.result.json", "-k", "1", "-o",
                                  "stress.json"],
    "stress: no failures": ["stress", "tiny.json", "tiny.result.json", "-k", "0", "-o",
                            "stress.json"],
    "stress: at a folder": ["stress", "tiny.json", "tiny.result.json", "-k", "1", "-o",
                            "folder.json"],
    "evaluate: a tampered result": ["evaluate", "tiny.json", "bad.result.json", "-o",
                                    "eval.json"],
    "evaluate: negative budget": ["evaluate", "tiny.json", "tiny.result.json", "--budget",
                                  "-1", "-o", "eval.json"],
    "evaluate: other scenarios invalid": ["evaluate", "tiny.json", "tiny.result.json",
                                          "--scenarios", "bad.json", "-o", "eval.json"],
    "evaluate: scenarios and reseed": ["evaluate", "tiny.json", "tiny.result.json",
                                       "--scenarios", "tiny.json", "--reseed", "1", "-o",
                                       "eval.json"],
    "evaluate: at a folder": ["evaluate", "tiny.json", "tiny.result.json", "-o",
                              "folder.json"],
    "export: invalid instance": ["export", "bad.json", "-o", "model.lp"],
    "export: alpha 1": ["export", "tiny.json", "--alpha", "1", "-o", "model.lp"],
    "export: unknown extension": ["export", "tiny.json", "-o", "report.docx"],
    "generate: zero rows": ["generate", "grid", "--rows", "0", "--cols", "2", "-o",
                            "gen.json"],
    "generate: at a folder": ["generate", "grid", "--rows", "2", "--cols", "2", "-o",
                              "folder.json"],
    "bench: results not csv": ["bench", "suite-x", "-o", "report.docx"],
    "bench: mip gap 2": ["bench", "suite-x", "--mip-gap", "2", "-o", "bench.csv"],
}


@pytest.mark.parametrize("args", OTHER_USAGE.values(), ids=OTHER_USAGE.keys())
def test_a_usage_error_in_any_command_leaves_every_file_as_it_was(
        folder: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder)
    before = snapshot(folder)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert snapshot(folder) == before


# ------------------------------------------------------------- options at the boundary

# (command line before the option, option, bad value): every command that has the option.
BOUNDED = [
    (cmd, option, value)
    for cmd, options in {
        ("solve", "tiny.json"): ("--mip-gap", "--time-limit", "--threads", "--alpha",
                                 "--target", "--budget"),
        ("sweep", "tiny.json", "--budgets", "100"): ("--mip-gap", "--time-limit",
                                                     "--threads", "--ceiling"),
        ("evaluate", "tiny.json", "tiny.result.json"): ("--budget",),
        ("export", "tiny.json", "-o", "m.lp"): ("--alpha", "--target", "--budget"),
        ("bench", "suite-x"): ("--mip-gap", "--time-limit", "--threads"),
    }.items()
    for option in options
    for value in {"--mip-gap": ("1", "2", "-0.5", "nan"),
                  "--time-limit": ("0", "-1", "nan", "inf"),
                  "--threads": ("0", "-1", "1.5"),
                  "--alpha": ("1", "-0.1", "nan"),
                  "--target": ("1.01", "-0.1", "nan"),
                  "--budget": ("-1", "nan", "inf", "1e16"),
                  "--ceiling": ("-1", "nan", "inf")}[option]
]


@pytest.mark.parametrize("cmd, option, value", BOUNDED,
                         ids=[f"{c[0]} {o} {v}" for c, o, v in BOUNDED])
def test_every_bounded_option_is_checked_with_its_name(
        folder: Path, cmd: tuple[str, ...], option: str, value: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder)
    result = run(*cmd, f"{option}={value}")
    assert result.exit_code == 2, result.output
    assert f"'{option}'" in result.stderr and "Traceback" not in result.output


FILE_TWINS = {
    "objective.alpha": (("objective", "alpha"), 1.0),
    "objective.target": (("objective", "target"), 1.5),
    "budget": (("budget",), -1.0),
    "budget ": (("budget",), 1e16),
}


@pytest.mark.parametrize("where, value", FILE_TWINS.values(), ids=FILE_TWINS.keys())
def test_the_options_instance_file_twins_are_checked_with_their_path(
        tmp_path: Path, where: tuple[str, ...], value: float) -> None:
    doc = json.loads(TINY.read_text(encoding="utf-8"))
    parent = doc
    for key in where[:-1]:
        parent = parent.setdefault(key, {})
    parent[where[-1]] = value
    path = tmp_path / "twin.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = run("validate", path)
    assert result.exit_code == 2, result.output
    assert ".".join(where) in result.stderr


def test_optimal_names_the_gap_asked_for_and_the_summary_prints_a_percentage(
        tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run("solve", TINY, "-o", out, "--mip-gap", "0.05", "--quiet")
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["status"] == "optimal"
    assert "within the MIP gap of 5%" in doc["message"]
    assert "gap 0%" in result.stdout  # a percentage (main formats a closed gap as 0%)


# ------------------------------------------------------------ outputs that cannot be

def test_a_full_disk_is_a_usage_error_and_the_old_file_stays_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.json"
    target.write_text("the last good result")

    def full(*_args: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(UsageError, match=r"cannot write .*out\.json: the disk is full"):
        write_atomic(target, "{}" * 1000)
    assert target.read_text() == "the last good result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left


def test_a_write_that_fails_midway_leaves_no_half_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.json"
    real_fdopen = os.fdopen

    class Filling:
        """A file whose disk fills after the first kilobyte."""

        def __init__(self, fd: int, mode: str) -> None:
            self.inner = real_fdopen(fd, mode)

        def __enter__(self) -> Filling:
            return self

        def __exit__(self, *exc: object) -> None:
            self.inner.close()

        def write(self, data: bytes) -> int:
            self.inner.write(data[:1024])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", Filling)
    with pytest.raises(UsageError, match="disk is full"):
        write_atomic(target, b"x" * 10_000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_solve_onto_a_full_device_is_exit_2() -> None:
    result = run("solve", TINY, "-o", "/dev/full", "--quiet")
    assert result.exit_code == 2, result.output
    assert "cannot write /dev/full: the disk is full" in result.stderr


WRITERS: dict[str, Callable[[Path], list[Any]]] = {
    "solve": lambda d: ["solve", TINY, "-o", d, "--quiet"],
    "report": lambda d: ["report", d.parent / "tiny.result.json", "-o", d, "--format", "md"],
    "evaluate": lambda d: ["evaluate", TINY, d.parent / "tiny.result.json", "-o", d],
    "sweep": lambda d: ["sweep", TINY, "--budgets", "100", "-o", d, "-q"],
    "export": lambda d: ["export", TINY, "-o", d],
    "generate": lambda d: ["generate", "grid", "--rows", "2", "--cols", "2", "-o", d],
}


@pytest.mark.parametrize("command", WRITERS.values(), ids=WRITERS.keys())
def test_output_at_a_folder_is_exit_2_with_a_clear_message(
        folder: Path, command: Callable[[Path], list[Any]]) -> None:
    target = folder / "folder.json"
    if command is WRITERS["sweep"]:
        target = folder / "folder.png"
        target.rename(folder / "sweep.csv")
        target = folder / "sweep.csv"
    elif command is WRITERS["export"]:
        (folder / "folder.json").rename(folder / "model.mps")
        (folder / "model.lp").unlink()
        target = folder / "model.mps"
    before = snapshot(folder)
    result = run(*command(target))
    assert result.exit_code == 2, result.output
    assert f"cannot write {target}: it is a folder" in result.stderr
    assert snapshot(folder) == before
