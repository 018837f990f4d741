"""Benchmark instance families, pinned and not (issue 10).

``pinned`` is the synthetic geometric family of ``resilience generate geometric``: hazards
of radius 0.1-0.3 and a budget of 30% of everything, where the worst case almost always
equals the lowest scenario ceiling (no plan can do better in that scenario), so the
tie-break stages decide the plan. ``unpinned`` keeps the network and facilities but draws
small hazards (radius 0.03-0.08) on a better-connected network (connection radius x1.5,
so no hazard cuts a zone off from every facility) and a tight budget (6% of everything),
so no scenario's ceiling is reached and the worst case itself decides between plans: the
hard case for a decomposition, since many scenarios bind at once.

Each family is a function (nodes, scenarios, seed) -> instance document; ``degeneracy``
says, for a solved result, whether the worst case is pinned.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from optimizer.sources.synthetic import geometric_instance

UNPINNED_RADIUS = [0.03, 0.08]
UNPINNED_BUDGET_SHARE = 0.06
UNPINNED_DENSITY = 1.5


def pinned(nodes: int, scenarios: int, seed: int) -> dict[str, Any]:
    return geometric_instance(nodes, scenarios, seed=seed, commodities=2,
                              scenario_generators=True,
                              name=f"pinned-{nodes}x{scenarios}-{seed}")


def unpinned(nodes: int, scenarios: int, seed: int) -> dict[str, Any]:
    doc = geometric_instance(nodes, scenarios, seed=seed, commodities=2,
                             budget_share=UNPINNED_BUDGET_SHARE, density=UNPINNED_DENSITY,
                             scenario_generators=True,
                             name=f"unpinned-{nodes}x{scenarios}-{seed}")
    doc = copy.deepcopy(doc)
    for generator in doc["scenario_generators"]:
        generator["radius"] = list(UNPINNED_RADIUS)
    return doc


FAMILIES: dict[str, Callable[[int, int, int], dict[str, Any]]] = {
    "pinned": pinned, "unpinned": unpinned}
