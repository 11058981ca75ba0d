"""What the case pages share: the cases library over its own database connection, and how a page speaks.

The pages call `county.cases.service.Cases` (scope, rules and audit live there) from worker
threads; `LoopDb` has its own lock, so the board's reads do not wait on a case's transaction.
A page speaks zh-CN unless the session chose English (`?lang=en`, kept in the session; `?lang=zh`
goes back), and writes times in the county's zone with the date, since a case spans days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from starlette.requests import Request

from county.cases.config import LoopConfig
from county.cases.db import LoopDb
from county.cases.dispatch import KINDS, SEVERITIES
from county.cases.model import Case
from county.cases.photos import PhotoStore
from county.cases.rules import ACTIONS, RESULTS, STATES
from county.cases.service import Cases
from county.i18n import Pair, pick
from county.people import ROLES

SEVERITY_EN = {"info": "info", "warning": "warning", "danger": "danger", "critical": "critical"}
ALARM_STATES: dict[str, Pair] = {"raised": ("触发", "raised"), "updated": ("更新", "updated"), "acked": ("已确认", "acked"),
                                 "cleared": ("已解除", "cleared")}
DELIVERY: dict[str, Pair] = {"sent": ("已送达", "sent"), "pending": ("待发送", "pending"), "failed": ("发送失败", "failed")}


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


@dataclass(frozen=True)
class Say:
    """The page's words and times, handed to the templates as `say`."""

    lang: str
    tz: tzinfo

    def t(self, zh: str, en: str) -> str:
        return pick(self.lang, (zh, en))

    def at(self, epoch: float | None) -> str:
        return "" if not epoch else datetime.fromtimestamp(epoch, self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def state(self, key: str) -> str:
        return self._pair(STATES, key)

    def action(self, key: str) -> str:
        return self._pair({**ACTIONS, "open": ("立案派件", "opened"), "merge": ("合并", "merge"), "escalate": ("督办升级", "escalated")}, key)

    def alarm_state(self, key: str) -> str:
        """A step of the station's own alarm lifecycle."""
        return self._pair(ALARM_STATES, key)

    def delivery(self, key: str) -> str:
        return self._pair(DELIVERY, key)

    def actor(self, name: str) -> str:
        """Who did a step: an account name, or the loop itself (automatic opening, escalation)."""
        return self.t("系统", "system") if name == "system" else name

    def result(self, key: str | None) -> str:
        return self._pair(RESULTS, key) if key else ""

    def kind(self, key: str) -> str:
        return KINDS.get(key, key) if self.lang == "zh" else key.replace("_", " ")

    def severity(self, key: str) -> str:
        return SEVERITIES.get(key, key) if self.lang == "zh" else SEVERITY_EN.get(key, key)

    def role(self, key: str) -> str:
        return self._pair(ROLES, key)

    def _pair(self, table: dict[str, Pair], key: str) -> str:
        pair = table.get(key)
        return pick(self.lang, pair) if pair else key


def township(station: str) -> str:
    """The county/town prefix of a station path ("410421/xiaoqi/zhuwa/pond-01" -> "410421/xiaoqi")."""
    return "/".join(station.split("/")[:2])


def ordered(cases: Sequence[Case]) -> list[Case]:
    """Open before closed, overdue first among the open, newest first otherwise (the dispatcher reads from the top)."""
    return sorted(cases, key=lambda c: (c.state == "closed", not c.overdue, -c.id))
