"""Build ``instances/medium.json``, the medium-sized synthetic instance, from its generator.

Run from the repository root::

    .venv/bin/python instances/make_medium.py

The file is a pure function of the arguments below (a seeded generator, no clock, no
environment), so rerunning the script gives a byte-identical file; ``tests/test_synthetic.py``
checks that the committed file is what :func:`build` produces.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from optimizer.sources.synthetic import geometric_instance, write_instance

PATH = Path(__file__).resolve().parent / "medium.json"

# 50 nodes x 20 scenarios: large enough to have real trade-offs between depots, shelters
# and the pool, small enough to solve to the default gap in seconds on one thread.
ARGUMENTS: dict[str, Any] = {
    "nodes": 50,
    "scenarios": 20,
    "seed": 2024,
    "commodities": 2,  # water and food: different needs, volumes and weights
    "depots": 5,
    "shelters": 5,
    "budget_share": 0.3,
    "redundancy": 1,
    "existing_depots": 1,
    "existing_shelters": 1,
    "name": "medium",
    # The file keeps the seeded generator, not its 20 scenarios: shorter, and out-of-sample
    # tests can draw others (`resilience evaluate ... --reseed 1`).
    "scenario_generators": True,
}


def describe(doc: dict[str, Any]) -> str:
    """The file's description: what it is, how it was made, and the numbers that follow."""
    nodes = doc["network"]["nodes"]
    junctions = sum(1 for n in nodes if n["population"] == 0)
    policy = doc["policy"]
    args = ", ".join(f"{k}={v!r}" for k, v in ARGUMENTS.items())
    water, food = doc["commodities"]
    if policy["evacuation_reach"] > policy["supply_reach"]:
        evacuation = (f"evacuation reach {policy['evacuation_reach']:g} is that distance "
                      "raised to just above the least at which every populated zone has a "
                      "candidate shelter within reach, so the shelter redundancy policy of 1 "
                      "can be met.")
    else:
        evacuation = ("evacuation reach is the same, and with it every populated zone has a "
                      "candidate shelter within reach (shelter redundancy policy 1).")
    return (
        "Synthetic instance (not real data), made by instances/make_medium.py with "
        f"optimizer.sources.synthetic.geometric_instance({args}). Roads: a random geometric graph "
        f"on {len(nodes)} points in the unit square plus a minimum spanning tree so the "
        f"network is connected ({len(doc['network']['edges'])} edges, Euclidean lengths); "
        f"{junctions} nodes are unpopulated junctions. Two commodities: water "
        f"({water['per_capita_need']:g} units per person, volume {water['unit_volume']:g}, "
        f"weight {water['weight']:g}) and food ({food['per_capita_need']:g} units per "
        f"person, volume {food['unit_volume']:g}, weight {food['weight']:g}). Depot d0 and "
        "shelter h0 already exist; d0 holds stock filling 30% of its volume. Supply reach "
        f"{policy['supply_reach']:g} is 0.4 of the network's diameter; {evacuation} "
        "Budget: 30% of the cost of opening everything, filling every depot, adding every "
        "module and reserving the largest compensation pool. Each of the "
        f"{ARGUMENTS['scenarios']} equally likely scenarios is a circular hazard (the "
        "hazard_footprint generator, optimizer.sources.synthetic.HAZARD) of radius 0.1-0.3 "
        "around an "
        "epicentre at a zone drawn by population: roads fail by a logistic fragility curve "
        "of their midpoint's distance, facilities inside lose up to 75% of stock or places "
        "and zones inside up to 75% of their people affected, both falling linearly to 0 at "
        "the radius; 30% of the people affected evacuate."
    )


def build() -> dict[str, Any]:
    """The medium instance as a dict, exactly as written to ``instances/medium.json``.

    Returns
    -------
    dict
        The instance file, ready for :func:`optimizer.sources.synthetic.write_instance`.
    """
    doc = geometric_instance(**ARGUMENTS)
    doc["description"] = describe(doc)
    return doc


def main() -> int:
    """Write the file, then read it back through the engine and check the policy holds."""
    from optimizer.instance.reading import load_instance
    from optimizer.solvers.presolve import redundancy_shortfall

    write_instance(build(), PATH)
    instance = load_instance(PATH)
    short = redundancy_shortfall(instance)
    if short:  # the generator raises the reach to prevent this; say so if it ever fails
        print(f"{PATH}: shelter redundancy cannot be met: {', '.join(short)}", file=sys.stderr)
        return 1
    print(f"wrote {PATH} ({instance.network.num_nodes} nodes, "
          f"{instance.network.num_edges} edges, {len(instance.scenarios)} scenarios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
