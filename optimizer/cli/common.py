"""What every ``resilience`` subcommand shares: the error console, exit mapping, outputs."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from optimizer.data import Instance
from optimizer.errors import ExitCode, ResilienceError, UsageError
from optimizer.safe_text import console_text as escape

err = Console(stderr=True, highlight=False, emoji=False)
INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C (128 + SIGINT)


def fail(message: str, code: ExitCode) -> None:
    err.print(f"[bold red]error:[/bold red] {escape(message)}", soft_wrap=True)
    sys.exit(int(code))


def handled(command: Callable[..., None]) -> Callable[..., None]:
    """Turn our exceptions into one clear message and the documented exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except ResilienceError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(INTERRUPTED)
        except Exception as exc:
            if os.environ.get("RESILIENCE_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set RESILIENCE_DEBUG=1 for "
                  "the traceback, and please report it)", ExitCode.SOLVER_FAILURE)

    return wrapper


def warn(instance: Instance) -> None:
    for w in instance.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}", soft_wrap=True)


def output_path(out: str | None, instance_path: str, suffix: str) -> str:
    path = out or f"{Path(instance_path).stem}{suffix}"
    if path != "-" and Path(path).resolve() == Path(instance_path).resolve():
        raise UsageError(f"the output {path} is the input file; choose another -o")
    if path != "-" and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {Path(path).parent} does not exist")
    return path


