"""What `/api/board` and `/api/events` add to the board's records for people: names and words in the session's language.

Every station record gets `labels` {"county", "town", "village", "station"} (the directory's
names, then the birth message's, then the codes); every alarm and notice record gets `text` (its
summary written from its structured fields), `kind_label`, `severity_label`, `state_label` and
its station's `labels`. The raw fields stay, so a page can always fall back to them. Text only:
the page's script puts it in the document as text, never as HTML.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from county.web.board import Board
from county.web.jsonsafe import dumps
from county.wording import Say, alarm_words

Birth = Callable[[str], Mapping[str, Any] | None]
WORDED = ("alarm", "notice")


def birth_names(board: Board, path: str) -> dict[str, str] | None:
    """The names a station's birth message gave (for a township or village path: those of a station under it); under the board's lock."""
    card = board.stations.get(path) or next((c for s, c in board.stations.items() if s.startswith(path + "/")), None)
    if card is None:
        return None
    return {"name": card.name if card.station == path else "", "town_name": str(getattr(card, "town_name", "") or ""),
            "village_name": str(getattr(card, "village_name", "") or "")}


def record(kind: str, rec: dict[str, Any], say: Say, birth: Birth) -> dict[str, Any]:
    """`rec` (a board record of `kind`) with its words added, in place; returned for convenience."""
    station = str(rec.get("station") or "")
    if kind == "station":
        rec["labels"] = say.names.labels(station, say.lang, rec)
    elif kind in WORDED:
        rec.update(alarm_words(rec, say.lang))
        rec["labels"] = say.names.labels(station, say.lang, birth(station))
    return rec


def view(doc: dict[str, Any], say: Say) -> dict[str, Any]:
    """The board's whole view (see `Board.view`) with every record's words; the births come from its own station records."""
    births = {s["station"]: s for s in doc.get("stations", [])}
    for kind, key in (("station", "stations"), ("alarm", "alarms"), ("notice", "notices")):
        for rec in doc.get(key, []):
            record(kind, rec, say, births.get)
    return doc


async def events(source: AsyncIterator[dict[str, str]], say: Say, birth: Birth) -> AsyncIterator[dict[str, str]]:
    """The live stream of one browser with the same words as the first load (the inner stream closed with this one)."""
    try:
        async for item in source:
            kind = item.get("event", "")
            if kind == "station" or kind in WORDED:
                item = {**item, "data": dumps(record(kind, json.loads(item["data"]), say, birth))}
            yield item
    finally:
        await source.aclose()  # type: ignore[attr-defined]
