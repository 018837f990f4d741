"""Fuzzing the loader: mutated valid instances give our own input error, never a crash.

Each example takes a valid instance (the shipped ones, ``tests/data/generators/zones.json``
and a small file with every kind of scenario generator), applies one to three mutations
(drop a key, retype a value, duplicate a list element, swap two ids, rename a key, nest a
value deeply, truncate the text, garble a byte) and loads the result from disk. The loader
may accept the file or raise :class:`~optimizer.errors.InputError` (or ``UsageError``)
naming it; any other exception, an ``internal error`` exit 4 from ``resilience validate``,
or a load slower than :data:`LOAD_SECONDS` fails the test.

The mutations are plain functions of a :class:`random.Random`, so that
``benchmarks/fuzz_validate.py`` applies the same ones to 1,000 seeded files; here hypothesis
draws the instance, the mutations and the random stream, with a fixed seed
(``derandomize=True``) so CI runs the same examples every time.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.cli import main
from optimizer.errors import InputError, UsageError
from optimizer.instance.reading import load_instance

ROOT = Path(__file__).resolve().parent.parent
INSTANCES = ROOT / "instances"
GENERATORS = Path(__file__).resolve().parent / "data" / "generators"

# A load of a mutated file must finish within this (the valid files load in well under a
# second; a huge generator count or number must be refused, not worked through).
LOAD_SECONDS = 5.0

# ------------------------------------------------------------------------------ sources


def _with_generators(*, coordinates: bool) -> str:
    """``tiny.json`` with every kind of scenario generator (all small, so it loads fast)."""
    doc = json.loads((INSTANCES / "tiny.json").read_text(encoding="utf-8"))
    doc["name"] = "tiny_generators"
    for s in doc["scenarios"]:
        del s["probability"]
    square = [[[-0.5, -1], [0.5, -1], [0.5, 1], [-0.5, 1], [-0.5, -1]]]
    doc["scenario_generators"] = [
        {"kind": "hazard_footprint", "name": "storm", "count": 3, "seed": 1,
         "epicentres": "uniform" if coordinates else "population", "radius": [0.5, 2.0],
         "fragility": {"curve": "lognormal", "median": 0.5, "spread": 0.2}},
        {"kind": "random_failures", "name": "random", "count": 3, "seed": 2,
         "edge_failure": 0.3, "depot_failure": 0.2, "shelter_failure": 0.1},
        {"kind": "targeted", "name": "cut", "edges": 1, "measure": "betweenness"},
        {"kind": "targeted", "name": "worst", "edges": 1, "measure": "stress"},
    ]
    if coordinates:
        doc["scenario_generators"].append(
            {"kind": "hazard_zones", "name": "flood", "zones": [
                {"id": "west", "geometry": {"type": "Polygon", "coordinates": square}},
                {"id": "east", "geometry": {"type": "Feature", "properties": {}, "geometry": {
                    "type": "MultiPolygon", "coordinates": [[[[1.5, -1], [2.5, -1], [2.5, 1],
                                                              [1.5, 1], [1.5, -1]]]]}}}]})
    else:
        for n in doc["network"]["nodes"]:
            del n["x"], n["y"]
    return json.dumps(doc, indent=2)


def sources() -> dict[str, str]:
    """Name -> text of every valid instance the fuzzers start from."""
    files = {p.stem: p for p in sorted(INSTANCES.glob("*.json")) if p.stem != "instance.schema"}
    files["zones"] = GENERATORS / "zones.json"
    texts = {name: path.read_text(encoding="utf-8") for name, path in files.items()}
    texts["tiny_generators"] = _with_generators(coordinates=True)
    texts["tiny_generators_no_xy"] = _with_generators(coordinates=False)
    return texts


def prepare_folder(folder: Path) -> None:
    """Put next to the mutated files what the sources refer to (zones.json's GeoJSON)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(GENERATORS / "flood.geojson", folder / "flood.geojson")


# ---------------------------------------------------------------------------- mutations

# Values a mutation may put anywhere, as JSON text: some of them (NaN, numbers too large for
# a float or too long for an int) cannot be written with ``json.dumps``.
REPLACEMENTS = (
    '"text"', '""', '"A"', '"kit"', '" "', '"\\u0000"', '"\\ud800"', '"\\ud83d\\ude00"',
    '"' + "x" * 5000 + '"',
    "0", "-0", "1", "-1", "2", "0.5", "1.5", "-0.5", "-100", "1e-320", "1e308", "-1e308",
    "1e400", "-1e400", "10000", "10001", "1000000000", "9223372036854775808",
    "1" + "0" * 400, "1" + "0" * 5000, "0." + "0" * 400 + "1",
    "NaN", "Infinity", "-Infinity",
    "true", "false", "null", "[]", "{}", '[1, "a", null]', '{"x": 1}', '{"": []}',
    '[{"id": "A"}]',
)
DEPTHS = (2, 40, 1000, 100_000)
TYPO_SUFFIXES = ("s", "_", "2", "x", "\udc00")
GARBLE = (b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\", b"0", b"-", b"e", b" ",
          b"\x00", b"\xff", b"\xc3", b"\xe9")


class _Doc:
    """A parsed document being mutated, with the raw JSON text some values stand for."""

    def __init__(self, text: str) -> None:
        self.root: Any = json.loads(text)
        self.raws: list[str] = []

    def raw(self, text: str) -> str:
        """A placeholder for ``text``, written as is when the document is rendered."""
        self.raws.append(text)
        return f"@@raw{len(self.raws) - 1}@@"

    def render(self) -> str:
        text = json.dumps(self.root)
        # A later raw text may hold an earlier placeholder (a nested value): replace the
        # later ones first.
        for i in reversed(range(len(self.raws))):
            text = text.replace(f'"@@raw{i}@@"', self.raws[i])
        return text

    def places(self) -> list[tuple[Any, Any]]:
        """(container, key or index) of every value below the top level."""
        found: list[tuple[Any, Any]] = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            keys = (list(node) if isinstance(node, dict)
                    else range(len(node)) if isinstance(node, list) else ())
            for k in keys:
                found.append((node, k))
                if isinstance(node[k], dict | list):
                    stack.append(node[k])
        return found

    def containers(self, kind: type, places: list[tuple[Any, Any]]) -> list[Any]:
        """The non-empty objects or arrays, the top level included."""
        found = [self.root] if isinstance(self.root, kind) else []
        found += [c[k] for c, k in places if isinstance(c[k], kind)]
        return [x for x in found if x]


def _drop(doc: _Doc, rng: random.Random) -> None:
    keyed = [(c, k) for c, k in doc.places() if isinstance(c, dict)]
    if isinstance(doc.root, dict):
        keyed += [(doc.root, k) for k in doc.root]
    if keyed:
        container, key = rng.choice(keyed)
        container.pop(key, None)


def _retype(doc: _Doc, rng: random.Random) -> None:
    places = doc.places()
    if places:
        container, key = rng.choice(places)
        container[key] = doc.raw(rng.choice(REPLACEMENTS))


def _duplicate(doc: _Doc, rng: random.Random) -> None:
    lists = doc.containers(list, doc.places())
    if lists:
        target = rng.choice(lists)
        target.insert(rng.randrange(len(target) + 1), copy.deepcopy(rng.choice(target)))


def _swap_ids(doc: _Doc, rng: random.Random) -> None:
    """Swap two strings (ids, references, kinds), or make one equal to another."""
    strings = [(c, k) for c, k in doc.places() if isinstance(c[k], str)]
    if len(strings) >= 2:
        (c1, k1), (c2, k2) = rng.sample(strings, 2)
        if rng.random() < 0.5:
            c1[k1], c2[k2] = c2[k2], c1[k1]
        else:
            c1[k1] = c2[k2]


def _rename_key(doc: _Doc, rng: random.Random) -> None:
    """A typo, a key from elsewhere in the file, or an id (for maps keyed by id)."""
    places = doc.places()
    objects = doc.containers(dict, places)
    if not objects:
        return
    target = rng.choice(objects)
    old = rng.choice(list(target))
    others = [k for c, k in places if isinstance(c, dict)] + [
        c[k] for c, k in places if isinstance(c[k], str) and len(c[k]) < 50]
    new = rng.choice([old + rng.choice(TYPO_SUFFIXES), old[:-1], *rng.sample(
        others, min(3, len(others)))])
    target[new] = target.pop(old)


def _nest(doc: _Doc, rng: random.Random) -> None:
    places = doc.places()
    if not places:
        return
    container, key = rng.choice(places)
    depth = rng.choice(DEPTHS)
    inner = json.dumps(container[key])
    if rng.random() < 0.5:
        container[key] = doc.raw("[" * depth + inner + "]" * depth)
    else:
        container[key] = doc.raw('{"a": ' * depth + inner + "}" * depth)


def _truncate(raw: bytes, rng: random.Random) -> bytes:
    return raw[:rng.randrange(len(raw))]


def _garble(raw: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(raw))
    return raw[:at] + rng.choice(GARBLE) + raw[at + rng.choice((0, 1)):]


DOC_MUTATIONS: dict[str, Callable[[_Doc, random.Random], None]] = {
    "drop": _drop, "retype": _retype, "duplicate": _duplicate, "swap_ids": _swap_ids,
    "rename_key": _rename_key, "nest": _nest,
}
TEXT_MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncate": _truncate, "garble": _garble,
}
MUTATIONS = (*DOC_MUTATIONS, *TEXT_MUTATIONS)


