"""Reading instance files: bytes -> JSON -> checked file model -> :class:`Instance`.

This is the only module that reads instance files from disk (and the GeoJSON files their
hazard zones name). Every problem it reports names the file, the place in it (a JSON path
such as ``depots[1].node``, or a line and column for a syntax error) and what is wrong.

Scenario generators are expanded here, once the file passed its checks: the generated
scenarios are appended after the explicit ones and the cross-field checks run again on the
whole list, so everything downstream sees plain scenarios.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import os
import re
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from optimizer.errors import InputError, Problem
from optimizer.instance import data
from optimizer.instance.build import build
from optimizer.instance.checks import env_limit, run_checks
from optimizer.instance.schema import InstanceFile

if TYPE_CHECKING:
    from optimizer.generators import GeoJsonReader

# Largest file read (RESILIENCE_MAX_FILE_BYTES overrides it): a city-sized instance is a few
# megabytes, and a file of gigabytes is more likely a wrong path than an instance.
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_FILE_BYTES_ENV = "RESILIENCE_MAX_FILE_BYTES"
# An instance nests about a dozen levels (a GeoJSON multipolygon in a hazard zone is the
# deepest); deeper is refused before anything recurses into it.
MAX_DEPTH = 32
# Python refuses to read integers of thousands of digits; no field needs more than these.
MAX_INTEGER_DIGITS = 100
# An instance path of "-" is standard input; messages name it so.
STDIN = "-"
STDIN_NAME = "<stdin>"


def json_path(loc: tuple[Any, ...]) -> str:
    """``('depots', 1, 'node')`` -> ``depots[1].node``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _nested_models(arg)
    return found


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The file-format model of the object at ``loc`` (list indices skipped)."""
    model: type[BaseModel] = InstanceFile
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        nested = _nested_models(fields[part].annotation) if part in fields else []
        if not nested:
            return None
        model = nested[0]
    return model


def _field_places(model: type[BaseModel], at: str = "") -> dict[str, list[str]]:
    """Field name (by alias) -> the objects that have it, as JSON paths (``depots[i]``)."""
    places: dict[str, list[str]] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        places.setdefault(key, []).append(at)
        sub_at = f"{at}.{key}" if at else key
        if getattr(info.annotation, "__origin__", None) is list:
            sub_at += "[i]"
        for sub in _nested_models(info.annotation):
            for field, where in _field_places(sub, sub_at).items():
                places.setdefault(field, []).extend(where)
    return places


FIELD_PLACES = _field_places(InstanceFile)


def _unknown_field_hint(loc: tuple[Any, ...]) -> str:
    """A near name among the fields allowed here, or where an exact name belongs instead."""
    name = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is not None:
        here = sorted(info.alias or n for n, info in model.model_fields.items())
        near = difflib.get_close_matches(name, here, n=1, cutoff=0.75)
        if near:
            return f" (did you mean {near[0]!r}?)"
    elsewhere = [p or "the top level" for p in FIELD_PLACES.get(name, [])]
    if elsewhere:
        return f" (it belongs in {' or '.join(elsewhere)}, not here)"
    return ""


def _problem_from_pydantic(error: Any) -> Problem:
    path = json_path(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        return Problem(path, f"unknown field {name!r}{_unknown_field_hint(tuple(error['loc']))}")
    if kind == "missing":
        return Problem(path, "required field is missing")
    value = error.get("input")
    if kind == "union_tag_invalid":  # e.g. a scenario generator of an unknown kind
        ctx = error.get("ctx") or {}
        return Problem(path, f"unknown {ctx.get('discriminator', 'kind').strip(chr(39))} "
                             f"{ctx.get('tag')!r}; use one of {ctx.get('expected_tags')}")
    if kind in {"model_type", "dict_type", "list_type"}:
        wanted = "an array" if kind == "list_type" else "an object"
        return Problem(path, f"must be {wanted}, not {_json_kind(value)}")
    message = error["msg"]
    if kind in {"finite_number"}:
        message = "must be a finite number (not NaN or infinity)"
    shown = json.dumps(value, default=repr)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return Problem(path, f"{message} (got {shown})")


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    return {list: "an array", str: "a string", bool: "true or false",
            type(None): "null"}.get(type(value), "a number")


class _NotJson:
    """Stands for a number the engine cannot take as written (a NaN or Infinity literal, an
    integer of hundreds of digits) until its JSON path is known."""

    def __init__(self, message: str) -> None:
        self.message = message


def _constant(name: str) -> _NotJson:
    return _NotJson(f"{name} is not a number JSON allows; write a finite number")


def _integer(text: str) -> int | _NotJson:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        return _NotJson(f"an integer of {digits:,} digits is too long; numbers here have at "
                        f"most {MAX_INTEGER_DIGITS} digits")
    return int(text)


class _Object(dict):
    """A JSON object that remembers the keys its text gave more than once."""

    repeated: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) < len(pairs):
        keys = [k for k, _ in pairs]
        obj.repeated = tuple(dict.fromkeys(k for i, k in enumerate(keys) if k in keys[:i]))
    return obj


_SURROGATE = re.compile("[\ud800-\udfff]")


def _unpaired(text: str) -> str | None:
    """The first lone surrogate in ``text`` (JSON's ``"\\ud800"``), written as an escape."""
    found = None if text.isascii() else _SURROGATE.search(text)
    return None if found is None else f"\\u{ord(found.group()):04x}"


def _surrogate(bad: str) -> str:
    return f"{bad} is half of a surrogate pair, not a character; remove it or give the pair"


def _literal_problems(value: Any, loc: tuple[Any, ...] = ()) -> list[Problem]:
    """NaN/Infinity literals and repeated keys: Python's json accepts them, JSON does not.

    A repeated key would silently keep its last value, so it is an error too. So are numbers
    too large for a float (``1e400`` reads as infinity) or an integer, text that is not
    Unicode (a lone surrogate escape) and nesting deeper than :data:`MAX_DEPTH` (later steps
    recurse into the document).
    """
    if isinstance(value, _NotJson):
        return [Problem(json_path(loc), value.message)]
    if isinstance(value, float) and math.isinf(value):
        return [Problem(json_path(loc), "number too large (over 1.8e308); write a finite "
                                        "number")]
    if isinstance(value, str) and (bad := _unpaired(value)):
        return [Problem(json_path(loc), _surrogate(bad))]
    if len(loc) >= MAX_DEPTH and isinstance(value, dict | list) and value:
        return [Problem(json_path(loc), f"nested more than {MAX_DEPTH} levels deep; an "
                                        "instance file needs about a dozen")]
    if isinstance(value, dict):
        problems = [Problem(json_path((*loc, k)), "key given more than once in the same "
                            "object; keep one") for k in getattr(value, "repeated", ())
                    if not _unpaired(k)]
        for k, item in value.items():
            if bad := _unpaired(k):
                problems.append(Problem(json_path(loc), f"key {k!a}: {_surrogate(bad)}"))
            else:
                problems += _literal_problems(item, (*loc, k))
        return problems
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _literal_problems(item, (*loc, i))]
    return []


