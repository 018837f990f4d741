"""Scenario generators: the ``scenario_generators[]`` of an instance file, as scenarios.

Pure data: numpy with a local :class:`numpy.random.Generator` per generator (never the
global one, so the same file and seed give byte-identical scenarios whatever ran before),
scipy and networkx for graph distances and centrality, shapely for polygons, no Pyomo and
no disk. Hazard-zone files are read by ``optimizer.instance.reading``, which passes a reader in.

Every generated scenario is a :class:`optimizer.instance.schema.Scenario` whose ``origin`` says
which generator made it, of what kind, and with which parameters (seed, index, epicentre,
radius, zone, ...), so a report can say where it came from. Ids are ``NAME-1..NAME-count``
(hazard zones: ``NAME-ZONE``). A generator's ``probability`` is shared equally by its
scenarios; without one they have none, and the usual rule applies (all scenarios equally
likely).

Seeded generators give scenario ``i`` its own stream, spawned from the generator's seed, so
raising ``count`` appends scenarios and leaves the earlier ones as they were.

Where to look next: ``registry.py`` maps each kind to its module (``hazard_footprint``,
``random_failures``, ``targeted``, ``hazard_zones``); ``common.py`` holds what they share.
This module is the front door: :func:`expand`, :func:`generate` and :func:`reseeded`.
"""

from __future__ import annotations

from pathlib import Path

from optimizer.errors import InputError, Problem
from optimizer.generators.betweenness import edge_betweenness
from optimizer.generators.common import GeoJsonReader, NetworkView, Place, failure_probability
from optimizer.generators.registry import GENERATORS
from optimizer.generators.targeted import everything_plan
from optimizer.instance.checks import (
    MAX_GENERATED_SCENARIOS,
    MAX_SCENARIOS_ENV,
    generated_count,
    max_generated_scenarios,
)
from optimizer.instance.schema import InstanceFile, Scenario

# The default limit on the scenarios one file's generators make (it lives in
# optimizer.instance.checks, which enforces it when a file is read); RESILIENCE_MAX_SCENARIOS
# overrides.
MAX_SCENARIOS = MAX_GENERATED_SCENARIOS


def expand(f: InstanceFile, *, file: str | Path = "<memory>",
           read_geojson: GeoJsonReader | None = None) -> InstanceFile:
    """The file with every generator's scenarios appended after the explicit ones.

    Parameters
    ----------
    f
        A parsed instance file whose cross-field checks passed (ids, references and the
        generators' own settings are taken as valid).
    file
        The file's name, for error messages.
    read_geojson
        Reads a hazard zone's ``geojson`` path; ``None`` rejects such paths.

    Returns
    -------
    InstanceFile
        A copy whose ``scenarios`` hold the explicit and then the generated scenarios, and
        whose ``scenario_generators`` is empty (expanding it again changes nothing).

    Raises
    ------
    InputError
        Naming the generator's JSON path: more scenarios than the limit, a polygon that is
        not one, a measure that is not available, ...
    """
    if not f.scenario_generators:
        return f
    # Looked up in this module when called, so that a test may replace ``generate`` here.
    generated = generate(f, file=file, read_geojson=read_geojson)
    return f.model_copy(update={"scenarios": [*f.scenarios, *generated],
                                "scenario_generators": []})


def generate(f: InstanceFile, *, file: str | Path = "<memory>",
             read_geojson: GeoJsonReader | None = None) -> list[Scenario]:
    """Every generator's scenarios, in the order of ``scenario_generators``.

    See :func:`expand` for the parameters and errors.
    """
    limit = max_generated_scenarios()
    net = NetworkView.of(f)
    total = len(f.scenarios)  # explicit and generated scenarios count against one limit
    scenarios: list[Scenario] = []
    for i, g in enumerate(f.scenario_generators):
        at = f"scenario_generators[{i}]"
        kind = GENERATORS[g.kind]
        total += generated_count(g)
        if total > limit:
            raise InputError(file, [Problem(f"{at}{kind.count_field}", f"the explicit "
                                            f"scenarios and the generators would make "
                                            f"{total:,} scenarios up to here, more than the "
                                            f"limit of {limit:,} (set {MAX_SCENARIOS_ENV} to "
                                            "change it)")])
        scenarios += kind.generate(g, f, net, Place(file, at, read_geojson))
    return scenarios


def reseeded(f: InstanceFile, offset: int) -> InstanceFile:
    """The same file with ``offset`` added to every generator's seed.

    For out-of-sample tests: the same generators with other seeds give other scenarios of
    the same kind. Generators without a seed (targeted, hazard zones) are unchanged.
    """
    changed = [g.model_copy(update={"seed": g.seed + offset}) if hasattr(g, "seed") else g
               for g in f.scenario_generators]
    return f.model_copy(update={"scenario_generators": changed})


__all__ = ["MAX_SCENARIOS", "MAX_SCENARIOS_ENV", "GeoJsonReader", "edge_betweenness",
           "everything_plan", "expand", "failure_probability", "generate", "reseeded"]