def mutate(text: str, kinds: list[str], rng: random.Random) -> bytes:
    """``text`` with the ``kinds`` of mutation applied: those on the document in order, then
    those on the bytes."""
    doc = _Doc(text)
    for kind in kinds:
        if kind in DOC_MUTATIONS:
            DOC_MUTATIONS[kind](doc, rng)
    raw = doc.render().encode("utf-8")
    for kind in kinds:
        if kind in TEXT_MUTATIONS and raw:
            raw = TEXT_MUTATIONS[kind](raw, rng)
    return raw


def draw_case(rng: random.Random, names: list[str]) -> tuple[str, list[str]]:
    """A source and one to three mutations, as the benchmark draws them."""
    return rng.choice(names), [rng.choice(MUTATIONS) for _ in range(rng.randint(1, 3))]


# -------------------------------------------------------------------------------- tests


class Hang(BaseException):
    """A load ran past its time (a BaseException, so no ``except Exception`` hides it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in this (main) thread after ``seconds``."""

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


SOURCES = sources()
NAMES = sorted(SOURCES)
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
KINDS = st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)
RANDOMS = st.randoms(use_true_random=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    prepare_folder(path)
    return path


def test_every_source_is_valid(folder: Path) -> None:
    for name, text in SOURCES.items():
        path = folder / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        load_instance(path)


def test_mutations_change_the_file() -> None:
    text = SOURCES["tiny"]
    for kind in MUTATIONS:
        changed = sum(mutate(text, [kind], random.Random(seed)) != text.encode()
                      for seed in range(10))
        assert changed >= 5, kind


@settings(FUZZ, max_examples=300)
@given(name=st.sampled_from(NAMES), kinds=KINDS, rng=RANDOMS)
def test_load_instance_raises_only_input_errors(folder: Path, name: str, kinds: list[str],
                                                rng: random.Random) -> None:
    path = folder / "mutated.json"
    path.write_bytes(mutate(SOURCES[name], kinds, rng))
    start = time.perf_counter()
    with time_limit(2 * LOAD_SECONDS):
        try:
            load_instance(path)
        except InputError as exc:
            assert exc.file == str(path), str(exc)
            assert exc.problems and all(p.message for p in exc.problems)
        except UsageError:
            pass
    assert time.perf_counter() - start < LOAD_SECONDS


@settings(FUZZ, max_examples=60)
@given(name=st.sampled_from(NAMES), kinds=KINDS, rng=RANDOMS)
def test_validate_exits_0_or_2_never_4(folder: Path, name: str, kinds: list[str],
                                       rng: random.Random) -> None:
    path = folder / "validated.json"
    path.write_bytes(mutate(SOURCES[name], kinds, rng))
    with time_limit(2 * LOAD_SECONDS):
        result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "internal error" not in result.stderr and "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stdout == ""
        assert str(path) in result.stderr


# ------------------------------------------------------------ crashes the fuzzers found
# Each was an exception other than InputError (exit 4 from validate) before its fix.


def _set(doc: _Doc, path: tuple[Any, ...], value: Any) -> None:
    target = doc.root
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


ZONE_POINT = ("scenario_generators", 4, "zones", 0, "geometry", "coordinates", 0, 1, 0)


def _zone_point_1e400(doc: _Doc) -> None:  # was a GEOSException from make_valid
    _set(doc, ZONE_POINT, doc.raw("1e400"))


def _coordinates_span_overflows(doc: _Doc) -> None:  # was an OverflowError in rng.uniform
    _set(doc, ("network", "nodes", 2, "x"), 1e308)


def _stock_overflows(doc: _Doc) -> None:  # was an AssertionError in the stress search
    _set(doc, ("commodities", 0, "unit_volume"), 1e-320)  # then refused there, late


def _need_overflows(doc: _Doc) -> None:  # the same
    _set(doc, ("commodities", 0, "per_capita_need"), 1e308)


FOUND: dict[str, tuple[str, Callable[[_Doc], None], str, list[str]]] = {
    "zone_point_1e400": ("tiny_generators", _zone_point_1e400,
                         "scenario_generators[4].zones[0].geometry.coordinates[0][1][0]",
                         ["number too large"]),
    # Now refused at the file boundary: no number may exceed optimizer.instance.schema.LARGEST.
    "coordinates_span_overflows": ("tiny_generators", _coordinates_span_overflows,
                                   "network.nodes[2].x", ["too large"]),
    # Now refused at the file boundary like every other magnitude (it was refused late, by
    # the stress-targeted generator, under the generator's path).
    "stock_overflows": ("tiny_generators", _stock_overflows, "commodities[0].unit_volume",
                        ["too small", "at least 1e-12"]),
    "need_overflows": ("tiny_generators_no_xy", _need_overflows,
                       "commodities[0].per_capita_need", ["too large"]),
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_found_crash_is_an_input_error(folder: Path, case: str) -> None:
    source, change, path, words = FOUND[case]
    doc = _Doc(SOURCES[source])
    change(doc)
    file = folder / f"{case}.json"
    file.write_text(doc.render(), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_instance(file)
    assert info.value.file == str(file)
    # The value at fault comes first (checks that depend on it may follow).
    assert info.value.problems[0].path == path
    for w in words:
        assert w in str(info.value)


def test_populations_whose_sum_would_overflow_are_refused(folder: Path) -> None:
    """Was a ValueError: the population weights were NaN once their sum overflowed. The
    largest population the file format takes now keeps every sum finite."""
    doc = _Doc(SOURCES["tiny_generators_no_xy"])
    for node in doc.root["network"]["nodes"]:
        node["population"] = 1e308
    doc.root["scenario_generators"] = doc.root["scenario_generators"][:1]  # the footprint
    file = folder / "populations.json"
    file.write_text(doc.render(), encoding="utf-8")
    with pytest.raises(InputError, match="too large"):
        load_instance(file)
    for node in doc.root["network"]["nodes"]:
        node["population"] = 1e15  # the largest allowed
    file.write_text(doc.render(), encoding="utf-8")
    instance = load_instance(file)
    assert [s.id for s in instance.scenarios][-3:] == ["storm-1", "storm-2", "storm-3"]


def test_nesting_is_refused_whatever_the_recursion_limit(folder: Path) -> None:
    """Was a RecursionError from ``copy.deepcopy``: with a recursion limit high enough for
    the parser, later steps that recurse further per level ran out of stack."""
    doc = _Doc(SOURCES["tiny"])
    doc.root["scenarios"][0]["failed_edges"] = doc.raw("[" * 2000 + "]" * 2000)
    file = folder / "nested.json"
    file.write_text(doc.render(), encoding="utf-8")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        with pytest.raises(InputError, match="nested more than"):
            load_instance(file)
    finally:
        sys.setrecursionlimit(limit)


# Found by fuzzing: extreme numbers that broke the stress search (a targeted generator with
# measure "stress") and max flow downstream; they were xfails here (issue 12). Magnitudes
# are now bounded at the file boundary (optimizer.instance.schema.SMALLEST and LARGEST), for every
# number of a commodity, and the largest and smallest accepted ones are handled.
EXTREME = {
    "commodity_weight_1e308": (("commodities", 0, "weight"), 1e308, "too large"),
    "per_capita_need_1e-320": (("commodities", 0, "per_capita_need"), 1e-320, "too small"),
    "per_capita_need_1e308": (("commodities", 0, "per_capita_need"), 1e308, "too large"),
    "commodity_weight_1e-320": (("commodities", 0, "weight"), 1e-320, "too small"),
    "unit_volume_1e-320": (("commodities", 0, "unit_volume"), 1e-320, "too small"),
    "unit_volume_1e308": (("commodities", 0, "unit_volume"), 1e308, "too large"),
}


@pytest.mark.parametrize("case", sorted(EXTREME))
def test_extreme_numbers_are_refused_at_the_boundary(folder: Path, case: str) -> None:
    """Exit 2 from ``validate``, naming the file and the number's JSON path, before any
    generator runs."""
    at, value, words = EXTREME[case]
    doc = _Doc(SOURCES["tiny_generators"])
    _set(doc, at, value)
    file = folder / f"{case}.json"
    file.write_text(doc.render(), encoding="utf-8")
    with pytest.raises(InputError, match=words) as info:
        load_instance(file)
    path = ".".join(str(part) for part in at).replace(".0.", "[0].")
    assert [p.path for p in info.value.problems] == [path]
    result = CliRunner().invoke(main, ["validate", str(file)])
    assert result.exit_code == 2
    assert f"{file}: {path}: " in result.stderr and words in result.stderr


@pytest.mark.parametrize("field", ["weight", "per_capita_need", "unit_volume"])
@pytest.mark.parametrize("value", [1e15, 1e-12])
def test_the_extreme_numbers_accepted_are_handled(folder: Path, field: str,
                                                 value: float) -> None:
    """The largest and smallest magnitudes the boundary takes go through the stress search
    and a solve: a verified plan, no crash."""
    from optimizer.pipeline import solve_and_verify
    from optimizer.solvers.contract import SolveOptions

    doc = _Doc(SOURCES["tiny_generators"])
    _set(doc, ("commodities", 0, field), value)
    file = folder / f"{field}-{value:g}.json"
    file.write_text(doc.render(), encoding="utf-8")
    instance = load_instance(file)
    assert "worst-1" in [s.id for s in instance.scenarios]
    solved = solve_and_verify(instance, SolveOptions(time_limit=20))
    assert solved.verified, solved.failure()
