"""The durable queue of reports, one read position per centre.

Reports are appended once and each centre reads them in order from its own position, moved
only when that centre acknowledged: a centre that is down for a day gets the day's reports in
order, with their observation times, while the others stay current. SQLite through
`foundation.sqlite_files` (WAL, synchronous=FULL) beside the outbox, because the SD card may
lose power at any moment.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from foundation.errors import OutboxError
from foundation.sqlite_files import move_aside, open_durable
from gateway.sl651.schedule import Report

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (id INTEGER PRIMARY KEY AUTOINCREMENT, function INTEGER NOT NULL,
                                    observed REAL NOT NULL, elements BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS positions (centre TEXT PRIMARY KEY, last_id INTEGER NOT NULL, serial INTEGER NOT NULL);
"""


class ReportQueue:
    """Append reports; read, acknowledge and count them per centre (thread-safe)."""

    def __init__(self, path: Path, max_queued: int = 50000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = open_durable(path, SCHEMA)
        except sqlite3.DatabaseError:
            move_aside(path)
            self._db = open_durable(path, SCHEMA)
        self._lock = threading.Lock()
        self._max = max_queued

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def register(self, centre: str) -> None:
        """A centre new to this file starts at the reports queued from now on."""
        with self._lock:
            top = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM reports").fetchone()[0]
            self._db.execute("INSERT OR IGNORE INTO positions VALUES (?, ?, 0)", (centre, top))

    def append(self, report: Report) -> int:
        try:
            with self._lock:
                cur = self._db.execute("INSERT INTO reports (function, observed, elements) VALUES (?, ?, ?)",
                                       (report.function, report.observed, report.elements))
                self._db.execute("DELETE FROM reports WHERE id <= ?", (cur.lastrowid - self._max,))
                return int(cur.lastrowid)
        except sqlite3.Error as exc:
            raise OutboxError(f"SL651 queue: {exc}") from exc

    def next_for(self, centre: str) -> tuple[int, Report] | None:
        """The oldest report this centre has not acknowledged."""
        with self._lock:
            row = self._db.execute(
                "SELECT r.id, r.function, r.observed, r.elements FROM reports r, positions p "
                "WHERE p.centre = ? AND r.id > p.last_id ORDER BY r.id LIMIT 1", (centre,)).fetchone()
        return None if row is None else (row[0], Report(row[1], row[2], bytes(row[3])))

    def acknowledged(self, centre: str, report_id: int) -> None:
        """Move the centre past `report_id`; drop reports every centre has passed."""
        with self._lock:
            self._db.execute("UPDATE positions SET last_id = MAX(last_id, ?) WHERE centre = ?", (report_id, centre))
            self._db.execute("DELETE FROM reports WHERE id <= (SELECT MIN(last_id) FROM positions)")

    def pending(self, centre: str) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM reports r, positions p WHERE p.centre = ? AND r.id > p.last_id",
                                        (centre,)).fetchone()[0])

    def next_serial(self, centre: str) -> int:
        """The frame serial (流水号) for this centre: 1..65535, kept across restarts."""
        with self._lock:
            row = self._db.execute("SELECT serial FROM positions WHERE centre = ?", (centre,)).fetchone()
            serial = (row[0] if row else 0) % 0xFFFF + 1
            self._db.execute("UPDATE positions SET serial = ? WHERE centre = ?", (serial, centre))
        return serial
