"""The one assembler of instances: a road network plus facilities, money and reach.

Every source ends here: the synthetic generators (:mod:`optimizer.sources.synthetic`) and
the importers (:mod:`optimizer.sources.importers`) make a
:class:`~optimizer.sources.network.RoadNetwork` with people at its nodes, and
:func:`assemble` writes the instance document (design section 3). Where the sources differ
on purpose it takes a parameter: where facilities stand (:class:`Scattered`,
:class:`Spread`); where they differ by history, :class:`Conventions`.

The money conventions make every part of the model compete for the same budget (a unit of
money on stock, shelter places or the compensation pool buys comparable resilience):

- commodities from :data:`COMMODITIES` (water, then food, ...);
- economic exposure 20-60 money units per resident;
- each depot holds 50-100% of an equal share of everyone's full need, its unit costs are
  the catalogue's +-20% and its building costs 30-60% of filling it;
- a generated shelter has places for 5-15% of an equal share of everyone; every shelter
  costs 40-80 per place to open, and has 1-4 modules of 20-40% of its places at 30-60 per
  place;
- the compensation pool may reach a tenth of all exposure, and the budget is a share of the
  cost of opening everything, filling every depot, adding every module and reserving the
  largest pool;
- supply and evacuation reach are a share of the intact network's weighted diameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.choices import REACH_SHARE
from optimizer.sources.network import (
    RoadNetwork,
    all_distances,
    all_distances_as_listed,
    diameter_of,
    spread_sites,
)

# A commodity of the catalogue: (id, per-capita need, unit volume, weight, base unit cost).
Commodity = tuple[str, float, float, float, float]

# The catalogue: the first ``commodities`` entries are used; needs, volumes and costs differ
# so that a depot's volume capacity and the budget both shape the commodity mix.
COMMODITIES: tuple[Commodity, ...] = (
    ("water", 3.0, 1.0, 1.0, 2.0),
    ("food", 2.0, 0.5, 1.5, 4.0),
    ("kit", 1.0, 2.0, 0.8, 15.0),
    ("medicine", 0.2, 0.1, 2.0, 25.0),
    ("blanket", 1.0, 1.5, 0.5, 6.0),
)


@dataclass(frozen=True)
class Conventions:
    """Numbers the synthetic generators and the importers have always computed differently.

    The two assemblers they had grew apart; each choice here decides a seeded draw or the
    last bit of a float that is then rounded, so making them one would change files already
    written (with the importers' ``reach_slack``, about one synthetic instance in ten gets
    another reach). They stay data, in one place, until the files may change.

    Attributes
    ----------
    drawn_commodities
        Commodities beyond :data:`COMMODITIES` get needs, volumes, weights and costs drawn
        from the generator (synthetic), or need, volume and weight 1 at cost 10 (importers).
    costs_by_term
        The cost of everything (of which the budget is a share) adds a facility's building
        and filling costs one at a time (synthetic), or their sum (importers).
    reach_slack
        Float noise forgiven before a reach is rounded up: 0 (synthetic), or 1e-9 so that
        a reach of exactly k decimal steps is not raised one step (importers).
    all_pairs
        How the intact network's distances are measured:
        :func:`~optimizer.sources.network.all_distances_as_listed` (synthetic) or
        :func:`~optimizer.sources.network.all_distances` (importers).
    """

    drawn_commodities: bool
    costs_by_term: bool
    reach_slack: float
    all_pairs: Callable[[RoadNetwork], np.ndarray]


SYNTHETIC = Conventions(drawn_commodities=True, costs_by_term=True, reach_slack=0.0,
                        all_pairs=all_distances_as_listed)
IMPORTED = Conventions(drawn_commodities=False, costs_by_term=False, reach_slack=1e-9,
                       all_pairs=all_distances)


@dataclass(frozen=True)
class ShelterSite:
    """A shelter: its id, the node it stands at and how many people it takes.

    ``capacity`` is ``None`` for a generated shelter whose places the assembler draws with
    its modules and costs (:class:`Scattered`); the data's shelters and :class:`Spread`'s
    generated ones come with theirs.
    """

    id: str
    node: int
    capacity: float | None = None


@dataclass(frozen=True)
class Scattered:
    """Depots, then shelters, at distinct nodes drawn uniformly (the synthetic generators)."""

    depots: int
    shelters: int


@dataclass(frozen=True)
class Spread:
    """Depots, then shelters, spread over the network's candidate nodes by farthest-point
    sampling (the importers: it covers a real network evenly whatever its shape).

    With ``named`` shelters (the data's), those stand where they are, no shelter is
    generated, and no depot shares their nodes.
    """

    depots: int
    shelters: int = 0
    named: tuple[ShelterSite, ...] | None = None


@dataclass(frozen=True)
class Assembly:
    """Options of :func:`assemble`: names, where facilities stand, money and policy."""

    name: str
    description: str
    placement: Scattered | Spread
    commodities: int = 2
    budget_share: float = 0.3
    money_scale: float = 1.0  # multiplies every money figure written
    reach_share: float = REACH_SHARE
    supply_reach: float | None = None  # overrides reach_share
    evacuation_reach: float | None = None
    redundancy: int = 0  # shelter redundancy policy; raises the evacuation reach to meet it
    existing_depots: int = 0  # the first ones are open already (depots hold 30% stock)
    existing_shelters: int = 0
    digits: int = 4  # decimals of coordinates, lengths and reaches in the file
    crs: dict[str, Any] | None = None  # network.crs: where x and y lie on the Earth
    conventions: Conventions = IMPORTED


@dataclass(frozen=True, eq=False)
class Assembled:
    """An assembled instance and the intact network's weighted diameter."""

    document: dict[str, Any]
    diameter: float


def assemble(network: RoadNetwork, options: Assembly, rng: np.random.Generator, *,
             scenario_generators: list[dict[str, Any]] | None = None) -> Assembled:
    """An instance dict for ``network`` with facilities, money and reach (the module
    docstring has the money conventions).

    Parameters
    ----------
    network
        A connected road network with people at its nodes.
    options
        Names, placement, counts, shares and conventions.
    rng
        Every draw comes from it, in a fixed order: the instance is a pure function of the
        network, the options and the generator's state.
    scenario_generators
        Written as they are, as the document's last key. A caller with explicit
        ``scenarios`` adds them itself; the file needs at least one of the two.

    Returns
    -------
    Assembled
        The instance file (JSON types only) and the diameter.

    Raises
    ------
    ValueError
        If there are more facilities than candidate nodes, or no commodity is asked for.
    """
    o = options
    if o.commodities < 1:
        raise ValueError(f"commodities must be at least 1 (got {o.commodities})")
    exposure = np.round(network.population * rng.uniform(20.0, 60.0, size=network.num_nodes))
    mix = _Mix.of(_catalogue(o.commodities, rng if o.conventions.drawn_commodities else None))
    depot_nodes, sites = _place(network, o.placement, rng)
    depots, depot_costs = _depots(network, depot_nodes, mix, o, rng)
    shelters, shelter_costs = _shelters(network, sites, o, rng)
    max_pool, budget = _money(exposure, [*depot_costs, *shelter_costs], o)
    distances = o.conventions.all_pairs(network)
    diameter = diameter_of(distances)
    document: dict[str, Any] = {
        "schema_version": 1,
        "name": o.name,
        "description": o.description,
        "network": _network_doc(network, exposure, o),
        "commodities": [{"id": c[0], "per_capita_need": c[1], "unit_volume": c[2],
                         "weight": c[3]} for c in mix.catalogue],
        "depots": depots,
        "shelters": shelters,
        "compensation": {"max_pool": max_pool * o.money_scale},
        "budget": budget * o.money_scale,
        "policy": _policy(network, distances, diameter, [s.node for s in sites], o),
        "resilience": {"weights": {"supply": 0.4, "shelter": 0.4, "economic": 0.2}},
        "objective": {"kind": "worst_case"},
    }
    if scenario_generators:
        document["scenario_generators"] = scenario_generators
    return Assembled(document, diameter)


# ----------------------------------------------------------------------------- steps


def _catalogue(count: int, rng: np.random.Generator | None) -> list[Commodity]:
    """The first ``count`` commodities: :data:`COMMODITIES`, then ``c5``, ``c6``, ...

    Beyond the catalogue a commodity's need, volume, weight and cost are drawn from ``rng``
    when one is given, and are 1, 1, 1 and 10 otherwise (:class:`Conventions`).
    """
    return [COMMODITIES[k] if k < len(COMMODITIES) else _extra_commodity(k, rng)
            for k in range(count)]


def _extra_commodity(k: int, rng: np.random.Generator | None) -> Commodity:
    if rng is None:
        return (f"c{k}", 1.0, 1.0, 1.0, 10.0)
    return (f"c{k}", round(float(rng.uniform(0.2, 3.0)), 2),
            round(float(rng.uniform(0.1, 2.0)), 2), round(float(rng.uniform(0.5, 2.0)), 2),
            round(float(rng.uniform(1.0, 20.0)), 2))


@dataclass(frozen=True)
class _Mix:
    """The commodities as arrays, and the volume of one person's full need."""

    catalogue: list[Commodity]
    need: np.ndarray
    volume: np.ndarray
    base_cost: np.ndarray
    volume_per_person: float

    @classmethod
    def of(cls, catalogue: list[Commodity]) -> _Mix:
        need = np.array([c[1] for c in catalogue])
        volume = np.array([c[2] for c in catalogue])
        base_cost = np.array([c[4] for c in catalogue])
        return cls(catalogue, need, volume, base_cost, float(need @ volume))


def _place(network: RoadNetwork, placement: Scattered | Spread, rng: np.random.Generator
           ) -> tuple[list[int], tuple[ShelterSite, ...]]:
    """The depots' nodes and the shelters, as ``placement`` says.

    Raises
    ------
    ValueError
        If there are fewer candidate nodes than facilities to place.
    """
    if isinstance(placement, Scattered):
        sites = rng.choice(network.num_nodes, size=placement.depots + placement.shelters,
                           replace=False)
        return ([int(node) for node in sites[:placement.depots]],
                tuple(ShelterSite(f"h{h}", int(node))
                      for h, node in enumerate(sites[placement.depots:])))
    candidates = network.candidate_nodes()
    if placement.named is not None:
        taken = [site.node for site in placement.named]
        depots = spread_sites(network, np.setdiff1d(candidates, taken), placement.depots, rng)
        return depots, placement.named
    depots = spread_sites(network, candidates, placement.depots, rng)
    nodes = spread_sites(network, np.setdiff1d(candidates, depots), placement.shelters, rng)
    people = float(network.population.sum())
    return depots, tuple(ShelterSite(f"h{h}", node, _shelter_places(people, len(nodes), rng))
                         for h, node in enumerate(nodes))


def _shelter_places(people: float, shelters: int, rng: np.random.Generator) -> float:
    """Places of a generated shelter: 5-15% of an equal share of everyone, at least 10.

    A scenario's evacuees (about a third of the affected) then need several shelters or
    modules.
    """
    return float(max(10, round(people / max(shelters, 1) * rng.uniform(0.05, 0.15))))


def _depots(network: RoadNetwork, nodes: list[int], mix: _Mix, o: Assembly,
            rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[tuple[float, ...]]]:
    """The depots' entries, and each one's cost terms (building, filling)."""
    total_volume = float(network.population.sum()) * mix.volume_per_person
    docs, costs = [], []
    for d, node in enumerate(nodes):
        # Each depot holds 50-100% of an equal share of everyone's full need: together they
        # could supply most of the population, but never all of it in every place.
        capacity = float(round(total_volume / len(nodes) * rng.uniform(0.5, 1.0)))
        unit_cost = np.round(mix.base_cost * rng.uniform(0.8, 1.2, size=len(mix.catalogue)), 2)
        # Filling with the per-capita mix: cost and volume of one person's need.
        cost_per_volume = float(mix.need @ unit_cost) / mix.volume_per_person
        # A building costs 30-60% of what filling it costs, so opening few well-stocked
        # depots competes with opening many thin ones.
        fixed_cost = float(round(capacity * cost_per_volume * rng.uniform(0.3, 0.6)))
        doc: dict[str, Any] = {
            "id": f"d{d}",
            "node": network.node_ids[node],
            "fixed_cost": fixed_cost * o.money_scale,
            "capacity": capacity,
            "unit_cost": {c[0]: float(u) * o.money_scale
                          for c, u in zip(mix.catalogue, unit_cost, strict=True)},
        }
        if d < o.existing_depots:
            people = math.floor(0.3 * capacity / mix.volume_per_person)
            doc["existing_stock"] = {c[0]: float(people * c[1]) for c in mix.catalogue}
            doc["existing"] = True
            costs.append((0.7 * capacity * cost_per_volume,))  # built, and 30% filled
        else:
            costs.append((fixed_cost, 1.0 * capacity * cost_per_volume))
        docs.append(doc)
    return docs, costs


def _shelters(network: RoadNetwork, sites: tuple[ShelterSite, ...], o: Assembly,
              rng: np.random.Generator) -> tuple[list[dict[str, Any]], list[tuple[float, ...]]]:
    """The shelters' entries, and each one's cost terms (opening, modules)."""
    people = float(network.population.sum())
    docs, costs = [], []
    for h, site in enumerate(sites):
        capacity = float(site.capacity if site.capacity is not None else
                         _shelter_places(people, len(sites), rng))
        module_size = float(max(5, round(max(capacity, 10.0) * rng.uniform(0.2, 0.4))))
        max_modules = int(rng.integers(1, 5))
        fixed_cost = float(round(capacity * rng.uniform(40.0, 80.0)))
        module_cost = float(round(module_size * rng.uniform(30.0, 60.0)))
        doc: dict[str, Any] = {
            "id": site.id,
            "node": network.node_ids[site.node],
            "fixed_cost": fixed_cost * o.money_scale,
            "capacity": capacity,
            "module_size": module_size,
            "module_cost": module_cost * o.money_scale,
            "max_modules": max_modules,
        }
        if h < o.existing_shelters:
            doc["existing"] = True
            costs.append((max_modules * module_cost,))
        else:
            costs.append((fixed_cost, max_modules * module_cost))
        docs.append(doc)
    return docs, costs


def _money(exposure: np.ndarray, costs: list[tuple[float, ...]], o: Assembly
           ) -> tuple[float, float]:
    """The compensation pool's bound and the budget, before ``o.money_scale``."""
    # A pool that could cover a tenth of all exposure: enough to matter, never all losses.
    max_pool = float(round(0.1 * float(exposure.sum())))
    full_cost = _total_cost([*costs, (max_pool,)], by_term=o.conventions.costs_by_term)
    return max_pool, float(round(o.budget_share * full_cost))


def _total_cost(costs: Sequence[tuple[float, ...]], *, by_term: bool) -> float:
    """The cost of everything: each tuple's terms added one at a time, or their sum added.

    Float addition is not associative, so the two can differ in the last bit
    (:class:`Conventions`).
    """
    total = 0.0
    for first, *rest in costs:
        if by_term:
            total += first
            for term in rest:
                total += term
        else:
            subtotal = first
            for term in rest:
                subtotal += term
            total += subtotal
    return total


def _round_up(value: float, digits: int, slack: float) -> float:
    """Round up, so that a reach computed to include a pair still includes it in the file.

    ``slack`` is float noise forgiven first (:class:`Conventions`).
    """
    scale = 10.0**digits
    return math.ceil(value * scale - slack) / scale


def _policy(network: RoadNetwork, distances: np.ndarray, diameter: float, shelters: list[int],
            o: Assembly) -> dict[str, Any]:
    """The ``policy`` entry. The reaches are a share of the diameter unless the options fix
    them; the evacuation reach is raised until every populated node has ``o.redundancy``
    shelters within it."""
    slack = o.conventions.reach_slack
    share = _round_up(o.reach_share * diameter, o.digits, slack)
    supply = share if o.supply_reach is None else o.supply_reach
    evacuation = share if o.evacuation_reach is None else o.evacuation_reach
    if o.redundancy > 0:
        # The r-th nearest shelter of every populated zone must be within reach.
        to_shelters = np.sort(distances[:, shelters], axis=1)[:, o.redundancy - 1]
        populated = network.population > 0
        needed = float(to_shelters[populated].max()) if populated.any() else 0.0
        if not math.isfinite(needed):  # pragma: no cover - the sources connect the network
            raise ValueError("the generated network is not connected")
        evacuation = max(evacuation, _round_up(needed + 10.0**-o.digits, o.digits, slack))
    return {"supply_reach": supply, "evacuation_reach": evacuation,
            "shelter_redundancy": o.redundancy, "integer_stock": True}


def _network_doc(network: RoadNetwork, exposure: np.ndarray, o: Assembly) -> dict[str, Any]:
    """The ``network`` entry: nodes with people and exposure, roads, and the crs if any."""
    nodes = []
    for i in range(network.num_nodes):
        doc: dict[str, Any] = {"id": network.node_ids[i]}
        if network.x is not None and network.y is not None:
            doc["x"] = round(float(network.x[i]), o.digits)
            doc["y"] = round(float(network.y[i]), o.digits)
        doc["population"] = float(network.population[i])
        doc["economic_exposure"] = float(exposure[i]) * o.money_scale
        nodes.append(doc)
    edges = [{"id": network.edge_ids[j], "from": network.node_ids[network.edge_from[j]],
              "to": network.node_ids[network.edge_to[j]],
              "length": round(float(network.edge_length[j]), o.digits)}
             for j in range(network.num_edges)]
    return {"nodes": nodes, "edges": edges, **({"crs": o.crs} if o.crs is not None else {})}


__all__ = [
    "COMMODITIES",
    "IMPORTED",
    "SYNTHETIC",
    "Assembled",
    "Assembly",
    "Commodity",
    "Conventions",
    "Scattered",
    "ShelterSite",
    "Spread",
    "assemble",
]
