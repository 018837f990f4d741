"""``resilience generate tntp`` and ``resilience generate geojson``: instances from real data.

Thin commands over :mod:`optimizer.sources.importers.tntp` and
:mod:`optimizer.sources.importers.city`:
parse options, import, write the instance atomically, read it back through the engine (so
a file that is written is a file that loads), and say what it holds on standard error.
Standard output stays empty unless ``-o -`` asks for the JSON there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from optimizer.choices import REACH_SHARE
from optimizer.cli.common import err, handled, warning
from optimizer.errors import UsageError
from optimizer.files import write_atomic
from optimizer.safe_text import console_text as escape

# The importers (numpy, scipy, shapely) are imported inside the commands: `--help` is quick.

_FILE = click.Path(exists=True, dir_okay=False)


def _output(path: str) -> str:
    if path != "-" and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {Path(path).parent} does not exist")
    return path


def _write(document: dict[str, Any], out: str, warnings: list[str] | tuple[str, ...]) -> None:
    """Check the instance through the engine's own reader, write it, and summarise it."""
    from optimizer.instance.checks import run_checks
    from optimizer.instance.reading import build_instance, parse_json
    from optimizer.instance.schema import InstanceFile
    from optimizer.sources.importers import dumps_instance

    text = dumps_instance(document)
    # The same path a file on disk takes (pydantic, cross-field checks, generators), so an
    # importer bug shows up here rather than in the user's next command.
    parsed = InstanceFile.model_validate(parse_json(Path(out), text.encode("utf-8")))
    problems = run_checks(parsed)
    if problems:  # an importer bug, not the user's: the handler reports an internal error
        raise RuntimeError("the imported instance is invalid: " + "; ".join(map(str, problems)))
    instance = build_instance(parsed, source=out, default_name=document["name"])
    if out == "-":
        click.echo(text, nl=False)
    else:
        write_atomic(out, text)
    for w in warnings:
        warning(w)
    net = instance.network
    err.print(
        f"{'instance' if out == '-' else 'wrote ' + escape(out)}: {escape(instance.name)}, "
        f"{net.num_nodes} nodes, {net.num_edges} roads, {int(net.population.sum()):,} people, "
        f"{len(instance.depots)} depots, {len(instance.shelters)} shelters, "
        f"{len(instance.scenarios)} scenarios, {len(text.encode('utf-8')):,} bytes",
        soft_wrap=True)


@click.command("tntp")
@click.option("--net", "net", type=_FILE, required=True,
              help="TNTP net file (*_net.tntp): one directed link per row.")
@click.option("--nodes", type=_FILE, help="Node coordinates: TNTP node file or GeoJSON points "
              "with an id property.")
@click.option("--trips", type=_FILE, help="TNTP trip table: zone populations from its trip "
              "productions (default 1,000 people per zone).")
@click.option("--depots", type=click.IntRange(0), default=5, show_default=True,
              help="Candidate depots, at well-spread through nodes.")
@click.option("--shelters", type=click.IntRange(0), default=5, show_default=True,
              help="Candidate shelters, at other well-spread through nodes.")
@click.option("--scenarios", type=click.IntRange(1), default=20, show_default=True,
              help="Hazard footprints the file's generator expands into when loaded.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seed of facility sites, costs and hazards.")
@click.option("--commodities", type=click.IntRange(1), default=2, show_default=True,
              help="Commodities, from water, food, kit, ...")
@click.option("--budget-share", type=click.FloatRange(0), default=0.3, show_default=True,
              help="Budget as a share of the cost of opening, filling and reserving everything.")
@click.option("--reach-share", type=click.FloatRange(0, min_open=True), default=REACH_SHARE,
              show_default=True, help="Supply and evacuation reach as a share of the network's "
              "weighted diameter.")
@click.option("--lonlat/--no-lonlat", default=None, help="Whether node coordinates are "
              "longitude/latitude (projected to metres). Default: yes for GeoJSON, no for TNTP.")
@click.option("--name", help="Instance name (default: from the net file's name).")
@click.option("--source", help="Where the data come from and under what "
              "licence, for the description.  [default: TransportationNetworks for Research]")
@click.option("-o", "--output", required=True, help="Instance file to write ('-' for "
              "standard output).")
