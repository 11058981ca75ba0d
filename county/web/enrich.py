"""What `/api/board` and `/api/events` add to the board's records for people: names and words in the session's language.

Every station record gets `labels` {"county", "town", "village", "station"} (the directory's
names, then the birth message's, then the codes); every alarm and notice record gets `text` (its
summary written from its structured fields), `kind_label`, `severity_label`, `state_label` and
its station's `labels`. The raw fields stay, so a page can always fall back to them. Text only:
the page's script puts it in the document as text, never as HTML. The live stream words each record
once per language whatever the number of open pages (`LiveWords`, one per server).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from county.web.board import Board
from county.web.jsonsafe import dumps
from county.wording import Say, alarm_words

Birth = Callable[[str], Mapping[str, Any] | None]
WORDED = ("alarm", "notice")
LIVE_SLOTS = 2048  # (record, language) pairs kept for the fan-out; one evicted and pushed again is worded again


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


class LiveWords:
    """Each live record worded once per language, however many open pages it goes to.

    The fan-out hands the same record to every browser; wording it there (words, labels, JSON) made
    the serve's CPU grow with the open pages. A slot per (kind, record key, language) keeps the record
    last worded there, the birth names it was worded with and its JSON: the next browser handed an
    equal record (equal, not the same revision: a station's `last_seen` moves without one) with the
    same names gets that JSON. One per server (its names are those of every `Say` it is given); used on
    the event loop only, where every stream runs.
    """

    def __init__(self, slots: int = LIVE_SLOTS) -> None:
        self._slots = slots
        self._done: OrderedDict[tuple[str, str, str], tuple[dict[str, Any], Mapping[str, Any] | None, str]] = OrderedDict()
        self.worded = 0  # records worded, not taken from a slot

    def data(self, kind: str, rec: dict[str, Any], say: Say, birth: Birth) -> str:
        """The JSON of `rec` (a board record of `kind`) with its words in `say.lang`; `rec` itself is left as it is."""
        station = str(rec.get("station") or "")
        names = birth(station) if kind in WORDED else None
        slot = (kind, str(rec.get("key") or rec.get("command_id") or station), say.lang)
        done = self._done.get(slot)
        if done is None or done[0] != rec or done[1] != names:
            done = (rec, names, dumps(record(kind, dict(rec), say, lambda _: names)))
            self.worded += 1
        self._done[slot] = done
        self._done.move_to_end(slot)
        if len(self._done) > self._slots:
            self._done.popitem(last=False)
        return done[2]


async def events(source: AsyncIterator[dict[str, Any]], say: Say, birth: Birth, words: LiveWords | None = None) -> AsyncIterator[dict[str, str]]:
    """The live stream of one browser with the same words as the first load (the inner stream closed with this one).

    A record comes as JSON text (`data`) or, from `stream`, as the board's record itself (`record`, not yet JSON);
    `words` is the server's, shared by every browser, so a record is worded once per language.
    """
    words = LiveWords() if words is None else words
    try:
        async for item in source:
            kind = item.get("event", "")
            if "record" in item or kind == "station" or kind in WORDED:
                rec = item["record"] if "record" in item else json.loads(item["data"])
                item = {"event": kind, "data": words.data(kind, rec, say, birth)}
            yield item
    finally:
        await source.aclose()  # type: ignore[attr-defined]
