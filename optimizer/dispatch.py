"""Which route solves an instance: the extensive form, the decomposition, another solver.

The one place that reads ``SolveOptions.method`` and ``SolveOptions.solver``; everything
downstream (verification, recovery, the result file) is the same whatever the route.
"""

from __future__ import annotations

from optimizer.data import Instance
from optimizer.errors import UsageError
from optimizer.solve import Solution, SolveOptions, solve


def chosen_method(instance: Instance, options: SolveOptions) -> str:
    """``options.method``, with ``auto`` resolved (see :func:`auto_method`)."""
    if options.method == "auto":
        return auto_method(instance, options)
    return options.method


def auto_method(instance: Instance, options: SolveOptions) -> str:
    """The extensive form until the decomposition is available for this objective."""
    return "extensive"


def run(instance: Instance, options: SolveOptions) -> Solution:
    """Solve by the chosen route and say which in ``Solution.method``."""
    method = chosen_method(instance, options)
    if options.solver != "highs":
        if method != "extensive":
            raise UsageError(f"--solver {options.solver} solves the extensive form only")
        from optimizer.external import solve_external

        return solve_external(instance, options)
    if method == "extensive":
        return solve(instance, options)
    if method == "decomposition":
        from optimizer.decomposition import solve_decomposition

        return solve_decomposition(instance, options)
    raise UsageError(f"unknown method {options.method!r}")