@handled
def tntp(net: str, nodes: str | None, trips: str | None, depots: int, shelters: int,
         scenarios: int, seed: int, commodities: int, budget_share: float, reach_share: float,
         lonlat: bool | None, name: str | None, source: str | None, output: str) -> None:
    """An instance from a TransportationNetworks (TNTP) road network.

    Directed links become undirected roads with the shorter length; zone centroids below
    <FIRST THRU NODE> become leaves on their shortest connector; facilities stand at
    well-spread through nodes; hazards come from a seeded hazard_footprint generator. The
    description states every assumption.
    """
    from optimizer.sources.importers.tntp import SOURCE as TNTP_SOURCE
    from optimizer.sources.importers.tntp import TntpOptions, tntp_instance

    out = _output(output)
    options = TntpOptions(depots=depots, shelters=shelters, scenarios=scenarios, seed=seed,
                          commodities=commodities, budget_share=budget_share,
                          reach_share=reach_share, lonlat=lonlat, name=name,
                          source=source or TNTP_SOURCE)
    try:
        document, warnings = tntp_instance(net, nodes, trips, options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _write(document, out, warnings)


@click.command("geojson")
@click.option("--streets", type=_FILE, required=True, help="Street centre lines (GeoJSON "
              "LineStrings in longitude/latitude; with the gis extra any layer GDAL reads, "
              "in any CRS: Shapefile, GeoPackage, ...).")
@click.option("--shelters", type=_FILE, required=True, help="Shelter points with a capacity "
              "property.")
@click.option("--hazard", "hazards", type=_FILE, multiple=True, help="Hazard polygons; each "
              "file is one hazard zone (repeat the option for several).")
@click.option("--hazard-id", "hazard_ids", multiple=True, help="Id of each hazard zone, in the "
              "order of --hazard (default: the file names).")
@click.option("--hazard-name", default="hazard", show_default=True, help="Name of the "
              "hazard_zones generator (the prefix of its scenario ids).")
@click.option("--population", type=click.IntRange(1), default=100_000, show_default=True,
              help="People to apportion along street length (give the census total).")
@click.option("--depots", type=click.IntRange(0), default=6, show_default=True,
              help="Candidate depots, at well-spread junctions of major roads.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seed of depot sites and costs.")
@click.option("--commodities", type=click.IntRange(1), default=2, show_default=True)
@click.option("--budget-share", type=click.FloatRange(0), default=0.3, show_default=True)
@click.option("--reach-share", type=click.FloatRange(0, min_open=True), default=REACH_SHARE,
              show_default=True, help="Reach as a share of the weighted diameter, unless "
              "given in metres below.")
@click.option("--supply-reach", type=click.FloatRange(0), help="Metres.")
@click.option("--evacuation-reach", type=click.FloatRange(0), help="Metres.")
@click.option("--connect", type=click.Choice(["auto", "ids", "endpoints"]), default="auto",
              show_default=True, help="How streets meet: by from/to node ids, by shared end "
              "points, or ids when they agree with the geometry.")
@click.option("--snap", type=click.FloatRange(0), default=0.5, show_default=True,
              help="End points this close (m) are one junction.")
@click.option("--from-field", default="FromNode", show_default=True)
@click.option("--to-field", default="ToNode", show_default=True)
@click.option("--major-field", default="MajorRoad", show_default=True, help="Property set on "
              "major roads (depot candidates); '' for every street.")
@click.option("--capacity-field", default="Capacity", show_default=True)
@click.option("--name-field", default="Name", show_default=True)
@click.option("--default-capacity", type=click.FloatRange(0), help="Places of a shelter with "
              "no capacity (default: the smallest listed).")
@click.option("--zones", type=click.Choice(["all", "major"]), default="all", show_default=True,
              help="People at every junction, or gathered onto major-road junctions.")
@click.option("--close", type=click.FloatRange(0), default=15.0, show_default=True,
              help="Morphological closing of hazard polygons (m).")
@click.option("--simplify", type=click.FloatRange(0), default=2.0, show_default=True,
              help="Simplification tolerance of hazard polygons (m).")
@click.option("--affected", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share of the people inside a hazard zone affected.")
@click.option("--evacuation-scenarios/--no-evacuation-scenarios", default=True,
              show_default=True, help="Also one pre-emptive evacuation scenario per zone.")
@click.option("--name", default="city", show_default=True, help="Instance name.")
@click.option("--source", default="the files given", help="Where the data come from and under "
              "what licence, for the description.")
@click.option("-o", "--output", required=True, help="Instance file to write ('-' for "
              "standard output).")
@handled
def geojson(streets: str, shelters: str, hazards: tuple[str, ...], hazard_ids: tuple[str, ...],
            hazard_name: str, population: int, depots: int, seed: int, commodities: int,
            budget_share: float, reach_share: float, supply_reach: float | None,
            evacuation_reach: float | None, connect: str, snap: float, from_field: str,
            to_field: str, major_field: str, capacity_field: str, name_field: str,
            default_capacity: float | None, zones: str, close: float, simplify: float,
            affected: float, evacuation_scenarios: bool, name: str, source: str,
            output: str) -> None:
    """An instance from a city's open GIS data: streets, shelters, hazard polygons.

    Layers are GeoJSON, or with the gis extra (pip install 'community-resilience[gis]')
    Shapefiles, GeoPackages and any format GDAL reads, in any coordinate system (reprojected
    to longitude/latitude first). Coordinates are projected to metres; population is
    apportioned along street length;
    every street is two-way; hazard polygons become hazard_zones scenarios inline. The
    description states every assumption.
    """
    out = _output(output)
    if not hazards:
        raise UsageError("give at least one --hazard polygon file: the instance needs "
                         "scenarios")
    from optimizer.sources.importers.city import CityOptions, city_instance

    options = CityOptions(
        population=population, depots=depots, seed=seed, commodities=commodities,
        budget_share=budget_share, reach_share=reach_share, supply_reach=supply_reach,
        evacuation_reach=evacuation_reach, connect=connect, snap=snap, from_field=from_field,
        to_field=to_field, major_field=major_field or None, capacity_field=capacity_field,
        name_field=name_field, default_capacity=default_capacity, zones=zones, close=close,
        simplify=simplify, hazard_name=hazard_name, hazard_ids=hazard_ids, affected=affected,
        evacuation_scenarios=evacuation_scenarios, name=name, source=source)
    try:
        city = city_instance(streets, shelters, list(hazards), options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _write(city.document, out, city.notes)


__all__ = ["geojson", "tntp"]
