"""The live event stream of one browser, and the board's hourly pruning.

Changes the operator may see go out coalesced (see `fanout`); a `link` event says whether the
server reaches the broker; a `logout` event ends the page when its session ended (logged out
elsewhere, password changed, account disabled). A record is yielded as the board's record itself:
`enrich.events` words it and makes it strict JSON, once per language for every open browser.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from county.accounts import Operator
from county.web.fanout import COALESCE_S, Browser

if TYPE_CHECKING:
    from county.web.app import Web

SESSION_CHECK_S = 5.0


async def stream(web: Web, op: Operator, sid: str) -> AsyncIterator[dict[str, Any]]:
    browser = Browser(asyncio.get_running_loop())
    web.fanout.add(browser)
    link = web.hub.connected.is_set()
    try:
        yield {"event": "link", "data": json.dumps({"broker": link})}
        checked = pushed = time.monotonic()
        while True:
            try:
                await asyncio.wait_for(browser.wake.wait(), SESSION_CHECK_S)
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
            if time.monotonic() - checked >= SESSION_CHECK_S:
                checked = time.monotonic()
                if await run_in_threadpool(web.session_operator, sid) is None:
                    yield {"event": "logout", "data": "{}"}
                    return
            with web.lock:
                records = [(kind, web.board.record((kind, key))) for kind, key in browser.take()]
            for kind, rec in records:
                if rec is not None and op.sees(rec[0]):
                    yield {"event": kind, "record": rec[1]}  # made JSON by `enrich.events`, once per language for all browsers
            if records:
                pushed = time.monotonic()
    finally:
        web.fanout.remove(browser)


async def prune(web: Web) -> None:
    while True:
        await asyncio.sleep(60)
        with web.lock:
            web.board.prune(time.time())
