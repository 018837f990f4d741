"""Run a benchmark: every instance x objective x solver x method x repeat, one process each.

Each run is a child process (``python -m optimizer.bench.worker``) in a session of its own,
with a hard wall-clock limit: on overrun the whole session (the worker and any solver
executable it started) is killed, and the run costs one row with status ``timeout``. A
worker that dies costs one row with status ``crashed`` and the last line it wrote to
standard error. Peak memory is the child's own (``os.wait4`` returns the resource usage of
that one child, which on Linux includes the solver executables it waited for).

Rows are written to the CSV after every run, whole (``write_atomic``), so an interrupted
benchmark keeps what it measured and ``resume`` skips it. A JSON sidecar next to the CSV
records the machine, the versions and the command line.

Statuses in the CSV: the engine's (``optimal``, ``feasible``, ``infeasible``, ``error``)
plus ``timeout`` (killed at the hard limit), ``crashed`` (the worker died) and ``skipped``
(a solver not installed, a method not available, an objective the instance cannot take;
the reason is in ``message``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata, util
from pathlib import Path
from typing import Any

from optimizer.bench.objectives import (
    INSTANCE,
    ObjectiveSpec,
    instance_objective,
    parse_objective,
)
from optimizer.bench.registry import SuiteEntry
from optimizer.errors import UsageError
from optimizer.files import write_atomic
from optimizer.safe_text import csv_cell
from optimizer.solvers import registry

METHODS: tuple[str, ...] = registry.METHODS
# Modules a method needs; a method whose module is missing is skipped, never an error.
METHOD_MODULES: dict[str, str] = {}
for (_, _method), _module in registry.ROUTES.items():
    METHOD_MODULES.setdefault(_method, _module)

COLUMNS: tuple[str, ...] = (
    "instance", "family", "size_class", "objective", "solver", "solver_version", "method",
    "repeat", "status", "objective_value", "bound", "gap", "variables", "constraints",
    "nonzeros", "integer_variables", "scenarios", "build_seconds", "handoff_seconds",
    "primary_seconds", "solve_seconds", "time_seconds", "wall_seconds", "nodes",
    "iterations", "peak_memory_mb", "max_difference", "time_limit", "hard_limit", "mip_gap",
    "threads", "message",
)
# Statuses of runs that measured nothing, and are tried again by ``resume``.
RETRIED = {"skipped"}


@dataclass(frozen=True)
class BenchOptions:
    """How every run of a benchmark is made."""

    solvers: tuple[str, ...] = ("highs",)
    methods: tuple[str, ...] = ("extensive",)
    objectives: tuple[str, ...] = (INSTANCE,)
    time_limit: float = 300.0
    hard_limit: float | None = None  # default: see ``wall_limit``
    mip_gap: float = 1e-4
    threads: int | None = 1
    repeat: int = 1

    @property
    def wall_limit(self) -> float:
        """Seconds after which a run is killed: twice the time limit plus a minute unless
        given (the solver's own limit covers building and solving; verification, the
        recourse polish and process start-up come on top)."""
        return self.hard_limit if self.hard_limit is not None else 2 * self.time_limit + 60


@dataclass(frozen=True)
class Run:
    """One planned row."""

    entry: SuiteEntry
    objective: ObjectiveSpec
    solver: str
    method: str
    repeat: int
    skip: str = ""  # why this run is not made ('' when it is)

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        return (self.entry.name, self.objective.label, self.solver, self.method, self.repeat)


def _row_key(row: dict[str, Any]) -> tuple[str, str, str, str, int]:
    return (str(row["instance"]), str(row["objective"]), str(row["solver"]),
            str(row["method"]), int(row["repeat"] or 1))


@dataclass
class _Checks:
    """Availability of solvers and methods, asked once per benchmark."""

    solvers: dict[str, str] = field(default_factory=dict)  # name -> why not ('' when there)
    methods: dict[str, str] = field(default_factory=dict)

    def solver(self, name: str) -> str:
        if name not in self.solvers:
            self.solvers[name] = registry.unavailable(name)
        return self.solvers[name]

    def method(self, name: str) -> str:
        if name not in self.methods:
            module = METHOD_MODULES.get(name)
            if module is None:
                self.methods[name] = f"unknown method {name!r}"
            elif util.find_spec(module) is None:
                self.methods[name] = (f"method {name} is not available in this version "
                                      f"({module} is missing)")
            else:
                self.methods[name] = ""
        return self.methods[name]


def _resolve(spec: ObjectiveSpec, entry: SuiteEntry) -> tuple[ObjectiveSpec, str]:
    """The objective for one instance, with its own alpha or target where none is given."""
    if spec.kind is not None and not (spec.kind == "cvar" and spec.alpha is None) and not (
            spec.kind == "min_cost" and spec.target is None):
        return spec, ""
    try:
        doc = json.loads(entry.file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}  # the worker reports a bad file in its row
    own = instance_objective(doc)
    if spec.kind is None:
        resolved = own
    elif spec.kind == "cvar":
        resolved = ObjectiveSpec("cvar", alpha=own.alpha if own.kind == "cvar" else 0.9)
    else:
        resolved = ObjectiveSpec("min_cost", target=own.target)
    if resolved.kind == "min_cost" and resolved.target is None:
        return resolved, "min_cost needs a target: write min_cost:TARGET in --objectives"
    return resolved, ""


def plan_runs(entries: Sequence[SuiteEntry], options: BenchOptions) -> list[Run]:
    """Every run of the benchmark, in order: instance, objective, solver, method, repeat.

    A run that cannot be made here carries its reason in ``skip``.
    """
    unknown = [m for m in options.methods if m not in METHODS]
    if unknown:
        raise UsageError(f"unknown method {', '.join(unknown)}; methods: {', '.join(METHODS)}")
    unknown = [s for s in options.solvers if s not in registry.SOLVER_NAMES]
    if unknown:
        raise UsageError(f"unknown solver {', '.join(unknown)}; solvers: "
                         + ", ".join(registry.SOLVER_NAMES))
    specs = [parse_objective(o) for o in options.objectives]
    checks = _Checks()
    runs = []
    for entry in entries:
        for spec in specs:
            objective, why_objective = _resolve(spec, entry)
            for solver in options.solvers:
                for method in options.methods:
                    why = (why_objective or checks.solver(solver) or checks.method(method)
                           or ("" if (solver, method) in registry.ROUTES else
                               f"solver {solver} solves the extensive form only"))
                    for repeat in range(1, options.repeat + 1):
                        runs.append(Run(entry, objective, solver, method, repeat, why))
    return runs


def spec_of(run: Run, options: BenchOptions) -> dict[str, Any]:
    """What the worker needs to make ``run``."""
    return {"file": str(run.entry.file), "objective": run.objective.label,
            "solver": run.solver, "method": run.method, "time_limit": options.time_limit,
            "mip_gap": options.mip_gap, "threads": options.threads}


def _base_row(run: Run, options: BenchOptions) -> dict[str, Any]:
    return {"instance": run.entry.name, "family": run.entry.family,
            "size_class": run.entry.size, "objective": run.objective.label,
            "solver": run.solver, "method": run.method, "repeat": run.repeat,
            "time_limit": options.time_limit, "hard_limit": options.wall_limit,
            "mip_gap": options.mip_gap, "threads": options.threads}


WORKER: tuple[str, ...] = (sys.executable, "-m", "optimizer.bench.worker")


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace")
                 .splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _describe_exit(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def run_one(run: Run, options: BenchOptions,
            worker: Sequence[str] = WORKER) -> dict[str, Any]:
    """Make one run in a child process and return its row (never raises for the run)."""
    row = _base_row(run, options)
    if run.skip:
        row.update(status="skipped", message=run.skip)
        return row
    limit = options.wall_limit
    with tempfile.TemporaryDirectory(prefix="resilience-bench-") as folder:
        spec_path = Path(folder) / "spec.json"
        result_path = Path(folder) / "result.json"
        log_path = Path(folder) / "stderr.txt"
        spec_path.write_text(json.dumps(spec_of(run, options)), encoding="utf-8")
        started = time.monotonic()
        with log_path.open("wb") as log:
            proc = subprocess.Popen([*worker, str(spec_path), str(result_path)],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
            killed = False
            try:
                while True:
                    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                    if pid:
                        break
                    if time.monotonic() - started > limit:
                        killed = True
                        _kill(proc.pid)
                        pid, status, usage = os.wait4(proc.pid, 0)
                        break
                    time.sleep(0.02)
            except BaseException:  # Ctrl-C: no orphaned solver left running
                _kill(proc.pid)
                os.wait4(proc.pid, 0)
                proc.returncode = -signal.SIGKILL
                raise
            proc.returncode = os.waitstatus_to_exitcode(status)
        row["wall_seconds"] = time.monotonic() - started
        row["peak_memory_mb"] = usage.ru_maxrss / 1024.0  # Linux: KiB
        result: dict[str, Any] | None = None
        if result_path.is_file():
            try:
                result = json.loads(result_path.read_text(encoding="utf-8"))
            except ValueError:
                result = None
        if result is not None:
            result.pop("worker_seconds", None)
            row.update({k: v for k, v in result.items() if k in COLUMNS})
        elif killed:
            row.update(status="timeout", message=f"killed at the hard limit of {limit:g} s "
                                                 "wall clock")
        else:
            last = _last_line(log_path)
            row.update(status="crashed", message=f"the worker died ({_describe_exit(status)})"
                       + (f": {last}" if last else ""))
    return row


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ------------------------------------------------------------------------------ the CSV


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return csv_cell(str(value))


def rows_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as CSV text with :data:`COLUMNS` in order (extra keys are dropped)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
    return out.getvalue()


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """A results CSV as dicts of strings ('' for missing values)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = [dict(r) for r in reader]
            fields = reader.fieldnames or []
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    missing = [c for c in ("instance", "objective", "solver", "method", "status")
               if c not in fields]
    if missing:
        raise UsageError(f"{path}: not a benchmark results file (no column "
                         + ", ".join(missing) + ")")
    return rows


