"""The instance file format (design section 3) as pydantic models.

These classes are the file boundary only: they check types, ranges and unknown fields, one
field at a time. Rules that relate fields to each other live in ``optimizer.instance.checks`` and
the
engine itself works on the frozen dataclasses of ``optimizer.instance.data``.
``optimizer/instance/instance.schema.json`` (in the installed package; ``resilience schema`` prints
it) and its copy ``instances/instance.schema.json`` are generated from :class:`InstanceFile`
(see ``python -m optimizer.instance.schema``) and a test keeps them in sync.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from optimizer.choices import ObjectiveKind

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "instance.schema.json"
# The copy beside the example instances, for people who read the repository.
SCHEMA_COPY = Path(__file__).resolve().parents[2] / "instances" / "instance.schema.json"

Id = Annotated[str, Field(min_length=1, max_length=200, description="An identifier.")]
# Numbers and booleans are strict: pydantic's lax mode would turn "150" into 150 and "yes"
# into true, which the shipped JSON Schema rejects; a file must mean what it says.
# Magnitudes: the model is solved in floating point with tolerances near 1e-7 on scaled
# rows, and max flow breaks on subnormal capacities, so a number must be 0 or lie between
# SMALLEST and LARGEST (in any unit: people, money, volume, length).
SMALLEST = 1e-12
LARGEST = 1e15


def _meaningful(value: float) -> float:
    if abs(value) > LARGEST:
        raise ValueError(f"too large: at most {LARGEST:g} in magnitude")
    if 0 < abs(value) < SMALLEST:
        raise ValueError(f"too small: 0, or at least {SMALLEST:g}")
    return value


# The same bounds in the JSON Schema, so that a file the schema accepts is a file the
# loader accepts (tests/test_schema.py tries each number field at the edges): at most
# LARGEST in magnitude, and no magnitude strictly between 0 and SMALLEST. (The loader's own
# messages are kept; these only describe them.)
_TINY = {"exclusiveMinimum": -SMALLEST, "exclusiveMaximum": SMALLEST, "not": {"const": 0}}
MAGNITUDE = {"maximum": LARGEST, "not": _TINY}
SIGNED_MAGNITUDE = {"minimum": -LARGEST, "maximum": LARGEST, "not": _TINY}

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True,
                                     json_schema_extra=MAGNITUDE),
                        AfterValidator(_meaningful)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=True,
                                  json_schema_extra={"not": _TINY}),
                     AfterValidator(_meaningful)]
Coordinate = Annotated[float, Field(allow_inf_nan=False, strict=True,
                                    json_schema_extra=SIGNED_MAGNITUDE),
                       AfterValidator(_meaningful)]
Count = Annotated[int, Field(ge=0, strict=True)]
Periods = Annotated[int, Field(ge=1, strict=True)]
Flag = Annotated[bool, Field(strict=True)]


class _Strict(BaseModel):
    """Unknown fields are errors: a typo must not silently become a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Node(_Strict):
    id: Id
    x: Coordinate | None = None
    y: Coordinate | None = None
    population: NonNegative = 0.0
    economic_exposure: NonNegative = 0.0


class Edge(_Strict):
    id: Id | None = Field(None, description="Defaults to 'FROM-TO'.")
    from_: Id = Field(alias="from")
    to: Id
    length: NonNegative = 1.0
    repair_time: Periods = Field(1, description="Whole periods a crew needs to repair the "
                                 "road when it fails (design section 5).")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Crs(_Strict):
    """Where the nodes' ``x`` and ``y`` lie on the Earth (``optimizer.geo`` reads it).

    Either an EPSG code (``{"epsg": 26986}`` for Massachusetts state plane in metres,
    ``{"epsg": 4326}`` for longitude and latitude), or the local projection the importers use
    (``{"projection": "equirectangular", "lon0": ..., "lat0": ...}``: metres east and north
    of an origin given in longitude and latitude). ``optimizer.instance.checks.check_crs`` asks for
    exactly one of the two.
    """

    epsg: Annotated[int, Field(gt=0, lt=1_000_000, strict=True)] | None = Field(
        None, description="EPSG code of the coordinates (4326: longitude, latitude).")
    projection: Literal["equirectangular"] | None = Field(
        None, description="A local projection: x = R (lon - lon0) cos(lat0), "
                          "y = R (lat - lat0), in metres.")
    lon0: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True)] | None = \
        Field(None, description="Longitude of the local projection's origin, degrees.")
    lat0: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True)] | None = \
        Field(None, description="Latitude of the local projection's origin, degrees.")
    radius: Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)] = Field(
        6371008.8, description="Earth radius of the local projection, metres (IUGG mean).")


