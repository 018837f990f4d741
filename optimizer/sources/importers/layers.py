"""GIS layers in any format and coordinate system, as GeoJSON in longitude and latitude.

The city importer works on RFC 7946 GeoJSON (WGS84 longitude/latitude). A city's data often
come as a Shapefile, a GeoPackage or a File Geodatabase in state-plane feet; with the
optional ``gis`` extra (``pip install 'community-resilience[gis]'``, which brings pyogrio,
GDAL's reader) :func:`read_layer` reads any of them and reprojects every geometry to
longitude/latitude with pyproj, so the importer sees what it sees for GeoJSON. A ``.geojson``
or ``.json`` file is read as JSON without the extra, as before.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.errors import InputError, Problem

JSON_SUFFIXES = (".geojson", ".json")
GIS_EXTRA = "pip install 'community-resilience[gis]'"


def _plain(value: Any) -> Any:
    """A field value as JSON has it: numpy scalars unwrapped, NaN and NaT missing."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is not None and not isinstance(value, str | int | float | bool):
        return str(value)
    return value


def read_layer(path: str | Path, read_json: Any) -> dict[str, Any]:
    """The layer at ``path`` as a GeoJSON FeatureCollection in longitude/latitude.

    ``read_json`` reads a GeoJSON file (the importer's own reader, with its messages).

    Raises
    ------
    InputError
        The file cannot be read, has no coordinate system while not being longitude and
        latitude, or needs the ``gis`` extra that is not installed.
    """
    path = Path(path)
    if path.suffix.lower() in JSON_SUFFIXES:
        return read_json(path)
    try:
        from pyogrio import raw
        from pyogrio.errors import DataLayerError, DataSourceError
    except ImportError:
        raise InputError(path, [Problem("", f"reading {path.suffix or 'this'} files needs "
                                            f"the gis extra ({GIS_EXTRA}); or convert the "
                                            "layer to GeoJSON")]) from None
    import pyproj
    import shapely

    try:
        meta, _, geometry, fields = raw.read(path)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise InputError(path, [Problem("", f"cannot read the layer: {exc}")]) from None
    crs = meta.get("crs")
    shapes = shapely.from_wkb(geometry)
    if crs is not None:
        to_wgs84 = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

        def move(coordinates: np.ndarray) -> np.ndarray:
            lon, lat = to_wgs84.transform(coordinates[:, 0], coordinates[:, 1])
            return np.column_stack([lon, lat])

        shapes = shapely.transform(shapes, move)
    names = list(meta.get("fields", []))
    features = []
    for k, shape in enumerate(shapes):
        properties = {name: _plain(column[k]) for name, column in zip(names, fields,
                                                                      strict=True)}
        features.append({"type": "Feature", "properties": properties,
                         "geometry": None if shape is None
                         else shapely.geometry.mapping(shape)})
    # Round trip through JSON: tuples become lists, as the GeoJSON reader gives them.
    return json.loads(json.dumps({"type": "FeatureCollection", "features": features}))
