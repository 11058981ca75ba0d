"""The board's records of alarms, health notices and commands (see `county.web.board`), and how an alarm's evidence is named."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AlarmCard", "CommandCard", "NoticeCard", "ReplyLine", "alarm_key", "body_of", "snapshot_number"]


def alarm_key(station: str, event_id: str) -> str:
    """An alarm's key on the board: a station can only ever touch its own alarms (a topic holds no `#`)."""
    return f"{station}#{event_id}"


@dataclass
class AlarmCard:
    event_id: str
    station: str
    alarm: str
    severity: str
    state: str
    category: str
    source: str
    summary: str
    raised_at: float | None
    acked_by: str | None = None
    acked_at: float | None = None
    cleared_at: float | None = None
    snapshot_sha256: str | None = None  # the first snapshot's (what `/snapshot/{event_id}/1` is checked against)
    details: dict[str, Any] = field(default_factory=dict)
    last_seq: int = -1
    rev: int = 0
    updates: int = 0  # `updated` steps seen: the pages show their count and the latest, not one row each
    updated_at: float | None = None
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # {"n", "sha256"} of the snapshots seen, in order
    snapshot_count: int = 0  # how many the station published (the n of the newest: a seeded card knows only that one)
    plays: int = 0  # complete loudspeaker plays the station reported for this alarm
    played_at: float | None = None
    _play_seqs: frozenset[int] = frozenset()  # playback reports counted (a redelivery is not counted twice)

    @property
    def open(self) -> bool:
        return self.state != "cleared"

    @property
    def key(self) -> str:
        return alarm_key(self.station, self.event_id)

    def public(self) -> dict[str, Any]:
        # fields are replaced, never mutated in place: a shallow copy is a snapshot
        return {**{k: v for k, v in self.__dict__.items() if k != "_play_seqs"}, "key": self.key}

    def add_snapshot(self, n: int, sha256: str | None) -> None:
        if sha256 and all(s["n"] != n for s in self.snapshots):
            self.snapshots = sorted([*self.snapshots, {"n": n, "sha256": sha256}], key=lambda s: s["n"])
        self.snapshot_count = max(self.snapshot_count, n)

    def snapshot_sha(self, n: int) -> str | None:
        """The sha256 the alarm announced for its snapshot `n` (1: the first), if the board saw it."""
        return next((s["sha256"] for s in self.snapshots if s["n"] == n), self.snapshot_sha256 if n == 1 else None)


@dataclass
class NoticeCard:
    """A one-off health event of a station (command_rejected, outbox_full, device_offline...)."""

    key: str
    station: str
    notice: str
    severity: str
    source: str
    summary: str
    at: float | None
    seq: int
    rev: int = 0

    def public(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ReplyLine:
    station: str
    outcome: str
    ok: bool
    reason: str
    at: float


@dataclass
class CommandCard:
    command_id: str
    batch: str
    station: str
    name: str
    summary: str
    operator: str
    issued_at: float
    expires_at: float
    replies: list[ReplyLine] = field(default_factory=list)
    rev: int = 0

    def public(self) -> dict[str, Any]:
        return {**self.__dict__, "replies": [dict(r.__dict__) for r in self.replies]}  # replies grows in place: copied


def snapshot_number(event_id: str, topic: str) -> int:
    """Which of an alarm's snapshots a topic names: 1 for `snapshot/{event_id}`, n for `snapshot/{event_id}-{n}`, 0 otherwise."""
    last = topic.rsplit("/", 1)[-1]
    if last == event_id:
        return 1
    head, _, n = last.rpartition("-")
    return int(n) if head == event_id and n.isdigit() and 1 < int(n) < 1_000_000 else 0


def body_of(value: Any) -> dict[str, Any]:
    """A stored message body (JSON text in SQLite, already a dict from PostgreSQL); {} when unreadable."""
    try:
        doc = json.loads(value) if isinstance(value, str | bytes) else value
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}
