"""Writing output files: whole or not at all, with the mode any new file would get."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from optimizer.errors import UsageError


def _mode(path: Path) -> int:
    """The existing file's mode, or what a new file gets under the umask (outputs are shared)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write to a temporary file in the same folder, then rename: never half a file.

    A device or a pipe (``/dev/null``, ``/dev/stdout``) is written through instead: renaming
    over it would replace the device itself when run as root.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.exists() and not path.is_file() and not path.is_dir():
            with path.open("wb") as handle:
                handle.write(raw)
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                   dir=path.parent if str(path.parent) else ".")
    except OSError as exc:  # a folder that is missing, read-only or not ours
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.chmod(tmp, _mode(path))  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
