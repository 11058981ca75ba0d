"""`countyctl serve`: the county web view (Starlette), over the ingest store and the live MQTT feed.

Pages are server-rendered shells; one small script (`static/app.js`, no build step) fills them
from `/api/board` and keeps them live from `/api/events` (server-sent events). Every request is
checked against the logged-in operator's scope: a township account gets "not found" for another
township's stations, alarms, snapshots and charts, exactly as for things that do not exist.
State-changing requests need the session's CSRF token in a header and a same-site cookie.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timezone, tzinfo
from pathlib import Path
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from county import charts
from county.accounts import Accounts, Operator
from county.keys import load_signing_key
from county.send import BrokerOptions
from county.store import Store
from county.web.actions import ActionRefused, Actions
from county.web.board import Board
from county.web.data import Database, alarm_rows, seed_board, timeline
from county.web.fanout import COALESCE_S, Browser, Fanout
from county.web.hub import LiveHub

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_MAX_AGE_S = 12 * 3600  # one shift
CHART_WINDOW_S = 24 * 3600.0
CHART_CACHE_S = 30
RESEED_AFTER_S = 3.0  # after a reconnection, time for the ingest to store what queued for it


@dataclass
class ServeSettings:
    db: str
    broker: BrokerOptions
    key_file: Path
    prefix: str = "vs/v1"
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    secure_cookies: bool = False
    command_ttl_s: float = 300.0
    tz: tzinfo = timezone.utc
    title: str = "县级站点值守 County station board"


class Web:
    """Everything the routes share; built at start-up, closed at shutdown."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.key = load_signing_key(settings.key_file)
        self.db = Database(Store(settings.db))
        self.accounts = Accounts(self.db.store)
        self.board = Board(settings.prefix)
        self.lock = threading.Lock()
        self.fanout = Fanout()
        seed_board(self.board, self.db.store, time.time())
        self.hub = LiveHub(self.board, self.lock, settings.broker, self.fanout.notify, self._on_reply, self._on_reconnect)
        self.actions = Actions(self.board, self.lock, self.hub, self.key, self.accounts, self.db.call, self.fanout.notify,
                               settings.command_ttl_s)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self._charts: dict[tuple[str, str, int], bytes] = {}

    def _on_reconnect(self) -> None:
        """Catch up from the ingest's database once it has stored what queued for it during the outage."""
        timer = threading.Timer(RESEED_AFTER_S, self._reseed)
        timer.daemon = True
        timer.start()

    def _reseed(self) -> None:
        try:
            rows = self.db.call(alarm_rows, self.db.store, time.time())
        except Exception:  # noqa: BLE001 - the database may be away too; live messages still flow
            log.exception("web: reading alarms back after a reconnection failed")
            return
        with self.lock:
            changes = self.board.seed_alarms(rows)
        if changes:
            log.info("web: %d alarm(s) caught up from the database after a reconnection", len(changes))
            self.fanout.notify(changes)

    def _on_reply(self, doc: dict[str, Any]) -> None:
        self.db.call(self.accounts.set_outcome, str(doc["command_id"]), str(doc["outcome"]))

    def close(self) -> None:
        self.hub.stop()
        self.db.call(self.db.store.close)

    # ------------------------------------------------------------------ helpers of the routes

    async def operator(self, request: Request) -> Operator | None:
        name = request.session.get("operator")
        return None if not name else await self.db.run(self.accounts.get, name)

    def page(self, request: Request, template: str, op: Operator | None, status: int = 200, **context: Any) -> Response:
        csrf = request.session.setdefault("csrf", secrets.token_urlsafe(24))
        return self.templates.TemplateResponse(request, template, {"op": op, "csrf": csrf, "title": self.settings.title, **context},
                                               status_code=status)

    def chart(self, station: str, sensor: str, now: float) -> bytes:
        slot = int(now // CHART_CACHE_S)
        cached = self._charts.get((station, sensor, slot))
        if cached is not None:
            return cached
        since, until = now - CHART_WINDOW_S, now
        store = self.db.store
        series = self.db.call(charts.level_series, store, station, sensor, since, until)
        bands = self.db.call(charts.alarm_bands, store, station, sensor, since, until)
        svg = charts.water_chart_svg(series, since, until, bands, title=f"{sensor}", tz=self.settings.tz)
        self._charts = {k: v for k, v in self._charts.items() if k[2] == slot}
        self._charts[(station, sensor, slot)] = svg
        return svg


SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware (it leaves the event stream unbuffered): scripts and images from this server only, no framing."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _csrf_ok(request: Request, given: str | None) -> bool:
    expected = request.session.get("csrf")
    return bool(expected and given and secrets.compare_digest(expected, given))


def _not_found(what: str) -> JSONResponse:
    return JSONResponse({"error": f"{what} not found"}, status_code=404)


def create_app(settings: ServeSettings) -> Starlette:
    """The ASGI app; the MQTT connection starts with it and stops with it."""
    web: Web | None = None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal web
        web = Web(settings)
        app.state.web = web
        web.hub.start()
        pruner = asyncio.create_task(_prune(web))
        try:
            yield
        finally:
            pruner.cancel()
            web.close()

    def w() -> Web:
        assert web is not None
        return web

    def page_route(handler: Callable[[Request, Operator], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """A page for logged-in operators only: anyone else is sent to the login page."""
        async def route(request: Request) -> Response:
            op = await w().operator(request)
            return RedirectResponse("/login", status_code=303) if op is None else await handler(request, op)
        return route

    def api_route(handler: Callable[[Request, Operator], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Data for logged-in operators only: anyone else gets 401."""
        async def route(request: Request) -> Response:
            op = await w().operator(request)
            return JSONResponse({"error": "log in first"}, status_code=401) if op is None else await handler(request, op)
        return route

    async def login_page(request: Request) -> Response:
        return w().page(request, "login.html", None, error="")

    async def login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        if not _csrf_ok(request, str(form.get("csrf", ""))):
            return w().page(request, "login.html", None, 403, error="页面已过期,请重新登录 The page expired; log in again.")
        now = time.time()
        op = await w().db.run(w().accounts.verify, name, password, now)
        if op is None:
            locked = await w().db.run(w().accounts.locked_for, name, now)
            await w().db.run(w().accounts.log, name or "?", "login_failed", "", now, {"ip": request.client.host if request.client else ""})
            msg = (f"尝试次数过多,请 {locked:.0f} 秒后再试 Too many failed attempts; try again in {locked:.0f} s." if locked > 0
                   else "用户名或密码错误 Wrong name or password.")
            return w().page(request, "login.html", None, 401, error=msg)
        request.session.clear()
        request.session.update({"operator": op.name, "csrf": secrets.token_urlsafe(24)})
        await w().db.run(w().accounts.log, op.name, "login", op.scope, now, {"ip": request.client.host if request.client else ""})
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request) -> Response:
        op = await w().operator(request)
        if op is not None and _csrf_ok(request, str((await request.form()).get("csrf", ""))):
            await w().db.run(w().accounts.log, op.name, "logout", op.scope, time.time())
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @page_route
    async def overview(request: Request, op: Operator) -> Response:
        return w().page(request, "overview.html", op, page="overview")

    @page_route
    async def alarm_page(request: Request, op: Operator) -> Response:
        event_id = request.path_params["event_id"]
        with w().lock:
            alarm = w().board.alarms.get(event_id)
            card = alarm.public() if alarm else None
        if card is None or not op.sees(card["station"]):
            return w().page(request, "missing.html", op, 404, what=f"alarm {event_id}")
        steps = await w().db.run(timeline, w().db.store, card["station"], event_id)
        sensors = await w().db.run(charts.level_sensors, w().db.store, card["station"], time.time() - CHART_WINDOW_S)
        return w().page(request, "alarm.html", op, page="alarm", alarm=card, steps=steps,
                        chart_sensor=card["source"] if card["source"] in sensors else None)

    @page_route
    async def station_page(request: Request, op: Operator) -> Response:
        station = request.path_params["station"].strip("/")
        with w().lock:
            card = w().board.stations.get(station)
            info = card.public() if card else None
        if info is None or not op.sees(station):
            return w().page(request, "missing.html", op, 404, what=f"station {station}")
        sensors = await w().db.run(charts.level_sensors, w().db.store, station, time.time() - CHART_WINDOW_S)
        return w().page(request, "station.html", op, page="station", station=info, sensors=sensors)

    @page_route
    async def audit_page(request: Request, op: Operator) -> Response:
        entries = await w().db.run(w().accounts.audit, op.scope, 300)
        return w().page(request, "audit.html", op, page="audit", entries=entries)

    @api_route
    async def board_api(request: Request, op: Operator) -> Response:
        def body() -> bytes:
            with w().lock:
                view = w().board.view(op.sees)
            doc = {**view, "broker": w().hub.connected.is_set(), "now": time.time(),
                   "operator": {"name": op.name, "display_name": op.display_name, "scope": op.scope}}
            return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

        return Response(await run_in_threadpool(body), media_type="application/json")  # off the event loop: streams keep flowing

    @api_route
    async def events_api(request: Request, op: Operator) -> Response:
        return EventSourceResponse(_stream(w(), op), ping=15)

    @api_route
    async def snapshot(request: Request, op: Operator) -> Response:
        event_id = request.path_params["event_id"]
        with w().lock:
            alarm = w().board.alarms.get(event_id)
            station, expected = (alarm.station, alarm.snapshot_sha256) if alarm else ("", None)
        if not station or not op.sees(station):
            return _not_found("snapshot")
        jpeg = await w().db.run(w().db.store.snapshot, station, event_id)
        if jpeg is None:
            return _not_found("snapshot (not received yet)")
        if expected and hashlib.sha256(jpeg).hexdigest() != expected:
            return JSONResponse({"error": "the stored snapshot does not match the alarm's sha256"}, status_code=409)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    @api_route
    async def chart(request: Request, op: Operator) -> Response:
        station, sensor = request.query_params.get("station", ""), request.query_params.get("sensor", "")
        if not station or not sensor or not op.sees(station) or station not in w().board.stations:
            return _not_found("chart")
        svg = await run_in_threadpool(w().chart, station, sensor, time.time())
        return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=30"})

    @api_route
    async def act(request: Request, op: Operator) -> Response:
        if not _csrf_ok(request, request.headers.get("x-csrf-token")):
            return JSONResponse({"error": "missing or stale CSRF token; reload the page"}, status_code=403)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            return JSONResponse({"error": "the request body must be a JSON object"}, status_code=400)
        now = time.time()
        try:
            if request.path_params["action"] == "ack":
                sent = await run_in_threadpool(w().actions.ack, op, str(body.get("event_id", "")), now)
            else:
                sent = await run_in_threadpool(w().actions.announce, op, str(body.get("target", "")), str(body.get("text", "")),
                                             str(body.get("priority", "announcement")), _int(body.get("repeat", 1)), now)
        except ActionRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse({"batch": sent.batch, "command_ids": sent.command_ids, "not_sent": sent.not_sent})

    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview),
        Route("/alarms/{event_id}", alarm_page),
        Route("/stations/{station:path}", station_page),
        Route("/audit", audit_page),
        Route("/api/board", board_api),
        Route("/api/events", events_api),
        Route("/api/{action:str}", act, methods=["POST"]),
        Route("/snapshot/{event_id}", snapshot),
        Route("/chart.svg", chart),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders), Middleware(SessionMiddleware, secret_key=settings.secret, session_cookie="county_session", max_age=SESSION_MAX_AGE_S,
                             same_site="strict", https_only=settings.secure_cookies)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    return app


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1


async def _stream(web: Web, op: Operator) -> AsyncIterator[dict[str, str]]:
    """Changes the operator may see, coalesced; a `link` event says whether the server reaches the broker."""
    browser = Browser(asyncio.get_running_loop())
    web.fanout.add(browser)
    link = web.hub.connected.is_set()
    try:
        yield {"event": "link", "data": json.dumps({"broker": link})}
        checked = pushed = time.monotonic()
        while True:
            try:
                await asyncio.wait_for(browser.wake.wait(), 5)
                # alarms and replies go at once; presence is coalesced (a quiet spell's first change goes at once too)
                hold = COALESCE_S - (time.monotonic() - pushed)
                if hold > 0 and not browser.urgent():
                    try:  # presence waits for the throttle, unless an alarm step arrives meanwhile
                        await asyncio.wait_for(browser.hurry.wait(), hold)
                    except TimeoutError:
                        pass
            except TimeoutError:
                pass
            if web.hub.connected.is_set() != link:
                link = web.hub.connected.is_set()
                yield {"event": "link", "data": json.dumps({"broker": link})}
            if time.monotonic() - checked >= 5:
                checked = time.monotonic()
                if await web.db.run(web.accounts.get, op.name) is None:
                    yield {"event": "logout", "data": "{}"}
                    return
            with web.lock:
                records = [(kind, web.board.record((kind, key))) for kind, key in browser.take()]
            for kind, rec in records:
                if rec is not None and op.sees(rec[0]):
                    yield {"event": kind, "data": json.dumps(rec[1], ensure_ascii=False)}
            if records:
                pushed = time.monotonic()
    finally:
        web.fanout.remove(browser)


async def _prune(web: Web) -> None:
    while True:
        await asyncio.sleep(60)
        with web.lock:
            web.board.prune(time.time())
