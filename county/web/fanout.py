"""Live changes to every open browser, coalesced, through server-sent events.

A browser is not sent a queue of every message (a wall screen over hundreds of stations would
fall behind and grow without bound); it is sent the *current* record of each thing that changed
since its last push: at once after a quiet spell, then at most every `COALESCE_S`. Marking happens on paho's thread and is handed
to the event loop with `call_soon_threadsafe`; the set of dirty keys is bounded by the number of
records, however fast messages come.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

from county.web.board import Change

COALESCE_S = 0.25


class Browser:
    """One open event stream: what changed since it was last served, and a bell to wake it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.dirty: set[Change] = set()
        self.wake = asyncio.Event()
        self.hurry = asyncio.Event()  # set by what an operator acts on: ends a coalescing wait early

    def mark(self, changes: Iterable[Change]) -> None:
        changes = tuple(changes)
        self.dirty.update(changes)
        self.wake.set()
        if any(kind != "station" for kind, _ in changes):
            self.hurry.set()

    def urgent(self) -> bool:
        """Something an operator acts on (an alarm step, a command's reply, a notice) is waiting: not to be held back."""
        return self.hurry.is_set()

    def take(self) -> set[Change]:
        """What changed; called on the event loop after waiting on `wake`."""
        self.wake.clear()
        self.hurry.clear()
        taken, self.dirty = self.dirty, set()
        return taken


class Fanout:
    """The set of open browsers; `notify` may be called from any thread."""

    def __init__(self) -> None:
        self._browsers: set[Browser] = set()
        self._lock = threading.Lock()

    def add(self, browser: Browser) -> None:
        with self._lock:
            self._browsers.add(browser)

    def remove(self, browser: Browser) -> None:
        with self._lock:
            self._browsers.discard(browser)

    def __len__(self) -> int:
        return len(self._browsers)

    def notify(self, changes: list[Change]) -> None:
        with self._lock:
            browsers = list(self._browsers)
        for b in browsers:
            try:
                b.loop.call_soon_threadsafe(b.mark, tuple(changes))
            except RuntimeError:  # its loop has closed: the server is stopping
                self.remove(b)
