"""Bring a county database made by an earlier version up to date, in place, when a Store opens it.

Two changes so far, both from hostile-station findings (issue 14):
- `alarms` was keyed by event_id alone, so a station could overwrite another station's alarm by
  sending its id; it is now keyed by (station, event_id). SQLite cannot change a primary key, so
  the table is rebuilt (rows copied as they are: under the old key every event_id was unique);
  PostgreSQL swaps the constraint.
- `rejects` gained `size` and `sha256` (payloads are stored capped); old rows keep NULL there.
- `stations` gained the birth message's `town_name`, `village_name`, `lat` and `lon` (issue 19, the
  map); old rows keep '' and NULL until the station's next status.

Several processes (ingest members, the web board) may open one database at once: each change is
checked again inside a write transaction, so it is made exactly once and the others see it done.
"""

from __future__ import annotations

from typing import Any

ALARM_COLS = ("event_id, station, alarm, source, category, severity, state, summary, raised_at, acked_by, acked_at, cleared_at, "
              "last_seq, updated_at")
STATION_COLS = {"town_name": "TEXT NOT NULL DEFAULT ''", "village_name": "TEXT NOT NULL DEFAULT ''",
                "lat": "DOUBLE PRECISION", "lon": "DOUBLE PRECISION"}  # added by issue 19


def migrate(dialect: str, db: Any, alarms_table: str) -> None:
    """`alarms_table`: the current CREATE TABLE IF NOT EXISTS statement of `alarms`, in this dialect."""
    if dialect == "sqlite":
        _sqlite(db, alarms_table)
    else:
        _postgres(db)


def _sqlite_columns(cur: Any, table: str) -> list[tuple[str, int]]:
    """(name, position in the primary key: 0 when not in it) of each column."""
    return [(row[1], int(row[5])) for row in cur.execute(f"PRAGMA table_info({table})").fetchall()]


def _sqlite_outdated(cur: Any) -> tuple[bool, bool, list[str]]:
    alarm_key = [name for name, pk in sorted(_sqlite_columns(cur, "alarms"), key=lambda c: c[1]) if pk]
    reject_cols = {name for name, _ in _sqlite_columns(cur, "rejects")}
    station_cols = {name for name, _ in _sqlite_columns(cur, "stations")}
    return alarm_key == ["event_id"], "size" not in reject_cols, [c for c in STATION_COLS if c not in station_cols]


def _sqlite(db: Any, alarms_table: str) -> None:
    cur = db.cursor()
    if not any(_sqlite_outdated(cur)):
        return
    cur.execute("BEGIN IMMEDIATE")
    try:
        alarms_old, rejects_old, station_cols = _sqlite_outdated(cur)  # again, now that no one else can write
        if alarms_old:
            cur.execute(alarms_table.replace("alarms (", "alarms_migrating (", 1))
            cur.execute(f"INSERT INTO alarms_migrating ({ALARM_COLS}) SELECT {ALARM_COLS} FROM alarms")
            cur.execute("DROP TABLE alarms")  # its index goes with it; the Store makes it again
            cur.execute("ALTER TABLE alarms_migrating RENAME TO alarms")
        if rejects_old:
            cur.execute("ALTER TABLE rejects ADD COLUMN size BIGINT")
            cur.execute("ALTER TABLE rejects ADD COLUMN sha256 TEXT")
        for column in station_cols:
            cur.execute(f"ALTER TABLE stations ADD COLUMN {column} {STATION_COLS[column]}")
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise


_ALARM_KEY_SQL = """SELECT c.conname, array_agg(a.attname::text ORDER BY a.attname) FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
    WHERE c.conrelid = 'alarms'::regclass AND c.contype = 'p' GROUP BY c.conname"""
_COLS_SQL = "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s"


def _postgres_outdated(cur: Any) -> tuple[str | None, bool, list[str]]:
    """(name of the old event_id-only key of `alarms`, or None; whether `rejects` lacks its new columns; the missing
    columns of `stations`)."""
    cur.execute(_ALARM_KEY_SQL)
    old_key = next((name for name, cols in cur.fetchall() if list(cols) == ["event_id"]), None)
    cur.execute(_COLS_SQL, ("rejects",))
    rejects_old = "size" not in {row[0] for row in cur.fetchall()}
    cur.execute(_COLS_SQL, ("stations",))
    have = {row[0] for row in cur.fetchall()}
    return old_key, rejects_old, [c for c in STATION_COLS if c not in have]


def _postgres(db: Any) -> None:
    cur = db.cursor()
    old_key, rejects_old, station_cols = _postgres_outdated(cur)
    if old_key is None and not rejects_old and not station_cols:
        return
    cur.execute("BEGIN")
    try:
        cur.execute("LOCK TABLE alarms, rejects, stations IN ACCESS EXCLUSIVE MODE")
        old_key, rejects_old, station_cols = _postgres_outdated(cur)
        if old_key is not None:
            cur.execute(f'ALTER TABLE alarms DROP CONSTRAINT "{old_key}", ADD PRIMARY KEY (station, event_id)')
        if rejects_old:
            cur.execute("ALTER TABLE rejects ADD COLUMN size BIGINT, ADD COLUMN sha256 TEXT")
        for column in station_cols:
            cur.execute(f"ALTER TABLE stations ADD COLUMN {column} {STATION_COLS[column]}")
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
