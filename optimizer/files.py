"""Writing output files: whole or not at all, with the mode any new file would get."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from optimizer.errors import UsageError

# What a user can do about a write that failed, by its cause.
_HINTS = {errno.ENOSPC: "the disk is full; free some space or write elsewhere",
          errno.EDQUOT: "the disk quota is used up; free some space or write elsewhere",
          errno.EISDIR: "it is a folder; give a file name",
          errno.EROFS: "the file system is read-only; write elsewhere"}


def _mode(path: Path) -> int:
    """The existing file's mode, or what a new file gets under the umask (outputs are shared)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def cannot_write(path: str | Path, exc: OSError | None = None, *,
                 code: int | None = None) -> UsageError:
    """The usage error (exit 2) for an output that cannot be written, saying why."""
    code = code if code is not None else (exc.errno if exc is not None else None)
    why = _HINTS.get(code) if code is not None else None
    if why is None:
        why = (exc.strerror or str(exc)) if exc is not None else "cannot be written"
    return UsageError(f"cannot write {path}: {why}")


def check_writable(path: str | Path) -> None:
    """Refuse, before any work, an output that can never be written: a folder, or a file in
    a folder that does not exist. (A full disk only shows when writing.)"""
    path = Path(path)
    if path.is_dir():
        raise cannot_write(path, code=errno.EISDIR)
    parent = path.resolve().parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise UsageError(f"cannot write {path}: folder {path.parent} {what}")


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write to a temporary file in the same folder, then rename: never half a file.

    A device or a pipe (``/dev/null``, ``/dev/stdout``) is written through instead: renaming
    over it would replace the device itself when run as root. Every failure to write (a
    folder as the target, a missing or read-only folder, a full disk) is a
    :class:`UsageError` naming the path and the cause, and leaves what was there untouched.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    check_writable(path)
    try:
        if path.exists() and not path.is_file():
            with path.open("wb") as handle:
                handle.write(raw)
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                   dir=path.parent if str(path.parent) else ".")
    except OSError as exc:  # a folder that is missing, read-only or not ours; a full device
        raise cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.chmod(tmp, _mode(path))  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except OSError as exc:  # the disk filled up while writing: the old file stays whole
        Path(tmp).unlink(missing_ok=True)
        raise cannot_write(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
