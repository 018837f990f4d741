"""The ``hazard_zones`` generator: one scenario per polygon (flood zones and the like, inline
GeoJSON or a file next to the instance), and the GeoJSON reading it needs.

The spec is ``HazardZones`` in ``optimizer.instance.schema``; the files are read by
``optimizer.instance.reading``, which passes its reader in through ``Place.read_geojson``.
"""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry import shape as geojson_shape

from optimizer.generators.common import (
    NetworkView,
    Place,
    losses,
    make_scenario,
    shared_probability,
)
from optimizer.instance.checks import generated_ids
from optimizer.instance.schema import HazardZone, HazardZones, InstanceFile, Scenario


class GeoError(Exception):
    """A GeoJSON problem at a path inside the GeoJSON document."""

    def __init__(self, inner: str, message: str) -> None:
        super().__init__(message)
        self.inner = inner
        self.message = message


POLYGONAL = ("Polygon", "MultiPolygon")


# A collection's type -> the array of its members.
_MEMBERS = {"FeatureCollection": "features", "GeometryCollection": "geometries"}


def _geometries(doc: Any, inner: str = "") -> list[tuple[str, Any]]:
    """(inner path, geometry object) of every geometry in a geometry, Feature or collection."""
    if not isinstance(doc, dict):
        raise GeoError(inner, "must be a GeoJSON object (a geometry, Feature or "
                       "FeatureCollection)")
    kind = doc.get("type")
    if kind in _MEMBERS:
        key = _MEMBERS[kind]
        members = doc.get(key)
        if not isinstance(members, list):
            raise GeoError(inner, f"a {kind} needs a {key} array")
        found = []
        for k, member in enumerate(members):
            found += _geometries(member, f"{inner}.{key}[{k}]")
        return found
    if kind == "Feature":
        geometry = doc.get("geometry")
        return [] if geometry is None else _geometries(geometry, f"{inner}.geometry")
    if kind in POLYGONAL:
        return [(inner, doc)]
    raise GeoError(inner, f"type {kind!r} is not a polygon; a hazard zone is made of "
                   "Polygon or MultiPolygon geometries")


def geojson_polygon(doc: Any) -> shapely.Geometry:
    """The union of the polygons in a GeoJSON geometry, Feature or FeatureCollection.

    Invalid rings (self-crossing, wrongly wound) are repaired with ``make_valid``.

    Raises
    ------
    GeoError
        With the path inside the document of what is wrong.
    """
    polygons = []
    for inner, geometry in _geometries(doc):
        try:
            shape = geojson_shape(geometry)
        except Exception as exc:  # shapely raises several kinds for malformed coordinates
            raise GeoError(inner, f"not a valid {geometry.get('type')}: {exc}") from None
        if not shape.is_valid:
            shape = shapely.make_valid(shape)
        polygons += [p for p in shapely.get_parts(shape)
                     if p.geom_type in POLYGONAL and not p.is_empty]
    if not polygons:
        raise GeoError("", "holds no polygon")
    return shapely.union_all(polygons)


def _zone_polygon(zone: HazardZone, j: int, place: Place) -> tuple[shapely.Geometry, str]:
    at = f".zones[{j}]"
    if zone.geometry is not None:
        try:
            return geojson_polygon(zone.geometry), "inline"
        except GeoError as exc:
            raise place.error(exc.message, f"{at}.geometry{exc.inner}") from None
    assert zone.geojson is not None
    if place.read_geojson is None:
        raise place.error("a geojson path needs the instance file's folder; load the file "
                          "from disk", f"{at}.geojson")
    doc = place.read_geojson(zone.geojson, f"{place.at}{at}.geojson")
    try:
        return geojson_polygon(doc), zone.geojson
    except GeoError as exc:
        where = exc.inner.lstrip(".") or "the document"
        raise place.error(f"{zone.geojson}: {where}: {exc.message}", f"{at}.geojson") from None


def generate(g: HazardZones, f: InstanceFile, net: NetworkView,
             place: Place) -> list[Scenario]:
    """One scenario per polygon: roads crossing it fail, facilities and zones inside suffer.

    A road fails when its straight segment touches the polygon; a node is inside when it
    lies in the polygon or on its boundary.
    """
    if net.xy is None:
        raise place.error("hazard_zones needs x and y on every node")
    probability = shared_probability(g, len(g.zones))
    ids = generated_ids(g)
    tree = net.segments()
    scenarios = []
    for j, zone in enumerate(g.zones):
        polygon, source = _zone_polygon(zone, j, place)
        shapely.prepare(polygon)
        failed = sorted(int(k) for k in tree.query(polygon, predicate="intersects"))
        inside = shapely.intersects_xy(polygon, net.xy[:, 0], net.xy[:, 1]).astype(float)
        scenarios.append(make_scenario(
            g, place, ids[j], probability, net, failed,
            *losses(net, inside, zone.facility_loss, zone.affected),
            {"zone": zone.id, "source": source}))
    return scenarios
