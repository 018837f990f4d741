"""What every ``resilience`` subcommand shares: the error console, exit mapping, outputs."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

from optimizer import stopping
from optimizer.errors import ExitCode, ResilienceError, UsageError
from optimizer.files import check_writable
from optimizer.instance.schema import LARGEST
from optimizer.safe_text import console_text as escape

if TYPE_CHECKING:
    from rich.progress import Progress

    from optimizer.instance.data import Instance
    from optimizer.plan import Plan

# When output is not a terminal (a file, a pipe, a CI log) rich would assume 80 columns:
# log lines wrapped mid-sentence and table cells cut to "cou…". There, lines are never
# wrapped and tables get all the width they need.
PIPED_WIDTH = 10_000


def make_console(stderr: bool = False) -> Console:
    """A console for standard output (or error) that never truncates when piped."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        terminal = False
    if terminal:
        return Console(stderr=stderr, highlight=False, emoji=False)
    return Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=True,
                   width=PIPED_WIDTH)


err = make_console(stderr=True)


def answer_console(path: str | None) -> Console:
    """Where a command prints its answer: standard error when its document goes to
    standard output (``path`` '-'), else standard output."""
    return err if path == "-" else make_console()


def write_json(document: dict[str, Any], path: str) -> None:
    """``document`` as JSON at ``path``, written whole or not at all ('-': standard
    output)."""
    from optimizer.files import write_atomic
    from optimizer.results.file import dumps

    if path == "-":
        click.echo(dumps(document), nl=False)
    else:
        write_atomic(path, dumps(document))


def progress_bar(quiet: bool, *, transient: bool = True) -> Progress:
    """A progress bar on standard error (none when ``quiet``): the task's description, the
    bar, done of total and the time elapsed; ``transient``: gone once it ends."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, disable=quiet, transient=transient)

# When the command began (a time.monotonic instant): the start of this process when the
# group was called as a program (Program.__call__), else None and each command takes its
# own start (click's test runner calls the group's main() in a long-lived process).
COMMAND_STARTED: float | None = None


def process_started() -> float | None:
    """The time.monotonic instant this process started (Linux: /proc/self/stat against the
    boot clock), or None where the system does not say."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime: clock ticks after boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    # A clock that disagrees (another time namespace) gives a nonsense age: not used.
    return time.monotonic() - age if 0.0 <= age < 600.0 else None


def command_started() -> float:
    """Where ``--time-limit`` counts from: the start of the process that runs the command
    (Python's start and the imports included, about 2 s of a solve), else now."""
    return COMMAND_STARTED if COMMAND_STARTED is not None else time.monotonic()


class Program(click.Group):
    """The ``resilience`` group. Called as a program (the console script, ``python -m
    optimizer``), this process is the command, so its clock starts with the process;
    click's test runner calls :meth:`main` directly and each command starts its own."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        global COMMAND_STARTED
        COMMAND_STARTED = process_started()
        return super().__call__(*args, **kwargs)
INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C (128 + SIGINT)
TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (what timeout, systemd and batch schedulers send), taken as Ctrl-C: the
    solver stops at its incumbent and the result is written."""


def interrupted_code() -> int:
    """The exit code of a stopped run: 143 after SIGTERM, else 130."""
    return TERMINATED if stopping.terminated() else INTERRUPTED


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """While a command runs, the first Ctrl-C or SIGTERM asks it to stop (optimizer.stopping:
    at once before a solve has started, else where the plan in hand is kept); later ones are
    ignored, so that the writing of that plan is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        with stopping.session():
            yield  # signal handlers can only be set from the main thread
        return

    def on_signal(signum: int, _frame: Any) -> None:
        if not stopping.request(signum) or stopping.deferring():
            return
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    with stopping.session():
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


class Number(click.FloatRange):
    """A finite number within a range. click's FloatRange lets ``nan`` through every bound
    (no comparison with it is true) and ``inf`` through any bound left open."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

    def _describe_range(self) -> str:
        text = super()._describe_range()  # 1e15 reads better than 1000000000000000.0
        return text if self.max is None else text.replace(f"{self.max}", f"{self.max:g}")


# The options every solving command shares, with the bounds of their instance-file twins
# (optimizer.instance.schema: objective.alpha, objective.target, budget), so that a value the file
# would refuse is refused on the command line too, naming the option (exit 2).
MIP_GAP = Number(0, 1, max_open=True)  # relative: 1 would call any plan optimal
TIME_LIMIT = Number(0, min_open=True)
THREADS = click.IntRange(1)
ALPHA = Number(0, 1, max_open=True)
TARGET = Number(0, 1)
BUDGET = Number(0, LARGEST)


def fail(message: str, code: ExitCode) -> None:
    err.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)
    sys.exit(int(code))


def handled(command: Callable[..., None]) -> Callable[..., None]:
    """Turn our exceptions into one clear message and the documented exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            with _stop_signals():
                command(*args, **kwargs)
        except ResilienceError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(interrupted_code())
        except Exception as exc:
            if os.environ.get("RESILIENCE_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set RESILIENCE_DEBUG=1 for "
                  "the traceback, and please report it)", ExitCode.SOLVER_FAILURE)

    return wrapper


def warning(message: str) -> None:
    """``message`` as a warning on standard error, printed as it is (no markup)."""
    err.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


def warn(instance: Instance) -> None:
    """The instance's own warnings."""
    for w in instance.warnings:
        warning(w)


def read_result_plan(result: str, instance: Instance,
                     instance_path: str) -> tuple[Plan, dict[str, Any]]:
    """RESULT's plan and document (:func:`optimizer.results.file.read_plan`); warns when
    the result was solved from another version of the instance at ``instance_path``."""
    from optimizer.results.file import read_plan

    plan, doc = read_plan(result, instance)
    if doc.get("instance", {}).get("sha256") not in (None, "", instance.sha256):
        warning(f"{result} was solved from a different version of {instance_path} "
                "(sha256 differs)")
    return plan, doc


def output_path(out: str | None, instance_path: str, suffix: str,
                stem: str | None = None) -> str:
    """``out``, or the default ``STEM{suffix}`` here: ``stem`` (say, the instance's name),
    else the input file's; checked to be writable and not the input itself."""
    if stem is None:
        stem = "instance" if instance_path == "-" else Path(instance_path).stem
    path = out or f"{stem}{suffix}"
    if path != "-" and Path(path).resolve() == Path(instance_path).resolve():
        raise UsageError(f"the output {path} is the input file; choose another -o")
    if path != "-":
        check_writable(path)  # a folder, or a missing one: refused before any work
    return path


