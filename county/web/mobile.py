"""The grid worker's phone pages under `/m/`: my cases, a case, 签收 / 到场 / 处置反馈 with photos.

Small server-rendered HTML and one small stylesheet: no script, nothing to download but the page,
so it works on a village's weak link and on any phone browser. Every step is a form POST with the
session's CSRF token, done through `Cases` (scope, rule, audit). The feedback form sends photos
the phone takes (`capture="environment"`); each is bounded, decoded and re-encoded
(`county.web.photos`) and stored in the same transaction as the step, so a refused step keeps no
photo. A case outside the account's scope is "not found", as everywhere in the view.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from county.accounts import Operator
from county.cases.rules import NOTE_MAX
from county.i18n import Refused
from county.web import access
from county.web.case_desk import language
from county.web.cases_pages import STALE, case_id, say
from county.web.login import csrf_ok
from county.web.photos import PHOTO_MAX_BYTES, PHOTOS_PER_STEP, BadPhoto, convert_all, too_many

if TYPE_CHECKING:
    from county.web.app import Web

STEPS = ("accept", "arrive")  # the one-button steps; "handle" has its own form


def routes(w: Callable[[], Web]) -> list[Route]:
    def render(request: Request, template: str, op: Operator | None, status: int = 200, **context: Any) -> Response:
        return w().page(request, template, op, status, say=say(w(), request), **context)

    logged_in = access.logged_in(w, login="/m/login")

    async def login_page(request: Request) -> Response:
        return render(request, "m_login.html", None)

    async def login(request: Request) -> Response:
        """The view's own login (throttle, audit, session); success lands on "my cases" instead of the wall board."""
        answer = await w().logins.login(request)
        if answer.status_code == 303 and answer.headers.get("location") == "/":
            return RedirectResponse("/m/", status_code=303)
        return answer

    @logged_in
    async def my_cases(request: Request, op: Operator) -> Response:
        mine = await run_in_threadpool(w().desk.cases.mine, op, request.query_params.get("all") != "1")
        return render(request, "m_cases.html", op, cases=mine, now=time.time())

    async def show(request: Request, op: Operator, status: int = 200, error: str = "") -> Response:
        cid = case_id(request)
        try:
            case, steps, _ = await run_in_threadpool(w().desk.cases.show, op, cid if cid is not None else -1)
        except Refused:
            return render(request, "m_missing.html", op, 404)
        return render(request, "m_case.html", op, status, case=case, steps=steps, error=error, note_max=NOTE_MAX,
                      photos_max=PHOTOS_PER_STEP, photo_mb=PHOTO_MAX_BYTES // (1024 * 1024))

    @logged_in
    async def case_page(request: Request, op: Operator) -> Response:
        return await show(request, op)

    @logged_in
    async def step(request: Request, op: Operator) -> Response:
        action, lang = request.path_params["action"], language(request)
        form = await request.form(max_files=0, max_fields=10)
        if not csrf_ok(request, _text(form.get("csrf"))):
            return await show(request, op, 403, STALE.text(lang))
        if action not in STEPS:
            return await show(request, op, 404, Refused("没有这个操作", "no such step").text(lang))
        try:
            await run_in_threadpool(w().desk.cases.step, op, case_id(request) or -1, action, time.time())
        except Refused as exc:
            return await show(request, op, 409, exc.text(lang))
        return RedirectResponse(f"/m/cases/{case_id(request)}", status_code=303)

    @logged_in
    async def handle(request: Request, op: Operator) -> Response:
        lang = language(request)
        try:
            form = await request.form(max_files=PHOTOS_PER_STEP + 1, max_fields=10)
        except HTTPException as exc:  # too many parts, or the body limit (413) passed while reading
            text = too_many().text(lang) if exc.status_code == 400 else Refused(
                f"上传内容过大（每张照片最多 {PHOTO_MAX_BYTES // (1024 * 1024)} MB，最多 {PHOTOS_PER_STEP} 张）",
                f"the upload is too large (photos of at most {PHOTO_MAX_BYTES // (1024 * 1024)} MB, {PHOTOS_PER_STEP} at most)").text(lang)
            return await show(request, op, exc.status_code, text)
        if not csrf_ok(request, _text(form.get("csrf"))):
            return await show(request, op, 403, STALE.text(lang))
        files = []
        for part in form.getlist("photos"):
            if isinstance(part, UploadFile) and (part.filename or part.size):
                files.append((part.filename or "photo", await part.read(PHOTO_MAX_BYTES + 1)))
        note = _text(form.get("note")).strip()
        desk, cid = w().desk, case_id(request) or -1

        def save() -> None:
            desk.cases.get(op, cid)  # the scope first: nothing is decoded for a case the account cannot see
            jpegs = convert_all(files)
            now = time.time()
            with desk.db.transaction():
                ids = [desk.photos.add(cid, op.name, now, jpeg) for jpeg in jpegs]
                desk.cases.step(op, cid, "handle", now, note, ids)

        try:
            await run_in_threadpool(save)
        except BadPhoto as exc:
            return await show(request, op, 400, exc.text(lang))
        except Refused as exc:
            return await show(request, op, 409, exc.text(lang))
        return RedirectResponse(f"/m/cases/{cid}", status_code=303)

    return [
        Route("/m/login", login_page, methods=["GET"]),
        Route("/m/login", login, methods=["POST"]),
        Route("/m/", my_cases),
        Route("/m/cases/{case_id}", case_page),
        Route("/m/cases/{case_id}/handle", handle, methods=["POST"]),
        Route("/m/cases/{case_id}/{action}", step, methods=["POST"]),
    ]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
