"""The closed loop's library: open, merge, step, list and show cases, and the escalation tick.

Every function takes the acting account (`county.accounts.Operator`) and answers "not found"
for a case or alarm outside its scope, exactly as for one that does not exist (the web view's
rule), so a township account learns nothing of another township. Each change is one transaction:
the case, its alarm links, its step, its audit entry (the county's audit log, target = the
station, so `countyctl operator audit --scope` finds it) and its queued notifications.
The web pages to come call these same functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from county.accounts import Accounts, Operator
from county.cases.config import LoopConfig
from county.cases.db import LoopDb
from county.cases.dispatch import assignees_for, notify
from county.cases.model import Assignee, Case, CaseStep
from county.cases.rules import CaseState, Step, apply, escalate
from county.cases.store import CaseStore
from county.i18n import Refused
from county.notify.queue import NotifyQueue
from county.people import People
from county.wording import summary_text

SYSTEM = "system"  # the actor of automatic openings and escalations
# a stored alarm with its latest step's facts (the case's summary is written from them)
ALARM_SQL = ("SELECT a.station, a.event_id, a.alarm, a.severity, a.category, a.summary, a.source, a.state, e.body FROM alarms a "
             "LEFT JOIN events e ON e.station = a.station AND e.seq = a.last_seq")


@dataclass(frozen=True, slots=True)
class AlarmRef:
    """What opening a case needs of a stored alarm."""

    station: str
    event_id: str
    kind: str
    severity: str
    category: str
    summary: str


def case_summary(kind: str, state: str, source: str, details: Mapping[str, Any] | None, summary: str) -> str:
    """A case's summary, for the county's people: written in Chinese from the alarm's facts (the station's line once it cleared)."""
    return summary if state == "cleared" else summary_text(kind, state, source, details, summary, "zh")


def stored_ref(row: Sequence[Any]) -> AlarmRef:
    """An `AlarmRef` from a row of `ALARM_SQL`."""
    station, event_id, kind, severity, category, summary, source, state, body = row
    try:
        doc = body if isinstance(body, dict) else json.loads(body or "{}")
    except ValueError:
        doc = {}
    details = doc.get("details") if isinstance(doc, dict) and isinstance(doc.get("details"), dict) else None
    return AlarmRef(station, event_id, kind, severity, category, case_summary(kind, state, source, details, summary))


class _Taken(Exception):
    """The alarm was put in a case by someone else meanwhile: this opening is rolled back."""


def not_found(what: str, key: object) -> Refused:
    zh = {"case": "案件", "alarm": "告警"}.get(what, what)
    return Refused(f"找不到{zh} {key}（或不在您的范围内）", f"no {what} {key} (or not in your scope)")


class Cases:
    def __init__(self, db: LoopDb, config: LoopConfig) -> None:
        self.db, self.config = db, config
        self.people = People(db)
        self.store = CaseStore(db)
        self.queue = NotifyQueue(db)
        self.accounts = Accounts(db.store, guard=db.call)

    # ------------------------------------------------------------------ opening

    def alarm(self, station: str, event_id: str) -> AlarmRef | None:
        rows = self.db.query(f"{ALARM_SQL} WHERE a.station = ? AND a.event_id = ?", (station, event_id))
        return stored_ref(rows[0]) if rows else None

    def open_for_alarm(self, actor: Operator, station: str, event_id: str, now: float, note: str = "") -> Case:
        """A duty officer opens a case for any alarm of a station in their scope."""
        ref = self.alarm(station, event_id) if actor.sees(station) else None
        if ref is None:
            raise not_found("alarm", f"{station} {event_id}")
        if (other := self.store.case_of(station, event_id)) is not None:
            raise Refused(f"该告警已在案件 #{other} 中", f"that alarm is already in case #{other}")
        case = self._open(ref, actor.name, now, note)
        if case is None:
            raise Refused("该告警刚被放入另一案件", "that alarm was just put in another case")
        return case

    def auto_open(self, alarms: Iterable[AlarmRef], now: float) -> list[Case]:
        """Open a case for each alarm the configuration says opens one and that has none yet (idempotent)."""
        opened = []
        for ref in alarms:
            if self.config.opens(ref.severity, ref.category) and self.store.case_of(ref.station, ref.event_id) is None:
                case = self._open(ref, SYSTEM, now, "")
                if case is not None:
                    opened.append(case)
        return opened

    def sweep(self, now: float) -> list[Case]:
        """Alarms of the last `sweep_hours` that should have a case and have none (the hook missed them: a crash, an outage)."""
        since = self.db.ts(now - self.config.sweep_hours * 3600)
        sev, cat = self.config.open_on, self.config.categories
        rows = self.db.query(
            f"{ALARM_SQL} LEFT JOIN case_alarms c "
            "ON c.station = a.station AND c.event_id = a.event_id WHERE c.case_id IS NULL AND a.raised_at >= ? "
            f"AND a.severity IN ({', '.join('?' * len(sev))}) AND a.category IN ({', '.join('?' * len(cat))}) ORDER BY a.raised_at",
            (since, *sev, *cat))
        return self.auto_open((stored_ref(r) for r in rows), now)

    def _open(self, ref: AlarmRef, opened_by: str, now: float, note: str) -> Case | None:
        deadline = self.config.deadline(ref.severity, ref.kind)
        state = CaseState("dispatched", 0, now + deadline.accept_min * 60, now + deadline.handle_min * 60)
        assignees = assignees_for(self.people, self.config, ref.station, 0)
        try:
            with self.db.transaction():
                case_id = self.store.insert(ref.station, ref.kind, ref.severity, ref.summary, opened_by, now, state, assignees)
                if not self.store.link(ref.station, ref.event_id, case_id):
                    raise _Taken
                self.store.add_step(case_id, now, opened_by, "open", "", "dispatched", note)
                self._audit(opened_by, "case_open", ref.station, now, case_id,
                            {"alarm": ref.event_id, "to": [a.name for a in assignees], "note": note})
                case = self._get(case_id)
                notify(self.queue, self.config, case, "case_dispatched", now)
        except _Taken:
            return None
        return case

    def merge(self, actor: Operator, case_id: int, event_ids: Sequence[str], now: float) -> Case:
        """Put more alarms of the case's station into it; a case left empty by the move is closed as a duplicate."""
        case = self.get(actor, case_id)
        with self.db.transaction():
            for event_id in event_ids:
                if self.alarm(case.station, event_id) is None:
                    raise not_found("alarm", f"{case.station} {event_id}")
                other = self.store.case_of(case.station, event_id)
                if other == case.id:
                    continue
                if other is None:
                    self.store.link(case.station, event_id, case.id)
                else:
                    self.store.relink(case.station, event_id, case.id)
                    self._close_if_empty(actor, other, case.id, now)
            self.store.add_step(case.id, now, actor.name, "merge", case.state, case.state, " ".join(event_ids))
            self._audit(actor.name, "case_merge", case.station, now, case.id, {"alarms": list(event_ids)})
        return self._get(case.id)

    def _close_if_empty(self, actor: Operator, case_id: int, into: int, now: float) -> None:
        emptied = self._get(case_id)
        if emptied.alarms or emptied.state == "closed":
            return
        before = emptied.rule_state()
        after = CaseState("closed", before.level, before.accept_due, before.handle_due, before.overdue, before.handled_by, "duplicate")
        self.store.save(emptied, before, after, now)
        self.store.add_step(case_id, now, actor.name, "close", before.state, "closed", f"并入案件 #{into} / merged into #{into}")

    # ------------------------------------------------------------------ steps

    def step(self, actor: Operator, case_id: int, action: str, now: float, note: str = "", photos: Sequence[str] = (),
             result: str | None = None) -> Case:
        """One step of the state machine by `actor`; Refused when the rule, the scope or a concurrent change says no."""
        case = self.get(actor, case_id)
        deadline = self.config.deadline(case.severity, case.kind)
        before = case.rule_state()
        after = apply(before, Step(action, actor.name, note, tuple(photos), result), now, deadline.accept_min * 60, deadline.handle_min * 60)
        with self.db.transaction():
            if not self.store.save(case, before, after, now):
                raise Refused("案件刚被他人更新，请刷新后重试", "the case was changed meanwhile; look again and retry")
            self.store.add_step(case.id, now, actor.name, action, before.state, after.state, note, photos)
            self._audit(actor.name, f"case_{action}", case.station, now, case.id,
                        {"from": before.state, "to": after.state, "note": note, "photos": list(photos), "result": result})
            updated = self._get(case.id)
            if action == "send_back":
                notify(self.queue, self.config, updated, "case_sent_back", now, note)
        return updated

    # ------------------------------------------------------------------ escalation (督办)

    def tick(self, now: float) -> list[Case]:
        """Escalate every late open case one rung (or mark it overdue at the top); the cases that changed.

        Safe to run in several processes at once: each change is conditional on the rung and state it was decided from.
        """
        changed = []
        for case in self.store.list(open_only=True, limit=100_000):
            deadline = self.config.deadline(case.severity, case.kind)
            before = case.rule_state()
            moved = escalate(before, now, len(self.config.ladder), deadline.accept_min * 60, deadline.handle_min * 60)
            if moved is None:
                continue
            after, why = moved
            people: list[Assignee] | None = None
            if after.level != before.level:
                fresh = assignees_for(self.people, self.config, case.station, after.level)
                people = [*case.assignees, *(a for a in fresh if a.phone not in {b.phone for b in case.assignees})]
            with self.db.transaction():
                if not self.store.save(case, before, after, now, people):
                    continue
                level = self.config.ladder[after.level].level
                self.store.add_step(case.id, now, SYSTEM, "escalate", before.state, after.state, f"{why} -> {level}")
                self._audit(SYSTEM, "case_escalate", case.station, now, case.id, {"why": why, "level": level})
                updated = self._get(case.id)
                notify(self.queue, self.config, updated, "case_escalated", now, why)  # the new rung, and the old one again
            changed.append(updated)
        return changed

    # ------------------------------------------------------------------ reading

    def get(self, actor: Operator, case_id: int) -> Case:
        case = self.store.get(case_id)
        if case is None or not actor.sees(case.station):
            raise not_found("case", f"#{case_id}")
        return case

    def list(self, actor: Operator, open_only: bool = False, limit: int = 200) -> list[Case]:
        return [c for c in self.store.list(open_only, limit=limit, scope=actor.scope) if actor.sees(c.station)]

    def stamp(self, actor: Operator) -> str:
        """Changes whenever a case the actor may see is opened or moves: the open case list polls it to refresh itself."""
        return self.store.stamp(actor.scope)

    def mine(self, actor: Operator, open_only: bool = True, limit: int = 200) -> list[Case]:
        """The cases dispatched to the person whose directory entry is linked to this account (the phone page's "my cases")."""
        return [c for c in self.list(actor, open_only, limit=100_000) if any(a.account == actor.name for a in c.assignees)][:limit]

    def show(self, actor: Operator, case_id: int) -> tuple[Case, list[CaseStep], list[tuple[int, str, str, str, int, str]]]:
        """The case, its steps and its notifications (id, channel, recipient, state, attempts, last error)."""
        case = self.get(actor, case_id)
        return case, self.store.steps(case.id), self.queue.of_case(case.id)

    def _get(self, case_id: int) -> Case:
        case = self.store.get(case_id)
        assert case is not None
        return case

    def _audit(self, actor: str, action: str, station: str, now: float, case_id: int, detail: dict[str, object]) -> None:
        self.accounts.log(actor, action, station, now, {"case": case_id, **detail})
