"""The durable outgoing queue: SQLite in WAL mode with `synchronous=FULL`.

A message is reported accepted only after its transaction is on disk, and it leaves the queue
only after the broker's PUBACK (`ack`). Sequence numbers are allocated in the same transaction
as the insert, so they are gap-free across restarts. The queue is bounded by payload bytes: when
full, the oldest telemetry goes first, never an alarm; every drop is counted for the health
report. A database that SQLite cannot read is moved aside and a fresh one started, and the
caller is told (`recovered_from`), so it can raise an alarm. After a lost database numbering
resumes above the reservation kept beside it (`SeqReservation`, renewed every `SEQ_BLOCK`).

Written for an SD card: every synced transaction costs a 4 KiB page of the card for each page
of the file it touches (RELIABILITY.md, section 10), so a put is one transaction that rewrites,
in steady state, one 1 KiB page (layout in `outbox_schema`). No counter row per put: the next
seq is `max(seq) + 1` while a row is left, and `meta.next_seq` is written only when rows leave
outside a put, at opening and at closing. PUBACKed rows are deleted in the next put's
transaction, which rewrites their page anyway; until then `peek` and `stats` leave them out, a
crash only sends them again (at-least-once), and they go on their own once `ACK_DEFER_MAX` wait
or the oldest has waited `ACK_DEFER_S` (checked at the next ack).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from foundation.errors import OutboxError
from foundation.sqlite_files import move_aside, open_durable
from gateway.alarms import OpenAlarm
from gateway.uplink.outbox_records import OutboxStats, Queued, Recovery
from gateway.uplink.outbox_schema import SCHEMA, pack, unpack, upgrade
from gateway.uplink.seq_reservation import SeqReservation

log = logging.getLogger(__name__)

ALARM = 0  # alarms, health alarms and command replies: never dropped, always sent first
TELEMETRY = 1  # telemetry and periodic health: dropped oldest-first when the outbox is full
SEQ_BLOCK = 1000
# For new databases. A WAL frame dirties 1 + (page + 24) / 4096 pages of 4 KiB on average: 1.26 for 1 KiB pages
# against 1.5 for 2 KiB (bench.sdcard: 5.1 against 6.2 KB per put). 512-byte pages hold too few packed rows
# (about 120 B with the topic): a put that also deletes acked rows then touches three pages.
PAGE_SIZE = 1024
ACK_DEFER_MAX = 500
ACK_DEFER_S = 5.0


class Outbox:
    """Thread-safe durable queue; one connection guarded by a lock (operations are short)."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = 64 * 1024 * 1024, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, exclusive: bool = True) -> None:
        """`exclusive`: no other connection while open (the WAL index in memory, no `-shm` file written
        back every few seconds); False lets another connection read the queue (tests looking inside)."""
        self.path = Path(path)
        self._exclusive = exclusive
        self.max_bytes = max_bytes
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._reservation = SeqReservation(self.path.with_name(self.path.name + ".seq"))
        self.recovered_from: Recovery | None = None
        self.unavailable: str | None = None  # why the database cannot be opened now (full disk, I/O error)
        self.skipped: tuple[int, int] | None = None  # (first, resumed at): numbers jumped over at opening
        self._acked: dict[int, int] = {}  # acked seq -> its class, deleted in the next transaction
        self._alarm_writes: dict[str, str | None] = {}  # open alarm -> its body (None: forget it), in the next transaction
        self._acked_since = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open_or_recover()
        except sqlite3.OperationalError as exc:
            # cannot open it now (a full disk, an I/O error) is not corruption: the queue stays where it
            # is, nothing is stored until `retry_open` succeeds, and alarms go out unstored meanwhile
            self.unavailable = str(exc)
            self._db = self._memory()
        self._bytes, self._next_seq, self._dropped = self._load_counters()
        self._reserved = self._reservation.read()
        self._reserved_at_open = self._reserved
        if self.unavailable is not None:
            self._next_seq = self._reserved  # above every seq of the database it cannot read
        elif self.recovered_from is None and self._next_seq < self._reserved - SEQ_BLOCK and self._reserved > 0:
            # a database older than its reservation (alarms went out unstored while the disk was full,
            # or it was restored from a backup): never reuse seqs
            self.skipped = (self._next_seq, self._reserved)
            self._next_seq = self._reserved
        if self.unavailable is None:
            self._record_next_seq()
        self._alarms = self._queued_alarms()
        self._drop_report: tuple[int, int, int] | None = None
        self.versions = [0, 0]  # bumped per class on every put, so the uplink knows when to look again

    # ------------------------------------------------------------------ opening and recovery

    def _open(self) -> sqlite3.Connection:
        db = open_durable(self.path, SCHEMA, page_size=PAGE_SIZE, exclusive=self._exclusive)
        try:
            upgrade(db)
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _open_or_recover(self) -> sqlite3.Connection:
        """The database (moved aside, a fresh one started, if unreadable); OperationalError is not corruption: the caller's."""
        try:
            return self._open()
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            return self._recover(exc)

    def _memory(self) -> sqlite3.Connection:
        """Stand-in while the database cannot be opened: empty, and `put` refuses to use it."""
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        db.executescript(SCHEMA)
        return db

    def retry_open(self) -> bool:
        """Open the database that could not be opened at start (`unavailable`); True once open.

        Its queue is then drained as usual; numbering goes on above whatever was sent unstored.
        """
        if self.unavailable is None:
            return True
        try:
            db = self._open_or_recover()
        except sqlite3.OperationalError as exc:
            self.unavailable = str(exc)
            return False
        with self._lock:
            self._db.close()
            self._db = db
            self._acked.clear()
            self._bytes, next_seq, self._dropped = self._load_counters()
            if next_seq < self._reserved_at_open:
                self.skipped = (next_seq, self._reserved_at_open)
            self._next_seq = max(next_seq, self._next_seq)
            self._alarms = self._queued_alarms()
            self.unavailable = None
            self.versions[ALARM] += 1
            self.versions[TELEMETRY] += 1
        return True

    def _recover(self, exc: sqlite3.DatabaseError) -> sqlite3.Connection:
        moved = move_aside(self.path)
        db = self._open()
        resume = self._reservation.read()
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (resume,))
        self.recovered_from = Recovery(moved_to=str(moved), error=str(exc), resumed_at_seq=resume)
        return db

    def _load_counters(self) -> tuple[int, int, int]:
        total = self._db.execute("SELECT COALESCE(SUM(COALESCE(size, LENGTH(payload))), 0) FROM outbox").fetchone()[0]
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        last = self._db.execute("SELECT COALESCE(MAX(seq), -1) FROM outbox").fetchone()[0]
        self._stored_next_seq = meta.get("next_seq")
        next_seq = max(int(meta.get("next_seq", 0)), last + 1)
        return int(total), next_seq, int(meta.get("dropped", 0))

    def _record_next_seq(self) -> None:
        """Write `meta.next_seq` when it is behind (at opening and closing): best effort, since
        `max(seq) + 1` and the reservation keep numbering safe without it."""
        if self._stored_next_seq == self._next_seq:
            return
        try:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (self._next_seq,))
            self._stored_next_seq = self._next_seq
        except sqlite3.Error as exc:
            log.warning("outbox %s: cannot record the next seq: %s", self.path, exc)

    def _reserve(self, upto: int) -> None:
        self._reservation.reserve(upto, f"outbox {self.path}")
        self._reserved = upto

    def _queued_alarms(self) -> dict[int, None]:
        """The seqs of the queued alarms, in order: kept in memory instead of an index the SD card would pay for."""
        return dict.fromkeys(r[0] for r in self._db.execute(f"SELECT seq FROM outbox WHERE klass = {ALARM} ORDER BY seq"))

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
            stored, size = pack(payload)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._write_deferred()
                dropped = self._make_room(len(payload), klass)
                self._db.execute(
                    "INSERT INTO outbox (seq, klass, topic, payload, retain, created, size) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (seq, klass, topic, stored, int(retain), self._clock(), size),
                )
                if dropped:
                    self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('dropped', ?)", (self._dropped + dropped[0],))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                for event_id in self._alarm_writes:  # best effort, as before: only a restart's "cleared" needs them
                    log.error("outbox %s: cannot remember open alarm %s: %s", self.path, event_id, exc)
                self._alarm_writes.clear()
                raise OutboxError(f"outbox {self.path}: cannot store message: {exc}") from exc
            self._acked.clear()
            self._alarm_writes.clear()
            self._next_seq = seq + 1
            self._bytes += len(payload)
            if dropped:
                self._dropped += dropped[0]
                self._bytes -= dropped[1]
                count, first, last = self._drop_report or (0, dropped[2], dropped[3])
                self._drop_report = (count + dropped[0], min(first, dropped[2]), max(last, dropped[3]))
            if klass == ALARM:
                self._alarms[seq] = None
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
        freed = 0
        victims: list[tuple[int]] = []
        for seq, size in self._db.execute(f"SELECT seq, COALESCE(size, LENGTH(payload)) FROM outbox WHERE klass = {TELEMETRY} ORDER BY seq"):
            victims.append((seq,))
            freed += size
            if freed >= excess:
                break
        if not victims:
            return None
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", victims)
        return len(victims), freed, victims[0][0], victims[-1][0]

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------------ consumer side

    def peek(self, klass: int, after_seq: int, limit: int = 500) -> list[Queued]:
        """Messages of a class with seq > after_seq, oldest first (acked ones left out)."""
        with self._lock:
            if klass == ALARM:
                wanted = [s for s in self._alarms if s > after_seq][:limit]
                rows = self._db.execute(f"SELECT seq, klass, topic, payload, retain, size FROM outbox WHERE seq IN ({','.join('?' * len(wanted))}) "
                                        "ORDER BY seq", wanted).fetchall() if wanted else []
            else:
                rows = self._db.execute(
                    f"SELECT seq, klass, topic, payload, retain, size FROM outbox WHERE klass = {TELEMETRY} AND seq > ? ORDER BY seq LIMIT ?",
                    (after_seq, limit + len(self._acked)),
                ).fetchall()
            out = [Queued(seq, k, topic, self._unpack(seq, payload, size), bool(retain))
                   for seq, k, topic, payload, retain, size in rows if seq not in self._acked]
        return out[:limit]

    def _unpack(self, seq: int, stored: bytes, size: int | None) -> bytes:
        try:
            return unpack(bytes(stored), size)
        except ValueError as exc:  # damaged within a sound page: sent as it is, the county rejects it visibly
            log.error("outbox %s: message %d: %s", self.path, seq, exc)
        return bytes(stored)

    def ack(self, seqs: list[int]) -> None:
        """The broker has these: they leave the queue now, and the database with the next put's
        transaction (or on their own once `ACK_DEFER_MAX` wait or the oldest waited `ACK_DEFER_S`)."""
        if not seqs:
            return
        with self._lock:
            fresh = sorted({s for s in seqs if s not in self._acked})
            if not fresh:
                return
            gone = self._db.execute(
                f"SELECT seq, klass, COALESCE(size, LENGTH(payload)) FROM outbox WHERE seq IN ({','.join('?' * len(fresh))})", fresh
            ).fetchall()
            if gone and not self._acked:
                self._acked_since = self._monotonic()
            for seq, klass, size in gone:
                self._acked[seq] = klass
                self._bytes -= size
                self._alarms.pop(seq, None)
            if self._acked and (len(self._acked) >= ACK_DEFER_MAX or self._monotonic() - self._acked_since >= ACK_DEFER_S):
                self._flush_deferred()

    def _write_deferred(self) -> None:
        """Inside a transaction: delete the acked rows, write the open alarms' changes."""
        if self._acked:
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in self._acked])
        for event_id, body in self._alarm_writes.items():
            if body is None:
                self._db.execute("DELETE FROM alarms_open WHERE event_id = ?", (event_id,))
            else:
                self._db.execute("INSERT OR REPLACE INTO alarms_open (event_id, body) VALUES (?, ?)", (event_id, body))

    def _flush_deferred(self) -> None:
        """The deferred writes in a transaction of their own, with the next seq (the acked rows may
        be the last ones, whose `max(seq) + 1` numbering would resume from)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._write_deferred()
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (self._next_seq,))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise OutboxError(f"outbox {self.path}: cannot remove delivered messages: {exc}") from exc
        self._acked.clear()
        self._alarm_writes.clear()
        self._stored_next_seq = self._next_seq

    def take_drop_report(self) -> tuple[int, int, int] | None:
        """(count, first seq, last seq) of telemetry dropped since the last call, for a health notice."""
        with self._lock:
            report, self._drop_report = self._drop_report, None
        return report

    def has_alarms(self) -> bool:
        return bool(self._alarms)

    def stats(self) -> OutboxStats:
        with self._lock:
            depth = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]) - len(self._acked)
            return OutboxStats(depth, len(self._alarms), self._bytes, self._dropped, self._next_seq)

    @property
    def last_seq(self) -> int:
        """The last seq allocated (-1 before the first message)."""
        return self._next_seq - 1

    # ------------------------------------------------------------------ open alarms (AlarmStore)
    # Kept for a restart's "cleared". A change is written with the next put (the alarm's own message,
    # which follows at once): no transaction of its own; if that put fails, the change is forgotten.

    def save_alarm(self, alarm: OpenAlarm) -> None:
        body = json.dumps(asdict(alarm), ensure_ascii=False, default=str)  # every field: `load_alarms` rebuilds it
        with self._lock:
            self._alarm_writes[alarm.event_id] = body

    def delete_alarm(self, event_id: str) -> None:
        with self._lock:
            self._alarm_writes[event_id] = None

    def load_alarms(self) -> list[OpenAlarm]:
        with self._lock:
            bodies = dict(self._db.execute("SELECT event_id, body FROM alarms_open").fetchall()) | self._alarm_writes
        out = []
        for body in bodies.values():
            if body is None:
                continue
            try:
                out.append(OpenAlarm(**json.loads(body)))
            except (TypeError, ValueError):
                continue
        return out

    def close(self) -> None:
        """Write what was deferred and the next seq, checkpoint, close."""
        with self._lock:
            try:
                if self.unavailable is None:
                    if self._acked or self._alarm_writes:
                        self._flush_deferred()
                    self._record_next_seq()
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except OutboxError as exc:
                log.warning("%s", exc)
            except sqlite3.Error:
                pass
            self._db.close()
