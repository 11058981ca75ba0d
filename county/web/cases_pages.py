"""The duty officer's case pages: `/cases` (open and overdue first, filters) and `/cases/{id}` with its actions.

Every state change is a plain HTML form POST carrying the session's CSRF token, handed to
`Cases` (which checks the scope and the rule and writes the audit entry), then a redirect back to
the case (post/redirect/get: a reload never repeats a step). A case outside the account's scope
answers 404 exactly like one that does not exist. Notes, summaries and names are rendered by
Jinja with autoescape, so nothing a station or a phone sent becomes HTML.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from county.accounts import Operator
from county.cases.rules import OPEN, RESULTS, STATES
from county.i18n import Refused
from county.web import access
from county.web.case_desk import Say, language, ordered, township
from county.web.data import timeline
from county.web.login import csrf_ok

if TYPE_CHECKING:
    from county.web.app import Web

STALE = Refused("页面已过期，请刷新后重试", "the page expired (missing or stale CSRF token); reload and retry")
LIST_LIMIT = 500
EVENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def say(web: Web, request: Request) -> Say:
    """The page's words, display names and times (the server's one zone): `Web.say`."""
    return web.say(request)


def render(web: Web, request: Request, template: str, op: Operator, status: int = 200, **context: Any) -> Response:
    return web.page(request, template, op, status, say=say(web, request), page="cases", **context)


def missing(web: Web, request: Request, op: Operator, what: str) -> Response:
    return render(web, request, "missing.html", op, 404, what=what)


def case_id(request: Request) -> int | None:
    text = request.path_params.get("case_id", "")
    return int(text) if text.isdigit() and len(text) <= 18 else None


def routes(w: Callable[[], Web]) -> list[Route]:
    logged_in = access.logged_in(w)

    @logged_in
    async def case_list(request: Request, op: Operator) -> Response:
        web, q = w(), request.query_params
        state, town, overdue = q.get("state", "open"), q.get("town", ""), q.get("overdue") == "1"
        stamp = await run_in_threadpool(web.desk.cases.stamp, op)  # before the list: a case opened in between only reloads it once more
        everything = await run_in_threadpool(web.desk.cases.list, op, state == "open", LIST_LIMIT)
        towns = sorted({township(c.station) for c in everything})
        shown = [c for c in everything if (state in ("open", "all") or c.state == state) and (not town or township(c.station) == town)
                 and (not overdue or c.overdue)]
        return render(web, request, "cases.html", op, cases=ordered(shown), towns=towns, states=STATES,
                      filters={"state": state, "town": town, "overdue": overdue}, now=time.time(), stamp=stamp)

    async def case_stamp(request: Request) -> Response:
        """The open list's refresh signal: it polls this and reloads its table only when a case in scope opened or moved."""
        op = await w().operator(request)
        if op is None:
            return JSONResponse({"error": "login"}, status_code=401)
        return JSONResponse({"stamp": await run_in_threadpool(w().desk.cases.stamp, op)}, headers={"Cache-Control": "no-store"})

    async def detail(request: Request, op: Operator, status: int = 200, error: str = "") -> Response:
        web, cid = w(), case_id(request)
        try:
            case, steps, notes = await run_in_threadpool(web.desk.cases.show, op, cid if cid is not None else -1)
        except Refused:
            return missing(web, request, op, f"#{request.path_params.get('case_id', '')}")
        lifecycles = [(event_id, await web.db.run(timeline, web.db.store, case.station, event_id)) for event_id in case.alarms]
        return render(web, request, "case.html", op, status, case=case, steps=steps, notes=notes, lifecycles=lifecycles,
                      results=RESULTS, open_states=OPEN, error=error)

    @logged_in
    async def case_page(request: Request, op: Operator) -> Response:
        return await detail(request, op)

    async def change(request: Request, op: Operator, call: Callable[[dict[str, str]], Any]) -> Response:
        """Check the token, run the change, go back to the case; a refusal is shown on the case page."""
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        lang = language(request)
        if not csrf_ok(request, form.get("csrf")):
            return await detail(request, op, 403, STALE.text(lang))
        try:
            await run_in_threadpool(call, form)
        except Refused as exc:
            return await detail(request, op, 409, exc.text(lang))
        return RedirectResponse(f"/cases/{case_id(request)}", status_code=303)

    @logged_in
    async def act(request: Request, op: Operator) -> Response:
        cases = w().desk.cases
        return await change(request, op, lambda f: cases.step(op, case_id(request) or -1, f.get("action", ""), time.time(),
                                                              f.get("note", "").strip(), result=f.get("result") or None))

    @logged_in
    async def merge(request: Request, op: Operator) -> Response:
        cases = w().desk.cases

        def call(form: dict[str, str]) -> None:
            ids = [e for e in re.split(r"[\s,;]+", form.get("event_ids", "")) if e]
            if not ids or len(ids) > 50 or not all(EVENT_ID.match(e) for e in ids):
                raise Refused("请填写要并入的告警编号（空格分隔）", "give the event ids of the alarms to merge, separated by spaces")
            cases.merge(op, case_id(request) or -1, ids, time.time())

        return await change(request, op, call)

    @logged_in
    async def open_form(request: Request, op: Operator, status: int = 200, error: str = "") -> Response:
        web, q = w(), request.query_params
        station, event_id = q.get("station", ""), q.get("event_id", "")
        ref = await run_in_threadpool(web.desk.cases.alarm, station, event_id) if op.sees(station) and station else None
        if ref is None:
            return missing(web, request, op, f"{station} {event_id}")
        existing = await run_in_threadpool(web.desk.cases.store.case_of, station, event_id)
        return render(web, request, "case_open.html", op, status, alarm=ref, existing=existing, error=error)

    @logged_in
    async def open_case(request: Request, op: Operator) -> Response:
        web = w()
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        lang = language(request)
        station, event_id = form.get("station", ""), form.get("event_id", "")
        if not csrf_ok(request, form.get("csrf")):
            return render(web, request, "case_open_refused.html", op, 403, error=STALE.text(lang))
        try:
            case = await run_in_threadpool(web.desk.cases.open_for_alarm, op, station, event_id, time.time(), form.get("note", "").strip())
        except Refused as exc:
            return render(web, request, "case_open_refused.html", op, 409, error=exc.text(lang))
        return RedirectResponse(f"/cases/{case.id}", status_code=303)

    @logged_in
    async def photo(request: Request, op: Operator) -> Response:
        """A stored (re-encoded) photo, to accounts that see its case only (nosniff comes with every answer: `SecurityHeaders`)."""
        desk = w().desk
        found = await run_in_threadpool(desk.photos.get, request.path_params["photo_id"])
        if found is not None:
            try:
                await run_in_threadpool(desk.cases.get, op, found[0])
            except Refused:
                found = None
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(found[1], media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    return [
        Route("/cases", case_list),
        Route("/cases/stamp", case_stamp),
        Route("/cases/open", open_form, methods=["GET"]),
        Route("/cases/open", open_case, methods=["POST"]),
        Route("/cases/photos/{photo_id}", photo),
        Route("/cases/{case_id}", case_page),
        Route("/cases/{case_id}/act", act, methods=["POST"]),
        Route("/cases/{case_id}/merge", merge, methods=["POST"]),
    ]
