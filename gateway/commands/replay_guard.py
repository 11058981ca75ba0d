"""Command ids already run, remembered across restarts and power cuts, and a trusted time floor.

A signed command captured off the wire could be sent again while it is still valid; the station
refuses it because its id is here. An id is written durably (`synchronous=FULL`) *before* the
command runs, so a crash in between loses the command rather than running it twice. Ids are
forgotten once the command has expired beyond the clock tolerance: from then on the expiry
check refuses it anyway.

The floor is a time the station knows has passed: the latest issue time of an accepted command,
which the county signed. It never goes back, so a clock stepped backwards or a Pi booting in
1970 cannot make an expired command fresh again, and ids are forgotten against it (never against
the station's own clock, so one bad clock reading cannot make the station forget too early, nor
be written down and refuse every command afterwards).

The store is a small SQLite file of its own (beside the outbox). If it cannot be read it is moved
aside and a fresh one started; `reset_at` then records the (synced) wall clock at that moment,
and commands issued before it are refused: they might be replays the lost file would have caught.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from foundation.sqlite_files import move_aside, open_durable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_commands (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    seen_at    REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_by_expiry ON seen_commands (expires_at);
CREATE TABLE IF NOT EXISTS guard_meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
"""


class ReplayGuard:
    """Durable set of command ids with expiry, plus the monotonic time floor."""

    def __init__(self, path: str | os.PathLike[str], now: float, synced: bool) -> None:
        """`now`/`synced`: the wall clock at opening, recorded as `reset_at` if the file had to be recovered."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.recovered_from: str | None = None
        recovered = False
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            moved = move_aside(self.path)
            self.recovered_from = f"{exc} (moved to {moved})"
            self._db = self._open()
            recovered = True
        if recovered:
            self._set("reset_at", now if synced else 0.0)
        meta = dict(self._db.execute("SELECT key, value FROM guard_meta").fetchall())
        self.reset_at = float(meta.get("reset_at", 0.0))
        self.floor = float(meta.get("floor", 0.0))

    def _open(self) -> sqlite3.Connection:
        return open_durable(self.path, _SCHEMA)

    def _set(self, key: str, value: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO guard_meta (key, value) VALUES (?, ?)", (key, value))

    def advance(self, t: float) -> None:
        """Raise the floor to `t`, the issue time of an accepted command (never lowers it)."""
        with self._lock:
            if t > self.floor:
                self.floor = t
                self._set("floor", t)

    def seen(self, command_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM seen_commands WHERE id = ?", (command_id,)).fetchone() is not None

    def claim(self, command_id: str, expires_at: int, forget_before: float, now: float) -> bool:
        """Record an id durably; False if it was already there (a replay).

        Ids of commands that expired before `forget_before` are dropped on the way.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM seen_commands WHERE expires_at < ?", (forget_before,))
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO seen_commands (id, expires_at, seen_at) VALUES (?, ?, ?)", (command_id, expires_at, now)
                )
                self._db.execute("COMMIT")
            except sqlite3.Error:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise
            return cur.rowcount == 1

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM seen_commands").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
