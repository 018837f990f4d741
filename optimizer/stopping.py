"""A stop the user asked for (Ctrl-C, SIGTERM) while a command runs, honoured where the work
can stop without losing the plan in hand.

The CLI owns the signal handlers (``optimizer.cli.common``); they record the request here.
Until a solve *defers* stops, a request also raises :class:`KeyboardInterrupt` at once:
nothing is lost yet (reading, building the model), and the command ends without a file.
From the moment the solver starts on a model that may yield a plan, a request is only
recorded: the HiGHS run loop cancels the solver and keeps its incumbent, later stages are
skipped, recovery paths are left out, and the plan is verified and written whole before
the command exits with 130 (143 after SIGTERM). Library callers without these handlers
keep Python's usual Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class Stopped(Exception):
    """Raised by optional work (recovery paths) when a stop was requested."""


_requested: list[int] = []  # the signal of the first request, if any
_deferring: list[bool] = [False]


@contextlib.contextmanager
def session() -> Iterator[None]:
    """One command: no request and no deferral at its start; no deferral after it (the
    request stays readable, for the exit code)."""
    _requested.clear()
    _deferring[0] = False
    try:
        yield
    finally:
        _deferring[0] = False


def request(signum: int) -> bool:
    """Record a stop request; True when it is the first of this command."""
    if _requested:
        return False
    _requested.append(signum)
    return True


def requested() -> bool:
    """Whether a stop was requested during this command."""
    return bool(_requested)


def terminated() -> bool:
    """Whether the stop came from SIGTERM (exit 143 rather than 130)."""
    return bool(_requested) and _requested[0] == signal.SIGTERM


def defer() -> None:
    """From now on (to the end of the command), a request is recorded, not raised: a plan
    may exist, and the solve stops where it can keep it."""
    _deferring[0] = True


def deferring() -> bool:
    return _deferring[0]
