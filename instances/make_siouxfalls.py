"""Build ``instances/siouxfalls.json``: the Sioux Falls road network (TNTP) with hazards.

Run from the repository root::

    .venv/bin/python instances/make_siouxfalls.py

The data come from ``instances/data/transportation_networks/SiouxFalls/`` (copied
unchanged from the source named there, with its SOURCES.md and licence). The file is a pure
function of those files and the options below (a seeded generator, no clock, no
environment), so rerunning the script gives a byte-identical file;
``tests/test_importers.py`` checks that the committed file is what :func:`build` produces.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from optimizer.sources.importers import dumps_instance
from optimizer.sources.importers.tntp import TntpOptions, tntp_instance

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "instances" / "data" / "transportation_networks" / "SiouxFalls"
PATH = ROOT / "instances" / "siouxfalls.json"

SOURCE = (
    "TransportationNetworks for Research (https://github.com/bstabler/TransportationNetworks, "
    "commit d1639b4ef218c17928ba573e806ddf8ba5e7ae6d), folder SiouxFalls: network and trip "
    "table of LeBlanc, Morlok and Pierskalla, 'An efficient approach to solving the road "
    "network equilibrium traffic assignment problem', Transportation Research 9 (1975) "
    "309-318. Licence: no open licence; the repository's data are donated for academic "
    "research purposes only and users must indicate the source in any publication (its "
    "README, section License). The README warns that Sioux Falls is not considered a "
    "realistic network; it is a standard test case"
)
NOTES = (
    "Units: lengths are the free-flow times of the file (0.01 h; the README says lengths "
    "were set equal to them), so reaches are travel times. The node coordinates were "
    "generated to reproduce the paper's diagram (README); they are read as longitude and "
    "latitude only to measure hazard footprints in metres. The trip table holds the paper's "
    "daily flows in thousands times 100 (360,600 in all), used as a proxy for where people "
    "live."
)
OPTIONS = TntpOptions(depots=4, shelters=4, scenarios=20, seed=1975, commodities=2,
                      lonlat=True, name="siouxfalls", source=SOURCE, notes=NOTES)


def build() -> dict[str, Any]:
    """The instance as a dict, exactly as written to ``instances/siouxfalls.json``."""
    document, _ = tntp_instance(DATA / "SiouxFalls_net.tntp", DATA / "SiouxFalls_node.tntp",
                                DATA / "SiouxFalls_trips.tntp", OPTIONS)
    return document


def main() -> int:
    """Write the file, then read it back through the engine."""
    from optimizer.instance.reading import load_instance

    PATH.write_text(dumps_instance(build()), encoding="utf-8")
    instance = load_instance(PATH)
    print(f"wrote {PATH} ({instance.network.num_nodes} nodes, {instance.network.num_edges} "
          f"roads, {len(instance.scenarios)} scenarios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
