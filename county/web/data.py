"""The web view's reads of the ingest database, behind one lock.

The server shares one connection between its request threads; SQLite's Python connection (and
a transaction on it) must not be used by two threads at once, so every read and write goes
through `Database.run`, which holds the lock for the call and runs it off the event loop.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from county.store import Store
from county.times import epoch
from county.web.board import RECENT_S, Board

T = TypeVar("T")

STATION_SEED_SQL = "SELECT station, online, reason, name, received_at, capabilities FROM stations"
ALARM_SEED_SQL = """SELECT a.event_id, a.station, a.alarm, a.source, a.category, a.severity, a.state, a.summary, a.raised_at,
    a.acked_by, a.acked_at, a.cleared_at, a.last_seq, s.sha256 FROM alarms a
    LEFT JOIN snapshots s ON s.station = a.station AND s.event_id = a.event_id
    WHERE a.state <> 'cleared' OR a.cleared_at >= ?"""
TIMELINE_SQL = """SELECT seq, ts, state, severity, summary, body FROM events
    WHERE station = ? AND event_id = ? AND kind = 'alarm' ORDER BY seq"""


class Database:
    """The store plus a lock; `run(fn)` calls fn(store) in a worker thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        with self.lock:
            self.store.reconnect_if_broken()  # a PostgreSQL restart costs one failed request, not every one after it
            return fn(*args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await run_in_threadpool(self.call, fn, *args)


def seed_board(board: Board, store: Store, now: float) -> None:
    """Start the board from what the ingest stored: every station, open alarms and those ended in the window."""
    board.seed_stations(store.query(STATION_SEED_SQL))
    board.seed_alarms(alarm_rows(store, now))


def alarm_rows(store: Store, now: float) -> list[tuple[Any, ...]]:
    """Open alarms and those ended within the recent window, as the ingest stored them."""
    return store.query(ALARM_SEED_SQL, (store.dialect.ts(now - RECENT_S),))


def timeline(store: Store, station: str, event_id: str) -> list[dict[str, Any]]:
    """Every stored lifecycle step of one alarm, oldest first."""
    out = []
    for seq, ts, state, severity, summary, body in store.query(TIMELINE_SQL, (station, event_id)):
        doc = body if isinstance(body, dict) else json.loads(body)
        out.append({"seq": int(seq), "ts": epoch(ts), "state": state, "severity": severity, "summary": summary,
                    "acked_by": doc.get("acked_by"), "details": doc.get("details") or {}})
    return out
