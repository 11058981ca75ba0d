"""Where the county keeps what stations send: SQLite (default) or PostgreSQL, same tables.

Idempotent by construction, because delivery is at-least-once and several ingest processes may
share the stream: every message table is keyed by (station, seq) and written with
`ON CONFLICT DO NOTHING`, so a redelivery is counted and dropped, never stored twice. Statuses
are state, not numbered events: they are keyed by (station, event_id) in `status_log`, and
`stations` holds the latest. `alarms` keeps each alarm's lifecycle by (station, event_id) (a
station can touch only its own alarms, whatever ids it sends), and is updated
so that the order in which steps arrive does not matter (two ingest processes may write a
station's steps out of order): state, severity and summary follow the highest seq; acked and
cleared times, once known, stay. Alarm snapshots (the JPEG evidence a station publishes once per
alarm) are kept in `snapshots`, keyed by (station, event_id), written the same way.

Payloads that did not validate are kept in `rejects` capped (county.limits): their first
16 KiB, their size and their sha256.

One SQL text serves both databases; the dialect only swaps placeholders and column types.
Databases made by earlier versions are brought up to date when opened (county.store_migrate).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from county.limits import ERROR_KEEP_BYTES, TOPIC_KEEP_BYTES, cap_text
from county.store_migrate import migrate
from wire.messages import Alarm, Envelope, Health, Notice, Playback, Reply, Status, Telemetry


@dataclass(frozen=True, slots=True)
class Incoming:
    """A validated message, ready to store."""

    topic: str
    message: Envelope
    payload: str
    received_at: float


@dataclass(frozen=True, slots=True)
class SnapshotIncoming:
    """An alarm's JPEG evidence (raw bytes on `snapshot/{event_id}`, no envelope), ready to store."""

    topic: str
    station: str
    event_id: str
    jpeg: bytes
    sha256: str
    received_at: float


@dataclass(frozen=True, slots=True)
class Reject:
    """A payload that did not validate: kept for a human, never silently dropped.

    `payload` is stored capped (county.limits); `size` and `sha256` describe the whole payload as
    it arrived (when not given, they are those of `payload`)."""

    topic: str
    error: str
    payload: str
    received_at: float
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int
    duplicates: int
    statuses: int
    rejects: int
    snapshots: int = 0  # new snapshots stored; a snapshot seen again counts in `duplicates`


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    begin: str
    types: dict[str, str]
    param: str
    json_param: str

    def sql(self, text: str) -> str:
        """`?j` is a JSON parameter, `?` a plain one; `{ts}`, `{json}`, `{bool}`, `{serial}`, `{blob}` are column types."""
        return text.format(**self.types).replace("?j", self.json_param).replace("?", self.param)

    def ts(self, value: datetime | float | None) -> Any:
        if value is None:
            return None
        if isinstance(value, (int, float)):
            value = datetime.fromtimestamp(value, tz=timezone.utc)
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat() if self.name == "sqlite" else value


SQLITE = Dialect("sqlite", "BEGIN IMMEDIATE",
                 {"ts": "TEXT", "json": "TEXT", "bool": "INTEGER", "serial": "INTEGER PRIMARY KEY", "blob": "BLOB"}, "?", "?")
POSTGRES = Dialect("postgresql", "BEGIN",
                   {"ts": "TIMESTAMPTZ", "json": "JSONB", "bool": "BOOLEAN", "serial": "BIGSERIAL PRIMARY KEY", "blob": "BYTEA"},
                   "%s", "%s::jsonb")