def parse_json(path: Path, raw: bytes) -> Any:
    """Decode and parse, naming the line and column (or JSON path) of every error."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise InputError(path, [Problem("", f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at "
                                            f"line {line}, column {column}; save the file "
                                            "as UTF-8")]) from None
    try:
        document = json.loads(text, parse_constant=_constant, parse_int=_integer,
                              object_pairs_hook=_object)
        problems = _literal_problems(document)
    except json.JSONDecodeError as exc:
        raise InputError(path, [Problem("", f"invalid JSON at line {exc.lineno}, column "
                                            f"{exc.colno}: {exc.msg}")]) from None
    except RecursionError:
        raise InputError(path, [Problem("", _too_deep(text))]) from None
    if problems:
        raise InputError(path, problems)
    return document


# A JSON string (skipped whole, so that brackets inside it do not count) or a bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _too_deep(text: str) -> str:
    """Where ``text`` first nests deeper than :data:`MAX_DEPTH`, for a parser that gave up."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                at = match.start()
                line = text.count("\n", 0, at) + 1
                column = at - text.rfind("\n", 0, at)
                return (f"nested more than {MAX_DEPTH} levels deep at line {line}, column "
                        f"{column}; an instance file needs about a dozen")
        elif bracket in "]}":
            depth -= 1
    return "nested too deeply to read"


def _overlaps(a: str, b: str) -> bool:
    """Whether one JSON path lies inside the other (or they are the same)."""
    return a == b or any(x.startswith(y + sep) for x, y in ((a, b), (b, a)) for sep in ".[")


