"""Online/offline bookkeeping for drivers that talk to a device over a link (serial, RS-485).

A device that stops answering is not retried on every poll: it is backed off (doubling delays,
capped, no jitter: `foundation.backoff.Backoff`), so a dead sensor costs one timeout per back-off
period instead of stalling its loop or the bus it shares. The status is exposed so the station
can report the sensor offline and then online again, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from foundation.backoff import Backoff
from foundation.errors import DeviceUnavailable


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """A snapshot of a device link, for health reports and offline/online events."""

    online: bool
    since: float
    last_error: str | None
    failures: int
    reconnects: int
    retry_in_s: float


class LinkTracker:
    """Tracks one device's link: backs off after failures and notes online/offline changes.

    `on_change`, if given, is called with the new status whenever the device goes offline or
    comes back online (not on every read), so a station can publish the change.
    """

    def __init__(
        self,
        name: str,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[LinkStatus], None] | None = None,
    ) -> None:
        self.name = name
        self._clock = clock
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, clock)
        self._on_change = on_change
        self._online = False
        self._ever_online = False
        self._since = clock()
        self._last_error: str | None = None
        self._failures = 0
        self._reconnects = 0

    @property
    def online(self) -> bool:
        return self._online

    def status(self) -> LinkStatus:
        return LinkStatus(
            online=self._online,
            since=self._since,
            last_error=self._last_error,
            failures=self._failures,
            reconnects=self._reconnects,
            retry_in_s=self._backoff.remaining(),
        )

    def check_ready(self) -> None:
        """Raise DeviceUnavailable while the device is backed off after a failure."""
        wait = self._backoff.remaining()
        if wait > 0:
            raise DeviceUnavailable(self.name, f"offline ({self._last_error}); next attempt in {wait:.1f} s")

    def succeeded(self) -> None:
        """A good exchange with the device: online, back-off reset."""
        self._backoff.succeeded()
        self._failures = 0
        if not self._online:
            if self._ever_online:
                self._reconnects += 1
            self._ever_online = True
            self._set(True)

    def failed(self, reason: str) -> DeviceUnavailable:
        """A failed exchange: offline, backed off. Returns the error for the caller to raise."""
        self._last_error = reason
        self._failures += 1
        delay = self._backoff.failed()
        if self._online or self._failures == 1:  # report going offline once, not every failure
            self._set(False)
        return DeviceUnavailable(self.name, f"{reason} (retry in {delay:.1f} s)")

    def _set(self, online: bool) -> None:
        self._online = online
        self._since = self._clock()
        if self._on_change is not None:
            self._on_change(self.status())


class LinkedDevice:
    """Mixin for drivers that keep a `LinkTracker` in `self._link`: their status for the station."""

    _link: LinkTracker

    @property
    def status(self) -> LinkStatus:
        return self._link.status()

    @property
    def online(self) -> bool:
        return self._link.online
