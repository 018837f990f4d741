"""The ``random_failures`` generator: every road, depot and shelter fails on its own, with
the probability the spec gives (``RandomFailures`` in ``optimizer.instance.schema``).
"""

from __future__ import annotations

import numpy as np

from optimizer.generators.common import (
    NetworkView,
    Place,
    fractions,
    make_scenario,
    shared_probability,
    streams,
)
from optimizer.instance.checks import generated_ids
from optimizer.instance.schema import InstanceFile, RandomFailures, Scenario


def generate(g: RandomFailures, f: InstanceFile, net: NetworkView,
             place: Place) -> list[Scenario]:
    """Independent failures; a failed depot or shelter loses everything (loss 1)."""
    ids = generated_ids(g)
    probability = shared_probability(g, g.count)
    everyone = np.ones(net.num_nodes)
    affected = fractions(net.node_ids, everyone, g.affected)
    scenarios = []
    for index, rng in enumerate(streams(g.seed, g.count), start=1):
        edges = rng.random(len(net.edge_ids)) < g.edge_failure
        depots = rng.random(len(net.depot_ids)) < g.depot_failure
        shelters = rng.random(len(net.shelter_ids)) < g.shelter_failure
        scenarios.append(make_scenario(
            g, place, ids[index - 1], probability, net, np.flatnonzero(edges).tolist(),
            fractions(net.depot_ids, depots.astype(float), 1.0),
            fractions(net.shelter_ids, shelters.astype(float), 1.0),
            dict(affected), {"seed": g.seed, "index": index}))
    return scenarios
