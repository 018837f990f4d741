"""Benchmark instance families: a name, a generator call and a sweep of sizes.

A *suite* is one size class (``small``, ``medium``, ``large``) of every family, written as a
folder of instance files plus a ``suite.json`` manifest (:func:`write_suite`). Files keep
their hazards as a seeded ``scenario_generators`` entry, so a suite is small on disk and the
same on every machine (the generators are deterministic, see ``optimizer.generators``).

Sizes are chosen for the extensive form with HiGHS on one thread (PERFORMANCE.md): ``small``
solves in about a second per instance, ``medium`` in seconds to a minute, ``large`` in
minutes or not at all within a five-minute limit, which is where methods and solvers part.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.errors import UsageError
from optimizer.files import write_atomic

SIZE_CLASSES: tuple[str, ...] = ("small", "medium", "large")
MANIFEST = "suite.json"
# The real networks ship in the repository's instances/ folder (not in the wheel).
INSTANCES = Path(__file__).resolve().parents[2] / "instances"


@dataclass(frozen=True)
class Size:
    """One point of a family's sweep: the builder's arguments and the seeds to draw."""

    parameters: dict[str, Any]
    seeds: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Family:
    """An instance family: ``build(seed=..., **parameters)`` returns an instance dict."""

    name: str
    description: str
    build: Callable[..., dict[str, Any]]
    sizes: dict[str, Size]
    source: Path | None = None  # the shipped file a real-network family starts from
    tags: tuple[str, ...] = field(default=())

    def unavailable(self) -> str:
        """Why this family cannot be built here ('' when it can)."""
        if self.source is not None and not self.source.is_file():
            return (f"{self.source} is not here (real networks ship in the repository's "
                    "instances/ folder, not in the package)")
        return ""


# The builders import the generators when they build (scipy), not when the registry is read
# (`resilience suite --list`, `--help`).
def _geometric(seed: int, nodes: int, scenarios: int, **extra: Any) -> dict[str, Any]:
    from optimizer.sources.synthetic import geometric_instance

    return geometric_instance(nodes, scenarios, seed=seed, scenario_generators=True, **extra)


def _grid(seed: int, rows: int, cols: int, scenarios: int) -> dict[str, Any]:
    from optimizer.sources.synthetic import grid_instance

    return grid_instance(rows, cols, scenarios, seed=seed, diagonals=0.2,
                         scenario_generators=True)


def _shipped(file: str) -> Callable[..., dict[str, Any]]:
    """A builder from a shipped instance: its first generator draws ``scenarios`` scenarios.

    ``seed`` is added to the generator's own seed, so seed 0 with the shipped count is the
    shipped instance itself.
    """

    def build(seed: int, scenarios: int | None = None) -> dict[str, Any]:
        doc = json.loads((INSTANCES / file).read_text(encoding="utf-8"))
        generators = doc.get("scenario_generators") or []
        if generators and "count" in generators[0]:
            generators[0] = copy.deepcopy(generators[0])
            if scenarios is not None:
                generators[0]["count"] = scenarios
            generators[0]["seed"] = int(generators[0].get("seed", 0)) + seed
        elif scenarios is not None:
            raise ValueError(f"{file} has no counted scenario generator to resize")
        return doc

    return build


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family(
        "geometric",
        "random geometric road network, one commodity, no existing facilities "
        "(optimizer.sources.synthetic.geometric_instance)",
        _geometric,
        {"small": Size({"nodes": 30, "scenarios": 10}, (0, 1)),
         "medium": Size({"nodes": 100, "scenarios": 50}, (0, 1)),
         "large": Size({"nodes": 200, "scenarios": 100}, (0,))},
        tags=("synthetic",),
    ),
    Family(
        "geometric_policy",
        "geometric network with two commodities, shelter redundancy 1 and one existing "
        "depot and shelter (the settings of instances/medium.json and "
        "benchmarks/build_solve.py)",
        lambda seed, **p: _geometric(seed, commodities=2, redundancy=1, existing_depots=1,
                                     existing_shelters=1, **p),
        {"small": Size({"nodes": 40, "scenarios": 15}, (0, 1)),
         "medium": Size({"nodes": 100, "scenarios": 60}, (0,)),
         "large": Size({"nodes": 200, "scenarios": 100}, (0,))},
        tags=("synthetic",),
    ),
    Family(
        "grid",
        "street lattice with 20% diagonal roads (optimizer.sources.synthetic.grid_instance)",
        _grid,
        {"small": Size({"rows": 5, "cols": 6, "scenarios": 10}, (0, 1)),
         "medium": Size({"rows": 10, "cols": 10, "scenarios": 50}, (0,)),
         "large": Size({"rows": 14, "cols": 14, "scenarios": 100}, (0,))},
        tags=("synthetic",),
    ),
    Family(
        "siouxfalls",
        "Sioux Falls road network (TNTP, 24 nodes) with hazard footprints "
        "(instances/siouxfalls.json); the sweep draws more scenarios",
        _shipped("siouxfalls.json"),
        {"small": Size({"scenarios": 20}),
         "medium": Size({"scenarios": 100}),
         "large": Size({"scenarios": 400})},
        source=INSTANCES / "siouxfalls.json",
        tags=("real",),
    ),
    Family(
        "cambridge",
        "Cambridge, MA street network (1,869 nodes) with its 100- and 500-year flood zones "
        "(instances/cambridge.json); one size, the shipped file",
        _shipped("cambridge.json"),
        {"small": Size({})},
        source=INSTANCES / "cambridge.json",
        tags=("real",),
    ),
)}


@dataclass(frozen=True)
class SuiteEntry:
    """One instance of a suite: its file and where it came from."""

    file: Path
    name: str
    family: str = ""
    size: str = ""
    seed: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def suite_entries(suite: str, families: Iterable[str] | None = None) -> list[tuple[Family, int]]:
    """(family, seed) pairs of suite ``suite`` (a size class), families in registry order."""
    if suite not in SIZE_CLASSES:
        raise UsageError(f"unknown suite {suite!r}; suites are the size classes "
                         + ", ".join(SIZE_CLASSES))
    chosen = list(FAMILIES) if families is None else list(families)
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown:
        raise UsageError(f"unknown famil{'ies' if len(unknown) > 1 else 'y'} "
                         + ", ".join(unknown) + "; known: " + ", ".join(FAMILIES))
    return [(FAMILIES[f], seed) for f in FAMILIES if f in chosen
            and suite in FAMILIES[f].sizes for seed in FAMILIES[f].sizes[suite].seeds]


def instance_name(family: str, size: str, seed: int) -> str:
    return f"{family}-{size}-s{seed}"


def write_suite(suite: str, folder: str | Path, families: Iterable[str] | None = None,
                log: Callable[[str], None] | None = None) -> list[SuiteEntry]:
    """Write suite ``suite`` into ``folder`` (created if missing): instance files and a manifest.

    A family that cannot be built here (a real network whose file is missing) is left out
    with a line to ``log``. Returns the entries written, in manifest order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[SuiteEntry] = []
    for family, seed in suite_entries(suite, families):
        why = family.unavailable()
        if why:
            if log is not None:
                log(f"{family.name}: left out, {why}")
            continue
        parameters = dict(family.sizes[suite].parameters)
        name = instance_name(family.name, suite, seed)
        doc = family.build(seed=seed, **parameters)
        doc["name"] = name
        file = folder / f"{name}.json"
        write_atomic(file, json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
                     + "\n")
        entries.append(SuiteEntry(file, name, family.name, suite, seed, parameters))
        if log is not None:
            log(f"wrote {file}")
    manifest = {
        "suite": suite,
        "created_by": f"community-resilience {_version()}",
        "instances": [{"file": e.file.name, "name": e.name, "family": e.family,
                       "size": e.size, "seed": e.seed, "parameters": e.parameters,
                       "description": FAMILIES[e.family].description} for e in entries],
    }
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return entries


