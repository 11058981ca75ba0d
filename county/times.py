"""Times as the county reads them back, turned into epoch seconds in one place.

SQLite keeps `{ts}` columns as ISO text, PostgreSQL gives `datetime`s, JSON on the wire has ISO
text (sometimes with `Z`), and some queries already compute seconds: all of them mean a moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def epoch(value: Any) -> float | None:
    """Seconds since the epoch, or None for a missing or unreadable time."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
