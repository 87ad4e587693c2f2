"""Write a file so that readers see the old content or the new, never half of either."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from pathlib import Path


def write_atomic(target: Path, data: bytes, mode: int) -> None:
    """Temp file in the same folder, ``mode``, fsync, rename over ``target``, fsync the
    folder. Raises OSError; leaves no temp file behind."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)


def remove_stale_temps(target: Path) -> None:
    """Remove the temp files a writer of ``target`` killed mid-write left behind. Only for
    the one writer of ``target``: litwatch writes feeds and outbox files holding the
    store's lock, so a temp file of the same target found then belongs to a dead run."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def fsync_folder(folder: Path) -> None:
    """Make a rename durable; best effort where a folder cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)
