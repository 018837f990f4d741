"""Cross-field rules of an instance file, each a small ``check_*`` function.

Every check takes the parsed file and returns the problems it finds, so that
:func:`run_checks` can show a user all of them at once. Checks that repair something
(probabilities or weights that sum to nearly one) return a warning saying what they did;
the repair itself happens in ``optimizer.instance.reading`` when the data are built.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable

from optimizer.choices import PARAMETER_OF
from optimizer.errors import Problem, UsageError
from optimizer.instance.schema import (
    Edge,
    HazardFootprint,
    HazardZones,
    InstanceFile,
    ScenarioGenerator,
    Targeted,
)

# Sums this close to 1 are rescaled with a warning; further off is an error, since it is
# more likely a mistake (a missing scenario, a typo) than rounding.
SUM_TOLERANCE = 0.01
EXACT = 1e-9

# Most scenarios one file may hold, explicit and generated together: each scenario is a
# copy of the second stage in the model, so a typo such as ``count: 1000000`` must stop at
# reading rather than exhaust memory in the model builder. RESILIENCE_MAX_SCENARIOS
# overrides it.
MAX_GENERATED_SCENARIOS = 10_000
MAX_SCENARIOS_ENV = "RESILIENCE_MAX_SCENARIOS"

# Steps the stress search of one ``targeted`` generator with ``measure: stress`` may take
# while a file loads (optimizer.evaluation.stress.WorkBudget; about a million a second on 2 shared
# cores, so under a minute): a 200-node network with ``edges: 2`` ran for over twenty
# minutes before. RESILIENCE_MAX_STRESS_STEPS overrides it.
MAX_STRESS_STEPS = 50_000_000
MAX_STRESS_STEPS_ENV = "RESILIENCE_MAX_STRESS_STEPS"


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
    problems = (
        _duplicates("network.nodes", (n.id for n in inst.network.nodes))
        + _duplicates("network.edges", (edge_id(e) for e in inst.network.edges))
        + _duplicates("commodities", (c.id for c in inst.commodities))
        + _duplicates("depots", (d.id for d in inst.depots))
        + _duplicates("shelters", (h.id for h in inst.shelters))
        + _duplicates("scenarios", (s.id for s in inst.scenarios))
    )
    names = [g.name for g in inst.scenario_generators]
    problems += [Problem(p.path.removesuffix(".id") + ".name",
                         p.message.replace("duplicate id", "duplicate name", 1))
                 for p in _duplicates("scenario_generators", names)]
    for i, g in enumerate(inst.scenario_generators):
        if isinstance(g, HazardZones):
            problems += _duplicates(f"scenario_generators[{i}].zones", (z.id for z in g.zones))
    return problems + _generated_id_clashes(inst)


def generated_count(generator: ScenarioGenerator) -> int:
    """How many scenarios a generator makes."""
    if isinstance(generator, HazardZones):
        return len(generator.zones)
    if isinstance(generator, Targeted):
        return 1
    return generator.count


def generated_ids(generator: ScenarioGenerator) -> list[str]:
    """The ids of a generator's scenarios: ``NAME-1..NAME-count``, or ``NAME-ZONE``."""
    if isinstance(generator, HazardZones):
        return [f"{generator.name}-{z.id}" for z in generator.zones]
    return [f"{generator.name}-{i}" for i in range(1, generated_count(generator) + 1)]


