"""Replace a file whole or not at all, durably: the one way the gateway and stationctl write files.

A power cut on an SD card must leave either the old file or the new one, never half of each:
the data goes to a temporary file in the same folder, is fsynced, renamed over the target, and
the folder is fsynced so the rename itself survives. A failed write leaves no temporary file.

`write_atomic` does it for data in memory; `atomic_replace` hands out the temporary file for
data that is written in place (a streamed download, a file a tool checks before it may count).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomic(path: Path, data: bytes | str, *, like: Path | None = None, mode: int | None = None) -> None:
    """Replace `path` with `data` (text is written as UTF-8).

    The new file gets `mode`, else the mode of `like`, else the mode `path` had, else 0644.
    Raises OSError (a full disk, a missing folder) with the target untouched.
    """
    with atomic_replace(path, like=like, mode=mode) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


@contextmanager
def atomic_replace(path: Path, *, like: Path | None = None, mode: int | None = None) -> Iterator[Path]:
    """Yield a new temporary file beside `path`, to be written in place however the caller likes.

    Leaving the block normally makes it `path` durably (fsync, rename, folder fsync), with the
    mode rule of `write_atomic`; leaving it by an exception (a broken transfer, a wrong hash)
    removes it and leaves `path` untouched. The file is fsynced here, so writers need not.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)  # Linux flushes the file's data through any descriptor of it
        if mode is None:
            mode = _mode_of(like) if like is not None else None
        if mode is None:
            mode = _mode_of(path)
        os.chmod(tmp, 0o644 if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_of(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None
