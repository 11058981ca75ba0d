"""Photos a grid worker's phone sent with a step (处置反馈), kept in the county database beside the case.

Only re-encoded JPEGs reach this table (`county.web.photos` decodes and re-encodes what a phone
sends), so nothing stored here is a phone's raw bytes. A photo is found by its id and belongs to
one case: whoever serves it checks first that the account sees that case.
"""

from __future__ import annotations

from county.cases.db import LoopDb

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS case_photos (
        id {serial}, case_id BIGINT NOT NULL, at {ts} NOT NULL, actor TEXT NOT NULL, bytes INTEGER NOT NULL, jpeg {blob} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS case_photos_by_case ON case_photos (case_id)",
]


class PhotoStore:
    def __init__(self, db: LoopDb) -> None:
        self._db = db
        db.ensure(SCHEMA)

    def add(self, case_id: int, actor: str, now: float, jpeg: bytes) -> str:
        """Store one photo; its id as the case's steps name it (a short decimal string)."""
        rows = self._db.query("INSERT INTO case_photos (case_id, at, actor, bytes, jpeg) VALUES (?, ?, ?, ?, ?) RETURNING id",
                              (case_id, self._db.ts(now), actor, len(jpeg), jpeg))
        return str(int(rows[0][0]))

    def get(self, photo_id: str) -> tuple[int, bytes] | None:
        """(case id, JPEG) of a photo, or None for an id that is not one of ours."""
        if not photo_id.isdigit() or len(photo_id) > 18:
            return None
        rows = self._db.query("SELECT case_id, jpeg FROM case_photos WHERE id = ?", (int(photo_id),))
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None
