"""GeoJSON for GIS tools: zones, roads, depots and shelters with what the plan puts there.

One FeatureCollection. Every feature has ``kind`` (``zone``, ``road``, ``depot`` or
``shelter``) and ``id``; properties are flat (one value each) so that any GIS tool can
style and label by them:

- zone (Point): ``population``; in the worst scenario (``scenario``): ``unmet_<commodity>``
  units not delivered and ``unsheltered`` people; over all scenarios: the largest
  ``max_unmet_<commodity>`` and ``max_unsheltered``.
- road (LineString): ``length``, ``cut_in_worst_scenario``.
- depot (Point): ``node``, ``open``, ``existing``, ``bought_<commodity>`` (units the plan
  buys), ``on_hand_<commodity>`` (with existing stock), ``loss_in_worst_scenario``.
- shelter (Point): ``node``, ``open``, ``existing``, ``capacity`` (places under the plan),
  ``modules``, ``loss_in_worst_scenario``.

Coordinates are longitude and latitude (WGS84), as RFC 7946 requires: the instance's ``x``
and ``y`` transformed from its ``network.crs`` by pyproj (``optimizer.geo``). An instance
without a CRS is refused, since GIS tools would read metres as degrees and put the city off
the planet; only on request (``local=True``, ``report --local-coordinates``) are ``x`` and
``y`` written as they are, under a ``crs`` member named ``local`` that says so (GeoJSON 2008
style; RFC 7946 readers ignore it). The collection also carries a ``resilience`` member with
the result's worst-case, expected and CVaR values and the worst scenario, and ``crs_source``,
the CRS the coordinates came from.

Where to look next: :func:`optimizer.report.render_report` calls :func:`geojson` with the
:class:`optimizer.report.facts.Facts` of a result; :mod:`optimizer.geo` does the transform.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from optimizer import geo
from optimizer.errors import UsageError
from optimizer.report.facts import Facts

if TYPE_CHECKING:
    from optimizer.instance.data import Instance

# RFC 7946 section 11.2: six decimals of a degree are about 10 cm, finer than any input.
DEGREE_DIGITS = 7


def _point(x: float, y: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [float(x), float(y)]}


def _feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def geojson(facts: Facts, *, local: bool = False) -> str:
    """The GeoJSON text; raises :class:`UsageError` without an instance with coordinates, or
    with coordinates of an unknown CRS unless ``local`` (module docstring)."""
    instance = facts.instance
    if instance is None:
        raise UsageError("GeoJSON needs the instance for the positions of zones and "
                         "facilities: give --instance INSTANCE")
    xs, ys, crs_member = _coordinates(instance, local)
    features = (_zone_features(facts, instance, xs, ys) + _road_features(facts, instance, xs, ys)
                + _facility_features(facts, instance, xs, ys))
    res = facts.result.resilience
    collection = {
        "type": "FeatureCollection",
        "name": facts.result.instance.name,
        **crs_member,
        "resilience": {"worst_case": res.worst_case, "expected": res.expected,
                       "cvar": {"alpha": res.cvar.alpha, "value": res.cvar.value},
                       "worst_scenario": facts.worst.id},
        "features": features,
    }
    return json.dumps(collection, indent=1, allow_nan=False) + "\n"


def _coordinates(instance: Instance, local: bool) -> tuple[list[float], list[float],
                                                           dict[str, Any]]:
    """Every node's x and y as written (longitude and latitude, or with ``local`` the
    instance's own for an instance without a CRS), and the collection's CRS members."""
    net = instance.network
    if net.x is None or net.y is None:
        raise UsageError(f"{instance.source}: GeoJSON needs coordinates, and not every node "
                         "has them; give network.nodes[].x and .y for every node")
    if net.crs is not None:
        lon, lat = geo.to_lonlat(net.crs, net.x, net.y)
        xs = [round(v, DEGREE_DIGITS) for v in lon.tolist()]
        ys = [round(v, DEGREE_DIGITS) for v in lat.tolist()]
        return xs, ys, {"crs_source": geo.describe(net.crs)}
    if local:
        return net.x.tolist(), net.y.tolist(), {
            "crs": {"type": "name", "properties": {"name": "local"}},
            "crs_source": "the instance's x and y, in a coordinate system it does "
                          "not name (not longitude and latitude)"}
    raise UsageError(f"{instance.source}: network.crs is not given, so where x and y lie "
                     "on the Earth is unknown and GeoJSON (longitude and latitude) would "
                     "misplace everything; add network.crs to the instance (an EPSG code, "
                     "or a local projection with its origin), or give "
                     "--local-coordinates to write x and y as they are")


def _largest_unmet(facts: Facts, instance: Instance) -> dict[str, dict[str, float]]:
    """Per zone, the most of each commodity (and of people, ``people``) left unmet in any
    scenario."""
    ks = facts.commodities
    largest: dict[str, dict[str, float]] = {z: dict.fromkeys([*ks, "people"], 0.0)
                                            for z in instance.network.node_ids}
    for s in facts.result.scenarios:
        for zone, need in s.unmet.need.items():
            for k, units in need.items():
                if zone in largest and k in largest[zone]:
                    largest[zone][k] = max(largest[zone][k], units)
        for zone, people in s.unmet.evacuees.items():
            if zone in largest:
                largest[zone]["people"] = max(largest[zone]["people"], people)
    return largest


def _zone_features(facts: Facts, instance: Instance, xs: list[float],
                   ys: list[float]) -> list[dict[str, Any]]:
    """Every zone: population, what is unmet in the worst scenario, the most in any."""
    net = instance.network
    ks = facts.commodities
    worst = facts.worst
    largest = _largest_unmet(facts, instance)
    features = []
    for i, zone in enumerate(net.node_ids):
        need = worst.unmet.need.get(zone, {})
        features.append(_feature(_point(xs[i], ys[i]), {
            "kind": "zone", "id": zone, "population": float(net.population[i]),
            "scenario": worst.id,
            **{f"unmet_{k}": float(need.get(k, 0.0)) for k in ks},
            "unsheltered": float(worst.unmet.evacuees.get(zone, 0.0)),
            **{f"max_unmet_{k}": largest[zone][k] for k in ks},
            "max_unsheltered": largest[zone]["people"],
        }))
    return features


def _road_features(facts: Facts, instance: Instance, xs: list[float],
                   ys: list[float]) -> list[dict[str, Any]]:
    """Every road: its length and whether the worst scenario cuts it."""
    net = instance.network
    cut = set(facts.failed_roads or ())
    features = []
    for j, road in enumerate(net.edge_ids):
        u, v = int(net.edge_from[j]), int(net.edge_to[j])
        features.append(_feature(
            {"type": "LineString", "coordinates": [[xs[u], ys[u]], [xs[v], ys[v]]]},
            {"kind": "road", "id": road, "length": float(net.edge_length[j]),
             "cut_in_worst_scenario": road in cut}))
    return features


def _facility_features(facts: Facts, instance: Instance, xs: list[float],
                       ys: list[float]) -> list[dict[str, Any]]:
    """Every depot and shelter at a known node, with what the plan puts there."""
    index = {node: i for i, node in enumerate(instance.network.node_ids)}
    ks = facts.commodities
    features = []
    for f in facts.facilities:
        if f.node is None or f.node not in index:
            continue
        i = index[f.node]
        props: dict[str, Any] = {"kind": f.kind, "id": f.id, "node": f.node, "open": f.open,
                                 "existing": f.existing}
        if f.kind == "depot":
            props.update({f"bought_{k}": float(f.bought.get(k, 0.0)) for k in ks})
            props.update({f"on_hand_{k}": float((f.on_hand or {}).get(k, 0.0)) for k in ks})
        else:
            props.update({"capacity": float(f.capacity), "modules": int(f.modules)})
        props["loss_in_worst_scenario"] = f.loss_in_worst
        features.append(_feature(_point(xs[i], ys[i]), props))
    return features
