"""What the board page reads besides `/api/board`: the cases its alarms are in, and every snapshot of an alarm.

`/api/board/cases` joins the board's alarms with the closed loop's cases (same county database,
tables `case_alarms` and `cases`): for each alarm in a case, the case's id, state and whether it
is overdue (marked by an escalation, or past its deadline now and not yet swept by the loop).
The page polls it (every 15 s and at each full load) and filters and sorts with it; one query
serves every operator for `CASES_CACHE_S` seconds, each then sees only the alarms under its
scope. `/snapshot/{event_id}/{n}` serves an alarm's n-th snapshot (1: the one sent when raised, n:
`snapshot/{event_id}-{n}` of the drowning watch's escalations), `/snapshot/{event_id}` its newest (the
one the board shows), each checked against the sha256 the alarm announced when the board saw it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from county.accounts import Operator
from county.cases.db import LoopDb
from county.cases.rules import OPEN, STATES, CaseState, is_late
from county.i18n import pick
from county.times import epoch
from county.web import access
from county.web.cards import alarm_key
from county.web.case_desk import language
from county.web.jsonsafe import SafeJSONResponse as JSONResponse

if TYPE_CHECKING:
    from county.web.app import Web

CASES_CACHE_S = 5.0
CLOSED_KEPT_S = 24 * 3600.0  # a case closed within this is still shown beside its alarm
MAX_SNAPSHOTS = 1000
CASES_SQL = """SELECT ca.station, ca.event_id, c.id, c.state, c.level, c.overdue, c.accept_due, c.handle_due FROM case_alarms ca
    JOIN cases c ON c.id = ca.case_id WHERE c.state <> 'closed' OR c.updated_at >= ?"""


@dataclass(frozen=True, slots=True)
class CaseMark:
    """What the board shows of an alarm's case."""

    station: str
    event_id: str
    case_id: int
    state: str
    level: int
    overdue: bool

    def public(self, lang: str) -> dict[str, Any]:
        pair = STATES.get(self.state)
        return {"case_id": self.case_id, "case_state": self.state, "case_state_label": pick(lang, pair) if pair else self.state,
                "case_level": self.level, "overdue": self.overdue, "accepted": self.state not in ("dispatched",)}


def marks(rows: list[tuple[Any, ...]], now: float) -> list[CaseMark]:
    """Rows of `CASES_SQL` as marks: overdue when an escalation marked it, or a deadline passed (the loop sweeps later)."""
    out = []
    for station, event_id, case_id, state, level, overdue, accept_due, handle_due in rows:
        rule = CaseState(str(state), int(level), epoch(accept_due) or 0.0, epoch(handle_due) or 0.0, bool(overdue))
        late = state in OPEN and (bool(overdue) or is_late(rule, now) is not None)
        out.append(CaseMark(str(station), str(event_id), int(case_id), str(state), int(level), late))
    return out


class BoardCases:
    """The case marks of every alarm, read at most once per `CASES_CACHE_S` whoever asks."""

    def __init__(self, db: LoopDb) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._at = -1e18
        self._marks: list[CaseMark] = []

    def current(self, now: float) -> list[CaseMark]:
        with self._lock:
            if now - self._at >= CASES_CACHE_S or now < self._at:
                self._marks = marks(self._db.query(CASES_SQL, (self._db.ts(now - CLOSED_KEPT_S),)), now)
                self._at = now
            return self._marks

    def view(self, sees: Callable[[str], bool], lang: str, now: float) -> dict[str, dict[str, Any]]:
        """Alarm key -> its case, for the alarms an operator sees."""
        return {alarm_key(m.station, m.event_id): m.public(lang) for m in self.current(now) if sees(m.station)}


def routes(w: Callable[[], Web]) -> list[Route]:
    cache: list[BoardCases] = []  # made at the first request: the database opens with the app, after the routes

    logged_in = access.logged_in(w, api=True)

    @logged_in
    async def cases_api(request: Request, op: Operator) -> Response:
        if not cache:
            cache.append(BoardCases(w().desk.db))
        lang = language(request)
        try:
            view = await run_in_threadpool(cache[0].view, op.sees, lang, time.time())
        except Exception as exc:  # noqa: BLE001 - the database may be away: the board goes on without its cases
            return JSONResponse({"error": f"cases unavailable: {type(exc).__name__}"}, status_code=503)
        return JSONResponse({"cases": view})

    @logged_in
    async def snapshot(request: Request, op: Operator) -> Response:
        """`/snapshot/{event_id}` (the newest) and `/snapshot/{event_id}/{n}`: one scope check, one lookup, one sha256 check."""
        event_id, asked = request.path_params["event_id"], request.path_params.get("n")
        with w().lock:
            alarm = w().board.find_alarm(event_id, op.sees, request.query_params.get("station", ""))
            # one at least: the first snapshot may be stored before the alarm step that names it reaches the board
            station, count = (alarm.station, max(alarm.snapshot_count, 1)) if alarm else ("", 0)
            n = count if asked is None else asked
            expected = alarm.snapshot_sha(n) if alarm else None
        if not station or not 1 <= n <= min(count, MAX_SNAPSHOTS):
            return JSONResponse({"error": "snapshot not found"}, status_code=404)
        jpeg = await w().db.run(w().db.store.snapshot, station, event_id if n == 1 else f"{event_id}-{n}")
        if jpeg is None:
            return JSONResponse({"error": "snapshot not found (not received yet)"}, status_code=404)
        if expected and hashlib.sha256(jpeg).hexdigest() != expected:
            return JSONResponse({"error": "the stored snapshot does not match the alarm's sha256"}, status_code=409)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    return [Route("/api/board/cases", cases_api), Route("/snapshot/{event_id}", snapshot), Route("/snapshot/{event_id}/{n:int}", snapshot)]
