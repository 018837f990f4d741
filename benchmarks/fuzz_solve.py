"""Fuzzing past validation: solve the mutated files that validate, check every claim, and
open tampered result files (issues 12 and 15).

File ``i`` depends only on ``--seed`` and ``i``. Half the files are those of
``benchmarks/fuzz_validate.py`` (one to three of the mutations of ``tests/test_fuzz.py``);
the other half *scale* one to three numbers of a valid instance by 10^k (k from -6 to 12),
which keeps many of them valid, so that the solver meets odd magnitudes. Each file runs,
in a forked child with a hard time limit and a memory limit, through:

1. ``resilience validate FILE``;
2. if it is valid: ``resilience solve FILE --time-limit 20 -o R.json``, then
   ``resilience evaluate FILE R.json``, and an independent re-evaluation of R.json's plan
   in the child (networkx max flow, no solver) for the *verified* objective value;
3. a tampered copy of a real result (R.json when there is one, else a result of the file's
   source solved beforehand), mutated like the instances, through
   ``resilience report T.json -o OUT`` (``.md``, ``.csv`` or ``.html``) and
   ``resilience compare RESULT T.json -o OUT.md``.

Findings (the goal is 0 of each): a *crash* (exit 4 with "internal error", an exception
out of a command, a child that died), a *hang* (a child killed at ``--timeout``), a *lost
file* (a solve that exits 0 or 3 without a whole result file, an output that does not parse
or a temporary file left behind), a *false optimal* (status ``optimal`` while the verified
value of the plan misses the result's bound by more than the MIP gap), a *disagreement*
(``evaluate`` exit 4: the result's scenario values differ from the independent ones), an
*unclear* refusal (exit 2 without naming the file) and a *late* solve (past its time limit
by more than 30 s). Files that show one are kept in ``--keep``. Standard output carries
only the markdown summary; progress goes to standard error::

    python benchmarks/fuzz_solve.py --files 400 --seed 0 --workers 2
"""

from __future__ import annotations

import argparse
import json
import math
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from click.testing import CliRunner
from fuzz_validate import Case, classify
from test_fuzz import _Doc, draw_case, mutate, prepare_folder, sources

from optimizer.cli import main

TIME_LIMIT = 20.0  # seconds, the solve's --time-limit
LATE = 30.0  # seconds past the time limit that make a solve "late"
MIP_GAP = 1e-4  # the default --mip-gap; no file sets another
FINDINGS = ("crash", "hang", "lost", "false_optimal", "disagree", "unclear", "late")
REPORT_FORMATS = (".md", ".csv", ".html")
# Leaves that scaling would only turn into a refusal of the count (tested by fuzz_validate).
NOT_SCALED = {"schema_version", "seed", "count", "edges", "max_modules",
              "shelter_redundancy", "crews", "repair_time"}


@dataclass
class Outcome:
    case: Case
    stages: dict[str, str] = field(default_factory=dict)  # stage -> what happened
    findings: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0
    solve_seconds: float | None = None


# ------------------------------------------------------------------------------- files


def _scale(text: str, rng: random.Random) -> tuple[bytes, list[str]]:
    """One to three numbers of ``text`` times 10^k; the kinds say which, for the record."""
    doc = _Doc(text)
    numbers = [(c, k) for c, k in doc.places()
               if isinstance(c[k], int | float) and not isinstance(c[k], bool)
               and k not in NOT_SCALED and c[k] != 0]
    kinds = []
    for _ in range(rng.randint(1, 3)):
        if not numbers:
            break
        container, key = rng.choice(numbers)
        power = rng.randint(-6, 12)
        value = container[key] * 10.0 ** power
        container[key] = value
        kinds.append(f"scale {key} by 1e{power}")
    return doc.render().encode("utf-8"), kinds


def cases(count: int, seed: int, folder: Path) -> list[Case]:
    """Write the files; file ``i`` depends only on (seed, i)."""
    texts = sources()
    names = sorted(texts)
    made = []
    for i in range(count):
        rng = random.Random(f"solve:{seed}:{i}")
        # A folder per file, so that what a command leaves behind is its own.
        own = folder / f"{i:04d}"
        prepare_folder(own)
        path = own / f"fuzz-{i:04d}.json"
        if rng.random() < 0.5:
            source, kinds = draw_case(rng, names)
            raw = mutate(texts[source], kinds, rng)
        else:
            source = rng.choice(names)
            raw, kinds = _scale(texts[source], rng)
        path.write_bytes(raw)
        made.append(Case(i, source, kinds, path))
    return made