class Network(_Strict):
    nodes: list[Node] = Field(min_length=1)
    edges: list[Edge] = []
    crs: Crs | None = Field(
        None, description="Coordinate reference of x and y; GeoJSON output needs it.")


class Commodity(_Strict):
    id: Id
    per_capita_need: NonNegative = 1.0
    # Held to the same magnitudes as every other number: a volume of 1e-320 made a depot's
    # room infinite units of stock (found by the fuzzer in the stress search).
    unit_volume: Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True,
                                        json_schema_extra=MAGNITUDE),
                           AfterValidator(_meaningful)] = 1.0
    weight: NonNegative = 1.0


class Depot(_Strict):
    id: Id
    node: Id
    fixed_cost: NonNegative = 0.0
    capacity: NonNegative = Field(description="Volume the depot can hold when open.")
    unit_cost: dict[Id, NonNegative] = Field(
        default_factory=dict, description="Cost per unit stocked, by commodity (default 0)."
    )
    existing_stock: dict[Id, NonNegative] = Field(
        default_factory=dict, description="Units already in an existing depot, by commodity."
    )
    existing: Flag = False


class Shelter(_Strict):
    id: Id
    node: Id
    fixed_cost: NonNegative = 0.0
    capacity: NonNegative = Field(description="Base capacity in people when open.")
    module_size: NonNegative = 0.0
    module_cost: NonNegative = 0.0
    max_modules: Count = 0
    existing: Flag = False


class Compensation(_Strict):
    max_pool: NonNegative = 0.0


class Policy(_Strict):
    supply_reach: NonNegative | None = Field(
        None, description="Longest depot-to-zone distance; none means unlimited."
    )
    evacuation_reach: NonNegative | None = Field(
        None, description="Longest zone-to-shelter distance; none means unlimited."
    )
    shelter_redundancy: Count = 0
    integer_stock: Flag = True


class Weights(_Strict):
    supply: Fraction = 1 / 3
    shelter: Fraction = 1 / 3
    economic: Fraction = 1 / 3


class Resilience(_Strict):
    weights: Weights = Weights()


class Recovery(_Strict):
    """How roads come back after the event (design section 5)."""

    crews: Periods = Field(1, description="Crews repairing roads in parallel, one road each "
                           "at a time.")
    priority: list[Id] = Field(default_factory=list, description="Ids of roads, or of nodes "
                               "whose roads, repaired before every other road (say, the "
                               "roads to a hospital).")


class Objective(_Strict):
    kind: ObjectiveKind = ObjectiveKind.WORST_CASE
    alpha: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False, strict=True)] = 0.9
    target: Fraction | None = None


class Scenario(_Strict):
    id: Id
    probability: NonNegative | None = Field(
        None, description="Omitted on every scenario: all equally likely."
    )
    failed_edges: list[Id] = []
    failed_nodes: list[Id] = []
    depot_loss: dict[Id, Fraction] = {}
    shelter_loss: dict[Id, Fraction] = {}
    affected: dict[Id, Fraction] = Field(
        default_factory=dict, description="Zone (node id) -> fraction of its people affected."
    )
    evacuation_rate: Fraction = 1.0
    economic_loss_rate: Fraction = 1.0
    need: dict[Id, dict[Id, NonNegative]] | None = Field(
        None, description="Override: zone -> commodity -> units needed."
    )
    evacuees: dict[Id, NonNegative] | None = None
    economic_loss: dict[Id, NonNegative] | None = None
    origin: dict | None = Field(None, description="Set on generated scenarios: the "
                                "generator's name, kind and parameters.")


# ------------------------------------------------------------------ scenario generators
# Each generator expands, when the file is loaded, into scenarios appended after the explicit
# ones (``optimizer.generators``). Generated ids are ``NAME-1``, ``NAME-2``, ... (or
# ``NAME-ZONE`` for hazard zones). ``probability`` is the total probability mass of the
# generator's scenarios, split equally among them; omit it on every scenario and generator
# and all scenarios are equally likely.

Seed = Annotated[int, Field(ge=0, strict=True)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True,
                                  json_schema_extra=MAGNITUDE), AfterValidator(_meaningful)]


class Fragility(_Strict):
    """Failure probability of a road by the distance of its midpoint from the epicentre.

    Distances are shares of the scenario's radius; ``median`` is where the probability is
    0.5, ``spread`` the logistic scale or the lognormal dispersion (beta).
    """

    curve: Literal["logistic", "lognormal"] = "logistic"
    median: Positive = 0.5
    spread: Positive = 0.15


class _Generator(_Strict):
    name: Id
    probability: NonNegative | None = None
    evacuation_rate: Fraction = 0.3
    economic_loss_rate: Fraction = 0.5


