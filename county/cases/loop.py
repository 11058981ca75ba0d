"""The closed loop running beside the ingest: opens cases as alarms are stored, escalates, notifies.

`offer` is the ingest's hook: called after a batch is committed, it only picks the alarms that
open cases and puts them on an in-memory queue, so it cannot slow or stop the ingest. A thread
with its own database connection opens the cases; every `tick_s` it also sweeps the last hours
for alarms that should have a case and have none (the hook's queue is lost in a crash; the
alarms are not) and runs the escalation tick. A second thread (`notify.sender`) delivers what
the steps queued. Any failure is logged and counted in `stats`, and the loop carries on.
Several ingest members may each run one: the database keys make every opening and escalation
happen once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from county.cases.config import LoopConfig
from county.cases.db import LoopDb
from county.cases.service import AlarmRef, Cases, case_summary
from county.notify.sender import Sender
from county.store import Incoming
from wire.messages import Alarm

log = logging.getLogger(__name__)


@dataclass
class LoopStats:
    offered: int = 0
    opened: int = 0
    escalated: int = 0
    ticks: int = 0
    errors: int = 0
    last_error: str = ""


def alarms_needing_cases(items: Sequence[object], config: LoopConfig) -> list[AlarmRef]:
    """The stored alarm steps whose severity and category open a case (pure: the hook's filter)."""
    refs = []
    for item in items:
        m = item.message if isinstance(item, Incoming) else None
        if isinstance(m, Alarm) and config.opens(m.severity, m.category):
            refs.append(AlarmRef(m.station, m.event_id, m.alarm, m.severity, m.category, case_summary(m.alarm, m.state, m.source, m.details, m.summary)))
    return refs


class CaseLoop:
    def __init__(self, url: str, config: LoopConfig, clock: Callable[[], float] = time.time, poll_s: float = 0.5) -> None:
        self.url, self.config, self._clock, self._poll_s = url, config, clock, poll_s
        self.stats = LoopStats()
        self.sender = Sender(url, config, poll_s=poll_s, clock=clock)
        self._incoming: queue.Queue[AlarmRef] = queue.Queue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def offer(self, items: Sequence[object]) -> None:
        """The ingest's hook (its writer thread, after the commit): never blocks, never raises."""
        try:
            refs = alarms_needing_cases(items, self.config)
            for ref in refs:
                self._incoming.put_nowait(ref)
            if refs:
                self.stats.offered += len(refs)
                self._wake.set()
        except Exception as exc:  # noqa: BLE001 - a case problem must never reach the ingest
            self._note(exc)

    def start(self) -> CaseLoop:
        self.sender.start()
        self._thread = threading.Thread(target=self._run, name="case-loop", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        self.sender.stop()

    def _run(self) -> None:
        cases: Cases | None = None
        next_tick = 0.0
        while not self._stop.is_set():
            try:
                if cases is None:
                    cases = Cases(LoopDb(self.url), self.config)
                self._open_offered(cases)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.config.tick_s
                    self.tick(cases)
            except Exception as exc:  # noqa: BLE001 - the database may be away: log, count, retry on the next round
                self._note(exc)
                if cases is not None:
                    cases.db.close()
                    cases = None
            self._wake.wait(self._poll_s)
            self._wake.clear()
        if cases is not None:
            cases.db.close()

    def _open_offered(self, cases: Cases) -> None:
        refs = []
        while True:
            try:
                refs.append(self._incoming.get_nowait())
            except queue.Empty:
                break
        if refs:
            opened = cases.auto_open(refs, self._clock())
            self._opened(opened)

    def tick(self, cases: Cases) -> None:
        """One sweep and one escalation round (what the thread runs every `tick_s`; a test may call it directly)."""
        now = self._clock()
        self._opened(cases.sweep(now))
        escalated = cases.tick(now)
        self.stats.ticks += 1
        self.stats.escalated += len(escalated)
        if escalated:
            self.sender.wake()

    def _opened(self, opened: list) -> None:
        if opened:
            self.stats.opened += len(opened)
            log.info("cases: opened %s", ", ".join(f"#{c.id} {c.station}" for c in opened))
            self.sender.wake()

    def _note(self, exc: Exception) -> None:
        self.stats.errors += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
        log.error("cases: %s", self.stats.last_error)

    def line(self, lang: str = "en") -> str:
        """The progress line the ingest prints beside its own, in `lang` ("zh" or "en")."""
        s, n = self.stats, self.sender.stats
        error = s.last_error or n.last_error
        if lang != "en":
            return (f"案件：新开 {s.opened}，督办升级 {s.escalated}，出错 {s.errors}；通知送达 {n.delivered}，发送失败 {n.failed_attempts} 次，"
                    f"放弃 {n.given_up}" + (f"，最近错误：{error}" if error else ""))
        return (f"cases: opened {s.opened}, escalated {s.escalated}, errors {s.errors}; notifications delivered {n.delivered}, "
                f"failed attempts {n.failed_attempts}, given up {n.given_up}"
                + (f", last error: {s.last_error or n.last_error}" if s.last_error or n.last_error else ""))
