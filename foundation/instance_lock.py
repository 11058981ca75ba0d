"""One process per station: an exclusive `flock` on a lock file beside the state it guards.

Why a kernel lock rather than a pid file: the kernel drops it when the holder dies, even by
SIGKILL or a power cut, so a stale file never stops the next start, and two processes cannot
both believe they own it. The file holds the holder's pid only to say who is running; it is
never deleted (deleting it would let a newcomer lock a fresh inode while the old one is held).
The descriptor is not inherited by child processes (Python opens it close-on-exec), so a helper
program left running cannot keep a dead gateway's lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from foundation.errors import GatewayError


class AlreadyRunning(GatewayError, RuntimeError):
    """Another process holds the lock; `pid` is its process id when it could be read."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(f"a gateway is already running on this station ({who}, lock {path})")
        self.path = path
        self.pid = pid


class InstanceLock:
    """An exclusive lock on `path`, taken at once or refused; held until `release()` or process exit."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(self.path, read_holder(self.path)) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        """Give the lock up (the file stays, see the module docstring)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "InstanceLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_holder(path: Path) -> int | None:
    """The pid written in a lock file, or None (missing, empty while the holder is starting, garbled)."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
