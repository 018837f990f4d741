"""Report files on disk: the format a path asks for, and atomic writes (never half a file)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from optimizer.errors import UsageError
from optimizer.files import write_atomic

SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".csv": "csv",
            ".geojson": "geojson", ".png": "png", ".svg": "svg"}


def format_of(path: str | Path, allowed: Sequence[str], given: str | None = None) -> str:
    """The format ``given``, else the one ``path``'s extension names; one of ``allowed``."""
    fmt = given or SUFFIXES.get(Path(path).suffix.lower())
    if fmt not in allowed:
        suffixes = ", ".join(s for s, f in SUFFIXES.items() if f in allowed and s not in
                             (".htm", ".markdown"))
        if given:
            raise UsageError(f"format {given!r} is not one of {', '.join(allowed)}")
        raise UsageError(f"cannot tell the format of {path} from its extension; use one of "
                         f"{suffixes}")
    return fmt


def write_bytes(path: str | Path, data: bytes) -> None:
    write_atomic(path, data)


def write_text(path: str | Path, text: str) -> None:
    write_atomic(path, text)