def base_results(folder: Path) -> dict[str, Path]:
    """A real result of every source, solved once, for the tampering of files that do not
    validate (their own result does not exist)."""
    made = {}
    for name, text in sorted(sources().items()):
        instance = folder / f"{name}.json"
        instance.write_text(text, encoding="utf-8")
        result = folder / f"{name}.result.json"
        run = CliRunner().invoke(main, ["solve", str(instance), "-q", "--time-limit",
                                        str(TIME_LIMIT), "-o", str(result)])
        if run.exit_code == 0:
            made[name] = result
        print(f"base result of {name}: exit {run.exit_code}", file=sys.stderr)
    return made


# --------------------------------------------------------------------- one file's chain


def _invoke(args: list[str]) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(main, args)
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return result.exit_code, trace[-3000:], exc
    return result.exit_code, result.stderr.strip()[:3000], None


def _judge_exit(out: Outcome, stage: str, code: int, message: str,
                exc: BaseException | None, named: Path, ok: tuple[int, ...]) -> None:
    """Record one command's exit: ``ok`` codes pass, 2 must name the file, else a crash."""
    if exc is not None or (code not in ok and code != 2) or "internal error" in message:
        out.stages[stage] = f"crash (exit {code})"
        out.findings.append("crash")
        out.details.append(f"{stage}: {message}")
    elif code == 2:
        out.stages[stage] = "rejected"
        if str(named) not in message:
            out.findings.append("unclear")
            out.details.append(f"{stage}: exit 2 without naming {named}: {message[:300]}")
    else:
        out.stages[stage] = f"exit {code}"


def _whole_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _leftovers(folder: Path, before: set[str], expected: set[str]) -> list[str]:
    return sorted(set(os.listdir(folder)) - before - expected)


def verified_value(instance_path: Path, result: dict[str, Any],
                   result_path: Path) -> tuple[float, float]:
    """(the objective value of the result's plan, re-evaluated without the solver; the money
    scale of the gap test), by the result's objective kind."""
    import numpy as np

    from optimizer.evaluation.evaluate import evaluate_plan
    from optimizer.evaluation.outcome import ResilienceSummary
    from optimizer.instance.reading import load_instance
    from optimizer.plan import plan_cost
    from optimizer.results.file import read_plan

    instance = load_instance(instance_path)
    plan, _ = read_plan(result_path, instance)
    objective = result["objective"]
    kind = objective["kind"]
    if kind == "min_cost":
        return plan_cost(instance, plan).total, max(instance.budget, 1.0)
    values = np.array([o.resilience for o in evaluate_plan(instance, plan)])
    alpha = objective.get("alpha")
    summary = ResilienceSummary.of(values, instance.probabilities,
                                   alpha if isinstance(alpha, float) else 0.9)
    if kind == "worst_case":
        return summary.worst_case, 1.0
    if kind == "expected":
        return summary.expected, 1.0
    if kind == "cvar":
        return summary.cvar, 1.0
    if kind == "relative":
        ceilings = result["resilience"]["ceilings"]
        shares = [v / ceilings[s.id] if ceilings[s.id] > 0 else 1.0
                  for s, v in zip(instance.scenarios, values, strict=True)]
        return min(shares), 1.0
    raise ValueError(f"unknown objective kind {kind!r}")


def _solve(case: Case, out: Outcome) -> Path | None:
    """Solve a valid file, check the file it writes and every claim; the result or None."""
    folder = case.path.parent
    result = folder / f"{case.path.stem}.result.json"
    before = set(os.listdir(folder))
    started = time.perf_counter()
    code, message, exc = _invoke(["solve", str(case.path), "-q", "--time-limit",
                                  str(TIME_LIMIT), "-o", str(result)])
    out.solve_seconds = time.perf_counter() - started
    _judge_exit(out, "solve", code, message, exc, case.path, ok=(0, 3))
    if out.solve_seconds > TIME_LIMIT + LATE:
        out.findings.append("late")
        out.details.append(f"solve: {out.solve_seconds:.0f} s with --time-limit {TIME_LIMIT:g}")
    left = _leftovers(folder, before, {result.name})
    if left:
        out.findings.append("lost")
        out.details.append(f"solve left {left}")
    doc = _whole_json(result) if result.exists() else None
    if result.exists() and doc is None:
        out.findings.append("lost")
        out.details.append("solve: the result file is not whole JSON")
        return None
    if code in (0, 3) and doc is None:
        out.findings.append("lost")
        out.details.append(f"solve: exit {code} and no result file")
        return None
    if code != 0 or doc is None:
        return None
    status = doc.get("status")
    out.stages["status"] = str(status)
    code, message, exc = _invoke(["evaluate", str(case.path), str(result)])
    if code == 4 and exc is None and "internal error" not in message:
        # evaluate's own exit 4: the result does not stand up to independent evaluation.
        out.findings.append("disagree")
        out.stages["evaluate"] = "disagrees"
        out.details.append(f"evaluate: {message[:1000]}")
    else:
        _judge_exit(out, "evaluate", code, message, exc, case.path, ok=(0,))
    objective = doc.get("objective") or {}
    bound = objective.get("bound")
    if status == "optimal":
        try:
            value, scale = verified_value(case.path, doc, result)
        except Exception as error:  # the plan of a solve must always re-evaluate
            out.findings.append("crash")
            out.details.append(f"re-evaluation: {type(error).__name__}: {error}")
            return result
        slack = MIP_GAP * max(abs(value), 1e-10) + 2e-6 * scale
        if not isinstance(bound, int | float) or not math.isfinite(value) \
                or abs(bound - value) > slack:
            out.findings.append("false_optimal")
            out.details.append(f"optimal with bound {bound} and verified value {value}")
        out.stages["verified"] = "within the gap" if "false_optimal" not in out.findings \
            else "outside the gap"
    return result


