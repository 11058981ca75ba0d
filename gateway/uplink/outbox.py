"""The durable outgoing queue: SQLite in WAL mode with `synchronous=FULL`.

A message is reported accepted only after its transaction is on disk, and it leaves the queue
only after the broker's PUBACK (`ack`). Sequence numbers are allocated in the same transaction
as the insert, so they are gap-free across restarts. The queue is bounded by payload bytes: when
full, the oldest telemetry goes first, never an alarm; every drop is counted for the health
report. A database that SQLite cannot read is moved aside and a fresh one started, and the
caller is told (`recovered_from`), so it can raise an alarm.

Sequence continuity across a lost database: the outbox writes a small reservation file beside
the database (`<db>.seq`): a number R such that every allocated seq is below R. It is renewed
once every `SEQ_BLOCK` messages, so the cost is one tiny fsync per block. After a corrupt
database, numbering restarts at R: the county sees a jump (reported by the alarm), never a
sequence number reused.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from foundation.errors import OutboxError
from foundation.sqlite_files import move_aside, open_durable
from gateway.alarms import OpenAlarm

log = logging.getLogger(__name__)

ALARM = 0  # alarms, health alarms and command replies: never dropped, always sent first
TELEMETRY = 1  # telemetry and periodic health: dropped oldest-first when the outbox is full
SEQ_BLOCK = 1000
SEQ_FILE_WIDTH = 24  # the reservation file is padded so it can be rewritten in place on a full disk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq      INTEGER PRIMARY KEY,
    klass    INTEGER NOT NULL,
    topic    TEXT    NOT NULL,
    payload  BLOB    NOT NULL,
    retain   INTEGER NOT NULL DEFAULT 0,
    created  REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_class ON outbox (klass, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS open_alarms (event_id TEXT PRIMARY KEY, body TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Queued:
    """A message waiting for the broker."""

    seq: int
    klass: int
    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    alarms: int
    bytes: int
    dropped_total: int
    next_seq: int


@dataclass(frozen=True, slots=True)
class Recovery:
    """What happened when the database could not be opened: where it went, where numbering resumed."""

    moved_to: str
    error: str
    resumed_at_seq: int


class Outbox:
    """Thread-safe durable queue; one connection guarded by a lock (operations are short)."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = 64 * 1024 * 1024, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._seq_file = self.path.with_name(self.path.name + ".seq")
        self.recovered_from: Recovery | None = None
        self.unavailable: str | None = None  # why the database cannot be opened now (full disk, I/O error)
        self.skipped: tuple[int, int] | None = None  # (first, resumed at): numbers jumped over at opening
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.OperationalError as exc:
            # cannot open it now (a full disk, an I/O error) is not corruption: the queue stays where it
            # is, nothing is stored until `retry_open` succeeds, and alarms go out unstored meanwhile
            self.unavailable = str(exc)
            self._db = self._memory()
        except sqlite3.DatabaseError as exc:
            self._db = self._recover(exc)
        self._bytes, self._next_seq, self._dropped = self._load_counters()
        self._reserved = self._read_reservation()
        self._reserved_at_open = self._reserved
        if self.unavailable is not None:
            self._next_seq = self._reserved  # above every seq of the database it cannot read
        elif self.recovered_from is None and self._next_seq < self._reserved - SEQ_BLOCK and self._reserved > 0:
            # a database older than its reservation (alarms went out unstored while the disk was full,
            # or it was restored from a backup): never reuse seqs
            self.skipped = (self._next_seq, self._reserved)
            self._next_seq = self._reserved
        self._alarm_depth = self._count(ALARM)
        self._drop_report: tuple[int, int, int] | None = None
        self.versions = [0, 0]  # bumped per class on every put, so the uplink knows when to look again

    # ------------------------------------------------------------------ opening and recovery

    def _open(self) -> sqlite3.Connection:
        return open_durable(self.path, _SCHEMA)

    def _memory(self) -> sqlite3.Connection:
        """Stand-in while the database cannot be opened: empty, and `put` refuses to use it."""
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        db.executescript(_SCHEMA)
        return db

    def retry_open(self) -> bool:
        """Open the database that could not be opened at start (`unavailable`); True once open.

        Its queue is then drained as usual; numbering goes on above whatever was sent unstored.
        """
        if self.unavailable is None:
            return True
        try:
            try:
                db = self._open()
            except sqlite3.OperationalError:
                raise
            except sqlite3.DatabaseError as exc:
                db = self._recover(exc)
        except sqlite3.OperationalError as exc:
            self.unavailable = str(exc)
            return False
        with self._lock:
            self._db.close()
            self._db = db
            self._bytes, next_seq, self._dropped = self._load_counters()
            if next_seq < self._reserved_at_open:
                self.skipped = (next_seq, self._reserved_at_open)
            self._next_seq = max(next_seq, self._next_seq)
            self._alarm_depth = self._count(ALARM)
            self.unavailable = None
            self.versions[ALARM] += 1
            self.versions[TELEMETRY] += 1
        return True

    def _recover(self, exc: sqlite3.DatabaseError) -> sqlite3.Connection:
        moved = move_aside(self.path)
        db = self._open()
        resume = self._read_reservation()
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (resume,))
        self.recovered_from = Recovery(moved_to=str(moved), error=str(exc), resumed_at_seq=resume)
        return db

    def _load_counters(self) -> tuple[int, int, int]:
        total = self._db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()[0]
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        last = self._db.execute("SELECT COALESCE(MAX(seq), -1) FROM outbox").fetchone()[0]
        next_seq = max(int(meta.get("next_seq", 0)), last + 1)
        return int(total), next_seq, int(meta.get("dropped", 0))

    def _read_reservation(self) -> int:
        try:
            return int(self._seq_file.read_text().strip())
        except (OSError, ValueError):
            return 0

    def _reserve(self, upto: int) -> None:
        """Durably promise that no seq below `upto` will ever be reused.

        A new file renamed over the old one; when that cannot be written (a full disk), the number
        is rewritten in place: the file is padded to a fixed width, so the overwrite needs no new
        space, and a write within one sector is atomic on power loss. OutboxError if both fail.
        """
        text = str(upto).ljust(SEQ_FILE_WIDTH)
        tmp = self._seq_file.with_name(self._seq_file.name + ".tmp")
        try:
            with open(tmp, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._seq_file)
            dir_fd = os.open(self._seq_file.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self._reserve_in_place(text, exc)
        self._reserved = upto

    def _reserve_in_place(self, text: str, cause: OSError) -> None:
        try:
            fd = os.open(self._seq_file, os.O_WRONLY)
            try:
                os.pwrite(fd, text.encode(), 0)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutboxError(f"outbox {self.path}: cannot reserve sequence numbers: {cause}; in place: {exc}") from exc

    def _count(self, klass: int) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox WHERE klass = ?", (klass,)).fetchone()[0])

    # ------------------------------------------------------------------ producer side

    def put(self, topic: str, klass: int, build: Callable[[int], bytes], retain: bool = False) -> int:
        """Allocate the next seq, build the payload with it, store it durably; return the seq.

        `build` receives the seq so it can be written into the payload itself. Raises
        OutboxError if the message cannot be stored (disk full, I/O error).
        """
        with self._lock:
            if self.unavailable is not None:
                raise OutboxError(f"outbox {self.path}: cannot be opened: {self.unavailable}")
            seq = self._next_seq
            if seq + 1 >= self._reserved:
                self._reserve(seq + SEQ_BLOCK)
            payload = build(seq)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                dropped = self._make_room(len(payload), klass)
                self._db.execute(
                    "INSERT INTO outbox (seq, klass, topic, payload, retain, created) VALUES (?, ?, ?, ?, ?, ?)",
                    (seq, klass, topic, payload, int(retain), self._clock()),
                )
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (seq + 1,))
                if dropped:
                    self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('dropped', ?)", (self._dropped + dropped[0],))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"outbox {self.path}: cannot store message: {exc}") from exc
            self._next_seq = seq + 1
            self._bytes += len(payload)
            if dropped:
                self._dropped += dropped[0]
                self._bytes -= dropped[1]
                count, first, last = self._drop_report or (0, dropped[2], dropped[3])
                self._drop_report = (count + dropped[0], min(first, dropped[2]), max(last, dropped[3]))
            if klass == ALARM:
                self._alarm_depth += 1
            self.versions[klass] += 1
            return seq

    def allocate_unstored(self) -> int:
        """A seq for an alarm the outbox could not store (disk full), sent from memory instead.

        Never reused: the reservation is first moved (in place if need be) to more than SEQ_BLOCK
        above it, so a restart whose database never recorded this seq resumes above the
        reservation (the rule for a database older than its reservation). OutboxError if even
        that cannot be written.
        """
        with self._lock:
            seq = self._next_seq
            self._reserve(seq + 1 + SEQ_BLOCK)
            self._next_seq = seq + 1
            return seq

    def _make_room(self, incoming: int, klass: int) -> tuple[int, int, int, int] | None:
        """Inside a transaction: delete oldest telemetry until `incoming` fits.

        Returns (count, bytes, first seq, last seq) of what was dropped, or None.
        """
        excess = self._bytes + incoming - self.max_bytes
        if excess <= 0:
            return None
        count = freed = 0
        cursor = self._db.execute("SELECT seq, LENGTH(payload) FROM outbox WHERE klass = ? ORDER BY seq", (TELEMETRY,))
        victims = []
        for seq, size in cursor:
            victims.append((seq,))
            count += 1
            freed += size
            if freed >= excess:
                break
        if victims:
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", victims)
        return (count, freed, victims[0][0], victims[-1][0]) if count else None

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------------ consumer side

    def peek(self, klass: int, after_seq: int, limit: int = 500) -> list[Queued]:
        """Messages of a class with seq > after_seq, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, klass, topic, payload, retain FROM outbox WHERE klass = ? AND seq > ? ORDER BY seq LIMIT ?",
                (klass, after_seq, limit),
            ).fetchall()
        return [Queued(seq, k, topic, bytes(payload), bool(retain)) for seq, k, topic, payload, retain in rows]

    def ack(self, seqs: list[int]) -> None:
        """The broker has these: remove them in one transaction."""
        if not seqs:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                gone = self._db.execute(
                    f"SELECT klass, LENGTH(payload) FROM outbox WHERE seq IN ({','.join('?' * len(seqs))})", seqs
                ).fetchall()
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"outbox {self.path}: cannot remove delivered messages: {exc}") from exc
            self._bytes -= sum(size for _, size in gone)
            self._alarm_depth -= sum(1 for k, _ in gone if k == ALARM)

    def take_drop_report(self) -> tuple[int, int, int] | None:
        """(count, first seq, last seq) of telemetry dropped since the last call, for a health notice."""
        with self._lock:
            report, self._drop_report = self._drop_report, None
        return report

    def has_alarms(self) -> bool:
        return self._alarm_depth > 0

    def stats(self) -> OutboxStats:
        with self._lock:
            depth = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
            return OutboxStats(depth, self._alarm_depth, self._bytes, self._dropped, self._next_seq)

    @property
    def last_seq(self) -> int:
        """The last seq allocated (-1 before the first message)."""
        return self._next_seq - 1

    # ------------------------------------------------------------------ open alarms (AlarmStore)

    def save_alarm(self, alarm: OpenAlarm) -> None:
        body = json.dumps(
            {
                "event_id": alarm.event_id, "kind": alarm.kind, "source": alarm.source, "severity": alarm.severity,
                "category": alarm.category, "summary": alarm.summary, "details": alarm.details,
                "raised_at": alarm.raised_at, "acked_by": alarm.acked_by,
            },
            ensure_ascii=False, default=str,
        )
        with self._lock:
            try:
                self._db.execute("INSERT OR REPLACE INTO open_alarms (event_id, body) VALUES (?, ?)", (alarm.event_id, body))
            except sqlite3.Error as exc:  # best effort: only a restart's "cleared" needs it; the alarm itself must go on
                log.error("outbox %s: cannot remember open alarm %s: %s", self.path, alarm.event_id, exc)

    def delete_alarm(self, event_id: str) -> None:
        with self._lock:
            try:
                self._db.execute("DELETE FROM open_alarms WHERE event_id = ?", (event_id,))
            except sqlite3.Error as exc:
                log.error("outbox %s: cannot forget open alarm %s: %s", self.path, event_id, exc)

    def load_alarms(self) -> list[OpenAlarm]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM open_alarms").fetchall()
        out = []
        for (body,) in rows:
            try:
                out.append(OpenAlarm(**json.loads(body)))
            except (TypeError, ValueError):
                continue
        return out

    def close(self) -> None:
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._db.close()
