"""Every scenario generator kind, as the schema names it (``kind``), -> its module's
``generate``: the one table :func:`optimizer.generators.generate` dispatches on.

A new kind is a module beside this one with a ``generate`` of the ``common.Generate`` shape,
its pydantic spec in ``optimizer.instance.schema`` (added to ``ScenarioGenerator``), and a
row here.
"""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.generators import hazard_footprint, hazard_zones, random_failures, targeted
from optimizer.generators.common import Generate


@dataclass(frozen=True)
class Kind:
    """One generator kind: how it makes its scenarios, and which of its fields says how
    many (an error about too many scenarios points there)."""

    generate: Generate
    count_field: str = ".count"


GENERATORS: dict[str, Kind] = {
    "hazard_footprint": Kind(hazard_footprint.generate),
    "random_failures": Kind(random_failures.generate),
    "targeted": Kind(targeted.generate, count_field=""),  # always one scenario
    "hazard_zones": Kind(hazard_zones.generate, count_field=".zones"),
}
