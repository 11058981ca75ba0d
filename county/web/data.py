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
from county.web.cards import body_of

T = TypeVar("T")

STATION_SEED_SQL = "SELECT station, online, reason, name, received_at, capabilities, town_name, village_name, lat, lon FROM stations"
ALARM_SEED_SQL = """SELECT a.event_id, a.station, a.alarm, a.source, a.category, a.severity, a.state, a.summary, a.raised_at,
    a.acked_by, a.acked_at, a.cleared_at, a.last_seq, s.sha256, e.body FROM alarms a
    LEFT JOIN snapshots s ON s.station = a.station AND s.event_id = a.event_id
    LEFT JOIN events e ON e.station = a.station AND e.seq = a.last_seq
    WHERE a.state <> 'cleared' OR a.cleared_at >= ?"""
# what the board counts per alarm: its `updated` steps and its loudspeaker plays (the playback's `ref` is in its body)
ALARM_COUNTS_SQL = """SELECT station, event_id, kind, ts, body FROM events
    WHERE ((kind = 'alarm' AND state = 'updated') OR kind = 'playback') AND received_at >= ?"""
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
    """Open alarms and those ended within the recent window, as the ingest stored them (see `Board.seed_alarms`).

    The counts cover the window plus a day before it: a long alarm's earliest updates may be older than the window.
    """
    since = store.dialect.ts(now - 2 * RECENT_S)
    counts: dict[tuple[str, str], list[Any]] = {}  # (station, event_id) -> [updates, latest update, plays, latest play]
    for station, event_id, kind, ts, body in store.query(ALARM_COUNTS_SQL, (since,)):
        if kind == "alarm":
            c = counts.setdefault((station, event_id), [0, None, 0, None])
            c[0], c[1] = c[0] + 1, max(c[1] or 0.0, epoch(ts) or 0.0)
            continue
        doc = body_of(body)
        plays = doc.get("plays")
        if isinstance(plays, int) and plays > 0:
            c = counts.setdefault((station, str(doc.get("ref", ""))), [0, None, 0, None])
            c[2], c[3] = c[2] + plays, max(c[3] or 0.0, epoch(doc.get("ended")) or epoch(ts) or 0.0)
    return [(*row, *counts.get((row[1], row[0]), (0, None, 0, None))) for row in store.query(ALARM_SEED_SQL, (store.dialect.ts(now - RECENT_S),))]


def timeline(store: Store, station: str, event_id: str) -> list[dict[str, Any]]:
    """Every stored lifecycle step of one alarm, oldest first."""
    out = []
    for seq, ts, state, severity, summary, body in store.query(TIMELINE_SQL, (station, event_id)):
        doc = body if isinstance(body, dict) else json.loads(body)
        out.append({"seq": int(seq), "ts": epoch(ts), "state": state, "severity": severity, "summary": summary,
                    "acked_by": doc.get("acked_by"), "details": doc.get("details") or {},
                    "alarm": str(doc.get("alarm", "")), "source": str(doc.get("source", ""))})
    return out
