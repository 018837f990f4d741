"""Cross-field rules of an instance file, each a small ``check_*`` function.

Every check takes the parsed file and returns the problems it finds, so that
:func:`run_checks` can show a user all of them at once. Checks that repair something
(probabilities or weights that sum to nearly one) return a warning saying what they did;
the repair itself happens in ``optimizer.reading`` when the data are built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from optimizer.errors import Problem
from optimizer.schema import Edge, InstanceFile, ObjectiveKind

# Sums this close to 1 are rescaled with a warning; further off is an error, since it is
# more likely a mistake (a missing scenario, a typo) than rounding.
SUM_TOLERANCE = 0.01
EXACT = 1e-9


def _duplicates(section: str, ids: Iterable[str]) -> list[Problem]:
    ids = list(ids)
    counts = Counter(ids)
    problems = []
    for index, item in enumerate(ids):
        if counts[item] > 1 and ids.index(item) != index:
            problems.append(
                Problem(f"{section}[{index}].id", f"duplicate id {item!r} (first at "
                        f"{section}[{ids.index(item)}])")
            )
    return problems


def check_unique_ids(inst: InstanceFile) -> list[Problem]:
    return (
        _duplicates("network.nodes", (n.id for n in inst.network.nodes))
        + _duplicates("network.edges", (edge_id(e) for e in inst.network.edges))
        + _duplicates("commodities", (c.id for c in inst.commodities))
        + _duplicates("depots", (d.id for d in inst.depots))
        + _duplicates("shelters", (h.id for h in inst.shelters))
        + _duplicates("scenarios", (s.id for s in inst.scenarios))
    )


def edge_id(edge: Edge) -> str:
    """An edge's id, or its default 'FROM-TO'."""
    return edge.id if edge.id is not None else f"{edge.from_}-{edge.to}"


def _unknown(path: str, ref: str, known: set[str], what: str) -> list[Problem]:
    if ref in known:
        return []
    return [Problem(path, f"unknown {what} {ref!r}")]


def check_edge_endpoints(inst: InstanceFile) -> list[Problem]:
    nodes = {n.id for n in inst.network.nodes}
    problems = []
    for i, e in enumerate(inst.network.edges):
        problems += _unknown(f"network.edges[{i}].from", e.from_, nodes, "node")
        problems += _unknown(f"network.edges[{i}].to", e.to, nodes, "node")
    return problems


def check_facility_nodes(inst: InstanceFile) -> list[Problem]:
    nodes = {n.id for n in inst.network.nodes}
    problems = []
    for section, items in (("depots", inst.depots), ("shelters", inst.shelters)):
        for i, f in enumerate(items):
            problems += _unknown(f"{section}[{i}].node", f.node, nodes, "node")
    return problems


def check_depot_commodities(inst: InstanceFile) -> list[Problem]:
    commodities = {c.id: c for c in inst.commodities}
    problems = []
    for i, d in enumerate(inst.depots):
        for key in ("unit_cost", "existing_stock"):
            for k in getattr(d, key):
                problems += _unknown(f"depots[{i}].{key}.{k}", k, set(commodities), "commodity")
        if d.existing_stock and any(v > 0 for v in d.existing_stock.values()):
            if not d.existing:
                problems.append(Problem(
                    f"depots[{i}].existing_stock",
                    "stock is given but the depot is not existing; set existing: true "
                    "or move the stock to an existing depot",
                ))
            volume = sum(
                units * commodities[k].unit_volume
                for k, units in d.existing_stock.items() if k in commodities
            )
            if volume > d.capacity * (1 + 1e-9):
                problems.append(Problem(
                    f"depots[{i}].existing_stock",
                    f"existing stock takes volume {volume:g}, more than the depot's "
                    f"capacity {d.capacity:g}",
                ))
    return problems


