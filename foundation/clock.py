"""Whether the wall clock can be trusted, and the id of this gateway run.

A Pi has no RTC: at boot its clock may say 1970 until NTP answers. Messages then carry
`clock_synced: false` and the county orders them by `seq`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Literal, Protocol

TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


def kernel_synced() -> bool | None:
    """The kernel's NTP-synchronised flag via adjtimex(2); None where it cannot be asked."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex is ~208 bytes; modes=0 reads only
        state = libc.adjtimex(buf)
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR


class ClockSettings(Protocol):
    """What the wall clock needs of the station file's `clock` section (duck-typed: no import upward)."""

    sync_check: Literal["plausible", "kernel"] | str
    earliest_valid: str


class WallClock:
    """Wall time plus a cached verdict on whether it is trustworthy."""

    def __init__(
        self,
        cfg: ClockSettings,
        now: Callable[[], float] = time.time,
        kernel: Callable[[], bool | None] = kernel_synced,
        recheck_s: float = 10.0,
    ) -> None:
        self._now = now
        self._kernel = kernel
        self._mode = cfg.sync_check
        self._earliest = datetime.fromisoformat(cfg.earliest_valid.replace("Z", "+00:00")).timestamp()
        self._recheck = recheck_s
        self._checked_at = float("-inf")
        self._synced = False

    def now(self) -> float:
        return self._now()

    def synced(self) -> bool:
        t = self._now()
        if t < self._earliest:
            return False
        mono = time.monotonic()
        if mono - self._checked_at >= self._recheck:
            self._checked_at = mono
            self._synced = True if self._mode == "plausible" else bool(self._kernel())
        return self._synced


def new_boot_id() -> str:
    """A fresh id for this run of the gateway (not the OS boot: a restart is what the county must see)."""
    return uuid.uuid4().hex[:16]
