"""The outbox's tables, its payload packing, and the upgrade of a database from before issue 17.

Laid out for an SD card (RELIABILITY.md, section 10): one table keyed by seq with no index (the
queued alarms' seqs are kept in memory), open alarms in a table without rowid (one b-tree, not
two), payloads deflated with a fixed dictionary of the envelope's words, so that a put's rows fit
one page and a put rewrites one page, not three.
"""

from __future__ import annotations

import sqlite3
import zlib

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq      INTEGER PRIMARY KEY,
    klass    INTEGER NOT NULL,
    topic    TEXT    NOT NULL,
    payload  BLOB    NOT NULL,
    retain   INTEGER NOT NULL DEFAULT 0,
    created  REAL    NOT NULL,
    size     INTEGER
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alarms_open (event_id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
"""

# `size` NULL: the payload is stored as given; else it is raw deflate with this dictionary, and
# `size` its length before. NEVER change these bytes: rows packed with them may be waiting in an
# outbox when the gateway is upgraded; a new dictionary needs a new marker.
DICTIONARY = (
    b'{"station": "", "seq": , "event_id": "", "ts": "2026-", "clock_synced": true, "boot_id": "", "kind": "telemetry", '
    b'"sensor": "gauge-1", "values": {"level_m": , "level_min_m": , "level_max_m": , "band": 0}, "samples": '
    b'"kind": "alarm", "alarm": "flash_flood", "state": "raised", "updated", "cleared", "severity": "danger", "warning", '
    b'"category": "safety", "source": "summary": "", "details": {"rise_m_per_min": , "threshold_m_per_min": , '
    b'"warning_m": , "danger_m": }, "raised_at": "", "acked_by": null, "snapshot": null}'
    b'"kind": "health", "uptime_s": , "cpu_temp_c": null, "throttled": null, "load_1m": , "disk_free_bytes": , '
    b'"rss_bytes": , "queue_depth": , "queue_bytes": , "dropped_total": 0, "loops": {"brain": , "water:gauge-1": , '
    b'"fire:smoke-1": , "announcer": , "uplink": }, "devices": {"gauge-1": "ok", "smoke-1": "ok", "uplink": "connected"}, '
    b'"camera_fps": {}}"kind": "playback", "key": "", "ref": "", "what": "", "priority": "emergency", "outcome": '
    b'"completed", "plays": 1, "started": "", "ended": "", "error": ""}"kind": "notice", "kind": "reply", "kind": "status", '
    b'"online": true, "version": "", "config_hash": "", "capabilities": ["water_level", "fire_input", "loudspeaker"], '
    b'"name": "", "reason": ""}'
)


def pack(payload: bytes) -> tuple[bytes, int | None]:
    """(stored bytes, size): deflated when that is shorter, else as given with size None."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=DICTIONARY)
    packed = packer.compress(payload) + packer.flush()
    return (packed, len(payload)) if len(packed) < len(payload) else (payload, None)


def unpack(stored: bytes, size: int | None) -> bytes:
    """The payload as it was put; ValueError if the stored bytes do not inflate to `size`."""
    if size is None:
        return stored
    try:
        unpacker = zlib.decompressobj(-15, zdict=DICTIONARY)
        payload = unpacker.decompress(stored) + unpacker.flush()
    except zlib.error as exc:
        raise ValueError(f"packed payload does not inflate: {exc}") from exc
    if len(payload) != size:
        raise ValueError(f"packed payload inflates to {len(payload)} bytes, not {size}")
    return payload


def upgrade(db: sqlite3.Connection) -> None:
    """Bring a database from before issue 17 to this layout, in one transaction (once)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    columns = {r[1] for r in db.execute("PRAGMA table_info(outbox)")}
    if "open_alarms" not in tables and "outbox_by_class" not in tables and "size" in columns:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("DROP INDEX IF EXISTS outbox_by_class")
        if "size" not in columns:
            db.execute("ALTER TABLE outbox ADD COLUMN size INTEGER")
        if "open_alarms" in tables:
            db.execute("INSERT OR REPLACE INTO alarms_open SELECT event_id, body FROM open_alarms")
            db.execute("DROP TABLE open_alarms")
        db.execute("COMMIT")
    except sqlite3.Error:
        db.execute("ROLLBACK")
        raise
