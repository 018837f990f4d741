"""The ``hazard_footprint`` generator: circular hazards (or, without coordinates, balls in
the road network) of random epicentre and radius, damage falling with distance.

The fragility curve that prices a road's failure is ``common.failure_probability``; the
spec is ``HazardFootprint`` in ``optimizer.instance.schema``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.generators.common import (
    NetworkView,
    Place,
    failure_probability,
    losses,
    make_scenario,
    shared_probability,
    streams,
)
from optimizer.instance.checks import generated_ids
from optimizer.instance.schema import HazardFootprint, InstanceFile, Scenario


def generate(g: HazardFootprint, f: InstanceFile, net: NetworkView,
             place: Place) -> list[Scenario]:
    """Circles (or graph balls) of random centre and radius; damage falls with distance.

    A road fails with the fragility curve's probability of its midpoint's distance, in
    shares of the radius; roads whose midpoint lies outside the radius never fail.
    Facilities and zones inside lose ``facility_loss`` and ``affected`` times
    ``1 - distance / radius``.
    """
    epicentres = _Epicentres.of(g, net, place)
    ids = generated_ids(g)
    probability = shared_probability(g, g.count)
    scenarios = []
    for index, rng in enumerate(streams(g.seed, g.count), start=1):
        # Each scenario's stream is read in one order (epicentre, radius, one draw per road),
        # so that a scenario depends on (seed, index) alone.
        origin: dict[str, Any] = {"seed": g.seed, "index": index, "epicentres": g.epicentres}
        node_d, edge_d = epicentres.draw(rng, origin)
        radius = float(rng.uniform(g.radius[0], g.radius[1]))
        origin["radius"] = radius
        failed, node_share = _damage(g, net, rng, radius, node_d, edge_d)
        scenarios.append(make_scenario(
            g, place, ids[index - 1], probability, net, failed,
            *losses(net, node_share, g.facility_loss, g.affected), origin))
    return scenarios


@dataclass(frozen=True)
class _Epicentres:
    """How one generator draws its epicentres on one network: a point of the nodes' bounding
    box (uniform) or a node weighted by population; euclidean distances with coordinates,
    shortest-path lengths without."""

    net: NetworkView
    weights: np.ndarray | None  # (N,) by population; None: uniform
    low: np.ndarray | None  # (2,) the nodes' bounding box, with coordinates
    high: np.ndarray | None
    mid: np.ndarray | None  # (E, 2) the roads' midpoints, with coordinates

    @classmethod
    def of(cls, g: HazardFootprint, net: NetworkView, place: Place) -> _Epicentres:
        population = net.population
        with np.errstate(over="ignore"):  # populations near the float limit overflow their sum
            if not np.isfinite(population.sum()):
                population = population / population.max()
        total_pop = float(population.sum())
        weights = (population / total_pop
                   if g.epicentres == "population" and total_pop > 0 else None)
        if net.xy is None:
            return cls(net, weights, None, None, None)
        low, high = net.xy.min(axis=0), net.xy.max(axis=0)
        with np.errstate(over="ignore"):
            span = high - low
        if weights is None and not np.isfinite(span).all():
            raise place.error("the nodes' coordinates span more than 1.8e308, too far to draw "
                              "epicentres between them; scale them down", ".epicentres")
        return cls(net, weights, low, high, (net.xy[net.u] + net.xy[net.v]) / 2)

    def draw(self, rng: np.random.Generator, origin: dict[str, Any]
             ) -> tuple[np.ndarray, np.ndarray]:
        """An epicentre, recorded in ``origin``, and the distances from it to every node
        (N,) and to every road's midpoint (E,)."""
        net = self.net
        if net.xy is None:
            node = int(rng.choice(net.num_nodes, p=self.weights))
            origin["epicentre"] = net.node_ids[node]
            origin["distance"] = "network"
            node_d = net.distances_from(node)
            # The nearer end plus half the road: the network distance to its midpoint.
            return node_d, np.minimum(node_d[net.u], node_d[net.v]) + net.length / 2
        assert self.low is not None and self.high is not None and self.mid is not None
        if self.weights is None:
            centre = np.array([rng.uniform(self.low[0], self.high[0]),
                               rng.uniform(self.low[1], self.high[1])])
        else:
            node = int(rng.choice(net.num_nodes, p=self.weights))
            centre = net.xy[node]
            origin["epicentre_node"] = net.node_ids[node]
        origin["epicentre"] = [float(centre[0]), float(centre[1])]
        origin["distance"] = "euclidean"
        node_d = np.hypot(net.xy[:, 0] - centre[0], net.xy[:, 1] - centre[1])
        edge_d = np.hypot(self.mid[:, 0] - centre[0], self.mid[:, 1] - centre[1])
        return node_d, edge_d


def _damage(g: HazardFootprint, net: NetworkView, rng: np.random.Generator, radius: float,
            node_d: np.ndarray, edge_d: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The roads that fail (indices) and each node's share of the damage, (N,)."""
    # One draw per road whatever the radius, so the stream is the same shape every time.
    draws = rng.random(len(net.edge_ids))
    p = np.zeros(len(net.edge_ids))
    node_share = np.zeros(net.num_nodes)
    if radius > 0:  # a footprint of no size touches nothing
        edge_share = edge_d / radius
        inside = np.flatnonzero(edge_share < 1)
        p[inside] = failure_probability(edge_share[inside], g.fragility)
        node_share = np.clip(1.0 - node_d / radius, 0.0, 1.0)
    return np.flatnonzero(draws < p).tolist(), node_share