_ENVELOPE = "station TEXT NOT NULL, seq BIGINT NOT NULL, event_id TEXT NOT NULL, ts {ts} NOT NULL, clock_synced {bool} NOT NULL, boot_id TEXT NOT NULL"
_TIMES = "received_at {ts} NOT NULL, stored_at {ts} NOT NULL"
ALARMS_TABLE = """CREATE TABLE IF NOT EXISTS alarms (
        event_id TEXT NOT NULL, station TEXT NOT NULL, alarm TEXT NOT NULL, source TEXT NOT NULL, category TEXT NOT NULL,
        severity TEXT NOT NULL, state TEXT NOT NULL, summary TEXT NOT NULL, raised_at {ts} NOT NULL, acked_by TEXT, acked_at {ts},
        cleared_at {ts}, last_seq BIGINT NOT NULL, updated_at {ts} NOT NULL, PRIMARY KEY (station, event_id))"""

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS stations (
        station TEXT PRIMARY KEY, online {bool} NOT NULL, reason TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
        config_hash TEXT NOT NULL, capabilities {json} NOT NULL, boot_id TEXT NOT NULL, seq BIGINT NOT NULL, ts {ts} NOT NULL,
        event_id TEXT NOT NULL, received_at {ts} NOT NULL, town_name TEXT NOT NULL DEFAULT '', village_name TEXT NOT NULL DEFAULT '',
        lat DOUBLE PRECISION, lon DOUBLE PRECISION)""",
    f"""CREATE TABLE IF NOT EXISTS status_log ({_ENVELOPE}, online {{bool}} NOT NULL, reason TEXT NOT NULL, {_TIMES},
        body {{json}} NOT NULL, PRIMARY KEY (station, event_id))""",
    f"""CREATE TABLE IF NOT EXISTS events ({_ENVELOPE}, kind TEXT NOT NULL, name TEXT NOT NULL, state TEXT, severity TEXT,
        summary TEXT NOT NULL, {_TIMES}, body {{json}} NOT NULL, PRIMARY KEY (station, seq))""",
    f"""CREATE TABLE IF NOT EXISTS telemetry ({_ENVELOPE}, sensor TEXT NOT NULL, readings {{json}} NOT NULL, samples INTEGER NOT NULL,
        {_TIMES}, PRIMARY KEY (station, seq))""",
    f"""CREATE TABLE IF NOT EXISTS health ({_ENVELOPE}, uptime_s DOUBLE PRECISION NOT NULL, queue_depth INTEGER NOT NULL,
        queue_bytes BIGINT NOT NULL, dropped_total BIGINT NOT NULL, cpu_temp_c DOUBLE PRECISION, camera_fps {{json}} NOT NULL,
        {_TIMES}, body {{json}} NOT NULL, PRIMARY KEY (station, seq))""",
    f"""CREATE TABLE IF NOT EXISTS replies ({_ENVELOPE}, command_id TEXT NOT NULL, command TEXT NOT NULL, ok {{bool}} NOT NULL,
        outcome TEXT NOT NULL, reason TEXT NOT NULL, result {{json}} NOT NULL, {_TIMES}, PRIMARY KEY (station, seq))""",
    ALARMS_TABLE,
    """CREATE TABLE IF NOT EXISTS snapshots (station TEXT NOT NULL, event_id TEXT NOT NULL, sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL, jpeg {blob} NOT NULL, received_at {ts} NOT NULL, stored_at {ts} NOT NULL, PRIMARY KEY (station, event_id))""",
    """CREATE TABLE IF NOT EXISTS rejects (id {serial}, topic TEXT NOT NULL, error TEXT NOT NULL, payload TEXT NOT NULL,
        received_at {ts} NOT NULL, size BIGINT, sha256 TEXT)""",
    "CREATE INDEX IF NOT EXISTS alarms_open ON alarms (state, station)",
    "CREATE INDEX IF NOT EXISTS events_by_name ON events (station, name, seq)",
    "CREATE INDEX IF NOT EXISTS telemetry_by_sensor ON telemetry (station, sensor, ts)",
    "CREATE INDEX IF NOT EXISTS replies_by_command ON replies (station, command_id)",
    # the web board's seed reads the last two days of alarm updates and loudspeaker plays at every start and reconnection
    "CREATE INDEX IF NOT EXISTS events_recent_alarm_steps ON events (received_at) WHERE kind IN ('alarm', 'playback')",
]

_ENV_COLS = "station, seq, event_id, ts, clock_synced, boot_id"
_ENV_PARAMS = "?, ?, ?, ?, ?, ?"

INSERT_STATUS_LOG = f"""INSERT INTO status_log ({_ENV_COLS}, online, reason, received_at, body, stored_at)
    VALUES ({_ENV_PARAMS}, ?, ?, ?, ?j, ?) ON CONFLICT (station, event_id) DO NOTHING"""
UPSERT_STATION = """INSERT INTO stations (station, online, reason, name, version, config_hash, capabilities, boot_id, seq, ts, event_id, received_at,
    town_name, village_name, lat, lon) VALUES (?, ?, ?, ?, ?, ?, ?j, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station) DO UPDATE SET
    online = excluded.online, reason = excluded.reason, name = excluded.name, version = excluded.version,
    config_hash = excluded.config_hash, capabilities = excluded.capabilities, boot_id = excluded.boot_id, seq = excluded.seq,
    ts = excluded.ts, event_id = excluded.event_id, received_at = excluded.received_at, town_name = excluded.town_name,
    village_name = excluded.village_name, lat = excluded.lat, lon = excluded.lon"""
INSERT_EVENT = f"""INSERT INTO events ({_ENV_COLS}, kind, name, state, severity, summary, received_at, body, stored_at)
    VALUES ({_ENV_PARAMS}, ?, ?, ?, ?, ?, ?, ?j, ?) ON CONFLICT (station, seq) DO NOTHING"""
UPSERT_ALARM = """INSERT INTO alarms (event_id, station, alarm, source, category, severity, state, summary, raised_at, acked_by, acked_at,
    cleared_at, last_seq, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (station, event_id) DO UPDATE SET
    severity = CASE WHEN excluded.last_seq > alarms.last_seq THEN excluded.severity ELSE alarms.severity END,
    state = CASE WHEN excluded.last_seq > alarms.last_seq THEN excluded.state ELSE alarms.state END,
    summary = CASE WHEN excluded.last_seq > alarms.last_seq THEN excluded.summary ELSE alarms.summary END,
    updated_at = CASE WHEN excluded.last_seq > alarms.last_seq THEN excluded.updated_at ELSE alarms.updated_at END,
    acked_by = COALESCE(alarms.acked_by, excluded.acked_by),
    acked_at = COALESCE(alarms.acked_at, excluded.acked_at),
    cleared_at = COALESCE(alarms.cleared_at, excluded.cleared_at),
    last_seq = CASE WHEN excluded.last_seq > alarms.last_seq THEN excluded.last_seq ELSE alarms.last_seq END"""
INSERT_TELEMETRY = f"""INSERT INTO telemetry ({_ENV_COLS}, sensor, readings, samples, received_at, stored_at)
    VALUES ({_ENV_PARAMS}, ?, ?j, ?, ?, ?) ON CONFLICT (station, seq) DO NOTHING"""
INSERT_HEALTH = f"""INSERT INTO health ({_ENV_COLS}, uptime_s, queue_depth, queue_bytes, dropped_total, cpu_temp_c, camera_fps,
    received_at, body, stored_at) VALUES ({_ENV_PARAMS}, ?, ?, ?, ?, ?, ?j, ?, ?j, ?) ON CONFLICT (station, seq) DO NOTHING"""
INSERT_REPLY = f"""INSERT INTO replies ({_ENV_COLS}, command_id, command, ok, outcome, reason, result, received_at, stored_at)
    VALUES ({_ENV_PARAMS}, ?, ?, ?, ?, ?, ?j, ?, ?) ON CONFLICT (station, seq) DO NOTHING"""
INSERT_SNAPSHOT = """INSERT INTO snapshots (station, event_id, sha256, bytes, jpeg, received_at, stored_at)
    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station, event_id) DO NOTHING"""
INSERT_REJECT = "INSERT INTO rejects (topic, error, payload, received_at, size, sha256) VALUES (?, ?, ?, ?, ?, ?)"

MESSAGE_TABLES = ("events", "telemetry", "health", "replies")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def reject_row(r: Reject, received_at: Any) -> tuple[Any, ...]:
    """A reject as stored: topic, error and payload capped, with the size and sha256 of the whole payload."""
    size, sha = r.size, r.sha256
    if size is None or sha is None:
        whole = r.payload.encode("utf-8", errors="surrogatepass")
        size, sha = len(whole), hashlib.sha256(whole).hexdigest()
    return (cap_text(r.topic, TOPIC_KEEP_BYTES), cap_text(r.error, ERROR_KEEP_BYTES), cap_text(r.payload), received_at, size, sha)


class Store:
    """One database connection; `write` stores a batch in one transaction (callers ack after it returns)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect, self._db = connect(url)
        self._turn: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self.dialect is SQLITE:
            self._turn = WriterTurn(Path(sqlite_path(url) + ".writer-lock"))
        self._create()

    def reconnect_if_broken(self) -> bool:
        """A PostgreSQL connection the server dropped (a restart, a failover, an idle timeout) is
        replaced; True when it was. psycopg never reconnects by itself, so without this a county
        process would fail every query until someone restarted it. SQLite has nothing to drop."""
        if self.dialect is not POSTGRES or not (self._db.closed or getattr(self._db, "broken", False)):
            return False
        with contextlib.suppress(Exception):
            self._db.close()
        self.dialect, self._db = connect(self.url)
        return True

    def _create(self) -> None:
        cur = self._db.cursor()
        indexes = [t for t in SCHEMA if t.startswith("CREATE INDEX")]
        for statement in [t for t in SCHEMA if t not in indexes]:
            cur.execute(self.dialect.sql(statement))
        migrate(self.dialect.name, self._db, self.dialect.sql(ALARMS_TABLE))  # before the indexes: a rebuilt table lost its own
        for statement in indexes:
            cur.execute(self.dialect.sql(statement))

    # ------------------------------------------------------------------ writing

    def write(self, batch: Sequence[Incoming | SnapshotIncoming], rejects: Sequence[Reject] = ()) -> WriteResult:
        """Store a batch atomically; duplicates (same station and seq, or a snapshot's station and event_id) are counted, not stored."""
        d = self.dialect
        rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in ("events", "alarms", "telemetry", "health", "replies", "snapshots")}
        statuses: list[Incoming] = []
        for item in batch:
            if isinstance(item, SnapshotIncoming):
                rows["snapshots"].append((item.station, item.event_id, item.sha256, len(item.jpeg), item.jpeg, d.ts(item.received_at)))
                continue
            m = item.message
            env = (m.station, m.seq, m.event_id, d.ts(m.ts), m.clock_synced, m.boot_id)
            got = d.ts(item.received_at)
            if isinstance(m, Status):
                statuses.append(item)
            elif isinstance(m, Alarm):
                rows["events"].append((*env, "alarm", m.alarm, m.state, m.severity, m.summary, got, item.payload))
                rows["alarms"].append((
                    m.event_id, m.station, m.alarm, m.source, m.category, m.severity, m.state, m.summary, d.ts(m.raised_at),
                    m.acked_by, d.ts(m.ts) if m.state == "acked" else None, d.ts(m.ts) if m.state == "cleared" else None,
                    m.seq, d.ts(m.ts),
                ))
            elif isinstance(m, Notice):
                rows["events"].append((*env, "notice", m.notice, None, m.severity, m.summary, got, item.payload))
            elif isinstance(m, Playback):
                rows["events"].append((*env, "playback", m.key, m.outcome, None, m.what, got, item.payload))
            elif isinstance(m, Telemetry):
                rows["telemetry"].append((*env, m.sensor, _json(m.values), m.samples, got))
            elif isinstance(m, Health):
                rows["health"].append((*env, m.uptime_s, m.queue_depth, m.queue_bytes, m.dropped_total, m.cpu_temp_c,
                                       _json(m.camera_fps), got, item.payload))
            elif isinstance(m, Reply):
                rows["replies"].append((*env, m.command_id, m.command, m.ok, m.outcome, m.reason, _json(m.result), got))
        with self._turn:
            return self._write(rows, statuses, rejects, len(batch))

    def _write(self, rows: dict[str, list[tuple[Any, ...]]], statuses: list[Incoming], rejects: Sequence[Reject], size: int) -> WriteResult:
        """One transaction; `stored_at` is read once it has begun (the commit, one fsync, follows)."""
        d = self.dialect
        cur = self._db.cursor()
        cur.execute(d.begin)
        try:
            stored_at = d.ts(time.time())
            changed = 0
            for item in statuses:
                changed += self._status(cur, item, stored_at)
            inserted = 0
            for table, sql in (("events", INSERT_EVENT), ("telemetry", INSERT_TELEMETRY), ("health", INSERT_HEALTH), ("replies", INSERT_REPLY)):
                if rows[table]:
                    cur.executemany(d.sql(sql), [(*row, stored_at) for row in rows[table]])
                    inserted += max(cur.rowcount, 0)
            if rows["alarms"]:
                cur.executemany(d.sql(UPSERT_ALARM), rows["alarms"])
            snapshots = 0
            if rows["snapshots"]:
                cur.executemany(d.sql(INSERT_SNAPSHOT), [(*row, stored_at) for row in rows["snapshots"]])
                snapshots = max(cur.rowcount, 0)
            if rejects:
                cur.executemany(d.sql(INSERT_REJECT), [reject_row(r, d.ts(r.received_at)) for r in rejects])
            cur.execute("COMMIT")
        except BaseException:
            self._rollback(cur)
            raise
        keyed = size - len(statuses)  # numbered messages and snapshots: each either stored now or a copy
        return WriteResult(inserted, keyed - inserted - snapshots, changed, len(rejects), snapshots)

    def _status(self, cur: Any, item: Incoming, stored_at: Any) -> int:
        """Log a status once (by its event_id); only a new one moves the station's current state."""
        d, m = self.dialect, item.message
        assert isinstance(m, Status)
        got = d.ts(item.received_at)
        cur.execute(d.sql(INSERT_STATUS_LOG), (m.station, m.seq, m.event_id, d.ts(m.ts), m.clock_synced, m.boot_id, m.online, m.reason,
                                               got, item.payload, stored_at))
        if cur.rowcount != 1:
            return 0
        cur.execute(d.sql(UPSERT_STATION), (m.station, m.online, m.reason, m.name, m.version, m.config_hash, _json(m.capabilities),
                                            m.boot_id, m.seq, d.ts(m.ts), m.event_id, got, m.town_name, m.village_name, m.lat, m.lon))
        return 1

    def _rollback(self, cur: Any) -> None:
        try:
            cur.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the connection may already be gone; the caller sees the first error
            pass

    # ------------------------------------------------------------------ reading (tools, tests, benchmarks)

    def snapshot(self, station: str, event_id: str) -> bytes | None:
        """The JPEG of one alarm, or None when it has not arrived (it travels apart from the alarm, and may never)."""
        rows = self.query("SELECT jpeg FROM snapshots WHERE station = ? AND event_id = ?", (station, event_id))
        return bytes(rows[0][0]) if rows else None  # psycopg may hand back a memoryview

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query written with `?` placeholders."""
        cur = self._db.cursor()
        cur.execute(self.dialect.sql(sql), params)
        rows = cur.fetchall()
        return [tuple(r) for r in rows]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement written with `?` placeholders, in autocommit (for small tables beside the ingest); returns the rowcount."""
        cur = self._db.cursor()
        cur.execute(self.dialect.sql(sql), params)
        return cur.rowcount

    def close(self) -> None:
        self._db.close()
        if isinstance(self._turn, WriterTurn):
            self._turn.close()


class WriterTurn:
    """Several ingest processes on one SQLite file take turns on a file lock.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (1, 2, 5,
    10... ms) in its busy handler; a blocking `flock` wakes the next writer the moment the lock is
    free instead. Only the write transaction is under it.
    """

    def __init__(self, path: Path) -> None:
        self._file = open(path, "a+b")  # noqa: SIM115 - held for the life of the store

    def __enter__(self) -> None:
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        self._file.close()


def sqlite_path(url: str) -> str:
    """The file of `sqlite:///relative.db`, `sqlite:////abs/path.db` or a bare path."""
    if url.startswith("sqlite://") and not url.startswith("sqlite:///"):
        raise ValueError(f"database URL {url!r}: use sqlite:///relative.db or sqlite:////absolute/path.db")
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else url


def connect(url: str) -> tuple[Dialect, Any]:
    """`sqlite:///relative.db`, `sqlite:////abs/path.db`, a bare path, or `postgresql://...` (psycopg 3)."""
    if url.startswith(("postgresql://", "postgres://")):
        import psycopg

        return POSTGRES, psycopg.connect(url, autocommit=True)
    path = sqlite_path(url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # a message is PUBACKed only after its row is on disk
    return SQLITE, db
