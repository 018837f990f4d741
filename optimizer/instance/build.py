"""A checked instance file without generators -> the indexed arrays the engine works on.

The last step of the instance boundary (schema -> checks -> build): every default applied,
every id turned into a position. Generators are expanded before this (optimizer.generators,
called by optimizer.instance.reading), and a generator may build the instance it searches
(the targeted one), so this module imports neither.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimizer.instance import data
from optimizer.instance.checks import edge_id, file_warnings
from optimizer.instance.schema import InstanceFile, Scenario


def build(f: InstanceFile, *, source: str = "<memory>", sha256: str = "",
          default_name: str = "instance") -> data.Instance:
    """Turn a checked file model, its scenario generators already expanded, into indexed
    arrays, applying every default."""
    assert not f.scenario_generators, "expand the scenario generators first"
    index = _Index.of(f)
    network = _network(f, index)
    commodities = tuple(
        data.Commodity(c.id, c.per_capita_need, c.unit_volume, c.weight) for c in f.commodities
    )
    depots = tuple(
        data.Depot(
            id=d.id, node=index.node[d.node], fixed_cost=d.fixed_cost, capacity=d.capacity,
            unit_cost=tuple(d.unit_cost.get(c.id, 0.0) for c in commodities),
            existing_stock=tuple(d.existing_stock.get(c.id, 0.0) for c in commodities),
            existing=d.existing,
        )
        for d in f.depots
    )
    shelters = tuple(
        data.Shelter(h.id, index.node[h.node], h.fixed_cost, h.capacity, h.module_size,
                     h.module_cost, h.max_modules, h.existing)
        for h in f.shelters
    )
    w = f.resilience.weights
    w_total = w.supply + w.shelter + w.economic
    weights = data.Weights(w.supply / w_total, w.shelter / w_total, w.economic / w_total)

    def reach(value: float | None) -> float:
        return math.inf if value is None else value

    return data.Instance(
        name=f.name or default_name,
        description=f.description,
        source=source,
        sha256=sha256,
        network=network,
        commodities=commodities,
        depots=depots,
        shelters=shelters,
        max_pool=f.compensation.max_pool,
        budget=f.budget,
        policy=data.Policy(reach(f.policy.supply_reach), reach(f.policy.evacuation_reach),
                           f.policy.shelter_redundancy, f.policy.integer_stock),
        weights=weights,
        objective=data.Objective(f.objective.kind, f.objective.alpha, f.objective.target),
        scenarios=_scenarios(f, index, network, commodities),
        warnings=tuple(file_warnings(f)),
        currency=f.currency,
        recovery=_recovery_policy(f, index.edge),
    )


@dataclass(frozen=True)
class _Index:
    """Each id of the file -> its position."""

    node: dict[str, int]
    commodity: dict[str, int]
    depot: dict[str, int]
    shelter: dict[str, int]
    edge: dict[str, int]

    @staticmethod
    def of(f: InstanceFile) -> _Index:
        return _Index(node={n.id: i for i, n in enumerate(f.network.nodes)},
                      commodity={c.id: k for k, c in enumerate(f.commodities)},
                      depot={d.id: j for j, d in enumerate(f.depots)},
                      shelter={h.id: j for j, h in enumerate(f.shelters)},
                      edge={edge_id(e): j for j, e in enumerate(f.network.edges)})


def _network(f: InstanceFile, index: _Index) -> data.Network:
    nodes, edges, node = f.network.nodes, f.network.edges, index.node
    has_xy = all(n.x is not None and n.y is not None for n in nodes)
    crs = f.network.crs
    return data.Network(
        node_ids=tuple(node),
        population=np.array([n.population for n in nodes], dtype=float),
        exposure=np.array([n.economic_exposure for n in nodes], dtype=float),
        edge_ids=tuple(index.edge),
        edge_from=np.array([node[e.from_] for e in edges], dtype=np.int64),
        edge_to=np.array([node[e.to] for e in edges], dtype=np.int64),
        edge_length=np.array([e.length for e in edges], dtype=float),
        x=np.array([n.x for n in nodes], dtype=float) if has_xy else None,
        y=np.array([n.y for n in nodes], dtype=float) if has_xy else None,
        crs=None if crs is None else data.Crs(crs.epsg, crs.projection, crs.lon0, crs.lat0,
                                              crs.radius),
    )


def _scenarios(f: InstanceFile, index: _Index, network: data.Network,
               commodities: tuple[data.Commodity, ...]) -> tuple[data.Scenario, ...]:
    """Each scenario with its defaults applied: need, evacuees and losses from the people
    affected unless given, failed roads including those at failed nodes."""
    if all(s.probability is None for s in f.scenarios):
        probabilities = [1.0 / len(f.scenarios)] * len(f.scenarios)
    else:
        total = sum(s.probability or 0.0 for s in f.scenarios)
        probabilities = [(s.probability or 0.0) / total for s in f.scenarios]
    per_capita = np.array([c.per_capita_need for c in commodities])
    return tuple(_scenario(s, p, index, network, per_capita)
                 for s, p in zip(f.scenarios, probabilities, strict=True))


def _scenario(s: Scenario, p: float, index: _Index, network: data.Network,
              per_capita: np.ndarray) -> data.Scenario:
    node = index.node
    affected = np.zeros(network.num_nodes)
    for zone, fraction in s.affected.items():
        affected[node[zone]] = fraction
    people = affected * network.population
    need = np.outer(people, per_capita)
    for zone, by_commodity in (s.need or {}).items():
        for k, units in by_commodity.items():
            need[node[zone], index.commodity[k]] = units
    evacuees = people * s.evacuation_rate
    for zone, value in (s.evacuees or {}).items():
        evacuees[node[zone]] = value
    loss = affected * network.exposure * s.economic_loss_rate
    for zone, value in (s.economic_loss or {}).items():
        loss[node[zone]] = value
    failed_nodes = {node[n] for n in s.failed_nodes}
    failed = {index.edge[e] for e in s.failed_edges}
    failed |= {j for j in range(network.num_edges)
               if network.edge_from[j] in failed_nodes or network.edge_to[j] in failed_nodes}
    depot_loss = np.zeros(len(index.depot))
    for d_id, fraction in s.depot_loss.items():
        depot_loss[index.depot[d_id]] = fraction
    shelter_loss = np.zeros(len(index.shelter))
    for h_id, fraction in s.shelter_loss.items():
        shelter_loss[index.shelter[h_id]] = fraction
    return data.Scenario(
        id=s.id, probability=p, failed_edges=tuple(sorted(failed)),
        depot_loss=depot_loss, shelter_loss=shelter_loss,
        need=need, evacuees=evacuees, economic_loss=loss,
    )


def _recovery_policy(f: InstanceFile, edge_index: dict[str, int]) -> data.RecoveryPolicy:
    """Crews, repair times and the priority roads: those listed by id, and every road at a
    listed node (an id that names both a road and a node counts as both)."""
    edges = f.network.edges
    times = tuple(e.repair_time for e in edges)
    named = set(f.recovery.priority)
    first = sorted({j for ref, j in edge_index.items() if ref in named}
                   | {j for j, e in enumerate(edges) if e.from_ in named or e.to in named})
    return data.RecoveryPolicy(
        crews=f.recovery.crews,
        repair_time=times if any(t != 1 for t in times) else (),
        priority=tuple(first),
    )
