"""Where an instance's coordinates lie on the Earth: its ``network.crs`` and the transform
of its ``x`` and ``y`` to longitude and latitude (WGS84, as RFC 7946 GeoJSON wants).

pyproj does the transforms (PROJ's definitions, not hand-written formulas); it is imported
only when a transform or an EPSG check is asked for, so reading an instance without a CRS
never loads it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optimizer.instance.data import Crs

WGS84 = "EPSG:4326"


def proj_definition(crs: Crs) -> str:
    """The CRS as PROJ understands it: ``EPSG:n``, or the local projection as a PROJ string.

    The local projection is the importers' equirectangular one (``x = R (lon - lon0) cos
    lat0``, ``y = R (lat - lat0)`` on a sphere of radius R): PROJ's ``eqc`` with the true
    scale latitude and the origin both at ``lat0``.
    """
    if crs.epsg is not None:
        return f"EPSG:{crs.epsg}"
    return (f"+proj=eqc +lat_ts={crs.lat0!r} +lat_0={crs.lat0!r} +lon_0={crs.lon0!r} "
            f"+R={crs.radius!r} +units=m +no_defs +type=crs")


def describe(crs: Crs) -> str:
    """The CRS in words, for messages and the GeoJSON ``crs_source`` member."""
    if crs.epsg is not None:
        return f"EPSG:{crs.epsg}"
    return (f"local equirectangular projection around longitude {crs.lon0:g}, latitude "
            f"{crs.lat0:g} (metres, sphere of radius {crs.radius:g} m)")


def epsg_problem(code: int) -> str | None:
    """Why ``code`` cannot be used (unknown to PROJ, or not a 2-D coordinate system), or None."""
    import pyproj
    from pyproj.exceptions import CRSError

    try:
        found = pyproj.CRS.from_epsg(code)
    except CRSError:
        return f"EPSG:{code} is not a coordinate reference system PROJ knows"
    if found.is_vertical or not (found.is_geographic or found.is_projected):
        return f"EPSG:{code} ({found.name}) is not a horizontal coordinate system"
    return None


def to_lonlat(crs: Crs, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (degrees, WGS84) of points given in ``crs``.

    ``always_xy`` keeps x first whatever the CRS's official axis order (EPSG:4326 is
    latitude first on paper; instances write longitude as ``x``).
    """
    import pyproj

    transformer = pyproj.Transformer.from_crs(proj_definition(crs), WGS84, always_xy=True)
    lon, lat = transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def as_json(crs: Crs) -> dict[str, Any]:
    """The ``network.crs`` object of an instance file for ``crs``."""
    if crs.epsg is not None:
        return {"epsg": crs.epsg}
    return {"projection": crs.projection, "lon0": crs.lon0, "lat0": crs.lat0,
            "radius": crs.radius}