def read_suite(path: str | Path) -> list[SuiteEntry]:
    """The instances of a suite folder (its manifest, else every ``*.json`` by name) or of
    one instance file."""
    path = Path(path)
    if path.is_file():
        return [SuiteEntry(path, path.stem)]
    if not path.is_dir():
        raise UsageError(f"{path}: no such suite folder or instance file (write a suite with "
                         "`resilience suite small -o FOLDER`)")
    manifest = path / MANIFEST
    if manifest.is_file():
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
            rows = doc["instances"]
            entries = [SuiteEntry(path / r["file"], str(r.get("name") or Path(r["file"]).stem),
                                  str(r.get("family") or ""), str(r.get("size") or ""),
                                  r.get("seed"), dict(r.get("parameters") or {}))
                       for r in rows]
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{manifest}: not a suite manifest ({type(exc).__name__}: "
                             f"{exc})") from None
        missing = [str(e.file) for e in entries if not e.file.is_file()]
        if missing:
            raise UsageError(f"{manifest}: lists files that are not there: "
                             + ", ".join(missing[:5]))
        return entries
    files = sorted(p for p in path.glob("*.json") if p.name != MANIFEST
                   and not p.name.endswith(".result.json"))
    if not files:
        raise UsageError(f"{path}: no instance files (*.json) in this folder")
    return [SuiteEntry(p, p.stem) for p in files]


def _version() -> str:
    from importlib import metadata  # here: `resilience --help` reads this module

    try:
        return metadata.version("community-resilience")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


__all__ = ["FAMILIES", "MANIFEST", "SIZE_CLASSES", "Family", "Size", "SuiteEntry",
           "read_suite", "suite_entries", "write_suite"]
