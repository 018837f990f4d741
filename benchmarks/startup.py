"""Start-up time of the command line (issue 13): ``--help`` and ``validate`` of a small file.

Run from the repository root::

    python benchmarks/startup.py [--repeat 15] [--python PYTHON] [--pythonpath OLD_CHECKOUT]

Each command runs ``--repeat`` times as a fresh process; the median and the fastest wall
times are printed, with the machine's load average (start-up is mostly importing, so a
busy machine slows it in proportion). ``--pythonpath`` runs another checkout of the code
with the same interpreter and packages (the numbers before a change). The heaviest imports
are what ``python -X importtime`` reports; this script prints the five largest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "--help": ["--help"],
    "validate tiny": ["validate", str(ROOT / "instances" / "tiny.json")],
    "solve --help": ["solve", "--help"],
}


def timed(python: str, args: list[str], env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([python, "-m", "optimizer.cli", *args], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def heaviest(python: str, args: list[str], env: dict[str, str], n: int = 5) -> list[str]:
    done = subprocess.run([python, "-X", "importtime", "-m", "optimizer.cli", *args], env=env,
                          capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            if not name.startswith(" " * 3):  # top-level imports only
                rows.append((int(cumulative), name.strip()))
    return [f"{name} {us / 1e6:.2f} s" for us, name in sorted(rows, reverse=True)[:n]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--pythonpath", help="Another checkout to time instead of this one.")
    options = parser.parse_args()
    env = dict(os.environ)
    if options.pythonpath:
        env["PYTHONPATH"] = options.pythonpath
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for label, args in COMMANDS.items():
        times = timed(options.python, args, env, options.repeat)
        print(f"{label:15s} median {statistics.median(times):.3f} s, fastest {min(times):.3f} s"
              f" ({options.repeat} runs); heaviest imports: "
              + ", ".join(heaviest(options.python, args, env)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
