"""Exceptions the engine raises, and the exit code each one maps to (design section 4).

The CLI is the only place that turns these into exit codes; library code raises them and
never calls ``sys.exit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Documented exit codes of the ``resilience`` command."""

    OK = 0
    BAD_INPUT = 2
    NO_SOLUTION = 3
    SOLVER_FAILURE = 4


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where (a JSON path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ResilienceError(Exception):
    """Base class of every error the engine reports to a user."""

    exit_code: ExitCode = ExitCode.SOLVER_FAILURE


class InputError(ResilienceError):
    """A file the user gave is unreadable or invalid; lists every problem found."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, file: str | Path, problems: list[Problem]) -> None:
        self.file = str(file)
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.problems) == 1:
            return f"{self.file}: {self.problems[0]}"
        lines = [f"{self.file}: {len(self.problems)} problems"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class UsageError(ResilienceError):
    """Command-line options that contradict each other or the instance."""

    exit_code = ExitCode.BAD_INPUT


class InfeasibleError(ResilienceError):
    """The instance has no feasible plan, or the solver stopped without one."""

    exit_code = ExitCode.NO_SOLUTION


class SolverFailure(ResilienceError):
    """The solver failed, or the independent evaluation disagrees with the model."""

    exit_code = ExitCode.SOLVER_FAILURE
