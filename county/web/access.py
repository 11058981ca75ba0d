"""Who may reach a route: the one wrapper every page and API module uses (no operator, no handler call).

A page without a session goes to its login page (the desk's `/login` or the phone's `/m/login`); an
API answers 401 with JSON, so a script or a page's fetch sees why instead of a login form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from county.accounts import Operator

if TYPE_CHECKING:
    from county.web.app import Web

Handler = Callable[[Request, Operator], Awaitable[Response]]
Route = Callable[[Request], Awaitable[Response]]


def logged_in(w: Callable[[], Web], login: str = "/login", api: bool = False) -> Callable[[Handler], Route]:
    """A decorator: the handler runs with the session's operator, or the request is turned away as above."""
    def wrap(handler: Handler) -> Route:
        async def route(request: Request) -> Response:
            op = await w().operator(request)
            if op is None:
                return JSONResponse({"error": "log in first"}, status_code=401) if api else RedirectResponse(login, status_code=303)
            return await handler(request, op)
        return route
    return wrap
