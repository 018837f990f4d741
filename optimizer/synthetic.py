"""Seeded synthetic instances: a random geometric road network and hazard scenarios.

Pure data: numpy with a local :class:`numpy.random.Generator` (never the global one, so two
calls with the same seed give the same instance whatever else ran in between), scipy's
csgraph for the graph algorithms, and no Pyomo. The result is a plain JSON-able ``dict`` in
the instance file format of design section 3; :func:`write_instance` writes it to disk.

The numbers are chosen so that every part of the model competes for the same budget: a unit
of money spent on stock, on shelter places or on the compensation pool buys resilience at
roughly comparable rates, so the optimum mixes them instead of ignoring a dimension.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree, shortest_path

# Commodity catalogue: (id, per-capita need, unit volume, weight, base unit cost). The first
# ``commodities`` entries are used; needs, volumes and costs differ so that a depot's volume
# capacity and the budget both shape the commodity mix.
COMMODITIES: tuple[tuple[str, float, float, float, float], ...] = (
    ("water", 3.0, 1.0, 1.0, 2.0),
    ("food", 2.0, 0.5, 1.5, 4.0),
    ("kit", 1.0, 2.0, 0.8, 15.0),
    ("medicine", 0.2, 0.1, 2.0, 25.0),
    ("blanket", 1.0, 1.5, 0.5, 6.0),
)

# Reach limits as a share of the intact network's weighted diameter: small enough that a
# facility cannot serve every zone (so where it stands matters), large enough that most
# zones have a few candidates.
REACH_SHARE = 0.4
# Share of nodes that are road junctions or industrial sites with nobody living there, so
# that the rules about "zones with people" are exercised.
JUNCTION_SHARE = 0.1
# Decimal places kept in the file: coordinates and lengths to 1e-4 of the unit square,
# fractions to 1e-3. Rounding makes files readable and diffs small.
COORD_DIGITS = 4
FRACTION_DIGITS = 3


def _connection_radius(nodes: int) -> float:
    """Radius above the connectivity threshold of a random geometric graph.

    ``sqrt(log n / (pi n))`` is the threshold at which the graph is connected with high
    probability; 1.3 times it leaves few components for the spanning tree to join while
    keeping the average degree (about 5-8) like a road network's.
    """
    n = max(nodes, 2)
    return 1.3 * math.sqrt(math.log(n) / (math.pi * n))


def _edges(xy: np.ndarray) -> list[tuple[int, int, float]]:
    """Edges ``(i, j, length)`` with ``i < j``: the geometric graph plus a spanning tree.

    The minimum spanning tree over all node pairs guarantees connectivity whatever the
    radius; its edges are short, so they look like the roads the radius missed.
    """
    n = len(xy)
    if n < 2:
        return []
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    near = np.triu(dist <= _connection_radius(n), k=1)
    # Coincident points would give a zero distance, which csgraph reads as "no edge"; a
    # tiny positive length keeps them in the tree.
    tree = minimum_spanning_tree(csr_matrix(np.triu(np.maximum(dist, 1e-12), k=1))).tocoo()
    pairs = set(zip(*np.nonzero(near), strict=True))
    pairs |= {(min(int(i), int(j)), max(int(i), int(j)))
              for i, j in zip(tree.row, tree.col, strict=True)}
    return [(int(i), int(j), round(float(dist[i, j]), COORD_DIGITS)) for i, j in sorted(pairs)]


def _distances(n: int, edges: list[tuple[int, int, float]]) -> np.ndarray:
    """All-pairs shortest-path distances on the intact network, (n, n)."""
    if not edges:
        return np.zeros((n, n))
    u = np.array([e[0] for e in edges])
    v = np.array([e[1] for e in edges])
    w = np.maximum(np.array([e[2] for e in edges]), 1e-12)  # csgraph drops zero weights
    graph = csr_matrix((w, (u, v)), shape=(n, n))
    return shortest_path(graph, directed=False)


def _round_up(value: float, digits: int = COORD_DIGITS) -> float:
    """Round up, so that a reach computed to include a pair still includes it in the file."""
    scale = 10.0**digits
    return math.ceil(value * scale) / scale


def _fraction(value: float) -> float:
    return round(float(min(max(value, 0.0), 1.0)), FRACTION_DIGITS)


def geometric_instance(
    nodes: int,
    scenarios: int,
    *,
    seed: int = 0,
    commodities: int = 1,
    depots: int | None = None,
    shelters: int | None = None,
    budget_share: float = 0.3,
    money_scale: float = 1.0,
    redundancy: int = 0,
    existing_depots: int = 0,
    existing_shelters: int = 0,
    name: str | None = None,
    reach_share: float = REACH_SHARE,
) -> dict[str, Any]:
    """A synthetic instance on a random geometric graph in the unit square.

    Parameters
    ----------
    nodes, scenarios
        Number of network nodes (zones) and of hazard scenarios.
    seed
        Seed of the local random generator; the same arguments always give an equal dict.
    commodities
        Number of commodities, taken in order from :data:`COMMODITIES` ("water", "food",
        "kit", ...); ids ``c5``, ``c6``, ... beyond the catalogue.
    depots, shelters
        Number of candidate depots and shelters (default ``max(1, nodes // 10)`` each). All
        facilities stand at distinct nodes.
    budget_share
        Budget as a share of the cost of opening every facility, filling every depot with the
        per-capita mix of commodities, adding every module and reserving the largest pool.
    money_scale
        Multiplies every money figure (costs, budget, pool bound, economic exposure). The
        model reads money relative to the budget, so the optimum resilience does not change.
    redundancy
        Shelter redundancy policy r. When positive, the evacuation reach is raised as far as
        needed for every populated zone to have r candidate shelters within reach on the
        intact network, so the policy can always be met.
    existing_depots, existing_shelters
        How many of the depots (the first ones) and shelters are already open. Existing
        depots hold stock: 30% of their volume, in the per-capita mix.
    name
        Instance name; default ``geometric-{nodes}x{scenarios}-s{seed}``.
    reach_share
        Supply and evacuation reach as a share of the intact network's weighted diameter.

    Returns
    -------
    dict
        An instance file (``schema_version`` 1) made of JSON types only.

    Raises
    ------
    ValueError
        If the counts are inconsistent (more facilities than nodes, more existing facilities
        than candidates, a redundancy above the number of shelters, ...).
    """
    depots = max(1, nodes // 10) if depots is None else depots
    shelters = max(1, nodes // 10) if shelters is None else shelters
    _check_arguments(nodes, scenarios, commodities, depots, shelters, budget_share,
                     money_scale, redundancy, existing_depots, existing_shelters, reach_share)
    rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ network
    xy = np.round(rng.random((nodes, 2)), COORD_DIGITS)
    edges = _edges(xy)
    dist = _distances(nodes, edges)
    diameter = float(dist[np.isfinite(dist)].max()) if nodes > 1 else 1.0
    diameter = diameter if diameter > 0 else 1.0

    population = rng.integers(100, 2001, size=nodes).astype(float)
    population[rng.random(nodes) < JUNCTION_SHARE] = 0.0
    if not (population > 0).any():  # one populated zone at least, or nothing is at stake
        population[0] = float(rng.integers(100, 2001))
    # Exposure per resident, in money: chosen so a unit of money in the compensation pool
    # buys about as much resilience as a unit in stock or shelter places.
    exposure = np.round(population * rng.uniform(20.0, 60.0, size=nodes))
    populated = population > 0

    # ---------------------------------------------------------------- commodities
    catalogue = [COMMODITIES[k] if k < len(COMMODITIES) else
                 (f"c{k}", round(float(rng.uniform(0.2, 3.0)), 2),
                  round(float(rng.uniform(0.1, 2.0)), 2), round(float(rng.uniform(0.5, 2.0)), 2),
                  round(float(rng.uniform(1.0, 20.0)), 2))
                 for k in range(commodities)]
    need = np.array([c[1] for c in catalogue])
    volume = np.array([c[2] for c in catalogue])
    base_cost = np.array([c[4] for c in catalogue])
    volume_per_person = float(need @ volume)
    total_volume = float(population.sum()) * volume_per_person

    # ----------------------------------------------------------------- facilities
    sites = rng.choice(nodes, size=depots + shelters, replace=False)
    depot_sites, shelter_sites = sites[:depots], sites[depots:]

    depot_docs = []
    full_cost = 0.0
    for d, node in enumerate(depot_sites):
        # Each depot holds 50-100% of an equal share of everyone's full need: together they
        # could supply most of the population, but never all of it in every place.
        capacity = float(round(total_volume / depots * rng.uniform(0.5, 1.0)))
        unit_cost = np.round(base_cost * rng.uniform(0.8, 1.2, size=commodities), 2)
        # Filling with the per-capita mix: cost and volume of one person's need.
        cost_per_volume = float(need @ unit_cost) / volume_per_person
        # A building costs 30-60% of what filling it costs, so opening few well-stocked
        # depots competes with opening many thin ones.
        fixed_cost = float(round(capacity * cost_per_volume * rng.uniform(0.3, 0.6)))
        existing = d < existing_depots
        doc: dict[str, Any] = {
            "id": f"d{d}",
            "node": f"n{int(node)}",
            "fixed_cost": fixed_cost * money_scale,
            "capacity": capacity,
            "unit_cost": {c[0]: float(u) * money_scale
                          for c, u in zip(catalogue, unit_cost, strict=True)},
        }
        fill_share = 1.0
        if existing:
            people = math.floor(0.3 * capacity / volume_per_person)
            doc["existing_stock"] = {c[0]: float(people * c[1]) for c in catalogue}
            doc["existing"] = True
            fill_share = 0.7
        else:
            full_cost += fixed_cost
        full_cost += fill_share * capacity * cost_per_volume
        depot_docs.append(doc)

    total_people = float(population.sum())
    shelter_docs = []
    for h, node in enumerate(shelter_sites):
        # Base places for 5-15% of an equal share of everyone: a scenario's evacuees
        # (about a third of the affected) need several shelters or modules.
        capacity = float(max(10, round(total_people / shelters * rng.uniform(0.05, 0.15))))
        module_size = float(max(5, round(capacity * rng.uniform(0.2, 0.4))))
        max_modules = int(rng.integers(1, 5))
        fixed_cost = float(round(capacity * rng.uniform(40.0, 80.0)))
        module_cost = float(round(module_size * rng.uniform(30.0, 60.0)))
        existing = h < existing_shelters
        doc = {
            "id": f"h{h}",
            "node": f"n{int(node)}",
            "fixed_cost": fixed_cost * money_scale,
            "capacity": capacity,
            "module_size": module_size,
            "module_cost": module_cost * money_scale,
            "max_modules": max_modules,
        }
        if existing:
            doc["existing"] = True
        else:
            full_cost += fixed_cost
        full_cost += max_modules * module_cost
        shelter_docs.append(doc)

    # A pool that could cover a tenth of all exposure: enough to matter, never all losses.
    max_pool = float(round(0.1 * float(exposure.sum())))
    full_cost += max_pool
    budget = float(round(budget_share * full_cost))

    # ---------------------------------------------------------------------- reach
    supply_reach = _round_up(reach_share * diameter)
    evacuation_reach = supply_reach
    if redundancy > 0:
        # The r-th nearest shelter of every populated zone must be within reach.
        to_shelters = np.sort(dist[:, shelter_sites], axis=1)[:, redundancy - 1]
        needed = float(to_shelters[populated].max()) if populated.any() else 0.0
        if not math.isfinite(needed):  # pragma: no cover - the spanning tree connects all
            raise ValueError("the generated network is not connected")
        evacuation_reach = max(evacuation_reach, _round_up(needed + 10.0**-COORD_DIGITS))

    # ------------------------------------------------------------------ scenarios
    scenario_docs = [
        _scenario(rng, s, xy, edges, population, depot_sites, shelter_sites)
        for s in range(scenarios)
    ]

    node_docs = [
        {"id": f"n{i}", "x": float(xy[i, 0]), "y": float(xy[i, 1]),
         "population": float(population[i]),
         "economic_exposure": float(exposure[i]) * money_scale}
        for i in range(nodes)
    ]
    edge_docs = [{"id": f"e{j}", "from": f"n{u}", "to": f"n{v}", "length": length}
                 for j, (u, v, length) in enumerate(edges)]
    name = name or f"geometric-{nodes}x{scenarios}-s{seed}"
    return {
        "schema_version": 1,
        "name": name,
        "description": (
            f"Synthetic instance from optimizer.synthetic.geometric_instance(nodes={nodes}, "
            f"scenarios={scenarios}, seed={seed}, commodities={commodities}, depots={depots}, "
            f"shelters={shelters}, budget_share={budget_share}, money_scale={money_scale}, "
            f"redundancy={redundancy}, existing_depots={existing_depots}, "
            f"existing_shelters={existing_shelters}, reach_share={reach_share}): a random "
            "geometric road network in the unit square and circular hazards."
        ),
        "network": {"nodes": node_docs, "edges": edge_docs},
        "commodities": [
            {"id": c[0], "per_capita_need": c[1], "unit_volume": c[2], "weight": c[3]}
            for c in catalogue
        ],
        "depots": depot_docs,
        "shelters": shelter_docs,
        "compensation": {"max_pool": max_pool * money_scale},
        "budget": budget * money_scale,
        "policy": {
            "supply_reach": supply_reach,
            "evacuation_reach": evacuation_reach,
            "shelter_redundancy": redundancy,
            "integer_stock": True,
        },
        "resilience": {"weights": {"supply": 0.4, "shelter": 0.4, "economic": 0.2}},
        "objective": {"kind": "worst_case"},
        "scenarios": scenario_docs,
    }


def _scenario(rng: np.random.Generator, s: int, xy: np.ndarray,
              edges: list[tuple[int, int, float]], population: np.ndarray,
              depot_sites: np.ndarray, shelter_sites: np.ndarray) -> dict[str, Any]:
    """One circular hazard: damage falls linearly from the epicentre to the radius.

    The intensity scales every effect, so a scenario is mild or severe as a whole, the way
    one storm is stronger than another.
    """
    centre = rng.random(2)
    radius = float(rng.uniform(0.15, 0.35))
    intensity = float(rng.uniform(0.5, 1.0))
    from_centre = np.hypot(xy[:, 0] - centre[0], xy[:, 1] - centre[1])
    populated = np.flatnonzero(population > 0)
    # A hazard over empty land would be a scenario with nothing at stake: stretch the
    # radius to reach the nearest populated zone.
    radius = max(radius, 1.25 * float(from_centre[populated].min()))

    def severity(distance: np.ndarray | float) -> np.ndarray:
        return intensity * np.clip(1.0 - np.asarray(distance) / radius, 0.0, 1.0)

    failed = []
    if edges:
        u = np.array([e[0] for e in edges])
        v = np.array([e[1] for e in edges])
        mid = (xy[u] + xy[v]) / 2
        mid_dist = np.hypot(mid[:, 0] - centre[0], mid[:, 1] - centre[1])
        # One draw for every edge, hit or not, so that the random stream (and with it every
        # later scenario) does not depend on how many roads this hazard happens to cover.
        draws = rng.random(len(edges))
        hit = (mid_dist < radius) & (draws < severity(mid_dist))
        failed = [f"e{j}" for j in np.flatnonzero(hit)]
    # Facilities near the centre lose more; a few percent is noise, not damage.
    depot_loss = {f"d{d}": _fraction(severity(from_centre[node]))
                  for d, node in enumerate(depot_sites)
                  if severity(from_centre[node]) >= 0.05}
    shelter_loss = {f"h{h}": _fraction(severity(from_centre[node]))
                    for h, node in enumerate(shelter_sites)
                    if severity(from_centre[node]) >= 0.05}
    affected = {}
    for i in populated:
        share = _fraction(severity(from_centre[i]))
        if share > 0:
            affected[f"n{int(i)}"] = share
    if not affected:  # the stretched radius reaches the nearest zone, but rounding may not
        nearest = int(populated[np.argmin(from_centre[populated])])
        affected[f"n{nearest}"] = _fraction(max(0.1 * intensity, 10.0**-FRACTION_DIGITS))
    return {
        "id": f"s{s}",
        "failed_edges": failed,
        "depot_loss": depot_loss,
        "shelter_loss": shelter_loss,
        "affected": affected,
        "evacuation_rate": _fraction(rng.uniform(0.2, 0.4)),
        "economic_loss_rate": _fraction(rng.uniform(0.4, 0.6)),
    }


def _check_arguments(nodes: int, scenarios: int, commodities: int, depots: int,
                     shelters: int, budget_share: float, money_scale: float,
                     redundancy: int, existing_depots: int, existing_shelters: int,
                     reach_share: float) -> None:
    """Reject inconsistent counts with a message that names the argument."""
    problems = []
    if nodes < 1:
        problems.append(f"nodes must be at least 1 (got {nodes})")
    if scenarios < 1:
        problems.append(f"scenarios must be at least 1 (got {scenarios})")
    if commodities < 1:
        problems.append(f"commodities must be at least 1 (got {commodities})")
    if depots < 0 or shelters < 0:
        problems.append(f"depots and shelters must be >= 0 (got {depots}, {shelters})")
    if depots + shelters > nodes:
        problems.append(f"depots + shelters ({depots + shelters}) must not exceed nodes "
                        f"({nodes}): every facility stands at its own node")
    if not 0 <= existing_depots <= depots:
        problems.append(f"existing_depots must be in 0..{depots} (got {existing_depots})")
    if not 0 <= existing_shelters <= shelters:
        problems.append(f"existing_shelters must be in 0..{shelters} (got "
                        f"{existing_shelters})")
    if not 0 <= redundancy <= shelters:
        problems.append(f"redundancy must be in 0..{shelters} (the number of shelters; got "
                        f"{redundancy})")
    if not (math.isfinite(budget_share) and budget_share >= 0):
        problems.append(f"budget_share must be a finite number >= 0 (got {budget_share})")
    if not (math.isfinite(money_scale) and money_scale > 0):
        problems.append(f"money_scale must be a finite number > 0 (got {money_scale})")
    if not (math.isfinite(reach_share) and reach_share > 0):
        problems.append(f"reach_share must be a finite number > 0 (got {reach_share})")
    if problems:
        raise ValueError("; ".join(problems))


def write_instance(doc: dict[str, Any], path: str | Path) -> None:
    """Write an instance dict as indented JSON with a trailing newline.

    Parameters
    ----------
    doc
        The instance, as returned by :func:`geometric_instance`.
    path
        Destination file; its parent directory must exist.

    Notes
    -----
    Keys keep their insertion order (the order of the file format) and non-ASCII text is
    written as is, so the same dict always gives the same bytes.
    """
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


__all__ = ["COMMODITIES", "geometric_instance", "write_instance"]
