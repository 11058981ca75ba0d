"""What the case pages share: the cases library over its own database connection, and how a page speaks.

The pages call `county.cases.service.Cases` (scope, rules and audit live there) from worker
threads; `LoopDb` has its own lock, so the board's reads do not wait on a case's transaction.
A page speaks zh-CN unless the session chose English (`?lang=en`, kept in the session; `?lang=zh`
goes back); its words, names and times are `county.wording.Say`'s (re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request

from county.cases.config import LoopConfig
from county.cases.db import LoopDb
from county.cases.model import Case
from county.cases.photos import PhotoStore
from county.cases.service import Cases
from county.wording import ALARM_STATES, DELIVERY, Say

__all__ = ["ALARM_STATES", "DELIVERY", "CaseDesk", "Say", "language", "ordered", "township"]


class CaseDesk:
    """The cases library and the photo table, over one connection of their own."""

    def __init__(self, url: str, config: LoopConfig | None) -> None:
        self.db = LoopDb(url)
        self.cases = Cases(self.db, config or LoopConfig())
        self.photos = PhotoStore(self.db)

    def close(self) -> None:
        self.db.close()


def language(request: Request) -> str:
    """"zh" or "en": `?lang=` switches and is kept in the session."""
    wanted = request.query_params.get("lang")
    if wanted in ("zh", "en"):
        request.session["lang"] = wanted
    return "en" if request.session.get("lang") == "en" else "zh"


def township(station: str) -> str:
    """The county/town prefix of a station path ("410421/xiaoqi/zhuwa/pond-01" -> "410421/xiaoqi")."""
    return "/".join(station.split("/")[:2])


def ordered(cases: Sequence[Case]) -> list[Case]:
    """Open before closed, overdue first among the open, newest first otherwise (the dispatcher reads from the top)."""
    return sorted(cases, key=lambda c: (c.state == "closed", not c.overdue, -c.id))
