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


# ``auto`` switches to the decomposition above this many recourse variables (estimated, see
# recourse_size). Measured on 2 cores (benchmarks/RESULTS.md, "Decomposition"), on the
# benchmark family: at 4,900 (100 nodes x 20 scenarios) the extensive form takes 3.8 s
# against 1.1 s, at 17,000 (100 x 60) 23 s against 5.5 s, at 123,000 (200 x 100) 130 s
# against 6 s. Below the threshold the extensive form takes seconds and applies every
# tie-break of design section 2 (the decomposition breaks ties by cost only).
AUTO_DECOMPOSITION_SIZE = 10_000


def recourse_size(instance: Instance) -> int:
    """Upper estimate of the extensive form's recourse variables, without reachability.

    sum over scenarios of (zone-commodity pairs with need) x depots + (zones with evacuees)
    x shelters: every pair a scenario could use if every facility reached every zone. The
    model keeps the reachable ones, about half on the synthetic families.
    """
    D, H = len(instance.depots), len(instance.shelters)
    return sum(int((s.need > 0).sum()) * D + int((s.evacuees > 0).sum()) * H
               for s in instance.scenarios)


def auto_method(instance: Instance, options: SolveOptions) -> str:
    """The decomposition for a large instance, else the extensive form.

    Large means :func:`recourse_size` above :data:`AUTO_DECOMPOSITION_SIZE`. Both routes
    solve every objective and every stage exactly; the decomposition runs on HiGHS only.
    """
    if options.solver != "highs":
        return "extensive"
    return "decomposition" if recourse_size(instance) > AUTO_DECOMPOSITION_SIZE else "extensive"


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
