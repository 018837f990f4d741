"""Seeded synthetic instances: a random geometric or lattice road network and hazards.

Pure data: numpy with a local :class:`numpy.random.Generator` (never the global one, so two
calls with the same seed give the same instance whatever else ran in between), scipy's
csgraph for the graph, and no Pyomo. This module draws the roads and the people; the
facilities, money and reach are :func:`optimizer.sources.assemble.assemble`'s, as for an
imported network, and the hazards are a ``hazard_footprint`` scenario generator
(``optimizer.generators``), written as it is or as the scenarios it expands to.
:func:`write_instance` writes the result to disk.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from optimizer.choices import REACH_SHARE
from optimizer.evaluation.reachability import ZERO_LENGTH
from optimizer.generators import expand
from optimizer.instance.schema import InstanceFile
from optimizer.sources.assemble import SYNTHETIC, Assembly, Scattered, assemble
from optimizer.sources.network import RoadNetwork

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
    positive = np.triu(np.maximum(dist, ZERO_LENGTH), k=1)
    tree = minimum_spanning_tree(csr_matrix(positive)).tocoo()
    pairs = set(zip(*np.nonzero(near), strict=True))
    pairs |= {(min(int(i), int(j)), max(int(i), int(j)))
              for i, j in zip(tree.row, tree.col, strict=True)}
    return [(int(i), int(j), round(float(dist[i, j]), COORD_DIGITS)) for i, j in sorted(pairs)]


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
        Number of commodities, taken in order from
        :data:`optimizer.sources.assemble.COMMODITIES` ("water", "food", "kit", ...); ids
        ``c5``, ``c6``, ... beyond the catalogue.
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

    Notes
    -----
    Long for its keywords and their documentation, which :func:`grid_instance` shares; the
    work is in short steps (``_edges`` draws the roads, ``_synthetic`` the rest).
    """
    shared = _Shared(
        scenarios=scenarios, seed=seed, commodities=commodities,
        depots=_default_count(depots, nodes), shelters=_default_count(shelters, nodes),
        budget_share=budget_share, money_scale=money_scale, redundancy=redundancy,
        existing_depots=existing_depots, existing_shelters=existing_shelters,
        reach_share=reach_share, population=population, scenario_generators=scenario_generators)
    problems = shared.problems(nodes)
    if not (math.isfinite(density) and density > 0):
        problems.append(f"density must be a finite number > 0 (got {density})")
    if problems:
        raise ValueError("; ".join(problems))
    rng = np.random.default_rng(seed)
    xy = np.round(rng.random((nodes, 2)), COORD_DIGITS)
    call = shared.call(f"geometric_instance(nodes={nodes}, scenarios={scenarios}",
                       f"density={density}")
    return _synthetic(rng, _road_network(xy, _edges(xy, density)), shared,
                      name=name or f"geometric-{nodes}x{scenarios}-s{seed}",
                      description=(f"Synthetic instance from optimizer.sources.synthetic.{call}: "
                                   "a random geometric road network in the unit square and "
                                   "circular hazards."))


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

    Notes
    -----
    Long for its keywords; the work is in short steps (``_lattice`` lays the roads,
    ``_synthetic`` the rest).
    """
    nodes = rows * cols
    shared = _Shared(
        scenarios=scenarios, seed=seed, commodities=commodities,
        depots=_default_count(depots, nodes), shelters=_default_count(shelters, nodes),
        budget_share=budget_share, money_scale=money_scale, redundancy=redundancy,
        existing_depots=existing_depots, existing_shelters=existing_shelters,
        reach_share=reach_share, population=population, scenario_generators=scenario_generators)
    problems = []
    if rows < 1 or cols < 1:
        problems.append(f"rows and cols must be at least 1 (got {rows}, {cols})")
    if not (math.isfinite(diagonals) and 0 <= diagonals <= 1):
        problems.append(f"diagonals must be a share in [0, 1] (got {diagonals})")
    problems += shared.problems(max(nodes, 1))
    if problems:
        raise ValueError("; ".join(problems))
    rng = np.random.default_rng(seed)
    call = shared.call(f"grid_instance(rows={rows}, cols={cols}, scenarios={scenarios}",
                       f"diagonals={diagonals}")
    return _synthetic(rng, _lattice(rng, rows, cols, diagonals), shared,
                      name=name or f"grid-{rows}x{cols}x{scenarios}-s{seed}",
                      description=(f"Synthetic instance from optimizer.sources.synthetic.{call}: "
                                   "a street lattice in the unit square and circular hazards."))


def _lattice(rng: np.random.Generator, rows: int, cols: int, diagonals: float) -> RoadNetwork:
    """A ``rows`` x ``cols`` street lattice in the unit square, ``diagonals`` of its cells
    crossed by a diagonal road as well (:func:`grid_instance`)."""
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
    return _road_network(xy, edges)


def _road_network(xy: np.ndarray, edges: list[tuple[int, int, float]]) -> RoadNetwork:
    """Nodes ``n0``, ``n1``, ... at ``xy`` and roads ``e0``, ``e1``, ..., nobody living yet."""
    n = len(xy)
    return RoadNetwork(
        node_ids=tuple(f"n{i}" for i in range(n)),
        population=np.zeros(n),
        edge_from=np.array([e[0] for e in edges], dtype=np.int64),
        edge_to=np.array([e[1] for e in edges], dtype=np.int64),
        edge_length=np.array([e[2] for e in edges], dtype=float),
        edge_ids=tuple(f"e{j}" for j in range(len(edges))),
        x=xy[:, 0], y=xy[:, 1],
    )


def _with_people(rng: np.random.Generator, network: RoadNetwork,
                 population: tuple[int, int]) -> RoadNetwork:
    """Residents drawn for each node; about :data:`JUNCTION_SHARE` of the nodes have none."""
    nodes = network.num_nodes
    pop_low, pop_high = population
    residents = rng.integers(pop_low, pop_high + 1, size=nodes).astype(float)
    residents[rng.random(nodes) < JUNCTION_SHARE] = 0.0
    if not (residents > 0).any():  # one populated zone at least, or nothing is at stake
        residents[0] = float(max(rng.integers(pop_low, pop_high + 1), 1))
    return network.with_population(residents)


def _synthetic(rng: np.random.Generator, network: RoadNetwork, shared: _Shared, *,
               name: str, description: str) -> dict[str, Any]:
    """People on the drawn roads, then the assembler's facilities, money and reach, then the
    hazards: as a generator, or written out."""
    options = Assembly(
        name=name, description=description,
        placement=Scattered(shared.depots, shared.shelters), commodities=shared.commodities,
        budget_share=shared.budget_share, money_scale=shared.money_scale,
        reach_share=shared.reach_share, redundancy=shared.redundancy,
        existing_depots=shared.existing_depots, existing_shelters=shared.existing_shelters,
        digits=COORD_DIGITS, conventions=SYNTHETIC,
    )
    doc = assemble(_with_people(rng, network, shared.population), options, rng,
                   scenario_generators=[hazard_generator(shared.scenarios, shared.seed)]
                   ).document
    if not shared.scenario_generators:
        # The generator's scenarios, written out: the file stands alone, and a reader sees
        # each hazard's damage (and, in its origin, its epicentre and radius).
        expanded = expand(InstanceFile.model_validate(doc))
        del doc["scenario_generators"]
        doc["scenarios"] = [s.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                            for s in expanded.scenarios]
    return doc


def _default_count(count: int | None, nodes: int) -> int:
    """Depots or shelters: as given, or one per ten nodes (at least one)."""
    return max(1, nodes // 10) if count is None else count


@dataclass(frozen=True)
class _Shared:
    """The arguments both generators take (documented in :func:`geometric_instance`)."""

    scenarios: int
    seed: int
    commodities: int
    depots: int
    shelters: int
    budget_share: float
    money_scale: float
    redundancy: int
    existing_depots: int
    existing_shelters: int
    reach_share: float
    population: tuple[int, int]
    scenario_generators: bool

    def call(self, head: str, own: str) -> str:
        """The generator's call as its description quotes it: ``head`` (the name and the
        leading arguments), these, then ``own`` (the generator's own keyword)."""
        return (f"{head}, seed={self.seed}, commodities={self.commodities}, "
                f"depots={self.depots}, shelters={self.shelters}, "
                f"budget_share={self.budget_share}, money_scale={self.money_scale}, "
                f"redundancy={self.redundancy}, existing_depots={self.existing_depots}, "
                f"existing_shelters={self.existing_shelters}, reach_share={self.reach_share}, "
                f"{own}, population={tuple(self.population)})")

    def problems(self, nodes: int) -> list[str]:
        """Inconsistent counts, each said with the argument's name."""
        problems = []
        depots, shelters, population = self.depots, self.shelters, self.population
        if nodes < 1:
            problems.append(f"nodes must be at least 1 (got {nodes})")
        if self.scenarios < 1:
            problems.append(f"scenarios must be at least 1 (got {self.scenarios})")
        if self.commodities < 1:
            problems.append(f"commodities must be at least 1 (got {self.commodities})")
        if depots < 0 or shelters < 0:
            problems.append(f"depots and shelters must be >= 0 (got {depots}, {shelters})")
        if depots + shelters > nodes:
            problems.append(f"depots + shelters ({depots + shelters}) must not exceed nodes "
                            f"({nodes}): every facility stands at its own node")
        if not 0 <= self.existing_depots <= depots:
            problems.append(f"existing_depots must be in 0..{depots} (got "
                            f"{self.existing_depots})")
        if not 0 <= self.existing_shelters <= shelters:
            problems.append(f"existing_shelters must be in 0..{shelters} (got "
                            f"{self.existing_shelters})")
        if not 0 <= self.redundancy <= shelters:
            problems.append(f"redundancy must be in 0..{shelters} (the number of shelters; "
                            f"got {self.redundancy})")
        if not (math.isfinite(self.budget_share) and self.budget_share >= 0):
            problems.append(f"budget_share must be a finite number >= 0 (got "
                            f"{self.budget_share})")
        if not (math.isfinite(self.money_scale) and self.money_scale > 0):
            problems.append(f"money_scale must be a finite number > 0 (got "
                            f"{self.money_scale})")
        if not (math.isfinite(self.reach_share) and self.reach_share > 0):
            problems.append(f"reach_share must be a finite number > 0 (got "
                            f"{self.reach_share})")
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


__all__ = ["HAZARD", "geometric_instance", "grid_instance", "hazard_generator",
           "write_instance"]
