"""Ctrl-C or SIGTERM during a solve: the incumbent is written, verified, and the exit code
is 130 (143 after SIGTERM, what timeout, systemd and batch schedulers send)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optimizer.synthetic import geometric_instance, write_instance


@pytest.mark.parametrize("stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_writes_the_incumbent(tmp_path: Path, stop: signal.Signals,
                                            code: int) -> None:
    # Large enough that HiGHS is still working on the primary objective when Ctrl-C comes
    # (about 30 s to optimality here); the do-nothing start means an incumbent exists.
    instance = tmp_path / "big.json"
    write_instance(geometric_instance(200, 100, seed=0, commodities=2), instance)
    result = tmp_path / "big.result.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer.cli", "solve", str(instance), "-o", str(result),
         "--threads", "1", "--method", "extensive"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    # Wait until HiGHS has the model (the progress line says so), then press Ctrl-C.
    assert proc.stderr is not None
    for line in proc.stderr:
        if "to HiGHS" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)
    proc.send_signal(stop)
    out, err = proc.communicate(timeout=120)
    assert out == "" or "status" in out  # the summary, or nothing: never a traceback
    assert proc.returncode == code, err
    doc = json.loads(result.read_text())
    assert doc["status"] in {"feasible", "optimal"}
    assert "interrupted" in doc["message"]
    assert doc["verification"]["max_difference"] < 1e-6
    assert "Traceback" not in err
