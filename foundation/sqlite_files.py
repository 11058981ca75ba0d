"""Opening the gateway's SQLite files the one durable way, and moving a broken one aside.

The outbox and the command replay guard both live on an SD card that may be cut from power at
any moment: WAL with `synchronous=FULL`, and a `quick_check` at open so a damaged file is found
at start-up (and moved aside, kept for inspection) instead of failing later mid-write.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def open_durable(path: Path, schema: str, page_size: int | None = None, exclusive: bool = False) -> sqlite3.Connection:
    """Open (or create) `path` in WAL mode with full fsync; DatabaseError if it is damaged.

    `page_size` applies to a database created now (an existing one keeps its own): smaller pages
    mean fewer bytes written per small transaction, which an SD card counts. `exclusive`: this
    connection alone uses the file while it is open, so SQLite keeps the WAL index in memory
    instead of a shared `-shm` file whose dirty pages the kernel writes back every few seconds
    (for a quiet station, a tenth of all it writes).
    """
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    try:
        if exclusive:  # before the first access of the WAL, or SQLite has already made the -shm file
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
        if page_size is not None:
            db.execute(f"PRAGMA page_size={int(page_size)}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
        row = db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {row[0] if row else 'no answer'}")
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def move_aside(path: Path) -> Path:
    """Rename a damaged database and its WAL/SHM files to `<name>.corrupt-<UTC time>`; the new name."""
    moved = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            src.replace(Path(str(moved) + suffix))
    return moved
