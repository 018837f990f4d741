"""Which route solves an instance: ``--method auto`` resolved, sizes checked, the route run.

The one place that reads ``SolveOptions.method`` and ``SolveOptions.solver``; the routes
themselves are listed in :mod:`optimizer.solvers.registry`. Everything downstream
(verification, recovery, the result file) is the same whatever the route.
"""

from __future__ import annotations

import os

from models.objectives import SPECS
from optimizer.errors import UsageError
from optimizer.instance.checks import env_limit
from optimizer.instance.data import Instance
from optimizer.solvers import registry
from optimizer.solvers.contract import Solution, SolveOptions


def chosen_method(instance: Instance, options: SolveOptions) -> str:
    """``options.method``, with ``auto`` resolved (see :func:`auto_method`)."""
    if options.method == "auto":
        return auto_method(instance, options)
    return options.method


# ``auto`` switches to the decomposition above this many recourse variables (estimated, see
# recourse_size). Measured on 2 shared cores, HiGHS on 1 thread, every stage, CPU seconds
# extensive / decomposition (benchmarks/RESULTS.md, "Every stage, both routes"):
#   Sioux Falls (1,980): 0.7 / 3.0 worst_case; medium (2,040): 2.3 / 0.5 worst_case,
#   6.4 / 1.9 expected, 2.4 / 0.6 cvar; a 50 x 20 unpinned family (420): 0.14 / 0.17;
#   100 x 60 unpinned (3,360): 6.1 / 1.7 worst_case, 8.1 / 1.0 expected, 6.9 / 3.9 cvar;
#   60 x 40 pinned (4,050): 2.9 / 0.7; cambridge (8,505): 1.2 / 1.0; 100 x 60 pinned
#   (about 17,000): 79 / 18.
# Below a few thousand both take a second or two and the extensive form, the reference,
# is kept.
AUTO_DECOMPOSITION_SIZE = 2_500


def recourse_size(instance: Instance) -> int:
    """Upper estimate of the extensive form's recourse variables, without reachability.

    sum over scenarios of (zone-commodity pairs with need) x depots + (zones with evacuees)
    x shelters: every pair a scenario could use if every facility reached every zone. The
    model keeps the reachable ones, about half on the synthetic families.
    """
    D, H = len(instance.depots), len(instance.shelters)
    return sum(int((s.need > 0).sum()) * D + int((s.evacuees > 0).sum()) * H
               for s in instance.scenarios)


# Memory a solve takes per pair of recourse_size, counted before any reachability. Measured:
# a 250-node geometric family with 1,000 scenarios (1.9 million pairs by that count; a
# reach of 0.4 of the diameter) peaked at 730 MB on the decomposition route, about 290
# bytes a pair. The extensive form keeps only the reachable pairs but spends more on each;
# optimizer.solvers.extensive.check_fits weighs it again once reachability is known.
BYTES_PER_PAIR = 300
MAX_MEMORY_ENV = "RESILIENCE_MAX_MEMORY_MB"


def physical_megabytes() -> int:
    """This machine's memory in MiB (a large number when the system does not say)."""
    try:
        return max(1, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20)
    except (ValueError, OSError, AttributeError):
        return 2**40


def check_size(instance: Instance) -> None:
    """Refuse, from sizes alone, a solve whose scenarios would not fit in memory.

    Runs before reachability, which on such an instance is itself hours of Dijkstra and
    gigabytes of pairs: :func:`recourse_size` needs only the scenarios' need and
    evacuees. The limit is this machine's memory, or ``RESILIENCE_MAX_MEMORY_MB``.
    """
    limit = env_limit(MAX_MEMORY_ENV, physical_megabytes()) * 2**20
    pairs = recourse_size(instance)
    need = pairs * BYTES_PER_PAIR
    if need > limit:
        raise UsageError(
            f"{instance.source}: its {len(instance.scenarios):,} scenarios could use up to "
            f"{pairs:,} depot-zone and zone-shelter pairs, about {need / 2**20:,.0f} MiB to "
            f"solve (estimated from the sizes, before reachability), more than the limit of "
            f"{limit / 2**20:,.0f} MiB ({MAX_MEMORY_ENV}, by default this machine's memory); "
            "use fewer scenarios, fewer candidate facilities or shorter reaches")


def _methods(instance: Instance, solver: str) -> tuple[str, ...]:
    """The methods ``solver`` runs on this instance's objective (the decomposition solves
    the objectives whose spec says so, models.objectives)."""
    decomposes = SPECS[instance.objective.kind].decomposition
    return tuple(m for m in registry.methods_of(solver) if decomposes or m != "decomposition")


def auto_method(instance: Instance, options: SolveOptions) -> str:
    """The decomposition for a large instance when the solver runs it, else the solver's
    first method (the extensive form).

    Large means :func:`recourse_size` above :data:`AUTO_DECOMPOSITION_SIZE`, with more than
    one scenario. Both routes solve every objective and every stage exactly; the
    decomposition runs on HiGHS only.
    """
    methods = _methods(instance, options.solver) or ("extensive",)
    if "decomposition" not in methods or len(instance.scenarios) <= 1:
        # Nothing to decompose with one scenario: the master would rebuild its recourse cut
        # by cut. Measured on one-scenario covering instances, 400 zones x 60 shelters
        # (benchmarks/covering.py): 0.66 s CPU against 0.10 s for the extensive form.
        return methods[0]
    return "decomposition" if recourse_size(instance) > AUTO_DECOMPOSITION_SIZE else methods[0]


def run(instance: Instance, options: SolveOptions) -> Solution:
    """Solve by the chosen route (:mod:`optimizer.solvers.registry`) and say which in
    ``Solution.method``."""
    check_size(instance)
    method = chosen_method(instance, options)
    if options.solver not in registry.SOLVER_NAMES:
        raise UsageError(registry.unknown_solver(options.solver))
    methods = _methods(instance, options.solver)
    if method not in methods:
        if method not in registry.METHODS:
            raise UsageError(f"unknown method {options.method!r}")
        if method in registry.methods_of(options.solver):
            raise UsageError(f"the {method} does not solve objective "
                             f"{instance.objective.kind.value}; use --method extensive")
        raise UsageError(f"--solver {options.solver} solves the "
                         + " and ".join(f"{m} form" if m == "extensive" else m for m in methods)
                         + " only")
    return registry.route(options.solver, method).solve(instance, options)
