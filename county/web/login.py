"""Logging in and out of the web view.

The password is checked outside the database lock (see `Accounts`), at most `HASHING_AT_ONCE`
at a time (argon2 takes a core and 64 MiB each), after the `LoginThrottle` let the attempt through.
A refused login reads the same whatever the name: "wrong name or password", or after too many
failures of that name (or from that address) "too many failed attempts" with the wait, which a
missing name earns exactly like an existing one. A throttled attempt is not written to the audit
log (that is what would fill the disk); the others are, with their name capped.
A session is a row in the database (`Accounts.start_session`); logging out deletes it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from county.accounts import MAX_NAME

if TYPE_CHECKING:
    from county.web.app import Web

HASHING_AT_ONCE = 2
SESSION_MAX_AGE_S = 12 * 3600  # one shift
WRONG = "用户名或密码错误 Wrong name or password."


def _too_many(wait: float) -> str:
    return f"尝试次数过多，请 {wait:.0f} 秒后再试 Too many failed attempts; try again in {wait:.0f} s."


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def csrf_ok(request: Request, given: str | None) -> bool:
    expected = request.session.get("csrf")
    return bool(expected and given and secrets.compare_digest(expected, given))


class Logins:
    """The login and logout routes over one `Web`."""

    def __init__(self, web: Web) -> None:
        self.web = web
        self.hashing = asyncio.Semaphore(HASHING_AT_ONCE)

    async def login(self, request: Request) -> Response:
        web = self.web
        form = await request.form()
        name, password = str(form.get("username", "")).strip()[: MAX_NAME + 1], str(form.get("password", ""))[:1024]
        if not csrf_ok(request, str(form.get("csrf", ""))):
            return web.page(request, "login.html", None, 403, error="页面已过期，请重新登录 The page expired; log in again.")
        address, now = client_address(request), time.time()
        wait = web.throttle.attempt(address, name, now)
        if wait > 0:
            return web.page(request, "login.html", None, 401, error=_too_many(wait))
        async with self.hashing:
            op = await run_in_threadpool(web.accounts.verify, name, password, now)
        if op is None:
            now = time.time()
            locked = max(await run_in_threadpool(web.accounts.locked_for, name, now), web.throttle.wait(address, name, now))
            await run_in_threadpool(web.accounts.log, name or "?", "login_failed", "", now, {"ip": address})
            return web.page(request, "login.html", None, 401, error=_too_many(locked) if locked > 0 else WRONG)
        web.throttle.succeeded(address, name)
        await run_in_threadpool(web.accounts.end_sessions, op.name, now - SESSION_MAX_AGE_S)  # those that ran out: gone for good
        sid = await run_in_threadpool(web.accounts.start_session, op.name, now)
        request.session.clear()
        request.session.update({"operator": op.name, "sid": sid, "csrf": secrets.token_urlsafe(24)})
        await run_in_threadpool(web.accounts.log, op.name, "login", op.scope, now, {"ip": address})
        return RedirectResponse(await run_in_threadpool(landing, web, op.name), status_code=303)

    async def logout(self, request: Request) -> Response:
        web = self.web
        op = await web.operator(request)
        if op is not None and csrf_ok(request, str((await request.form()).get("csrf", ""))):
            await run_in_threadpool(web.accounts.end_session, str(request.session.get("sid", "")))
            await run_in_threadpool(web.accounts.log, op.name, "logout", op.scope, time.time())
            request.session.clear()
        return RedirectResponse("/login", status_code=303)


FIELD_ROLES = frozenset({"grid_worker", "village_cadre"})  # people in the village, on a phone: their cases first


def landing(web: Web, account: str) -> str:
    """Where a login lands: "my cases" (/m/) for an account linked to a grid worker or village cadre, else the board."""
    return "/m/" if web.desk.cases.people.roles_of(account) & FIELD_ROLES else "/"
