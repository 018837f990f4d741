"""Build ``instances/cambridge.json``: Cambridge, Massachusetts, from the city's open GIS data.

Run from the repository root::

    .venv/bin/python instances/make_cambridge.py

The data come from ``instances/data/cambridge_ma/`` (copied unchanged from the city's
repository, with its SOURCES.md and licences): street centre lines, the 15 public
emergency shelters with their capacities, and the parcels in the FEMA 100-year and 500-year
floodplains. The file is a pure function of those files and the
options below (no clock, no environment), so rerunning the script gives a byte-identical
file; ``tests/test_importers.py`` checks that the committed file is what :func:`build`
produces.

Scenarios, all flood-based and equally likely:

- ``flood-100-year``, ``flood-500-year`` (the ``hazard_zones`` generator, expanded when the
  file is loaded): the water is up, roads touching the floodplain are closed, shelters and
  depots inside are lost, half the people inside are affected;
- ``evacuate-100-year``, ``evacuate-500-year``: the same floods forecast in time, the same
  people leaving before the roads close (none failed), facilities inside out of use;
- ``evacuate-500-year-nearest-shelter-closed``: as ``evacuate-500-year``, and the shelter
  site nearest (by road) to the 500-year floodplain is closed as well, for a planner who
  fears losing the obvious refuge.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.sources.importers import dumps_instance
from optimizer.sources.importers.city import CityOptions, city_instance, evacuation_scenario, inside

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "instances" / "data" / "cambridge_ma"
PATH = ROOT / "instances" / "cambridge.json"
STREETS = DATA / "Trans" / "Street_Centerlines" / "TRANS_Centerlines.geojson"
SHELTERS = DATA / "Public_Safety" / "Emergency_Shelters" / "PUBLICSAFETY_EmergencyShelters.geojson"
HAZARDS = (
    DATA / "Hydro" / "FEMA_Floodplain_Parcels_100_Year" / "FEMA_FloodPlainParcels100Year.geojson",
    DATA / "Hydro" / "FEMA_Floodplain_Parcels_500_Year" / "FEMA_FloodPlainParcels500Year.geojson",
)
# 2020 United States Census, Cambridge city, Massachusetts: total population.
POPULATION = 118_403

SOURCE = (
    "City of Cambridge, MA, Geographic Information Systems open data "
    "(https://github.com/cambridgegis/cambridgegis_data, commit "
    "44a03d195bb4bc3d9f0bf31452f5ab2d6b2f7be9): layers TRANS_Centerlines (street centre "
    "lines), PUBLICSAFETY_EmergencyShelters (emergency shelters and their capacities) and "
    "FEMA_FloodPlainParcels100Year / FEMA_FloodPlainParcels500Year (parcels intersecting the "
    "FEMA 100-year and 500-year floodplains). Licence: Open Data Commons Public Domain "
    "Dedication and License (PDDL) 1.0. Population total: 118,403, the 2020 United States "
    "Census count for Cambridge city, Massachusetts"
)
OPTIONS = CityOptions(
    population=POPULATION,
    depots=6,
    seed=2020,
    commodities=2,
    # A city-wide budget share would buy everything for floods that reach a few thousand
    # people; a tenth makes depots, shelters and the pool compete.
    budget_share=0.1,
    # About 25 minutes on foot; supplies travel by truck (the default share of the diameter).
    evacuation_reach=2000.0,
    hazard_name="flood",
    hazard_ids=("100-year", "500-year"),
    name="cambridge",
    source=SOURCE,
)


def _nearest_shelters(document: dict[str, Any], city: Any, zone: str) -> list[str]:
    """Ids of the shelters at the shelter site nearest by road to the zone (outside it)."""
    network = city.network
    within = inside(network, city.zones[zone])
    distance = network.distances(np.flatnonzero(within)).min(axis=0)
    index = {n: i for i, n in enumerate(network.node_ids)}
    outside = [h for h in document["shelters"] if not within[index[h["node"]]]]
    nearest = min(outside, key=lambda h: (distance[index[h["node"]]], h["id"]))
    return [h["id"] for h in outside if h["node"] == nearest["node"]]


def build() -> dict[str, Any]:
    """The instance as a dict, exactly as written to ``instances/cambridge.json``."""
    city = city_instance(STREETS, SHELTERS, HAZARDS, OPTIONS)
    document = city.document
    closed = _nearest_shelters(document, city, "500-year")
    document["scenarios"].append(evacuation_scenario(
        city, "500-year", OPTIONS, scenario_id="evacuate-500-year-nearest-shelter-closed",
        shelter_loss=dict.fromkeys(closed, 1.0)))
    names = " and ".join(closed)
    document["description"] += (
        " Scenario evacuate-500-year-nearest-shelter-closed is evacuate-500-year with the "
        f"shelter site nearest by road to the 500-year floodplain closed as well ({names}, "
        "which stand at the same junction). All five scenarios are equally likely. Built by "
        "instances/make_cambridge.py."
    )
    return document


def main() -> int:
    """Write the file, then read it back through the engine."""
    from optimizer.instance.reading import load_instance

    PATH.write_text(dumps_instance(build()), encoding="utf-8")
    instance = load_instance(PATH)
    print(f"wrote {PATH} ({PATH.stat().st_size:,} bytes; {instance.network.num_nodes} "
          f"junctions, {instance.network.num_edges} roads, {len(instance.scenarios)} "
          "scenarios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
