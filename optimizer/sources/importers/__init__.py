"""What the importers of real road networks share, besides the network and the assembler.

An importer (:mod:`optimizer.sources.importers.tntp` for the TransportationNetworks format,
:mod:`optimizer.sources.importers.city` for a city's open GIS data) reads its files into a
:class:`~optimizer.sources.network.RoadNetwork` and hands it to
:func:`optimizer.sources.assemble.assemble`. Here: the local projection of longitude and
latitude, the synthetic hazards scaled to a real network, whole-people apportionment and the
compact JSON the importers write. Only the importers read files; this module works on data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.sources.network import RoadNetwork, network_extent
from optimizer.sources.synthetic import HAZARD, hazard_generator

# Mean Earth radius (IUGG), metres: the scale of the local projection.
EARTH_RADIUS = 6_371_008.8
# Hazard radius range as shares of the network's extent: the synthetic hazards' radii,
# which are shares of the unit square.
RADIUS_SHARE: tuple[float, float] = (float(HAZARD["radius"][0]), float(HAZARD["radius"][1]))
# Width of the instance JSON: containers that fit on a line stay on one line.
LINE_WIDTH = 100


@dataclass(frozen=True)
class LocalProjection:
    """Longitude/latitude (degrees) to metres east and north of a centre.

    Equirectangular around the centre: x = R (lon - lon0) cos(lat0), y = R (lat - lat0),
    with lon, lat in radians and R the mean Earth radius. Over a city (a few km) its
    distances are within about 0.1% of the geodesic ones, well inside the precision of a
    street centre line.
    """

    lon0: float
    lat0: float

    @classmethod
    def around(cls, lon: np.ndarray, lat: np.ndarray, digits: int = 6) -> LocalProjection:
        """Centred on the middle of the bounding box, rounded to ``digits`` decimals."""
        return cls(round(float((np.min(lon) + np.max(lon)) / 2), digits),
                   round(float((np.min(lat) + np.max(lat)) / 2), digits))

    def __call__(self, lon: np.ndarray | float, lat: np.ndarray | float
                 ) -> tuple[np.ndarray, np.ndarray]:
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        x = EARTH_RADIUS * np.radians(lon - self.lon0) * math.cos(math.radians(self.lat0))
        y = EARTH_RADIUS * np.radians(lat - self.lat0)
        return x, y

    def crs(self) -> dict[str, Any]:
        """The instance's ``network.crs`` for coordinates this projection made."""
        return {"projection": "equirectangular", "lon0": self.lon0, "lat0": self.lat0,
                "radius": EARTH_RADIUS}

    def describe(self) -> str:
        return (f"local equirectangular projection around longitude {self.lon0:.6f}, "
                f"latitude {self.lat0:.6f} (x = R (lon - lon0) cos lat0, y = R (lat - lat0), "
                f"R = {EARTH_RADIUS:.1f} m)")


def significant(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits (radii and reaches read better)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(round(value, digits - 1 - math.floor(math.log10(abs(value)))))


def hazard_footprint(network: RoadNetwork, count: int, seed: int, *,
                     extent: float | None = None) -> dict[str, Any]:
    """A ``hazard_footprint`` generator entry: the synthetic instances' hazards
    (:func:`optimizer.sources.synthetic.hazard_generator`: epicentres at zones drawn by population,
    fragility, losses and rates) with their radii, shares of the unit square there, taken as
    shares of this network's extent (``extent``, or :func:`network_extent`: without
    coordinates an all-pairs search, so a caller that needs it too passes it in)."""
    entry = hazard_generator(count, seed)
    if extent is None:
        extent = network_extent(network)
    entry["radius"] = [significant(share * extent) for share in RADIUS_SHARE]
    return entry


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Whole numbers proportional to ``weights`` that add up to ``total`` exactly.

    Largest remainders (Hamilton's method), ties to the lowest index, so the result is
    deterministic and never off by a person.
    """
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights))
    exact = total * weights / weights.sum()
    whole = np.floor(exact)
    short = round(total - whole.sum())
    order = np.lexsort((np.arange(len(weights)), -(exact - whole)))
    whole[order[:short]] += 1
    return whole


def dumps_instance(document: dict[str, Any]) -> str:
    """An instance as JSON text: indented, but every object or array that fits in
    :data:`LINE_WIDTH` characters on one line (a node, a road, a coordinate pair) stays on
    one. Real networks have thousands of nodes and polygons thousands of vertices; one line
    each keeps the file small and its diffs readable. Keys keep their order, so the same
    dict always gives the same bytes."""
    return _render(document, 0) + "\n"


def _render(value: Any, level: int, prefix: int = 0) -> str:
    compact = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    if not isinstance(value, dict | list) or not value or \
            2 * level + prefix + len(compact) <= LINE_WIDTH:
        return compact
    pad = "  " * (level + 1)
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            head = json.dumps(key, ensure_ascii=False) + ": "
            items.append(pad + head + _render(item, level + 1, len(head)))
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    return "[\n" + ",\n".join(pad + _render(item, level + 1) for item in value) + "\n" + \
        "  " * level + "]"


__all__ = [
    "LocalProjection",
    "apportion",
    "dumps_instance",
    "hazard_footprint",
]
