"""Seeded synthetic instances: a random geometric or lattice road network and hazards.

Pure data: numpy with a local :class:`numpy.random.Generator` (never the global one, so two
calls with the same seed give the same instance whatever else ran in between), scipy's
csgraph for the graph algorithms, and no Pyomo. The hazards are a ``hazard_footprint``
scenario generator (``optimizer.generators``), written either as the generator itself or as
the scenarios it expands to. The result is a plain JSON-able ``dict`` in
the instance file format of design section 3; :func:`write_instance` writes it to disk.

The numbers are chosen so that every part of the model competes for the same budget: a unit
of money spent on stock, on shelter places or on the compensation pool buys resilience at
roughly comparable rates, so the optimum mixes them instead of ignoring a dimension.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree, shortest_path

from optimizer import choices
from optimizer.generators import expand
from optimizer.instance.schema import InstanceFile

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
# zones have a few candidates. (Its value lives in optimizer.choices, for the CLI's help.)
REACH_SHARE = choices.REACH_SHARE
# Share of nodes that are road junctions or industrial sites with nobody living there, so
# that the rules about "zones with people" are exercised.
JUNCTION_SHARE = 0.1
# Decimal places kept in the file: coordinates and lengths to 1e-4 of the unit square.
# Rounding makes files readable and diffs small.
COORD_DIGITS = 4


def _connection_radius(nodes: int) -> float:
    """Radius above the connectivity threshold of a random geometric graph.

    ``sqrt(log n / (pi n))`` is the threshold at which the graph is connected with high
    probability; 1.3 times it leaves few components for the spanning tree to join while
    keeping the average degree (about 5-8) like a road network's.
    """
    n = max(nodes, 2)
    return 1.3 * math.sqrt(math.log(n) / (math.pi * n))


def _edges(xy: np.ndarray, density: float = 1.0) -> list[tuple[int, int, float]]:
    """Edges ``(i, j, length)`` with ``i < j``: the geometric graph plus a spanning tree.

    ``density`` multiplies the connection radius (1 gives an average degree of about 5-8).

    The minimum spanning tree over all node pairs guarantees connectivity whatever the
    radius; its edges are short, so they look like the roads the radius missed.
    """
    n = len(xy)
    if n < 2:
        return []
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    near = np.triu(dist <= density * _connection_radius(n), k=1)
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


# The hazards of every synthetic instance, in unit-square coordinates: circles of radius
# 0.1-0.3 centred on a zone drawn by population (so every scenario has people at stake),
# roads failing by a logistic fragility curve (73% likely at the epicentre, 34% half-way
# out, 9% at the edge), facilities losing up to 75% and zones up to 75% of their people
# affected, of whom 30% evacuate. Milder than this and most scenarios leave everyone served;
# harsher and the medium instance no longer solves in about a second.
HAZARD: dict[str, Any] = {
    "kind": "hazard_footprint",
    "name": "hazard",
    "epicentres": "population",
    "radius": [0.1, 0.3],
    "fragility": {"curve": "logistic", "median": 0.3, "spread": 0.3},
    "facility_loss": 0.75,
    "affected": 0.75,
    "evacuation_rate": 0.3,
    "economic_loss_rate": 0.5,
}


def hazard_generator(count: int, seed: int) -> dict[str, Any]:
    """The synthetic instances' ``hazard_footprint`` generator, ``count`` scenarios."""
    spec = copy.deepcopy(HAZARD)
    return {"kind": spec.pop("kind"), "name": spec.pop("name"), "count": count, "seed": seed,
            **spec}


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
    density: float = 1.0,
    population: tuple[int, int] = (100, 2000),
    scenario_generators: bool = False,
) -> dict[str, Any]:
    """A synthetic instance on a random geometric graph in the unit square.

    Parameters
    ----------
    nodes, scenarios
        Number of network nodes (zones) and of hazard scenarios.
    seed
        Seed of the local random generator (and of the hazard generator); the same
        arguments always give an equal dict.
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
    density
        Multiplies the connection radius of the geometric graph (more roads above 1).
    population
        Smallest and largest population of a populated zone (about 10% of the nodes are
        unpopulated junctions).
    scenario_generators
        Write the hazards as a ``scenario_generators`` entry (:func:`hazard_generator`)
        instead of the explicit scenarios it expands to.

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
    problems = _argument_problems(nodes, scenarios, commodities, depots, shelters,
                                  budget_share, money_scale, redundancy, existing_depots,
                                  existing_shelters, reach_share, population)
    if not (math.isfinite(density) and density > 0):
        problems.append(f"density must be a finite number > 0 (got {density})")
    if problems:
        raise ValueError("; ".join(problems))
    rng = np.random.default_rng(seed)
    xy = np.round(rng.random((nodes, 2)), COORD_DIGITS)
    edges = _edges(xy, density)
    call = (f"geometric_instance(nodes={nodes}, scenarios={scenarios}, seed={seed}, "
            f"commodities={commodities}, depots={depots}, shelters={shelters}, "
            f"budget_share={budget_share}, money_scale={money_scale}, "
            f"redundancy={redundancy}, existing_depots={existing_depots}, "
            f"existing_shelters={existing_shelters}, reach_share={reach_share}, "
            f"density={density}, population={tuple(population)})")
    return _assemble(
        rng, xy, edges, scenarios=scenarios, seed=seed, commodities=commodities,
        depots=depots, shelters=shelters, budget_share=budget_share, money_scale=money_scale,
        redundancy=redundancy, existing_depots=existing_depots,
        existing_shelters=existing_shelters, reach_share=reach_share, population=population,
        scenario_generators=scenario_generators,
        name=name or f"geometric-{nodes}x{scenarios}-s{seed}",
        description=(f"Synthetic instance from optimizer.sources.synthetic.{call}: "
                     "a random geometric "
                     "road network in the unit square and circular hazards."))


def grid_instance(
    rows: int,
    cols: int,
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
    diagonals: float = 0.0,
    population: tuple[int, int] = (100, 2000),
    scenario_generators: bool = False,
) -> dict[str, Any]:
    """A synthetic instance on a ``rows`` x ``cols`` street lattice in the unit square.

    Node ``n{r * cols + c}`` stands at ``(c, r)`` times the spacing ``1 / (max(rows, cols)
    - 1)``; roads join horizontal and vertical neighbours, with Euclidean lengths.

    Parameters
    ----------
    rows, cols
        Lattice size (``rows * cols`` nodes).
    scenarios
        Number of hazard scenarios.
    diagonals
        Share of the lattice's cells that get one diagonal road as well (in a random
        direction), for a denser, less regular network.
    seed, commodities, depots, shelters, budget_share, money_scale, redundancy, \
