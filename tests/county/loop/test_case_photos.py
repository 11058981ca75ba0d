"""The grid worker's photos in the county database (SQLite and PostgreSQL): stored with their case, found by id only."""

from __future__ import annotations

from county.cases.db import LoopDb
from county.cases.photos import PhotoStore

JPEG = "/work/shared/media/fire/fire-basket.jpg"


def test_case_photos_are_kept_with_their_case_and_read_back_whole(db_url: str) -> None:
    db = LoopDb(db_url)
    try:
        photos = PhotoStore(db)
        data = open(JPEG, "rb").read()
        first, second = photos.add(7, "wang", 1_800_000_000.0, data), photos.add(8, "zhao", 1_800_000_001.0, b"\xff\xd8small")
        assert first != second and first.isdigit()
        assert photos.get(first) == (7, data) and photos.get(second) == (8, b"\xff\xd8small")
        for bad in ("999999", "", "1 OR 1=1", "-1", "9" * 40, "../1"):
            assert photos.get(bad) is None, bad
        assert PhotoStore(db).get(first) == (7, data)  # a second opening finds the table as it is
    finally:
        db.close()