class HazardFootprint(_Generator):
    """Hazards with a random epicentre and radius: roads fail by a fragility curve,
    facilities lose stock or capacity and zones are affected less the further they are.
    Roads whose midpoint lies beyond the radius never fail. Without coordinates on every
    node, the epicentre is a node and distances are shortest-path lengths from it."""

    kind: Literal["hazard_footprint"]
    count: Annotated[int, Field(ge=1, strict=True)]
    seed: Seed = 0
    epicentres: Literal["uniform", "population"] = "uniform"
    radius: tuple[NonNegative, NonNegative] = Field(
        description="Smallest and largest radius, in coordinate (or length) units.")
    fragility: Fragility = Fragility()
    facility_loss: Fraction = Field(0.5, description="Loss at the epicentre, falling to 0 "
                                    "at the radius.")
    affected: Fraction = Field(0.8, description="Share of people affected at the epicentre, "
                               "falling to 0 at the radius.")


class RandomFailures(_Generator):
    """Independent failures: each road, depot and shelter fails with its probability (a
    failed depot or shelter loses all its stock or places)."""

    kind: Literal["random_failures"]
    count: Annotated[int, Field(ge=1, strict=True)]
    seed: Seed = 0
    edge_failure: Fraction = 0.05
    depot_failure: Fraction = 0.0
    shelter_failure: Fraction = 0.0
    affected: Fraction = Field(0.2, description="Share of every zone's people affected.")


class Targeted(_Generator):
    """One scenario: the ``edges`` roads whose loss hurts most, by ``measure``
    (``betweenness``: length-weighted edge betweenness, ties to the earlier road;
    ``stress``: the stress search's most damaging roads with every candidate facility open
    and full, exact for up to two roads)."""

    kind: Literal["targeted"]
    edges: Annotated[int, Field(ge=1, strict=True)]
    measure: Literal["betweenness", "stress"] = "betweenness"
    affected: Fraction = Field(0.5, description="Share of every zone's people affected.")


class HazardZone(_Strict):
    """A polygon (GeoJSON geometry, Feature or FeatureCollection, inline or in a file next
    to the instance) in the instance's coordinates."""

    id: Id
    geometry: dict | None = Field(None, description="Inline GeoJSON (give this or "
                                  "geojson); its polygons are united.")
    geojson: str | None = Field(None, description="Path relative to the instance file; "
                                "it must stay inside the instance's folder.")
    affected: Fraction = 0.5
    facility_loss: Fraction = 1.0


class HazardZones(_Generator):
    """One scenario per polygon: roads whose straight segment touches it fail, facilities
    at nodes inside lose ``facility_loss``, zones inside are affected. Needs x and y on
    every node."""

    kind: Literal["hazard_zones"]
    zones: list[HazardZone] = Field(min_length=1)


ScenarioGenerator = Annotated[
    HazardFootprint | RandomFailures | Targeted | HazardZones, Field(discriminator="kind")
]


class InstanceFile(_Strict):
    """A whole instance file, ``schema_version`` 1."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: Literal[1] = 1
    schema_url: str | None = Field(
        None, alias="$schema",
        description="Where editors find this schema; accepted and ignored.")
    name: str | None = None
    description: str = ""
    currency: Annotated[str, Field(min_length=1, max_length=12)] | None = Field(
        None, description="What money is counted in (an ISO 4217 code such as 'USD', or a "
                          "symbol); reports and spreadsheets label money with it.")
    network: Network
    commodities: list[Commodity] = Field(
        default_factory=lambda: [Commodity(id="kit")],
        description="Defaults to one commodity 'kit'.",
    )
    depots: list[Depot] = []
    shelters: list[Shelter] = []
    compensation: Compensation = Compensation()
    budget: NonNegative
    policy: Policy = Policy()
    resilience: Resilience = Resilience()
    objective: Objective = Objective()
    recovery: Recovery = Recovery()
    scenarios: list[Scenario] = []
    scenario_generators: list[ScenarioGenerator] = []

    @field_validator("commodities")
    @classmethod
    def _default_commodity(cls, value: list[Commodity]) -> list[Commodity]:
        return value or [Commodity(id="kit")]


def json_schema() -> dict:
    """The JSON Schema of an instance file, as shipped in ``instances/``."""
    schema = InstanceFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Community resilience instance"
    # At least one scenario, given or generated (optimizer.instance.checks.check_has_scenarios).
    schema["anyOf"] = [
        {"required": [key], "properties": {key: {"minItems": 1}}}
        for key in ("scenarios", "scenario_generators")
    ]
    return schema


def render_json_schema() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    for target in (SCHEMA_PATH, SCHEMA_COPY):
        target.write_text(render_json_schema(), encoding="utf-8")
        print(f"wrote {target}")
