"""The durable notification queue and its delivery log, in the county database.

A notification is queued in the same transaction as the case step that caused it, so a crash
never loses one and the alarm path never waits for a network: a sender thread (`notify.sender`)
delivers later. Several processes may run senders on one database: a row is leased (claimed
with a conditional UPDATE) before it is sent, so one sender delivers it; a sender that died
leaves a lease that expires. Every attempt, good or bad, is a row in `notify_log`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from county.cases.db import LoopDb
from county.times import epoch

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS notifications (
        id {serial}, case_id BIGINT, channel TEXT NOT NULL, recipient TEXT NOT NULL, payload {json} NOT NULL, state TEXT NOT NULL,
        attempts INTEGER NOT NULL, next_at {ts} NOT NULL, lease_until {ts}, created_at {ts} NOT NULL, sent_at {ts},
        last_error TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS notifications_due ON notifications (state, next_at)",
    """CREATE TABLE IF NOT EXISTS notify_log (
        id {serial}, notification_id BIGINT NOT NULL, at {ts} NOT NULL, attempt INTEGER NOT NULL, ok {bool} NOT NULL,
        detail TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS notify_log_by_notification ON notify_log (notification_id)",
]
ERROR_MAX = 500


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    case_id: int | None
    channel: str  # "webhook" | "email"
    recipient: str  # the URL's name or an e-mail address
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Delivery:
    notification_id: int
    at: float
    attempt: int
    ok: bool
    detail: str


class NotifyQueue:
    def __init__(self, db: LoopDb) -> None:
        self._db = db
        db.ensure(SCHEMA)

    def enqueue(self, case_id: int | None, channel: str, recipient: str, payload: dict[str, Any], now: float) -> int:
        rows = self._db.query(
            "INSERT INTO notifications (case_id, channel, recipient, payload, state, attempts, next_at, created_at, last_error) "
            "VALUES (?, ?, ?, ?j, 'pending', 0, ?, ?, '') RETURNING id",
            (case_id, channel, recipient, json.dumps(payload, ensure_ascii=False), self._db.ts(now), self._db.ts(now)))
        return int(rows[0][0])

    def claim(self, now: float, lease_s: float = 60.0, limit: int = 20) -> list[Notification]:
        """Due notifications this sender now holds (for `lease_s`); another sender's live lease is left alone."""
        ts = self._db.ts(now)
        rows = self._db.query(
            "SELECT id, case_id, channel, recipient, payload, attempts FROM notifications WHERE state = 'pending' AND next_at <= ? "
            "AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_at, id LIMIT ?", (ts, ts, limit))
        held = []
        for r in rows:
            took = self._db.execute("UPDATE notifications SET lease_until = ? WHERE id = ? AND state = 'pending' "
                                    "AND (lease_until IS NULL OR lease_until < ?)", (self._db.ts(now + lease_s), r[0], ts))
            if took == 1:
                payload = json.loads(r[4]) if isinstance(r[4], str) else r[4]
                held.append(Notification(int(r[0]), None if r[1] is None else int(r[1]), r[2], r[3], payload, int(r[5])))
        return held

    def delivered(self, n: Notification, now: float, detail: str) -> None:
        with self._db.transaction():
            self._db.execute("UPDATE notifications SET state = 'sent', attempts = ?, sent_at = ?, lease_until = NULL WHERE id = ?",
                             (n.attempts + 1, self._db.ts(now), n.id))
            self._log(n, now, True, detail)

    def failed(self, n: Notification, now: float, error: str, retry_at: float | None) -> None:
        """Record a failed attempt; retried at `retry_at`, or given up (state failed) when None."""
        error = error[:ERROR_MAX]
        with self._db.transaction():
            self._db.execute("UPDATE notifications SET state = ?, attempts = ?, next_at = ?, lease_until = NULL, last_error = ? WHERE id = ?",
                             ("pending" if retry_at is not None else "failed", n.attempts + 1,
                              self._db.ts(retry_at if retry_at is not None else now), error, n.id))
            self._log(n, now, False, error)

    def _log(self, n: Notification, now: float, ok: bool, detail: str) -> None:
        self._db.execute("INSERT INTO notify_log (notification_id, at, attempt, ok, detail) VALUES (?, ?, ?, ?, ?)",
                         (n.id, self._db.ts(now), n.attempts + 1, ok, detail[:ERROR_MAX]))

    def log(self, notification_id: int) -> list[Delivery]:
        rows = self._db.query("SELECT notification_id, at, attempt, ok, detail FROM notify_log WHERE notification_id = ? ORDER BY id",
                              (notification_id,))
        return [Delivery(int(r[0]), epoch(r[1]) or 0.0, int(r[2]), bool(r[3]), r[4]) for r in rows]

    def of_case(self, case_id: int) -> list[tuple[int, str, str, str, int, str]]:
        """(id, channel, recipient, state, attempts, last error) of a case's notifications, oldest first."""
        rows = self._db.query("SELECT id, channel, recipient, state, attempts, last_error FROM notifications WHERE case_id = ? ORDER BY id",
                              (case_id,))
        return [(int(r[0]), r[1], r[2], r[3], int(r[4]), r[5]) for r in rows]

    def counts(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._db.query("SELECT state, COUNT(*) FROM notifications GROUP BY state")}
