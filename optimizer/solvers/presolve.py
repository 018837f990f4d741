"""Infeasibility that can be proved before the solver, explained with names.

A solver status of "infeasible" tells a planner nothing; "zones Z3 and Z7 have only one
candidate shelter within reach and the policy asks for two" does.
"""

from __future__ import annotations

import numpy as np

from models.objectives import SPECS
from optimizer.errors import InfeasibleError
from optimizer.evaluation.reachability import intact_shelter_reach
from optimizer.instance.data import Instance


def _names(items: list[str], limit: int = 10) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more"
                                       if len(items) > limit else "")


def redundancy_shortfall(instance: Instance) -> list[str]:
    """Zones that cannot reach ``shelter_redundancy`` shelters even with all of them open."""
    r = instance.policy.shelter_redundancy
    if r <= 0:
        return []
    reach = intact_shelter_reach(instance)
    counts = reach.sum(axis=1)
    net = instance.network
    return [f"{net.node_ids[i]} ({int(counts[i])} within reach)"
            for i in np.flatnonzero((net.population > 0) & (counts < r))]


def prove_infeasible(instance: Instance) -> None:
    """Raise :class:`InfeasibleError` naming the cause when no plan can be feasible."""
    reasons = []
    short = redundancy_shortfall(instance)
    if short:
        reasons.append(
            f"the policy asks for {instance.policy.shelter_redundancy} open shelters within "
            f"evacuation reach of every populated zone, but even with every candidate open "
            f"these zones have fewer: {_names(short)}")
    objective = instance.objective
    if SPECS[objective.kind].parameter == "target" and objective.target is not None:
        w = instance.weights
        # Without any depot, shelter or pool, a term with need cannot reach its share.
        ceiling = 1.0
        if not instance.depots:
            ceiling -= w.supply * any(s.need.sum() > 0 for s in instance.scenarios)
        if not instance.shelters:
            ceiling -= w.shelter * any(s.evacuees.sum() > 0 for s in instance.scenarios)
        if instance.max_pool <= 0:
            ceiling -= w.economic * any(s.economic_loss.sum() > 0 for s in instance.scenarios)
        if objective.target > ceiling + 1e-12:
            reasons.append(f"the target {objective.target:g} is above {ceiling:g}, the most "
                           "any plan can reach with the facilities and pool the instance has")
    if reasons:
        raise InfeasibleError("; ".join(reasons))