def _tamper(case: Case, out: Outcome, real: Path, rng: random.Random) -> None:
    """A mutated copy of a real result through ``report`` and ``compare``."""
    folder = case.path.parent
    tampered = folder / f"{case.path.stem}.tampered.json"
    kinds = [rng.choice(("drop", "retype", "duplicate", "swap_ids", "rename_key", "nest",
                         "truncate", "garble")) for _ in range(rng.randint(1, 3))]
    tampered.write_bytes(mutate(real.read_text(encoding="utf-8"), kinds, rng))
    out.stages["tampering"] = "+".join(kinds)
    report = folder / f"{case.path.stem}.report{rng.choice(REPORT_FORMATS)}"
    comparison = folder / f"{case.path.stem}.compare.md"
    for stage, args, target in (
            ("report", ["report", str(tampered), "-o", str(report)], report),
            ("compare", ["compare", str(real), str(tampered), "-o", str(comparison)],
             comparison)):
        before = set(os.listdir(folder))
        code, message, exc = _invoke(args)
        _judge_exit(out, stage, code, message, exc, tampered, ok=(0,))
        left = _leftovers(folder, before, {target.name})
        if left:
            out.findings.append("lost")
            out.details.append(f"{stage} left {left}")
        if code != 0 and target.exists():
            out.findings.append("lost")
            out.details.append(f"{stage}: exit {code} but {target.name} was written")
        if target.suffix == ".md" or not target.exists():
            continue
        if target.stat().st_size == 0:
            out.findings.append("lost")
            out.details.append(f"{stage}: {target.name} is empty")


def chain(case: Case, bases: dict[str, Path], seed: int) -> Outcome:
    """Every stage of one file, in this process."""
    out = Outcome(case)
    started = time.perf_counter()
    kind, detail = classify(case.path)
    out.stages["validate"] = kind
    if kind in ("crash", "unclear"):
        out.findings.append(kind)
        out.details.append(f"validate: {detail}")
    result = _solve(case, out) if kind == "valid" else None
    real = result or bases.get(case.source)
    if real is not None and real.exists():
        _tamper(case, out, real, random.Random(f"tamper:{seed}:{case.index}"))
    out.seconds = time.perf_counter() - started
    return out


# ------------------------------------------------------------------------- the runner


def _child(conn: Connection, case: Case, bases: dict[str, Path], seed: int,
           memory_bytes: int) -> None:
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    os.environ.pop("RESILIENCE_DEBUG", None)
    try:
        outcome = chain(case, bases, seed)
    except BaseException as exc:  # MemoryError, RecursionError outside a command, ...
        outcome = Outcome(case, findings=["crash"],
                          details=[f"{type(exc).__name__}: {exc}"[:3000]])
    conn.send(outcome)
    conn.close()


