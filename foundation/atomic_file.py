"""Replace a file whole or not at all, durably: the one way the gateway and stationctl write files.

A power cut on an SD card must leave either the old file or the new one, never half of each:
the data goes to a temporary file in the same folder, is fsynced, renamed over the target, and
the folder is fsynced so the rename itself survives. A failed write leaves no temporary file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, *, like: Path | None = None, mode: int | None = None) -> None:
    """Replace `path` with `data` (text is written as UTF-8).

    The new file gets `mode`, else the mode of `like`, else the mode `path` had, else 0644.
    Raises OSError (a full disk, a missing folder) with the target untouched.
    """
    path = Path(path)
    if mode is None:
        mode = _mode_of(like) if like is not None else None
    if mode is None:
        mode = _mode_of(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _mode_of(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None
