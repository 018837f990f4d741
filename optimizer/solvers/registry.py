"""The solvers and methods the engine knows, and the module that runs each: the one table
to edit for a new solver (a new route module, then a row here).

Light on purpose: the command line lists these names before anything heavy is imported
(``resilience --help``), so a route's module is imported only when it is used. A route
module has a function ``solver(name) -> Solver`` (:class:`optimizer.solvers.contract.Solver`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optimizer.solvers.contract import Solver

# (solver, method) -> the module that runs it. HiGHS (embedded, always present) first; the
# first method listed for a solver is the one ``--method auto`` falls back to.
ROUTES: dict[tuple[str, str], str] = {
    ("highs", "extensive"): "optimizer.solvers.extensive",
    ("highs", "decomposition"): "optimizer.solvers.decomposition",
    **{(name, "extensive"): "optimizer.solvers.pyomo_shell"
       for name in ("cbc", "glpk", "scip", "gurobi", "xpress", "cplex")},
}
SOLVER_NAMES: tuple[str, ...] = tuple(dict.fromkeys(name for name, _ in ROUTES))
METHODS: tuple[str, ...] = tuple(dict.fromkeys(method for _, method in ROUTES))


def methods_of(name: str) -> tuple[str, ...]:
    """The methods solver ``name`` runs, its default first."""
    return tuple(method for solver, method in ROUTES if solver == name)


def unknown_solver(name: str) -> str:
    return f"unknown solver {name!r}; known: " + ", ".join(SOLVER_NAMES)


def route(name: str, method: str) -> Solver:
    """The route that runs ``method`` with solver ``name`` (KeyError when there is none)."""
    module = importlib.import_module(ROUTES[(name, method)])
    return module.solver(name)


def unavailable(name: str) -> str:
    """Why solver ``name`` cannot run here (unknown, or what to install), or ""."""
    if name not in SOLVER_NAMES:
        return unknown_solver(name)
    return route(name, methods_of(name)[0]).unavailable()


def version(name: str) -> str:
    """Solver ``name``'s version as it states it, or "" when it cannot run here."""
    return "" if unavailable(name) else route(name, methods_of(name)[0]).version()
