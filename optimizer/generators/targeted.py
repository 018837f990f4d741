"""The ``targeted`` generator: one scenario in which the ``edges`` roads that matter most
fail, by one of two measures (``MEASURES``): betweenness (``betweenness.py``) or the stress
search (``optimizer.evaluation.stress``) against the plan that does everything.

The spec is ``Targeted`` in ``optimizer.instance.schema``. The stress measure builds an
instance with ``optimizer.instance.build`` (never the reader, which imports this package).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from optimizer.generators.betweenness import edge_betweenness
from optimizer.generators.common import (
    NetworkView,
    Place,
    fractions,
    make_scenario,
    shared_probability,
)
from optimizer.instance.build import build
from optimizer.instance.checks import MAX_STRESS_STEPS_ENV, generated_ids, max_stress_steps
from optimizer.instance.data import Instance
from optimizer.instance.schema import InstanceFile, Scenario, Targeted
from optimizer.plan import Plan

# Betweenness values equal to this many digits are ties, broken by the edges' order, so that
# rounding noise in the path sums cannot reorder equally central roads.
TIE_DIGITS = 12


def generate(g: Targeted, f: InstanceFile, net: NetworkView, place: Place) -> list[Scenario]:
    """One scenario: the ``edges`` roads that matter most by ``g.measure``."""
    return MEASURES[g.measure](g, f, net, place)


def by_betweenness(g: Targeted, f: InstanceFile, net: NetworkView,
                   place: Place) -> list[Scenario]:
    """One scenario: the ``edges`` most central roads fail (ties: the earlier road)."""
    scores = edge_betweenness(net)
    order = sorted(range(len(scores)), key=lambda j: (-round(float(scores[j]), TIE_DIGITS), j))
    chosen = order[:g.edges]
    origin = {"measure": g.measure, "edges": g.edges,
              "scores": {net.edge_ids[j]: round(float(scores[j]), TIE_DIGITS) for j in chosen}}
    return [make_scenario(g, place, generated_ids(g)[0], shared_probability(g, 1), net,
                          sorted(chosen), {}, {},
                          fractions(net.node_ids, np.ones(net.num_nodes), g.affected),
                          origin)]


def by_stress(g: Targeted, f: InstanceFile, net: NetworkView,
              place: Place) -> list[Scenario]:
    """One scenario: the ``edges`` roads whose loss the stress search finds most damaging.

    No plan exists while a file is loaded, so the roads are those that hurt most with every
    candidate depot open and full, every shelter open with all its modules and the largest
    pool: the network's own weak points, whatever the plan. Exact for up to two roads, a
    greedy search beyond (``origin.method`` says which).
    """
    # Imported here: the stress search brings the recourse evaluation, which a file with
    # no targeted generator never needs.
    from optimizer.evaluation.stress import WorkBudget, WorkLimitExceeded, most_damaging_edges

    base = f.model_copy(update={"scenarios": [Scenario(id="reference")],
                                "scenario_generators": []})
    instance = build(base)
    share = g.affected
    people = instance.network.population * share
    per_capita = np.array([c.per_capita_need for c in instance.commodities])
    with np.errstate(over="ignore"):  # numbers near the float limit: refused just below
        reference = dataclasses.replace(
            instance.scenarios[0], need=np.outer(people, per_capita),
            evacuees=people * g.evacuation_rate,
            economic_loss=instance.network.exposure * share * g.economic_loss_rate)
        plan = everything_plan(instance)
    if not all(np.isfinite(a).all() for a in (reference.need, reference.evacuees,
                                              reference.economic_loss, plan.stock)):
        raise place.error("cannot measure stress: a zone's need, evacuees or loss, or what a "
                          "depot holds, is over 1.8e308; scale the instance's numbers down")
    try:
        attack = most_damaging_edges(instance, plan, g.edges, reference,
                                     WorkBudget(max_stress_steps()))
    except WorkLimitExceeded as exc:
        raise place.error(
            f"the stress search for the {g.edges} most damaging of the "
            f"{instance.network.num_edges:,} roads is too large: {exc.what} would take "
            f"about {exc.needed:.2g} steps, more than the limit of {exc.limit:.2g} (set "
            f"{MAX_STRESS_STEPS_ENV} to change it); use measure 'betweenness' or fewer "
            "edges", ".edges") from None
    chosen = sorted(attack.edges)
    origin = {"measure": g.measure, "edges": g.edges, "method": attack.method,
              "plan": "every candidate open and full",
              "resilience_before": round(float(attack.resilience_before), TIE_DIGITS),
              "resilience_after": round(float(attack.resilience), TIE_DIGITS)}
    return [make_scenario(g, place, generated_ids(g)[0], shared_probability(g, 1), net,
                          chosen, {}, {},
                          fractions(net.node_ids, np.ones(net.num_nodes), g.affected), origin)]


def everything_plan(instance: Instance) -> Plan:
    """Every candidate open, each depot filled to its volume (shared equally among the
    commodities), every module added and the largest pool: the most a community could do."""
    volumes = np.array([c.unit_volume for c in instance.commodities])
    K = len(volumes)
    stock = np.zeros((len(instance.depots), K))
    for d, depot in enumerate(instance.depots):
        room = depot.capacity - float(np.dot(depot.existing_stock, volumes))
        stock[d] = np.floor(max(room, 0.0) / K / volumes)
    return Plan(open_depots=tuple(True for _ in instance.depots), stock=stock,
                open_shelters=tuple(True for _ in instance.shelters),
                modules=tuple(h.max_modules for h in instance.shelters),
                compensation_pool=instance.max_pool)


# Each ``Targeted.measure`` -> how it picks the roads (a new measure: its function, a row here
# and its name in the schema's ``measure`` Literal).
MEASURES: dict[str, Callable[[Targeted, InstanceFile, NetworkView, Place], list[Scenario]]] = {
    "betweenness": by_betweenness,
    "stress": by_stress,
}