existing_depots, existing_shelters, reach_share, population, scenario_generators
        As for :func:`geometric_instance`.
    name
        Instance name; default ``grid-{rows}x{cols}x{scenarios}-s{seed}``.

    Returns
    -------
    dict
        An instance file (``schema_version`` 1) made of JSON types only.

    Raises
    ------
    ValueError
        If the sizes or counts are inconsistent.
    """
    nodes = rows * cols
    depots = max(1, nodes // 10) if depots is None else depots
    shelters = max(1, nodes // 10) if shelters is None else shelters
    problems = []
    if rows < 1 or cols < 1:
        problems.append(f"rows and cols must be at least 1 (got {rows}, {cols})")
    if not (math.isfinite(diagonals) and 0 <= diagonals <= 1):
        problems.append(f"diagonals must be a share in [0, 1] (got {diagonals})")
    problems += _argument_problems(max(nodes, 1), scenarios, commodities, depots, shelters,
                                   budget_share, money_scale, redundancy, existing_depots,
                                   existing_shelters, reach_share, population)
    if problems:
        raise ValueError("; ".join(problems))
    rng = np.random.default_rng(seed)
    spacing = 1.0 / (max(rows, cols) - 1) if max(rows, cols) > 1 else 1.0
    xy = np.round(np.array([(c * spacing, r * spacing) for r in range(rows)
                            for c in range(cols)], dtype=float), COORD_DIGITS)
    pairs = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    pairs += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    for r in range(rows - 1):
        for c in range(cols - 1):
            # Two draws per cell whether or not it gets a diagonal: the stream's shape does
            # not depend on the share.
            gets, direction = rng.random(2)
            if gets < diagonals:
                pairs.append((r * cols + c, (r + 1) * cols + c + 1) if direction < 0.5
                             else (r * cols + c + 1, (r + 1) * cols + c))
    edges = [(i, j, round(float(np.hypot(*(xy[i] - xy[j]))), COORD_DIGITS))
             for i, j in sorted(pairs)]
    call = (f"grid_instance(rows={rows}, cols={cols}, scenarios={scenarios}, seed={seed}, "
            f"commodities={commodities}, depots={depots}, shelters={shelters}, "
            f"budget_share={budget_share}, money_scale={money_scale}, "
            f"redundancy={redundancy}, existing_depots={existing_depots}, "
            f"existing_shelters={existing_shelters}, reach_share={reach_share}, "
            f"diagonals={diagonals}, population={tuple(population)})")
    return _assemble(
        rng, xy, edges, scenarios=scenarios, seed=seed, commodities=commodities,
        depots=depots, shelters=shelters, budget_share=budget_share, money_scale=money_scale,
        redundancy=redundancy, existing_depots=existing_depots,
        existing_shelters=existing_shelters, reach_share=reach_share, population=population,
        scenario_generators=scenario_generators,
        name=name or f"grid-{rows}x{cols}x{scenarios}-s{seed}",
        description=(f"Synthetic instance from optimizer.sources.synthetic.{call}: "
                     "a street lattice "
                     "in the unit square and circular hazards."))


def _assemble(rng: np.random.Generator, xy: np.ndarray, edges: list[tuple[int, int, float]],
              *, scenarios: int, seed: int, commodities: int, depots: int, shelters: int,
              budget_share: float, money_scale: float, redundancy: int,
              existing_depots: int, existing_shelters: int, reach_share: float,
              population: tuple[int, int], scenario_generators: bool, name: str,
              description: str) -> dict[str, Any]:
    """Zones, commodities, facilities, money, reach and hazards on a given road network."""
    nodes = len(xy)
    pop_low, pop_high = population
    dist = _distances(nodes, edges)
    diameter = float(dist[np.isfinite(dist)].max()) if nodes > 1 else 1.0
    diameter = diameter if diameter > 0 else 1.0

    residents = rng.integers(pop_low, pop_high + 1, size=nodes).astype(float)
    residents[rng.random(nodes) < JUNCTION_SHARE] = 0.0
    if not (residents > 0).any():  # one populated zone at least, or nothing is at stake
        residents[0] = float(max(rng.integers(pop_low, pop_high + 1), 1))
    # Exposure per resident, in money: chosen so a unit of money in the compensation pool
    # buys about as much resilience as a unit in stock or shelter places.
    exposure = np.round(residents * rng.uniform(20.0, 60.0, size=nodes))
    populated = residents > 0

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
    total_volume = float(residents.sum()) * volume_per_person

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

    total_people = float(residents.sum())
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
    hazards = hazard_generator(scenarios, seed)

    node_docs = [
        {"id": f"n{i}", "x": float(xy[i, 0]), "y": float(xy[i, 1]),
         "population": float(residents[i]),
         "economic_exposure": float(exposure[i]) * money_scale}
        for i in range(nodes)
    ]
    edge_docs = [{"id": f"e{j}", "from": f"n{u}", "to": f"n{v}", "length": length}
                 for j, (u, v, length) in enumerate(edges)]
    doc: dict[str, Any] = {
        "schema_version": 1,
        "name": name,
        "description": description,
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
        "scenario_generators": [hazards],
    }
    if not scenario_generators:
        # The generator's scenarios, written out: the file stands alone, and a reader sees
        # each hazard's damage (and, in its origin, its epicentre and radius).
        expanded = expand(InstanceFile.model_validate(doc))
        del doc["scenario_generators"]
        doc["scenarios"] = [s.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                            for s in expanded.scenarios]
    return doc


def _argument_problems(nodes: int, scenarios: int, commodities: int, depots: int,
                       shelters: int, budget_share: float, money_scale: float,
                       redundancy: int, existing_depots: int, existing_shelters: int,
                       reach_share: float, population: tuple[int, int]) -> list[str]:
    """Inconsistent counts, each said with the argument's name."""
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
    if not (len(population) == 2 and 0 <= population[0] <= population[1]):
        problems.append(f"population must be (smallest, largest) with 0 <= smallest <= "
                        f"largest (got {population})")
    return problems


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


__all__ = ["COMMODITIES", "HAZARD", "geometric_instance", "grid_instance",
           "hazard_generator", "write_instance"]
