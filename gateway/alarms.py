"""Alarm lifecycle: rules say whether a condition holds; the book turns that into raised,
updated, acked and cleared transitions with a stable `event_id`.

Rules stay pure and simple (they emit `AlarmSignal`s: "this condition is active with this
severity" or "it is over"); the book remembers which alarms are open, so a repeated signal with
nothing new is silent, a change of severity or details is an `updated`, and the end is one
`cleared`. Open alarms are persisted by the caller (see `AlarmStore`) so that a restart clears
them explicitly instead of leaving them open forever at the county.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

Severity = Literal["info", "warning", "danger", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "danger": 2, "critical": 3}
Lifecycle = Literal["raised", "updated", "acked", "cleared"]


@dataclass(frozen=True, slots=True)
class AlarmSignal:
    """What a rule says about one condition at one moment.

    `kind` names the alarm (water_level, fire, person_in_water_zone, possible_submersion, sensor_stale, ...), `source`
    the device or zone it is about. `active=False` ends it. `details` are JSON-ready facts that
    travel with the alarm (level, count, track ids); `snapshot_jpeg` is evidence, sent on the
    snapshot topic and referred to by the event. `updates_on` names the detail keys whose change
    is worth an `updated` message (others change silently, e.g. a level moving by millimetres).
    `fresh_evidence`: the snapshot is new evidence of an escalation (longer in the water, someone
    lost), worth an `updated` of its own and sent; otherwise a snapshot travels only with the raise.
    """

    kind: str
    source: str
    active: bool
    severity: Severity = "warning"
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    updates_on: tuple[str, ...] = ()
    category: Literal["safety", "health"] = "safety"
    snapshot_jpeg: bytes | None = None
    fresh_evidence: bool = False


@dataclass(frozen=True, slots=True)
class OpenAlarm:
    """An alarm that has been raised and not yet cleared."""

    event_id: str
    kind: str
    source: str
    severity: Severity
    category: str
    summary: str
    details: dict[str, Any]
    raised_at: float
    acked_by: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """One lifecycle step to publish (and, when raised or escalated, maybe to announce)."""

    state: Lifecycle
    alarm: OpenAlarm
    previous_severity: Severity | None = None
    snapshot_jpeg: bytes | None = None
    reason: str = ""

    @property
    def escalated(self) -> bool:
        """Raised, or updated to a higher severity: the moments a loudspeaker action may fire."""
        if self.state == "raised":
            return True
        return (
            self.state == "updated"
            and self.previous_severity is not None
            and SEVERITY_RANK[self.alarm.severity] > SEVERITY_RANK[self.previous_severity]
        )


class AlarmStore(Protocol):
    """Where open alarms survive a restart (the outbox database implements it)."""

    def save_alarm(self, alarm: OpenAlarm) -> None: ...

    def delete_alarm(self, event_id: str) -> None: ...

    def load_alarms(self) -> list[OpenAlarm]: ...


class AlarmBook:
    """Open alarms keyed by (kind, source); turns signals into lifecycle transitions."""

    def __init__(self, store: AlarmStore | None = None, new_id: Any = None) -> None:
        self._open: dict[tuple[str, str], OpenAlarm] = {}
        self._store = store
        self._new_id = new_id or (lambda: uuid.uuid4().hex)

    def restore(self, now: float) -> list[Transition]:
        """Clear the alarms left open by the previous run; rules raise them anew if still true."""
        if self._store is None:
            return []
        out = []
        for alarm in self._store.load_alarms():
            self._store.delete_alarm(alarm.event_id)
            out.append(Transition("cleared", alarm, reason="gateway restarted; condition re-evaluated from now on"))
        return out

    def open_alarms(self) -> list[OpenAlarm]:
        return list(self._open.values())

    def find(self, event_id: str) -> OpenAlarm | None:
        return next((a for a in self._open.values() if a.event_id == event_id), None)

    def apply(self, signal: AlarmSignal, now: float) -> list[Transition]:
        """One signal in, zero or one transition out."""
        key = (signal.kind, signal.source)
        current = self._open.get(key)
        if not signal.active:
            if current is None:
                return []
            del self._open[key]
            if self._store is not None:
                self._store.delete_alarm(current.event_id)
            closing = replace(current, details={**current.details, **signal.details})
            return [Transition("cleared", closing, reason=signal.summary)]
        if current is None:
            alarm = OpenAlarm(
                event_id=self._new_id(),
                kind=signal.kind,
                source=signal.source,
                severity=signal.severity,
                category=signal.category,
                summary=signal.summary,
                details=dict(signal.details),
                raised_at=now,
            )
            self._open[key] = alarm
            if self._store is not None:
                self._store.save_alarm(alarm)
            return [Transition("raised", alarm, snapshot_jpeg=signal.snapshot_jpeg)]
        changed_severity = signal.severity != current.severity
        changed_details = any(current.details.get(k) != signal.details.get(k) for k in signal.updates_on)
        evidence = signal.snapshot_jpeg if signal.fresh_evidence else None
        updated = replace(current, severity=signal.severity, summary=signal.summary or current.summary, details=dict(signal.details))
        self._open[key] = updated
        if not (changed_severity or changed_details or evidence):
            return []
        if self._store is not None:
            self._store.save_alarm(updated)
        return [Transition("updated", updated, previous_severity=current.severity, snapshot_jpeg=evidence)]

    def ack(self, event_id: str, operator: str) -> Transition | None:
        """An operator acknowledged an open alarm; None if it is not open (already cleared)."""
        for key, alarm in self._open.items():
            if alarm.event_id == event_id:
                acked = replace(alarm, acked_by=operator)
                self._open[key] = acked
                if self._store is not None:
                    self._store.save_alarm(acked)
                return Transition("acked", acked, reason=f"acknowledged by {operator}")
        return None