def run(all_cases: list[Case], bases: dict[str, Path], *, seed: int, workers: int,
        timeout: float, memory_bytes: int) -> list[Outcome]:
    """Each file's chain in a forked child (``workers`` at once), killed after ``timeout``."""
    ctx = multiprocessing.get_context("fork")
    pending = list(reversed(all_cases))
    running: dict[Connection, tuple[Any, Case, float]] = {}
    outcomes: list[Outcome] = []
    reported = 0
    while pending or running:
        while pending and len(running) < workers:
            case = pending.pop()
            receive, send = ctx.Pipe(duplex=False)
            process = ctx.Process(target=_child,
                                  args=(send, case, bases, seed, memory_bytes))
            process.start()
            send.close()
            running[receive] = (process, case, time.perf_counter())
        for conn in wait(list(running), timeout=0.05):
            process, case, start = running.pop(conn)  # type: ignore[arg-type]
            try:
                outcome = conn.recv()
            except EOFError:
                process.join()
                outcome = Outcome(case, findings=["crash"],
                                  details=[f"child died with exit code {process.exitcode}"])
            conn.close()
            process.join()
            outcomes.append(outcome)
        now = time.perf_counter()
        for conn, (process, case, start) in list(running.items()):
            if now - start > timeout:
                process.kill()
                process.join()
                conn.close()
                del running[conn]
                outcomes.append(Outcome(case, findings=["hang"], seconds=now - start,
                                        details=[f"killed after {timeout:g} s"]))
        if len(outcomes) // 25 > reported:
            reported = len(outcomes) // 25
            print(f"{len(outcomes)}/{len(all_cases)} files", file=sys.stderr)
    return sorted(outcomes, key=lambda o: o.case.index)


def summary(outcomes: list[Outcome], *, seconds: float, args: argparse.Namespace) -> str:
    validate = Counter(o.stages.get("validate", "-") for o in outcomes)
    solved = [o for o in outcomes if "solve" in o.stages]
    solve = Counter(o.stages["solve"] for o in solved)
    status = Counter(o.stages.get("status", "-") for o in solved if "status" in o.stages)
    verified = sum(o.stages.get("verified") == "within the gap" for o in outcomes)
    tampered = [o for o in outcomes if "report" in o.stages]
    report = Counter(o.stages["report"] for o in tampered)
    compare = Counter(o.stages["compare"] for o in tampered)
    findings = Counter(f for o in outcomes for f in set(o.findings))
    slowest = max((o.solve_seconds or 0.0 for o in outcomes), default=0.0)
    lines = [
        f"Command: `python benchmarks/fuzz_solve.py --files {args.files} --seed {args.seed} "
        f"--timeout {args.timeout:g} --workers {args.workers}`",
        "",
        f"Date: {datetime.now(UTC):%Y-%m-%d}. Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| stage | runs | outcomes |",
        "|---|---:|---|",
        f"| validate | {len(outcomes)} | " + _counts(validate) + " |",
        f"| solve --time-limit {TIME_LIMIT:g} | {len(solved)} | " + _counts(solve)
        + "; status " + _counts(status) + f"; slowest {slowest:.1f} s |",
        f"| optimal, verified value within the gap of the bound | "
        f"{status.get('optimal', 0)} | {verified} within |",
        f"| report (tampered result) | {len(tampered)} | " + _counts(report) + " |",
        f"| compare (real, tampered) | {len(tampered)} | " + _counts(compare) + " |",
        "",
        "| files | crashes | hangs | lost files | false optimal | disagree | unclear | late "
        "| wall s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(outcomes)} | " + " | ".join(str(findings[f]) for f in FINDINGS)
        + f" | {seconds:.0f} |",
    ]
    return "\n".join(lines)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "-"


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds for one file's whole chain")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--memory-gb", type=float, default=4.0,
                        help="address-space limit of each child (0: none)")
    parser.add_argument("--keep", type=Path, default=Path("fuzz-solve-failures"),
                        help="folder for the files that show a finding, with their messages")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="fuzz-solve-") as tmp:
        folder = Path(tmp)
        prepare_folder(folder)
        base = folder / "base"
        prepare_folder(base)
        bases = base_results(base)
        all_cases = cases(args.files, args.seed, folder)
        start = time.perf_counter()
        outcomes = run(all_cases, bases, seed=args.seed, workers=args.workers,
                       timeout=args.timeout, memory_bytes=int(args.memory_gb * 2**30))
        seconds = time.perf_counter() - start
        bad = [o for o in outcomes if o.findings]
        if bad:
            args.keep.mkdir(parents=True, exist_ok=True)
            for o in bad:
                for path in o.case.path.parent.iterdir():
                    shutil.copy(path, args.keep / path.name)
                (args.keep / f"{o.case.path.stem}.txt").write_text(
                    f"{sorted(set(o.findings))} after {o.seconds:.1f} s; source "
                    f"{o.case.source}, mutations {o.case.kinds}; stages {o.stages}\n"
                    + "\n".join(o.details) + "\n", encoding="utf-8")
            print(f"{len(bad)} files kept in {args.keep}", file=sys.stderr)
    print(summary(outcomes, seconds=seconds, args=args))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main_())
