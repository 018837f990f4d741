"""What a solver is asked and what it answers: :class:`SolveOptions` in, :class:`Solution`
out, and the :class:`Solver` protocol every route implements.

A route (the HiGHS extensive form, the decomposition, the Pyomo shell for other solvers) is
one module with a ``solver(name)`` function returning a :class:`Solver`; the registry
(:mod:`optimizer.solvers.registry`) names them. What the routes share beyond this contract
is in :mod:`optimizer.solvers.base`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from optimizer.plan import Plan
from optimizer.status import Status

if TYPE_CHECKING:
    from optimizer.evaluation.outcome import ScenarioOutcome
    from optimizer.instance.data import Instance


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float | None = None  # seconds, counted from ``started``
    mip_gap: float = 1e-4
    threads: int | None = None
    started: float = field(default_factory=time.monotonic)
    log: Callable[[str], None] | None = None  # progress lines (standard error in the CLI)
    # A plan to start from (say, the previous solve of a budget sweep); it must fit this
    # instance's ids. Without one, the do-nothing plan where it is surely feasible.
    start: Plan | None = None
    # How the model reaches HiGHS: "direct" (models.direct: the matrix straight from numpy
    # arrays, 40x faster) or "pyomo" (models.resilience through Pyomo's standard-form
    # compiler). tests/test_direct.py keeps the two equal bit for bit.
    builder: str = "direct"
    # How to solve: "extensive" (optimizer.solvers.extensive), "decomposition"
    # (optimizer.solvers.decomposition), or "auto" (chosen by size in
    # optimizer.solvers.dispatch); which solver (optimizer.solvers.registry: "highs", or
    # another through Pyomo in optimizer.solvers.pyomo_shell); where scenario evaluations run.
    method: str = "auto"
    solver: str = "highs"
    workers: int | None = None  # local processes; None: one per core (in process below 1,000)
    scheduler: str | None = None  # a Dask scheduler address, tcp://host:port
    # Seconds of ``time_limit`` kept back for the work after the solver's deadline, which
    # runs whatever the clock says (the route's last recourse solve, the independent
    # verification of every scenario): set by optimizer.pipeline from an estimate, so that
    # the command ends within its limit.
    reserve: float = 0.0

    def remaining(self) -> float | None:
        """Seconds the solver may still use: the limit less the time since ``started`` and
        less the ``reserve`` (None: no limit)."""
        if self.time_limit is None:
            return None
        return max(0.0, self.time_limit - self.reserve - (time.monotonic() - self.started))


@dataclass(frozen=True)
class Stage:
    objective: str
    status: str
    value: float | None
    seconds: float


@dataclass(frozen=True, eq=False)
class Solution:
    status: Status
    message: str
    plan: Plan | None
    objective_value: float | None
    bound: float | None
    gap: float | None
    outcomes: list[ScenarioOutcome] | None  # the model's, after the recourse polish
    solver_version: str
    build_seconds: float
    handoff_seconds: float
    solve_seconds: float
    nodes: int
    iterations: int
    stages: tuple[Stage, ...]
    size: dict[str, int]
    solver_name: str = "highs"
    method: str = "extensive"
    # Per-iteration records of an iterative method (decomposition): iteration, active
    # scenarios, bound, incumbent, gap, seconds.
    progress: tuple[dict[str, Any], ...] = ()
    interrupted: bool = False  # Ctrl-C stopped the solver; the CLI exits 130 after writing
    # Each scenario's ceiling (optimizer.evaluation.recourse.ceilings), the scenarios that pin the
    # worst case at theirs, and what decided the plan, in words (optimizer.stages.explain).
    ceilings: np.ndarray | None = None
    pinned: tuple[int, ...] = ()
    decided: str = ""


class Solver(Protocol):
    """One route: a MIP solver and a method (the extensive form, the decomposition).

    A route module exposes ``solver(name) -> Solver``; :mod:`optimizer.solvers.registry`
    lists the names and methods and their modules. ``solve`` runs the objective and as many
    tie-break stages as it can, and returns a :class:`Solution` whose ``message`` says what
    was proven; it raises :class:`optimizer.errors.InfeasibleError` when no plan exists and
    :class:`optimizer.errors.SolverFailure` when the solver fails.
    """

    name: str  # --solver
    method: str  # --method
    interface: str  # how the engine reaches it: highspy, or the Pyomo interface

    def unavailable(self) -> str:
        """Why it cannot run here (what to install), or "" when it can."""
        ...

    def version(self) -> str:
        """Its version as the solver states it ("" when it cannot run here)."""
        ...

    def solve(self, instance: Instance, options: SolveOptions) -> Solution:
        ...
