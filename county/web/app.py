"""`countyctl serve`: the county web view (Starlette), over the ingest store and the live MQTT feed.

Pages are server-rendered shells; one small script (`static/app.js`, no build step) fills them
from `/api/board` and keeps them live from `/api/events` (server-sent events). Every request is
checked against the logged-in operator's scope: a township account gets "not found" for another
township's stations, alarms, snapshots and charts, exactly as for things that do not exist.
State-changing requests need the session's CSRF token in a header and a same-site cookie.
Whatever a station or a request sends, the answer is 2xx or 4xx and strict JSON (see `jsonsafe`,
`middleware.BodyLimit`); an alarm is found by (station, event id), so no station can touch
another's records.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timezone, tzinfo
from pathlib import Path
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from county import charts
from county.accounts import Accounts, Operator
from county.cases.config import LoopConfig
from county.directory import Directory
from county.keys import load_signing_key
from county.send import BrokerOptions
from county.store import Store
from county.web import audit_view, board_extras, cases_pages, enrich, mobile
from county.web.actions import ActionRefused, Actions
from county.web.board import Board
from county.web.case_desk import CaseDesk, language
from county.web.data import Database, alarm_rows, seed_board, timeline
from county.web.fanout import Fanout
from county.web.hub import LiveHub
from county.web.jsonsafe import SafeJSONResponse as JSONResponse
from county.web.jsonsafe import dumps
from county.web.login import SESSION_MAX_AGE_S, Logins, csrf_ok
from county.web.map_page import MapSettings, map_routes
from county.web.middleware import SecurityHeaders
from county.web.stats_page import stats_routes
from county.web.stream import prune, stream
from county.web.throttle import LoginThrottle
from county.web.upload_limit import BodyLimits
from county.wording import Say

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
CHART_WINDOW_S = 24 * 3600.0
CHART_CACHE_S = 30
RESEED_AFTER_S = 3.0  # after a reconnection, time for the ingest to store what queued for it
MAX_SENSOR = 128  # characters of a chart's sensor name
AUDIT_ROWS = 300


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
    cases: LoopConfig | None = None  # the county's loop file (deadlines, ladder); the defaults without one
    directory: Directory = field(default_factory=Directory)  # display names of places (`serve --directory`)
    map: MapSettings = field(default_factory=MapSettings)  # tiles, outline, Leaflet's folder (issue 19)


class Web:
    """Everything the routes share; built at start-up, closed at shutdown."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.key = load_signing_key(settings.key_file)
        self.db = Database(Store(settings.db))
        self.accounts = Accounts(self.db.store, guard=self.db.call)  # hashing runs outside the database lock
        self.throttle = LoginThrottle()
        self.logins = Logins(self)
        self.board = Board(settings.prefix)
        self.lock = threading.Lock()
        self.fanout = Fanout()
        self.words = enrich.LiveWords()  # the live records' words, shared by every open stream
        seed_board(self.board, self.db.store, time.time())
        self.hub = LiveHub(self.board, self.lock, settings.broker, self.fanout.notify, self._on_reply, self._on_reconnect)
        self.actions = Actions(self.board, self.lock, self.hub, self.key, self.accounts, self.fanout.notify,
                               settings.command_ttl_s)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self._charts: dict[tuple[str, str, int], bytes] = {}
        tz_name = str(getattr(settings.tz, "key", None) or settings.tz)
        cases = (settings.cases or LoopConfig()).model_copy(update={"tz": tz_name})  # one zone: the server's (`serve --tz`)
        self.names = settings.directory if len(settings.directory) or settings.cases is None else settings.cases.names
        self.desk = CaseDesk(settings.db, cases.with_names(self.names))  # the case pages' own connection
        self._closed = threading.Event()  # a catch-up timer still pending at shutdown must not touch the closed database

    def say(self, request: Request) -> Say:
        """The words, names and times of a page or an API answer, in the session's language and the county's zone."""
        return Say(language(request), self.settings.tz, self.names, self.birth)

    def birth(self, path: str) -> dict[str, str] | None:
        with self.lock:
            return enrich.birth_names(self.board, path)

    def _on_reconnect(self) -> None:
        """Catch up from the ingest's database once it has stored what queued for it during the outage."""
        timer = threading.Timer(RESEED_AFTER_S, self._reseed)
        timer.daemon = True
        timer.start()

    def _reseed(self) -> None:
        if self._closed.is_set():
            return
        try:
            rows = self.db.call(alarm_rows, self.db.store, time.time())
        except Exception:  # noqa: BLE001 - the database may be away too; live messages still flow
            if not self._closed.is_set():  # (closed meanwhile: nothing to catch up for)
                log.exception("web: reading alarms back after a reconnection failed")
            return
        with self.lock:
            changes = self.board.seed_alarms(rows)
        if changes:
            log.info("web: %d alarm(s) caught up from the database after a (re)connection", len(changes))
            self.fanout.notify(changes)

    def _on_reply(self, doc: dict[str, Any]) -> None:
        self.accounts.set_outcome(str(doc["station"]), str(doc["command_id"]), str(doc["outcome"]))

    def close(self) -> None:
        self._closed.set()
        self.hub.stop()
        self.db.call(self.db.store.close)
        self.desk.close()

    # ------------------------------------------------------------------ helpers of the routes

    def session_operator(self, sid: str) -> Operator | None:
        """The operator of a session that has not ended (logged out, new password, disabled, older than a shift)."""
        return self.accounts.session(sid, time.time(), SESSION_MAX_AGE_S)

    async def operator(self, request: Request) -> Operator | None:
        sid = request.session.get("sid")
        return None if not isinstance(sid, str) or not sid else await run_in_threadpool(self.session_operator, sid)

    def page(self, request: Request, template: str, op: Operator | None, status: int = 200, **context: Any) -> Response:
        csrf = request.session.setdefault("csrf", secrets.token_urlsafe(24))
        context.setdefault("say", self.say(request))
        tz_name = str(getattr(self.settings.tz, "key", None) or self.settings.tz)
        return self.templates.TemplateResponse(request, template, {"op": op, "csrf": csrf, "title": self.settings.title, "tz_name": tz_name,
                                                                   **context}, status_code=status)

    def chart(self, station: str, sensor: str, now: float) -> bytes:
        slot = int(now // CHART_CACHE_S)
        cached = self._charts.get((station, sensor, slot))
        if cached is not None:
            return cached
        since, until = now - CHART_WINDOW_S, now
        store = self.db.store
        series = self.db.call(charts.level_series, store, station, sensor, since, until)
        bands = self.db.call(charts.alarm_bands, store, station, sensor, since, until)
        limits = self.db.call(charts.level_limits, store, station, sensor)
        svg = charts.water_chart_svg(series, since, until, bands, title=f"{sensor}", tz=self.settings.tz, limits=limits)
        self._charts = {k: v for k, v in self._charts.items() if k[2] == slot}
        self._charts[(station, sensor, slot)] = svg
        return svg


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
        pruner = asyncio.create_task(prune(web))
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

    def logins() -> Logins:
        return w().logins

    async def login(request: Request) -> Response:
        return await logins().login(request)

    async def logout(request: Request) -> Response:
        return await logins().logout(request)

    @page_route
    async def overview(request: Request, op: Operator) -> Response:
        return w().page(request, "overview.html", op, page="overview")

    @page_route
    async def alarm_page(request: Request, op: Operator) -> Response:
        event_id = request.path_params["event_id"]
        with w().lock:
            alarm = w().board.find_alarm(event_id, op.sees, request.query_params.get("station", ""))
            card = alarm.public() if alarm else None
        if card is None:
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
        web, say, q = w(), w().say(request), request.query_params
        account, day, error = q.get("account", "").strip()[:64], None, ""
        try:
            day = date.fromisoformat(q["day"]) if q.get("day") else None
        except ValueError:
            error = say.t("日期应为 年-月-日", "the day must be YYYY-MM-DD")
        rows = await web.db.run(audit_view.query, web.db.store, op.scope, AUDIT_ROWS, account, day, web.settings.tz)
        entries = await run_in_threadpool(audit_view.readable, rows, say)  # names are looked up under the board's lock
        return web.page(request, "audit.html", op, page="audit", say=say, entries=entries,
                        filters={"account": account, "day": day.isoformat() if day else "", "error": error})

    @api_route
    async def board_api(request: Request, op: Operator) -> Response:
        say = w().say(request)

        def body() -> bytes:
            with w().lock:
                view = w().board.view(op.sees)
            enrich.view(view, say)  # outside the lock: names and words for people
            doc = {**view, "broker": w().hub.connected.is_set(), "now": time.time(), "lang": say.lang,
                   "operator": {"name": op.name, "display_name": op.display_name, "scope": op.scope}}
            return dumps(doc).encode("utf-8")  # a station's NaN goes out as null: one bad number must not blank the board

        return Response(await run_in_threadpool(body), media_type="application/json")  # off the event loop: streams keep flowing

    @api_route
    async def events_api(request: Request, op: Operator) -> Response:
        live = stream(w(), op, str(request.session.get("sid", "")))
        return EventSourceResponse(enrich.events(live, w().say(request), w().birth, w().words), ping=15)

    @api_route
    async def chart(request: Request, op: Operator) -> Response:
        station, sensor = request.query_params.get("station", ""), request.query_params.get("sensor", "")
        if not station or not sensor or len(sensor) > MAX_SENSOR or not op.sees(station) or station not in w().board.stations:
            return _not_found("chart")
        svg = await run_in_threadpool(w().chart, station, sensor, time.time())
        return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=30"})

    @api_route
    async def ack_api(request: Request, op: Operator) -> Response:
        return await act(request, op, "ack")

    @api_route
    async def announce_api(request: Request, op: Operator) -> Response:
        return await act(request, op, "announce")

    async def act(request: Request, op: Operator, action: str) -> Response:
        if not csrf_ok(request, request.headers.get("x-csrf-token")):
            return JSONResponse({"error": "missing or stale CSRF token; reload the page"}, status_code=403)
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            return JSONResponse({"error": "the request body must be a JSON object"}, status_code=400)
        now = time.time()
        try:
            if action == "ack":
                sent = await run_in_threadpool(w().actions.ack, op, _text(body.get("event_id")), now, _text(body.get("station")))
            else:
                sent = await run_in_threadpool(w().actions.announce, op, _text(body.get("target")), _text(body.get("text")),
                                               _text(body.get("priority", "announcement")), _int(body.get("repeat", 1)), now)
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
        Route("/api/ack", ack_api, methods=["POST"]),
        Route("/api/announce", announce_api, methods=["POST"]),
        Route("/chart.svg", chart),
        *cases_pages.routes(w),
        *map_routes(w, settings.map),
        *stats_routes(w),
        *board_extras.routes(w),
        *mobile.routes(w),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders), Middleware(BodyLimits), Middleware(SessionMiddleware, secret_key=settings.secret, session_cookie="county_session", max_age=SESSION_MAX_AGE_S,
                             same_site="strict", https_only=settings.secure_cookies)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    return app


def _int(value: Any) -> int:
    """A count from JSON: anything that is not a plain number of sane size is 1 (the model then says what is allowed)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str) or (isinstance(value, float) and not math.isfinite(value)):
        return 1
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return 1
    return number if -1_000_000 <= number <= 1_000_000 else 1_000_001


def _text(value: Any) -> str:
    """A text field from JSON: strings as they are, anything else as nothing (never the str() of a deep structure)."""
    return value if isinstance(value, str) else ""
