"""Finding the instance a result was solved from, and checking it is the same file.

A result names its instance by sha256 (and, in newer files, by path). The map, the
do-nothing comparison and the social and institutional measures need the instance itself:
it comes from ``--instance`` or from the path the result records. A file whose sha256
differs is used with a warning, since a planner may have touched the instance since.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

from optimizer.errors import InputError, Problem
from optimizer.instance.data import Instance
from optimizer.instance.reading import load_instance, not_regular, path_problem, read_bytes
from optimizer.results.document import Result


def _recorded_path(result: Result, result_path: str | Path | None, name: str
                   ) -> tuple[Path | None, str | None]:
    """The instance file the result records, and a warning when it is not used.

    The path is a claim of the result file, which may come from anyone: it is used as it
    is when it lies inside the result's folder or the current one once resolved (symbolic
    links followed), as hazard-zone paths must stay inside their instance's folder. A
    relative path is tried from the current folder, then from the result's (where
    ``solve`` writes it from). Elsewhere, a regular file is used only when its sha256 is
    the one the result records; any other is not used, with a warning (the report can do
    without it). A NUL byte, a pipe, a device or a folder is an input error (exit 2)
    naming ``instance.path``, never opened.
    """
    recorded = result.instance.path
    if not recorded:
        return None, None
    if problem := path_problem(recorded):
        raise InputError(name, [Problem("instance.path", f"{recorded!r}: {problem}")])
    path = Path(recorded)
    roots = [Path.cwd().resolve()]
    candidates = [path]
    if result_path is not None:
        roots.append(Path(result_path).resolve().parent)
        if not path.is_absolute():
            candidates.append(Path(result_path).parent / path)
    found = [c for c in candidates if os.path.lexists(c)]
    if not found:
        return None, (f"{name} was solved from {recorded}, which cannot be found; give "
                      "--instance for the map and the do-nothing comparison")
    for candidate in found:
        try:  # stat does not open: a pipe cannot make it wait
            kind = not_regular(candidate.stat().st_mode)
        except OSError as exc:
            kind = f"unreadable ({exc.strerror})"
        if kind is not None:
            raise InputError(name, [Problem("instance.path", f"{recorded!r} is {kind}, not "
                                            "an instance file; only regular files are read "
                                            "(give --instance)")])
        resolved = candidate.resolve()
        if any(resolved.is_relative_to(root) for root in roots):
            return candidate, None
        # Elsewhere (solve -o into another folder records ../data/city.json), only the very
        # file the result was solved from is used: its bytes are hashed, never parsed, so a
        # path edited to point at some other file reveals nothing of it.
        if result.instance.sha256 and _sha256(candidate) == result.instance.sha256:
            return candidate, None
    return None, (f"{name} names its instance {recorded!r}, which lies outside the result's "
                  "folder and the current one and is not the file it was solved from "
                  "(sha256), so it is not read; give --instance for the map and the "
                  "do-nothing comparison")


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(read_bytes(path, regular_only=True)).hexdigest()
    except InputError:
        return ""


def instance_for(result: Result, result_path: str | Path | None, given: str | Path | None,
                 cache: dict[Path, Instance] | None = None) -> tuple[Instance | None, list[str]]:
    """The instance of ``result``: ``given`` if any, else the path the result records.

    Returns the instance (its budget set to the one in force in the result) and warnings
    for the user: an instance that cannot be found, or a different sha256. A ``given``
    instance that cannot be read raises :class:`~optimizer.errors.InputError`.
    """
    warnings: list[str] = []
    name = str(result_path) if result_path is not None else "the result"
    if given is not None:
        path = Path(given)
    else:
        recorded, unused = _recorded_path(result, result_path, name)
        if recorded is None:
            return None, [unused] if unused else []
        path = recorded
    key = path.resolve()
    instance = cache.get(key) if cache is not None else None
    if instance is None:
        try:
            # A recorded path is read as a regular file only, within the size limit: a
            # pipe or a device named by a result must not hang or flood the report.
            instance = load_instance(path, regular_only=given is None)
        except InputError as exc:
            if given is not None:
                raise
            raise InputError(name, [Problem("instance.path", f"{path}: {p}")
                                    for p in exc.problems]) from None
        if cache is not None:
            cache[key] = instance
    if result.instance.sha256 and instance.sha256 != result.instance.sha256:
        warnings.append(f"{path} is not the file {name} was solved from (sha256 "
                        f"{instance.sha256[:12]}... against {result.instance.sha256[:12]}... in "
                        "the result); using it anyway for the map and the do-nothing comparison")
    if instance.budget != result.instance.budget:
        instance = dataclasses.replace(instance, budget=result.instance.budget)
    return instance, warnings
