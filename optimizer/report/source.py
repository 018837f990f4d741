"""Finding the instance a result was solved from, and checking it is the same file.

A result names its instance by sha256 (and, in newer files, by path). The map, the
do-nothing comparison and the social and institutional measures need the instance itself:
it comes from ``--instance`` or from the path the result records. A file whose sha256
differs is used with a warning, since a planner may have touched the instance since.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from optimizer.data import Instance
from optimizer.reading import load_instance
from optimizer.report.document import Result


def _exists(path: Path) -> bool:
    """Whether ``path`` names something, where a name the system cannot even look up (too
    long, a NUL byte, ...) names nothing: it comes from a file someone may have edited."""
    try:
        return path.exists()
    except (OSError, ValueError):  # Path.exists raises ENAMETOOLONG (fuzz_solve.py found it)
        return False


def _recorded_path(result: Result, result_path: str | Path | None) -> Path | None:
    recorded = result.instance.path
    if not recorded:
        return None
    path = Path(recorded)
    if not path.is_absolute() and not _exists(path) and result_path is not None:
        beside = Path(result_path).parent / path
        if _exists(beside):
            return beside
    return path


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
        recorded = _recorded_path(result, result_path)
        if recorded is None:
            return None, []
        if not _exists(recorded):
            warnings.append(f"{name} was solved from {result.instance.path}, which cannot be "
                            "found; give --instance for the map and the do-nothing comparison")
            return None, warnings
        path = recorded
    key = path.resolve()
    instance = cache.get(key) if cache is not None else None
    if instance is None:
        instance = load_instance(path)
        if cache is not None:
            cache[key] = instance
    if result.instance.sha256 and instance.sha256 != result.instance.sha256:
        warnings.append(f"{path} is not the file {name} was solved from (sha256 "
                        f"{instance.sha256[:12]}... against {result.instance.sha256[:12]}... in "
                        "the result); using it anyway for the map and the do-nothing comparison")
    if instance.budget != result.instance.budget:
        instance = dataclasses.replace(instance, budget=result.instance.budget)
    return instance, warnings