def env_limit(variable: str, default: int) -> int:
    """A limit a user may change through an environment variable: a whole number >= 1."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{variable} must be a whole number of at least 1, not {raw!r}")
    return value


def max_generated_scenarios() -> int:
    """The limit in force: :data:`MAX_GENERATED_SCENARIOS` or ``RESILIENCE_MAX_SCENARIOS``."""
    return env_limit(MAX_SCENARIOS_ENV, MAX_GENERATED_SCENARIOS)


def max_stress_steps() -> int:
    """The limit in force: :data:`MAX_STRESS_STEPS` or ``RESILIENCE_MAX_STRESS_STEPS``."""
    return env_limit(MAX_STRESS_STEPS_ENV, MAX_STRESS_STEPS)


def _generated_id_clashes(inst: InstanceFile) -> list[Problem]:
    """Generated ids that an explicit scenario or an earlier generator already has."""
    if len(inst.scenarios) + sum(map(generated_count, inst.scenario_generators)) > \
            max_generated_scenarios():
        return []  # check_generators reports the limit; the ids are not worth listing
    owner = {s.id: f"scenarios[{i}]" for i, s in enumerate(inst.scenarios)}
    problems = []
    names: set[str] = set()
    for i, g in enumerate(inst.scenario_generators):
        at = f"scenario_generators[{i}]"
        if g.name in names:
            continue  # a duplicate name, reported as such
        names.add(g.name)
        clashes = []
        for sid in generated_ids(g):
            if sid in owner and owner[sid] != at:
                clashes.append(f"{sid!r} (also {owner[sid]})")
            owner.setdefault(sid, at)
        if clashes:
            problems.append(Problem(f"{at}.name", "makes scenario ids that are already "
                                    f"taken: {', '.join(clashes[:3])}"
                                    + (" ..." if len(clashes) > 3 else "")
                                    + "; rename the generator or the scenario"))
    return problems


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


def _probabilities(inst: InstanceFile) -> list[tuple[str, str, float | None]]:
    """(JSON path, label, probability) of every scenario and every scenario generator.

    A generator's probability is the total of its scenarios', so for these rules it counts
    as one scenario.
    """
    return ([(f"scenarios[{i}]", repr(s.id), s.probability)
             for i, s in enumerate(inst.scenarios)]
            + [(f"scenario_generators[{i}].probability", f"generator {g.name!r}", g.probability)
               for i, g in enumerate(inst.scenario_generators)])


def check_probabilities(inst: InstanceFile) -> list[Problem]:
    entries = _probabilities(inst)
    given = [p is not None for _, _, p in entries]
    if not any(given):
        return []
    if not all(given):
        missing = [(path, label) for path, label, p in entries if p is None]
        where = "scenarios" if missing[0][0].startswith("scenarios") else missing[0][0]
        also = ("; a scenario generator's probability is the total of its scenarios', "
                "shared equally" if inst.scenario_generators else "")
        return [Problem(where, "give every scenario a probability or none (then all are "
                        f"equally likely){also}; missing on "
                        f"{', '.join(label for _, label in missing[:5])}"
                        + (" ..." if len(missing) > 5 else ""))]
    what = ("the probabilities of the scenarios and scenario generators"
            if inst.scenario_generators else "the scenario probabilities")
    return _sum_to_one("scenarios", what, [p or 0.0 for _, _, p in entries])[0]


def check_objective(inst: InstanceFile) -> list[Problem]:
    kind = inst.objective.kind
    if PARAMETER_OF.get(kind) == "target" and inst.objective.target is None:
        return [Problem("objective.target", f"{kind.value} needs a target resilience in "
                        "[0, 1]")]
    return []


def check_has_scenarios(inst: InstanceFile) -> list[Problem]:
    if inst.scenarios or inst.scenario_generators:
        return []
    return [Problem("scenarios", "no scenarios: give at least one in scenarios, or a "
                    "scenario_generators entry")]


def check_generators(inst: InstanceFile) -> list[Problem]:
    """Generator settings that contradict each other or the network, and the size limit."""
    problems = []
    no_xy = [n.id for n in inst.network.nodes if n.x is None or n.y is None]
    limit = max_generated_scenarios()
    total = len(inst.scenarios)  # explicit and generated scenarios count against one limit
    if total > limit:
        problems.append(Problem(f"scenarios[{limit}]", f"the file lists {total:,} scenarios, "
                                f"more than the limit of {limit:,} (set {MAX_SCENARIOS_ENV} "
                                "to change it)"))
    for i, g in enumerate(inst.scenario_generators):
        at = f"scenario_generators[{i}]"
        if isinstance(g, HazardFootprint) and g.radius[0] > g.radius[1]:
            problems.append(Problem(f"{at}.radius", f"the smallest radius {g.radius[0]:g} "
                                    f"is larger than the largest {g.radius[1]:g}"))
        if isinstance(g, Targeted) and g.edges > len(inst.network.edges):
            problems.append(Problem(f"{at}.edges", f"asks for {g.edges} roads but the "
                                    f"network has {len(inst.network.edges)}"))
        if isinstance(g, HazardZones):
            if no_xy:
                problems.append(Problem(at, "hazard_zones needs x and y on every node (the "
                                        "polygons are in the nodes' coordinates); missing on "
                                        f"{', '.join(map(repr, no_xy[:5]))}"
                                        + (" ..." if len(no_xy) > 5 else "")))
            for j, z in enumerate(g.zones):
                if (z.geometry is None) == (z.geojson is None):
                    problems.append(Problem(f"{at}.zones[{j}]", "give exactly one of "
                                            "geometry (inline GeoJSON) and geojson (a file "
                                            "path)"))
        before = total
        total += generated_count(g)
        if total > limit >= before:
            field = {"hazard_zones": ".zones", "targeted": ""}.get(g.kind, ".count")
            problems.append(Problem(f"{at}{field}", f"the explicit scenarios and the "
                                    f"generators would make {total:,} scenarios up to here, "
                                    f"more than the limit of {limit:,} (set "
                                    f"{MAX_SCENARIOS_ENV} to change it)"))
    return problems


def check_crs(inst: InstanceFile) -> list[Problem]:
    """``network.crs``: an EPSG code PROJ knows, or a local projection with its origin."""
    crs = inst.network.crs
    if crs is None:
        return []
    at = "network.crs"
    if (crs.epsg is None) == (crs.projection is None):
        return [Problem(at, "give either 'epsg' (a code such as 4326 or 26986) or "
                            "'projection': 'equirectangular' with 'lon0' and 'lat0', not "
                            f"{'both' if crs.epsg is not None else 'neither'}")]
    if crs.epsg is not None:
        extra = [name for name in ("lon0", "lat0") if getattr(crs, name) is not None]
        if extra:
            return [Problem(f"{at}.{extra[0]}", "belongs to a local projection, not to an "
                                                "EPSG code; remove it")]
        from optimizer.geo import epsg_problem

        problem = epsg_problem(crs.epsg)
        return [] if problem is None else [Problem(f"{at}.epsg", problem)]
    return [Problem(f"{at}.{name}", "required for a local projection: its origin in "
                                    "degrees")
            for name in ("lon0", "lat0") if getattr(crs, name) is None]


def check_recovery_priority(inst: InstanceFile) -> list[Problem]:
    """Every id in ``recovery.priority`` names a road or a node."""
    known = {edge_id(e) for e in inst.network.edges} | {n.id for n in inst.network.nodes}
    problems = []
    for i, ref in enumerate(inst.recovery.priority):
        problems += _unknown(f"recovery.priority[{i}]", ref, known, "road or node")
    return problems


CHECKS: tuple[Callable[[InstanceFile], list[Problem]], ...] = (
    check_has_scenarios,
    check_unique_ids,
    check_edge_endpoints,
    check_facility_nodes,
    check_depot_commodities,
    check_scenario_references,
    check_generators,
    check_weights,
    check_probabilities,
    check_objective,
    check_crs,
    check_recovery_priority,
)


def run_checks(inst: InstanceFile) -> list[Problem]:
    """Every cross-field problem of the file, in the order of :data:`CHECKS`."""
    problems: list[Problem] = []
    for check in CHECKS:
        problems += check(inst)
    return problems


def normalisation_warnings(inst: InstanceFile) -> list[str]:
    """What :mod:`optimizer.instance.reading` will rescale, said in words for the user."""
    w = inst.resilience.weights
    warnings = _sum_to_one("resilience.weights", "the resilience weights",
                           [w.supply, w.shelter, w.economic])[1]
    entries = _probabilities(inst)
    if all(p is not None for _, _, p in entries):
        warnings += _sum_to_one("scenarios", "the scenario probabilities",
                                [p or 0.0 for _, _, p in entries])[1]
    return warnings


def network_warnings(inst: InstanceFile) -> list[str]:
    """A road network in separate parts, named, since zones in one part can never be
    reached from facilities in another (not an error: islands and cut-off hamlets exist)."""
    parent = {n.id: n.id for n in inst.network.nodes}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for e in inst.network.edges:
        if e.from_ in parent and e.to in parent:
            parent[root(e.from_)] = root(e.to)
    parts: dict[str, list[str]] = {}
    for n in inst.network.nodes:
        parts.setdefault(root(n.id), []).append(n.id)
    if len(parts) <= 1:
        return []
    ordered = sorted(parts.values(), key=lambda p: (-len(p), p[0]))
    shown = "; ".join(
        f"{{{', '.join(p[:5])}{', ...' if len(p) > 5 else ''}}} "
        f"({len(p)} node{'' if len(p) == 1 else 's'})"
        for p in ordered[:5])
    more = f"; and {len(ordered) - 5} more parts" if len(ordered) > 5 else ""
    return [f"network: the roads form {len(parts)} separate parts: {shown}{more}; a zone "
            "can only be served from depots and shelters in its own part"]


def file_warnings(inst: InstanceFile) -> list[str]:
    """Everything worth telling the user about a valid file."""
    return normalisation_warnings(inst) + network_warnings(inst)

