"""Fuzzing ``resilience validate``: mutated instance files, counted by outcome.

Writes ``--files`` mutated copies of the valid instances (the mutations of
``tests/test_fuzz.py``: drop, retype, duplicate, swap ids, rename a key, nest, truncate,
garble; file ``i`` depends only on ``--seed`` and ``i``) and runs ``resilience validate`` on
each through click's ``CliRunner``, in a forked child per file with a time limit and a
memory limit::

    python benchmarks/fuzz_validate.py --files 1000 --seed 0 --timeout 10

Outcomes: ``valid`` (exit 0), ``rejected`` (exit 2 with a message naming the file),
``unclear`` (exit 2 without naming the file), ``crash`` (exit 4, any other exit or
exception, or a child that died) and ``hang`` (past ``--timeout``, killed). The goal is 0
crashes and 0 hangs. Crashing and hanging files are kept in ``--keep`` with their message.
Standard output carries only the markdown summary; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from click.testing import CliRunner
from test_fuzz import draw_case, mutate, prepare_folder, sources

from optimizer.cli import main

BAD_OUTCOMES = ("crash", "hang")


@dataclass
class Case:
    index: int
    source: str
    kinds: list[str]
    path: Path


@dataclass
class Outcome:
    case: Case
    kind: str  # valid, rejected, unclear, crash, hang
    seconds: float
    detail: str = ""


def cases(count: int, seed: int, folder: Path) -> list[Case]:
    """Write the mutated files; file ``i`` depends only on (seed, i)."""
    texts = sources()
    names = sorted(texts)
    made = []
    for i in range(count):
        rng = random.Random(f"{seed}:{i}")
        source, kinds = draw_case(rng, names)
        path = folder / f"fuzz-{i:04d}.json"
        path.write_bytes(mutate(texts[source], kinds, rng))
        made.append(Case(i, source, kinds, path))
    return made


def classify(path: Path) -> tuple[str, str]:
    """Run ``resilience validate PATH`` in this process; (outcome, detail)."""
    result = CliRunner().invoke(main, ["validate", str(path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return "crash", trace[-3000:]
    if result.exit_code == 0:
        return "valid", ""
    message = result.stderr.strip()
    if result.exit_code == 2 and "internal error" not in message:
        return ("rejected" if str(path) in message else "unclear"), message[:500]
    return "crash", f"exit {result.exit_code}: {message[:3000]}"


def _child(conn: Connection, path: Path, memory_bytes: int) -> None:
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    os.environ.pop("RESILIENCE_DEBUG", None)
    try:
        outcome = classify(path)
    except BaseException as exc:  # MemoryError, RecursionError outside the command, ...
        outcome = ("crash", f"{type(exc).__name__}: {exc}"[:3000])
    conn.send(outcome)
    conn.close()


def run(all_cases: list[Case], *, workers: int, timeout: float, memory_bytes: int,
        progress: bool = True) -> list[Outcome]:
    """Each case in a forked child (``workers`` at once), killed after ``timeout`` s."""
    ctx = multiprocessing.get_context("fork")
    pending = list(reversed(all_cases))
    running: dict[Connection, tuple[Any, Case, float]] = {}
    outcomes: list[Outcome] = []
    reported = 0
    while pending or running:
        while pending and len(running) < workers:
            case = pending.pop()
            receive, send = ctx.Pipe(duplex=False)
            process = ctx.Process(target=_child, args=(send, case.path, memory_bytes))
            process.start()
            send.close()
            running[receive] = (process, case, time.perf_counter())
        for conn in wait(list(running), timeout=0.05):
            process, case, start = running.pop(conn)  # type: ignore[arg-type]
            try:
                kind, detail = conn.recv()
            except EOFError:
                process.join()
                kind, detail = "crash", f"child died with exit code {process.exitcode}"
            conn.close()
            process.join()
            outcomes.append(Outcome(case, kind, time.perf_counter() - start, detail))
        now = time.perf_counter()
        for conn, (process, case, start) in list(running.items()):
            if now - start > timeout:
                process.kill()
                process.join()
                conn.close()
                del running[conn]
                outcomes.append(Outcome(case, "hang", now - start, f"killed after {timeout} s"))
        if progress and len(outcomes) // 100 > reported:
            reported = len(outcomes) // 100
            print(f"{len(outcomes)}/{len(all_cases)} files", file=sys.stderr)
    return sorted(outcomes, key=lambda o: o.case.index)


def summary(outcomes: list[Outcome], *, seconds: float, args: argparse.Namespace) -> str:
    counts = Counter(o.kind for o in outcomes)
    by_source = Counter(o.case.source for o in outcomes)
    slowest = max(outcomes, key=lambda o: o.seconds)
    lines = [
        f"Command: `python benchmarks/fuzz_validate.py --files {args.files} --seed {args.seed} "
        f"--timeout {args.timeout:g} --workers {args.workers}`",
        "",
        f"Date: {datetime.now(UTC):%Y-%m-%d}. Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| files | valid | rejected (exit 2) | unclear | crashes | hangs | wall s | slowest s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(outcomes)} | {counts['valid']} | {counts['rejected']} | {counts['unclear']} "
        f"| {counts['crash']} | {counts['hang']} | {seconds:.1f} | {slowest.seconds:.2f} |",
        "",
        "Files per source: " + ", ".join(f"{k} {v}" for k, v in sorted(by_source.items())) + ".",
    ]
    return "\n".join(lines)


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per file")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--memory-gb", type=float, default=4.0,
                        help="address-space limit of each child (0: none)")
    parser.add_argument("--keep", type=Path, default=Path("fuzz-failures"),
                        help="folder for crashing and hanging files and their messages")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="fuzz-validate-") as tmp:
        folder = Path(tmp)
        prepare_folder(folder)
        all_cases = cases(args.files, args.seed, folder)
        start = time.perf_counter()
        outcomes = run(all_cases, workers=args.workers, timeout=args.timeout,
                       memory_bytes=int(args.memory_gb * 2**30))
        seconds = time.perf_counter() - start
        bad = [o for o in outcomes if o.kind in (*BAD_OUTCOMES, "unclear")]
        if bad:
            args.keep.mkdir(parents=True, exist_ok=True)
            for o in bad:
                shutil.copy(o.case.path, args.keep / o.case.path.name)
                (args.keep / f"{o.case.path.stem}.txt").write_text(
                    f"{o.kind} after {o.seconds:.2f} s; source {o.case.source}, mutations "
                    f"{o.case.kinds}\n{o.detail}\n", encoding="utf-8")
            print(f"{len(bad)} files kept in {args.keep}", file=sys.stderr)
    print(summary(outcomes, seconds=seconds, args=args))
    return 1 if any(o.kind in BAD_OUTCOMES for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main_())