def _problems_despite(document: dict[str, Any], errors: list[Any]) -> list[Problem]:
    """Cross-field problems of a file pydantic rejected, so a user sees them all at once.

    The checks run on the file with every rejected value left out, and only when that
    leaves a valid file (the rejected fields all have defaults). Problems inside an object
    that held a rejected value are dropped: they may only follow from leaving it out.
    """
    trimmed = copy.deepcopy(document)
    for error in errors:
        if not error["loc"]:
            return []
        *parents, last = error["loc"]
        parent: Any = trimmed
        try:
            for part in parents:
                parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return []
        if not isinstance(parent, dict) or last not in parent:
            return []
        del parent[last]
    try:
        parsed = InstanceFile.model_validate(trimmed)
    except ValidationError:
        return []
    touched = [json_path(tuple(e["loc"][:-1])) for e in errors]
    return [p for p in run_checks(parsed)
            if not any(t and _overlaps(p.path, t) for t in touched)]


def max_file_bytes() -> int:
    """The limit in force: :data:`MAX_FILE_BYTES` or ``RESILIENCE_MAX_FILE_BYTES``."""
    return env_limit(MAX_FILE_BYTES_ENV, MAX_FILE_BYTES)


def not_regular(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is not a regular file, in words."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "not a regular file"


def path_problem(written: str) -> str | None:
    """Why a path written inside a file cannot name a file at all (the operating system
    takes no NUL byte in a path)."""
    return "contains a NUL byte, which no file name can hold" if "\0" in written else None


def read_bytes(path: Path, *, regular_only: bool = False) -> bytes:
    """The file's bytes, or an :class:`InputError` about this file.

    With ``regular_only`` (a path named inside a file, which the user did not choose), a
    pipe, a device or a folder is refused without waiting: it is opened without blocking
    and checked before anything is read (a FIFO would otherwise hang until a writer came,
    ``/dev/zero`` never end).
    """
    limit = max_file_bytes()
    if problem := path_problem(str(path)):
        raise InputError(str(path).replace("\0", "\\0"), [Problem("", problem)])
    try:
        if regular_only:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            kind = not_regular(os.fstat(fd).st_mode)
            if kind is not None:
                os.close(fd)
                raise InputError(path, [Problem("", f"is {kind}, not a regular file; "
                                                    "only regular files are read")])
            os.set_blocking(fd, True)
            opened = os.fdopen(fd, "rb")
        else:
            opened = path.open("rb")
        with opened as stream:
            size = os.fstat(stream.fileno()).st_size
            # Devices and pipes give no size (/dev/zero never ends): read one byte past.
            raw = b"" if size > limit else stream.read(limit + 1)
        if size > limit or len(raw) > limit:
            known = f"{size:,} bytes, " if size > limit else ""
            raise InputError(path, [Problem("", f"file is {known}over the limit of "
                                                f"{limit:,} bytes (set {MAX_FILE_BYTES_ENV} "
                                                "to change it)")])
        return raw
    except OSError as exc:
        raise InputError(path, [Problem("", f"cannot read: {exc.strerror}")]) from None


def geojson_reader(folder: Path, file: str | Path) -> GeoJsonReader:
    """Reads hazard-zone files named in instance ``file``, which lies in ``folder``.

    A path is relative to the folder, and must stay inside it once resolved (symbolic links
    followed): an instance file someone sent must not be able to make the engine read
    ``../../secret.json``. Problems name the instance file and the ``geojson`` field.
    """
    root = folder.resolve()

    def read(written: str, at: str) -> Any:
        if problem := path_problem(written):
            raise InputError(file, [Problem(at, f"{written!r}: {problem}")])
        target = (root / written).resolve()  # an absolute path replaces root
        if not target.is_relative_to(root):
            raise InputError(file, [Problem(at, f"{written!r} lies outside the instance's "
                                                f"folder {root}; keep hazard zone files in "
                                                "that folder or below it")])
        try:
            return parse_json(target, read_bytes(target, regular_only=True))
        except InputError as exc:
            raise InputError(file, [Problem(at, f"{written}: {p}") for p in exc.problems]
                             ) from None

    return read


def expand_generators(f: InstanceFile, *, folder: Path | None = None,
                      file: str | Path = "<memory>") -> InstanceFile:
    """The file with its generated scenarios, checked again as a whole.

    Parameters
    ----------
    f
        A parsed file whose cross-field checks passed.
    folder
        Where hazard-zone paths start (the instance file's folder); default the current one.
    file
        The instance file's name, for messages.
    """
    if not f.scenario_generators:
        return f
    # Imported here: the generators bring scipy, networkx and shapely, which a file without
    # generators (and `resilience validate` of one) never needs.
    from optimizer import generators

    expanded = generators.expand(f, file=file,
                                 read_geojson=geojson_reader(folder or Path.cwd(), file))
    problems = run_checks(expanded)
    if problems:
        raise InputError(file, problems)
    return expanded


def read_instance_file(path: str | Path, *, reseed: int = 0, regular_only: bool = False,
                       stdin: bytes | None = None) -> tuple[InstanceFile, bytes]:
    """Parse, check and expand a file; raise :class:`InputError` listing every problem.

    The returned file holds the explicit and the generated scenarios, and no generators.
    ``reseed`` adds to every generator's seed: the same generators, other scenarios (for
    out-of-sample evaluation). ``regular_only`` refuses a pipe or a device without waiting
    (for a path named inside another file, see :func:`read_bytes`). ``stdin``: standard
    input's bytes, already read (it can be read only once), for the path ``-``.
    """
    path = Path(path)
    if str(path) == STDIN and not regular_only:  # a path named in a file is never stdin
        raw = read_stdin() if stdin is None else stdin
        return parse_instance(raw, STDIN_NAME, Path.cwd(), reseed=reseed), raw
    raw = read_bytes(path, regular_only=regular_only)
    return parse_instance(raw, path, path.parent, reseed=reseed), raw


def read_stdin() -> bytes:
    """Standard input's bytes, up to the same limit as a file's."""
    limit = max_file_bytes()
    raw = sys.stdin.buffer.read(limit + 1)
    if len(raw) > limit:
        raise InputError(STDIN_NAME, [Problem("", f"over the limit of {limit:,} bytes (set "
                                                  f"{MAX_FILE_BYTES_ENV} to change it)")])
    return raw


def parse_instance(raw: bytes, path: str | Path, folder: Path, *,
                   reseed: int = 0) -> InstanceFile:
    """Parse, check and expand an instance's bytes; ``path`` names it in messages and
    hazard-zone files are found in ``folder`` (see :func:`read_instance_file`)."""
    path = Path(path)
    document = parse_json(path, raw)
    if not isinstance(document, dict):
        raise InputError(path, [Problem("", "the top level must be a JSON object, not "
                                            f"{_json_kind(document)}")])
    try:
        parsed = InstanceFile.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors()
        raise InputError(path, [_problem_from_pydantic(e) for e in errors]
                         + _problems_despite(document, errors)) from None
    problems = run_checks(parsed)
    if problems:
        raise InputError(path, problems)
    if reseed:
        if not any(hasattr(g, "seed") for g in parsed.scenario_generators):
            raise InputError(path, [Problem("scenario_generators", "no seeded scenario "
                                            "generator to draw other scenarios from")])
        from optimizer import generators

        parsed = generators.reseeded(parsed, reseed)
    return expand_generators(parsed, folder=folder, file=path)


def load_instance(path: str | Path, *, reseed: int = 0, regular_only: bool = False,
                  stdin: bytes | None = None) -> data.Instance:
    """Read, check and expand an instance file into the engine's data (see
    :func:`read_instance_file` for ``reseed``, ``regular_only`` and ``stdin``); ``"-"``
    reads standard input."""
    path = Path(path)
    parsed, raw = read_instance_file(path, reseed=reseed, regular_only=regular_only,
                                     stdin=stdin)
    piped = str(path) == STDIN
    # read_instance_file expanded the generators already: build, not build_instance.
    return build(parsed, source=STDIN_NAME if piped else str(path),
                 sha256=hashlib.sha256(raw).hexdigest(),
                 default_name="instance" if piped else path.stem)


def load_bytes(raw: bytes, source: str, *, reseed: int = 0, folder: Path | None = None,
               default_name: str = "instance") -> data.Instance:
    """An instance from its file's bytes (a dict's JSON, say); ``source`` names it in
    messages, hazard-zone files are found in ``folder`` (default the current one)."""
    parsed = parse_instance(raw, source, folder or Path.cwd(), reseed=reseed)  # expanded
    return build(parsed, source=source, sha256=hashlib.sha256(raw).hexdigest(),
                 default_name=default_name)


def build_instance(f: InstanceFile, *, source: str = "<memory>", sha256: str = "",
                   default_name: str = "instance", folder: Path | None = None) -> data.Instance:
    """Turn a checked file model into indexed arrays, applying every default.

    Scenario generators still in ``f`` are expanded first (see :func:`expand_generators`;
    ``folder`` is where their hazard-zone paths start), then :func:`optimizer.instance.build.build`.
    """
    f = expand_generators(f, folder=folder, file=source)
    return build(f, source=source, sha256=sha256, default_name=default_name)
