"""The loudspeaker's queue: priorities, pre-emption, repeats, quiet hours, cool-downs, expiry.

`PlayQueue` is the policy and is pure (time passed in): what plays next, what is dropped and
why. `Announcer` is the thread that plays through a `Speaker` and cancels the current play when
something more urgent arrives. Every item ends in exactly one report: completed, pre-empted
(when its repeats could not be finished), expired, cooldown, quiet_hours, silenced, failed.
The optional warning light (a strobe relay) is switched through the same queue, in order with the
plays: on while any alarm holds it (`WarningLight`), off when the last lets go.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from drivers.base import Relay, Speaker, Utterance
from foundation.errors import GatewayError

log = logging.getLogger(__name__)

PRIORITY_RANK = {"emergency": 0, "warning": 1, "announcement": 2}
SILENCED = "silenced by a county command"  # error text of items dropped (outcome silenced) during a silence
STOPPING = "gateway stopping"  # error text of items cut or left in the queue when the gateway stops


@dataclass(slots=True)
class Announcement:
    """One request to play something, maybe several times."""

    key: str  # what the cool-down is counted on (alarm kind, or a command id)
    utterance: Utterance
    priority: str = "warning"
    repeat: int = 1
    interval_s: float = 2.0
    expires_at: float = float("inf")  # monotonic time after which it may no longer start
    cooldown_s: float = 0.0
    ref: str = ""  # the alarm event_id or command id this play is for
    plays_done: int = 0
    started_at: float | None = None
    preempted: bool = False


@dataclass(frozen=True, slots=True)
class WarningLight:
    """Hold the warning light on for an alarm (`ref`: its event_id), or let it go."""

    ref: str
    on: bool


@dataclass(frozen=True, slots=True)
class PlayReport:
    key: str
    ref: str
    what: str
    priority: str
    outcome: str  # completed, pre-empted, expired, cooldown, quiet_hours, silenced, failed
    plays: int
    started: float | None = None
    ended: float | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class QuietWindow:
    """Local minutes of the day [start, end); may wrap past midnight."""

    start_min: int
    end_min: int

    @classmethod
    def parse(cls, start: str, end: str) -> "QuietWindow":
        def minutes(s: str) -> int:
            h, m = s.split(":")
            return int(h) * 60 + int(m)

        return cls(minutes(start), minutes(end))

    def contains(self, minute_of_day: int) -> bool:
        if self.start_min <= self.end_min:
            return self.start_min <= minute_of_day < self.end_min
        return minute_of_day >= self.start_min or minute_of_day < self.end_min


@dataclass
class PlayQueue:
    """Pure policy of the loudspeaker queue."""

    quiet: QuietWindow | None = None
    _heap: list[tuple[int, int, Announcement]] = field(default_factory=list)
    _counter: itertools.count = field(default_factory=itertools.count)
    _last_played: dict[str, float] = field(default_factory=dict)
    silenced_until: float = float("-inf")  # a county `silence` command: monotonic end
    silence_emergencies: bool = False

    def submit(self, item: Announcement, now: float) -> PlayReport | None:
        """Queue an item, or return the report of why it will not play."""
        last = self._last_played.get(item.key)
        if item.cooldown_s and last is not None and now - last < item.cooldown_s:
            return _report(item, "cooldown")
        heapq.heappush(self._heap, (PRIORITY_RANK[item.priority], next(self._counter), item))
        return None

    def requeue(self, item: Announcement) -> None:
        """Put back a pre-empted item at the front of its priority."""
        heapq.heappush(self._heap, (PRIORITY_RANK[item.priority], -next(self._counter), item))

    def top_rank(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def next(self, now: float, minute_of_day: int | None) -> tuple[Announcement | None, list[PlayReport]]:
        """The item to play now, and the reports of items dropped on the way.

        `minute_of_day` is None while the wall clock is not trusted: quiet hours are not applied then.
        """
        dropped = []
        while self._heap:
            _, _, item = heapq.heappop(self._heap)
            if now > item.expires_at:
                dropped.append(_report(item, "pre-empted" if item.preempted else "expired"))
                continue
            if item.priority != "emergency" and self.quiet is not None and minute_of_day is not None and self.quiet.contains(minute_of_day):
                dropped.append(_report(item, "quiet_hours"))
                continue
            if self.silenced(item, now):
                dropped.append(_report(item, "silenced", error=SILENCED))
                continue
            return item, dropped
        return None, dropped

    def silenced(self, item: Announcement, now: float) -> bool:
        """Whether a county silence holds this item now (emergencies only when it was forced)."""
        return now < self.silenced_until and (self.silence_emergencies or item.priority != "emergency")

    def played(self, item: Announcement, now: float) -> None:
        self._last_played[item.key] = now

    def drain(self) -> list[Announcement]:
        """Take every queued item out, in play order (the gateway is stopping)."""
        items = [entry[2] for entry in sorted(self._heap)]
        self._heap.clear()
        return items

    def __len__(self) -> int:
        return len(self._heap)


def _report(item: Announcement, outcome: str, started: float | None = None, ended: float | None = None, error: str = "") -> PlayReport:
    return PlayReport(item.key, item.ref, item.utterance.describe(), item.priority, outcome, item.plays_done,
                      started if started is not None else item.started_at, ended, error)


class Announcer:
    """Plays the queue through a speaker in its own thread; more urgent items pre-empt."""

    def __init__(
        self,
        speaker: Speaker,
        report: Callable[[PlayReport], None],
        quiet: QuietWindow | None = None,
        clock: Callable[[], float] = time.monotonic,
        local_minute: Callable[[], int | None] = lambda: (lambda t: t.hour * 60 + t.minute)(datetime.now()),
        beat: Callable[..., None] | None = None,
        max_play_s: float = 600.0,
        warning_light: Relay | None = None,
    ) -> None:
        self.speaker = speaker
        self.warning_light = warning_light
        self._light_refs: set[str] = set()
        self._report = report
        self._queue = PlayQueue(quiet=quiet)
        self._clock = clock
        self._minute = local_minute
        self._beat = beat or (lambda name, quiet_for=0.0: None)
        self._max_play_s = max_play_s
        self._lock = threading.Condition()
        self._current: Announcement | None = None
        self._cancel = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.last_error = ""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Cut the current play and report every item still queued as pre-empted: nothing queued
        survives a restart, so the county hears of it now rather than waiting for an expiry."""
        with self._lock:
            self._stop = True
            self._cancel.set()
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            left = self._queue.drain()
        for item in left:
            self._report(_report(item, "pre-empted", ended=time.time(), error=STOPPING))
        light, self.warning_light = self.warning_light, None
        if light is not None:
            try:
                light.close()  # off, so a stopped gateway never leaves the strobe flashing
            except (GatewayError, OSError) as exc:
                log.error("warning light: %s", exc)

    def submit(self, item: Announcement | WarningLight) -> None:
        """Queue an item; if it outranks what is playing, cut that short. A `WarningLight` switches the light."""
        if isinstance(item, WarningLight):
            self._switch_light(item)
            return
        with self._lock:
            if self._stop:
                refused: PlayReport | None = _report(item, "pre-empted", ended=time.time(), error=STOPPING)
            else:
                refused = self._queue.submit(item, self._clock())
            if refused is None:
                current = self._current
                if current is not None and PRIORITY_RANK[item.priority] < PRIORITY_RANK[current.priority]:
                    self._cancel.set()
                self._lock.notify_all()
        if refused is not None:
            self._report(refused)

    def _switch_light(self, item: WarningLight) -> None:
        with self._lock:
            was = bool(self._light_refs)
            (self._light_refs.add if item.on else self._light_refs.discard)(item.ref)
            now_on = bool(self._light_refs) and not self._stop
        if self.warning_light is None or was == now_on:
            return
        try:
            self.warning_light.on() if now_on else self.warning_light.off()
        except (GatewayError, OSError) as exc:  # a relay gone: the warning still plays
            self.last_error = str(exc)
            log.error("warning light: %s", exc)

    def silence(self, until: float, emergencies_too: bool = False) -> None:
        """Drop what would play before monotonic `until` (emergencies too only if forced); cut the current play if it is held.

        Separate from quiet hours: the county asks for it (e.g. a false alarm looping), it lasts a
        set time, and items dropped meanwhile are reported `silenced`.
        An `until` in the past lifts the silence.
        """
        with self._lock:
            self._queue.silenced_until = until
            self._queue.silence_emergencies = emergencies_too
            current = self._current
            if current is not None and self._queue.silenced(current, self._clock()):
                self._cancel.set()
            self._lock.notify_all()

    def silenced_until(self) -> float | None:
        """Monotonic end of the current silence, or None."""
        with self._lock:
            until = self._queue.silenced_until
        return until if until > self._clock() else None

    def waiting(self) -> int:
        """How many items wait behind the one playing."""
        with self._lock:
            return len(self._queue)

    def busy(self) -> bool:
        with self._lock:
            return self._current is not None or len(self._queue) > 0

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stop and len(self._queue) == 0:
                    self._beat("announcer")
                    self._lock.wait(1.0)
                if self._stop:
                    return
                item, dropped = self._queue.next(self._clock(), self._minute())
                self._current = item
                self._cancel.clear()
            for r in dropped:
                self._report(r)
            if item is not None:
                self._play(item)
            with self._lock:
                self._current = None

    def _play(self, item: Announcement) -> None:
        """Play the item's remaining repeats; stop early if pre-empted."""
        self._beat("announcer")
        while item.plays_done < item.repeat:
            if item.plays_done > 0 and self._cancel.wait(item.interval_s):
                break
            self._beat("announcer", quiet_for=self._max_play_s)  # silent while the clip plays; the driver bounds it
            try:
                result = self.speaker.play(item.utterance, self._cancel)
            except (GatewayError, OSError) as exc:  # device gone, or an utterance it cannot play (bad clip)
                self.last_error = str(exc)
                log.error("loudspeaker: %s", exc)
                self._report(_report(item, "failed", ended=time.time(), error=str(exc)))
                return
            if item.started_at is None:
                item.started_at = result.started
            self._beat("announcer")
            if not result.completed:
                break
            item.plays_done += 1
        with self._lock:
            self._queue.played(item, self._clock())
            stopping = self._stop
        if item.plays_done >= item.repeat:
            self._report(_report(item, "completed", ended=time.time()))
        elif stopping:
            self._report(_report(item, "pre-empted", ended=time.time(), error=STOPPING))
        else:
            item.preempted = True
            with self._lock:
                self._queue.requeue(item)  # finish it after the more urgent item, unless it expires first
                self._lock.notify_all()
