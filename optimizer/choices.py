"""The names the command line offers before anything heavy is imported.

``resilience --help`` must start in a fraction of a second, so the choices its options list
(objective kinds, solvers) live here, free of pydantic, numpy and Pyomo; the modules that
act on them (``optimizer.instance.schema``) import them from here; the solvers' names come
from :mod:`optimizer.solvers.registry`, which is as light.
"""

from __future__ import annotations

from enum import StrEnum


class ObjectiveKind(StrEnum):
    WORST_CASE = "worst_case"
    EXPECTED = "expected"
    CVAR = "cvar"
    MIN_COST = "min_cost"
    RELATIVE = "relative"  # worst case of R_s / ceiling_s (design section 2)


# The number an objective kind takes in the file and in `bench --objectives kind:NUMBER`
# (the rest of each kind is described in models.objectives).
PARAMETER_OF: dict[ObjectiveKind, str] = {ObjectiveKind.CVAR: "alpha",
                                          ObjectiveKind.MIN_COST: "target"}


# `resilience stress --failures K` searches exactly up to this K (optimizer.evaluation.stress).
STRESS_EXACT_UP_TO = 2

# Reach limits as a share of the intact network's weighted diameter (optimizer.sources.synthetic,
# the importers, and the default of every `generate --reach-share`): small enough that a
# facility cannot serve every zone (so where it stands matters), large enough that most zones
# have a few candidates.
REACH_SHARE = 0.4