def check_scenario_references(inst: InstanceFile) -> list[Problem]:
    nodes = {n.id for n in inst.network.nodes}
    edges = {edge_id(e) for e in inst.network.edges}
    depots = {d.id for d in inst.depots}
    shelters = {h.id for h in inst.shelters}
    commodities = {c.id for c in inst.commodities}
    problems = []
    for s_index, s in enumerate(inst.scenarios):
        at = f"scenarios[{s_index}]"
        for j, e in enumerate(s.failed_edges):
            problems += _unknown(f"{at}.failed_edges[{j}]", e, edges, "edge")
        for j, n in enumerate(s.failed_nodes):
            problems += _unknown(f"{at}.failed_nodes[{j}]", n, nodes, "node")
        for d in s.depot_loss:
            problems += _unknown(f"{at}.depot_loss.{d}", d, depots, "depot")
        for h in s.shelter_loss:
            problems += _unknown(f"{at}.shelter_loss.{h}", h, shelters, "shelter")
        for key in ("affected", "evacuees", "economic_loss"):
            for zone in getattr(s, key) or {}:
                problems += _unknown(f"{at}.{key}.{zone}", zone, nodes, "zone (node)")
        for zone, by_commodity in (s.need or {}).items():
            problems += _unknown(f"{at}.need.{zone}", zone, nodes, "zone (node)")
            for k in by_commodity:
                problems += _unknown(f"{at}.need.{zone}.{k}", k, commodities, "commodity")
    return problems


def _sum_to_one(path: str, what: str, values: list[float]) -> tuple[list[Problem], list[str]]:
    total = sum(values)
    if abs(total - 1) <= EXACT:
        return [], []
    if total <= 0:
        return [Problem(path, f"{what} are all zero; at least one must be positive")], []
    if abs(total - 1) <= SUM_TOLERANCE:
        return [], [f"{path}: {what} sum to {total:.6g}, not 1; rescaled to sum to 1"]
    return [Problem(path, f"{what} sum to {total:.6g}, not 1 (only sums within "
                          f"{SUM_TOLERANCE:g} of 1 are rescaled)")], []


def check_weights(inst: InstanceFile) -> list[Problem]:
    w = inst.resilience.weights
    return _sum_to_one("resilience.weights", "the resilience weights",
                       [w.supply, w.shelter, w.economic])[0]


def check_probabilities(inst: InstanceFile) -> list[Problem]:
    given = [s.probability is not None for s in inst.scenarios]
    if not any(given):
        return []
    if not all(given):
        missing = [s.id for s in inst.scenarios if s.probability is None]
        return [Problem("scenarios", "give every scenario a probability or none (then all "
                        f"are equally likely); missing on {', '.join(map(repr, missing[:5]))}"
                        + (" ..." if len(missing) > 5 else ""))]
    return _sum_to_one("scenarios", "the scenario probabilities",
                       [s.probability or 0.0 for s in inst.scenarios])[0]


def check_objective(inst: InstanceFile) -> list[Problem]:
    if inst.objective.kind is ObjectiveKind.MIN_COST and inst.objective.target is None:
        return [Problem("objective.target", "min_cost needs a target resilience in [0, 1]")]
    return []


def check_has_scenarios(inst: InstanceFile) -> list[Problem]:
    if inst.scenarios or inst.scenario_generators:
        return []
    return [Problem("scenarios", "no scenarios: give at least one in scenarios, or a "
                    "scenario_generators entry")]


CHECKS: tuple[Callable[[InstanceFile], list[Problem]], ...] = (
    check_has_scenarios,
    check_unique_ids,
    check_edge_endpoints,
    check_facility_nodes,
    check_depot_commodities,
    check_scenario_references,
    check_weights,
    check_probabilities,
    check_objective,
)


def run_checks(inst: InstanceFile) -> list[Problem]:
    """Every cross-field problem of the file, in the order of :data:`CHECKS`."""
    problems: list[Problem] = []
    for check in CHECKS:
        problems += check(inst)
    return problems


def normalisation_warnings(inst: InstanceFile) -> list[str]:
    """What :mod:`optimizer.reading` will rescale, said in words for the user."""
    w = inst.resilience.weights
    warnings = _sum_to_one("resilience.weights", "the resilience weights",
                           [w.supply, w.shelter, w.economic])[1]
    if all(s.probability is not None for s in inst.scenarios):
        warnings += _sum_to_one("scenarios", "the scenario probabilities",
                                [s.probability or 0.0 for s in inst.scenarios])[1]
    return warnings