# --------------------------------------------------------------------------- the sidecar


def sidecar_path(csv_path: str | Path) -> Path:
    """``RESULTS.csv`` -> ``RESULTS.json``."""
    return Path(csv_path).with_suffix(".json")


def _versions() -> dict[str, str]:
    out = {}
    for package in ("community-resilience", "pyomo", "highspy", "numpy", "scipy",
                    "networkx", "pyscipopt", "gurobipy", "xpress", "cplex"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _git_commit() -> str | None:
    """The source tree's commit, when the engine runs from a git checkout."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], check=True, capture_output=True,
                               text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def machine() -> dict[str, Any]:
    """What the timings were measured on."""
    return {"system": platform.platform(), "machine": platform.machine(),
            "cpu": _cpu_model(), "cpus": os.cpu_count(), "memory_gib": _memory_gib(),
            "python": platform.python_version()}


def _load() -> list[float] | None:
    """1, 5 and 15 minute load averages: timings on a busy machine are slower."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return None


def sidecar(command: str, suite: str, entries: Sequence[SuiteEntry], options: BenchOptions,
            started: str, finished: str | None, previous: dict[str, Any] | None,
            load_at_start: list[float] | None = None) -> dict:
    """The sidecar document (``previous``: the one a resumed run found, kept as history)."""
    solvers = {}
    for name in options.solvers:
        route = registry.route(name, registry.methods_of(name)[0])
        why = route.unavailable()
        solvers[name] = ({"available": True, "interface": route.interface,
                          "version": route.version()} if not why else
                         {"available": False, "reason": why})
    history = list((previous or {}).get("history", []))
    if previous:
        history.append({k: previous.get(k) for k in ("command", "started", "finished")})
    return {
        "command": command,
        "started": started,
        "finished": finished,
        "suite": {"path": suite, "instances": [e.name for e in entries]},
        "options": {**asdict(options), "hard_limit": options.wall_limit},
        "machine": machine(),
        "load_average": {"start": load_at_start,
                         "finish": _load() if finished is not None else None},
        "versions": _versions(),
        "solvers": solvers,
        "source_commit": _git_commit(),
        "history": history,
    }


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------- the run


def run_bench(entries: Sequence[SuiteEntry], options: BenchOptions, output: str | Path, *,
              suite: str = "", command: str = "", resume: bool = False,
              on_start: Callable[[int, int, Run], None] | None = None,
              on_row: Callable[[int, int, Run, dict[str, Any]], None] | None = None,
              worker: Sequence[str] = WORKER) -> list[dict[str, Any]]:
    """Make every planned run and write the CSV (after each run) and its sidecar.

    With ``resume``, rows already in ``output`` (other than ``skipped``) are kept and their
    runs not made again; rows of runs no longer planned are kept too.
    """
    output = Path(output)
    runs = plan_runs(entries, options)
    done: dict[tuple, dict[str, Any]] = {}
    previous = None
    if resume and output.exists():
        for row in read_rows(output):
            if row.get("status") not in RETRIED:
                done[_row_key(row)] = row
        try:
            previous = json.loads(sidecar_path(output).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
    started, load = _now(), _load()
    write_atomic(sidecar_path(output), json.dumps(
        sidecar(command, suite, entries, options, started, None, previous, load), indent=2)
        + "\n")
    planned = {run.key for run in runs}
    rows: dict[tuple, dict[str, Any]] = {}
    for i, run in enumerate(runs):
        if run.key in done:
            rows[run.key] = done[run.key]
            if on_row is not None:
                on_row(i, len(runs), run, done[run.key])
            continue
        if on_start is not None:
            on_start(i, len(runs), run)
        rows[run.key] = run_one(run, options, worker)
        kept = [r for k, r in done.items() if k not in planned]
        write_atomic(output, rows_csv([*rows.values(), *kept]))
        if on_row is not None:
            on_row(i, len(runs), run, rows[run.key])
    kept = [r for k, r in done.items() if k not in planned]
    final = [*rows.values(), *kept]
    write_atomic(output, rows_csv(final))
    write_atomic(sidecar_path(output), json.dumps(
        sidecar(command, suite, entries, options, started, _now(), previous, load),
        indent=2) + "\n")
    return final


__all__ = ["COLUMNS", "METHODS", "WORKER", "BenchOptions", "Run", "plan_runs", "read_rows",
           "rows_csv", "run_bench", "run_one", "sidecar_path"]
