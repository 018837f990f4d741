"""Paths named inside files, and the scheduler address (issue 15, bullets 4 and 5).

A hazard-zone GeoJSON named in an instance and the instance a result records
(``instance.path``) are read only as regular files, inside their folder, within the size
limit: a FIFO, a device or a folder is exit 2 at once (never a hang), a NUL byte is exit 2
(never 4). ``--scheduler`` must read ``tcp://HOST:PORT`` and cannot cost a minute.

Each command that could hang runs in its own process with a timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optimizer import executors
from optimizer.errors import UsageError

TINY = Path(__file__).resolve().parent.parent / "instances" / "tiny.json"
HANG = 60  # seconds: far beyond what any of these commands needs when it does not hang

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


def cli(*args: object, cwd: Path, hangs: bool = True) -> subprocess.CompletedProcess[str]:
    """The command in its own process with a timeout when it could hang on the old code
    (a FIFO), else in this one (faster: no import of the engine per call)."""
    if hangs:
        return subprocess.run([sys.executable, "-m", "optimizer.cli", *map(str, args)],
                              cwd=cwd, capture_output=True, text=True, timeout=HANG,
                              check=False)
    from click.testing import CliRunner

    from optimizer.cli import main

    here = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def _with_hazard_zone(folder: Path, geojson: str) -> Path:
    doc = json.loads(TINY.read_text(encoding="utf-8"))
    doc.pop("scenarios")
    doc["scenario_generators"] = [{"kind": "hazard_zones", "name": "flood",
                                   "zones": [{"id": "river", "geojson": geojson}]}]
    path = folder / "flood.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("geojson, message", [
    ("river.geojson", "is a named pipe (FIFO), not a regular file"),
    ("sub", "is a folder, not a regular file"),
    ("river\u0000.geojson", "contains a NUL byte"),
    ("/dev/zero", "lies outside the instance's folder"),
])
def test_a_hazard_zone_file_that_is_not_a_regular_file_is_exit_2_at_once(
        tmp_path: Path, geojson: str, message: str) -> None:
    os.mkfifo(tmp_path / "river.geojson")  # nothing ever writes to it
    (tmp_path / "sub").mkdir()
    instance = _with_hazard_zone(tmp_path, geojson)
    proc = cli("validate", instance, cwd=tmp_path, hangs=geojson == "river.geojson")
    assert proc.returncode == 2, proc.stderr
    assert "scenario_generators[0].zones[0].geojson" in proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_a_regular_hazard_zone_file_still_reads(tmp_path: Path) -> None:
    square = {"type": "Polygon", "coordinates": [[[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5],
                                                   [-0.5, 0.5], [-0.5, -0.5]]]}
    (tmp_path / "river.geojson").write_text(json.dumps(square), encoding="utf-8")
    proc = cli("validate", _with_hazard_zone(tmp_path, "river.geojson"), cwd=tmp_path,
               hangs=False)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("solved")
    shutil.copyfile(TINY, folder / "tiny.json")
    proc = cli("solve", "tiny.json", "-o", "tiny.result.json", "--quiet", cwd=folder,
               hangs=False)
    assert proc.returncode == 0, proc.stderr
    return folder / "tiny.result.json"


def _recording(tmp_path: Path, solved: Path, recorded: str) -> Path:
    doc = json.loads(solved.read_text(encoding="utf-8"))
    doc["instance"]["path"] = recorded
    path = tmp_path / "sent.result.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("recorded, message", [
    ("pipe.json", "is a named pipe (FIFO)"),
    ("/dev/zero", "is a device"),
    ("/dev/stdin", "is a"),  # a pipe or a terminal: never read
    ("sub", "is a folder"),
    ("tiny\u0000.json", "contains a NUL byte"),
])
def test_a_result_naming_a_pipe_or_a_device_is_exit_2_at_once(
        tmp_path: Path, solved: Path, recorded: str, message: str) -> None:
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "sub").mkdir()
    result = _recording(tmp_path, solved, recorded)
    for command in (["report", result, "-o", "r.md"],
                    ["compare", solved, result, "-o", "c.md"]):
        started = time.monotonic()
        proc = cli(*command, cwd=tmp_path, hangs=recorded in ("pipe.json", "/dev/stdin"))
        assert proc.returncode == 2, proc.stderr
        assert "instance.path" in proc.stderr and message in proc.stderr
        assert "Traceback" not in proc.stderr
        assert time.monotonic() - started < HANG / 2
    assert not (tmp_path / "r.md").exists() and not (tmp_path / "c.md").exists()


def test_a_result_naming_another_file_outside_its_folder_does_not_use_it(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, solved: Path) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "tiny.json"
    doc = json.loads(TINY.read_text(encoding="utf-8"))
    doc["description"] = "not the file the result was solved from"
    elsewhere.write_text(json.dumps(doc), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    result = _recording(work, solved, str(elsewhere))
    proc = cli("report", result, "-o", "r.md", cwd=work, hangs=False)
    assert proc.returncode == 0, proc.stderr
    assert "lies outside the result's folder and the current one and is not the file" in \
        proc.stderr
    assert "no instance (give --instance" in proc.stderr  # the report went on without it
    # Given on the command line, the same file is the user's choice and is read.
    proc = cli("report", result, "-o", "r.md", "--instance", elsewhere, cwd=work,
               hangs=False)
    assert proc.returncode == 0 and "outside" not in proc.stderr, proc.stderr


def test_a_result_naming_its_own_instance_outside_its_folder_uses_it(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, solved: Path) -> None:
    elsewhere = tmp_path_factory.mktemp("data") / "tiny.json"
    shutil.copyfile(TINY, elsewhere)  # the same bytes: the same sha256
    result = _recording(tmp_path, solved, str(elsewhere))
    proc = cli("report", result, "-o", "r.md", cwd=tmp_path, hangs=False)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr


def test_a_result_beside_its_instance_still_finds_it(tmp_path: Path, solved: Path) -> None:
    shutil.copyfile(TINY, tmp_path / "tiny.json")
    (tmp_path / "results").mkdir()
    proc = cli("solve", "tiny.json", "-o", "results/tiny.result.json", "--quiet", cwd=tmp_path,
               hangs=False)
    assert proc.returncode == 0, proc.stderr
    proc = cli("report", "results/tiny.result.json", "-o", "r.md", cwd=tmp_path, hangs=False)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr


# ---------------------------------------------------------------------- --scheduler

@pytest.mark.parametrize("address", ["garbage", "tcp://", "tcp://host", "tcp://host:0",
                                     "tcp://host:99999", "http://host:8786", "host:8786",
                                     "tcp://ho st:8786", "tcp://host:8786/path"])
def test_a_scheduler_address_of_the_wrong_form_is_a_usage_error(address: str) -> None:
    with pytest.raises(UsageError, match=r"write tcp://HOST:PORT"):
        executors.checked_address(address)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://scheduler.lan:1",
                                     "tcp://[::1]:8786", "tcp://node-7:65535"])
def test_a_scheduler_address_of_the_right_form_passes(address: str) -> None:
    assert executors.checked_address(address) == address


def test_scheduler_garbage_is_exit_2_at_once_without_a_traceback(tmp_path: Path) -> None:
    for env, args in (({}, ["--scheduler", "garbage"]),
                      ({"DASK_SCHEDULER_ADDRESS": "garbage"}, [])):
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "optimizer.cli", "solve", str(TINY), "-o", "r.json",
             "--method", "decomposition", *args], cwd=tmp_path, capture_output=True,
            text=True, timeout=HANG, check=False, env={**os.environ, **env})
        assert proc.returncode == 2, proc.stderr
        assert "tcp://HOST:PORT" in proc.stderr and "Traceback" not in proc.stderr
        assert time.monotonic() - started < 20
        assert list(tmp_path.iterdir()) == []


def test_an_unreachable_scheduler_is_exit_2_within_seconds(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    started = time.monotonic()
    proc = cli("solve", TINY, "-o", "r.json", "--method", "decomposition", "--scheduler",
               "tcp://127.0.0.1:9", cwd=tmp_path)  # the discard port: nothing listens
    assert proc.returncode == 2, proc.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 5 s" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 30


def test_a_recorded_instance_over_the_size_limit_is_exit_2(
        tmp_path: Path, solved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copyfile(TINY, tmp_path / "tiny.json")
    result = _recording(tmp_path, solved, "tiny.json")
    monkeypatch.setenv("RESILIENCE_MAX_FILE_BYTES", "100")
    proc = cli("report", result, "-o", "r.md", cwd=tmp_path, hangs=False)
    assert proc.returncode == 2, proc.stderr
    assert "instance.path" in proc.stderr and "over the limit of 100 bytes" in proc.stderr
