"""Report files on disk: the format a path asks for, and atomic writes (never half a file).

A path that ends in a slash, or an existing folder, is a folder of CSV tables (one file per
table, ``optimizer.report.tables``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from optimizer.errors import UsageError
from optimizer.files import write_atomic

SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".csv": "csv",
            ".xlsx": "xlsx", ".geojson": "geojson", ".png": "png", ".svg": "svg"}

# A rendered report: text, a file's bytes (a spreadsheet), or CSV tables by name (a folder).
Rendered = str | bytes | dict[str, str]


def is_folder(path: str | Path) -> bool:
    """Whether ``path`` names a folder: it ends in a slash or is an existing one."""
    text = str(path)
    return text != "-" and (text.endswith(("/", os.sep)) or Path(text).is_dir())


def format_of(path: str | Path, allowed: Sequence[str], given: str | None = None) -> str:
    """The format ``given``, else the one ``path``'s extension names; one of ``allowed``."""
    folder = "csv" if "csv" in allowed and is_folder(path) else None
    fmt = given or folder or SUFFIXES.get(Path(path).suffix.lower())
    if fmt not in allowed:
        suffixes = ", ".join(s for s, f in SUFFIXES.items() if f in allowed and s not in
                             (".htm", ".markdown"))
        if "csv" in allowed:
            suffixes += " (or a FOLDER/ for every table as CSV)"
        if given:
            raise UsageError(f"format {given!r} is not one of {', '.join(allowed)}")
        raise UsageError(f"cannot tell the format of {path} from its extension; use one of "
                         f"{suffixes}")
    return fmt


def write_bytes(path: str | Path, data: bytes) -> None:
    write_atomic(path, data)


def write_text(path: str | Path, text: str) -> None:
    write_atomic(path, text)


def emit(path: str | Path, rendered: Rendered) -> None:
    """Write a rendering: text or bytes to the file ``path``; CSV tables into the folder
    ``path``, one ``NAME.csv`` each (a single ``.csv`` file takes one table only)."""
    if not isinstance(rendered, dict):
        write_atomic(path, rendered)
        return
    if not is_folder(path):
        raise UsageError(f"{path}: a CSV file holds one table; name it with --table "
                         f"({', '.join(rendered)}), or write every table to a folder "
                         "(-o FOLDER/)")
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    for name, text in rendered.items():
        write_atomic(folder / f"{name}.csv", text)
