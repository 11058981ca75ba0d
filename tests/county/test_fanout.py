"""The browsers' fan-out: changes coalesce into one current record each; alarm steps are never held back."""

from __future__ import annotations

import asyncio

from county.web.fanout import Browser, Fanout


def test_changes_coalesce_and_alarms_are_urgent() -> None:
    async def scenario() -> None:
        browser = Browser(asyncio.get_running_loop())
        fanout = Fanout()
        fanout.add(browser)
        for _ in range(1000):  # a busy minute of one station's presence
            fanout.notify([("station", "410421/xiaoqi/zhuwa/pond-01")])
        await asyncio.sleep(0)  # the marks are handed to this loop
        assert browser.wake.is_set() and not browser.urgent()
        fanout.notify([("alarm", "e1")])
        await asyncio.sleep(0)
        assert browser.urgent()
        assert browser.take() == {("station", "410421/xiaoqi/zhuwa/pond-01"), ("alarm", "e1")}
        assert not browser.wake.is_set() and browser.take() == set()
        fanout.remove(browser)
        fanout.notify([("alarm", "e2")])
        await asyncio.sleep(0)
        assert browser.take() == set() and len(fanout) == 0

    asyncio.run(scenario())


def test_an_alarm_ends_a_coalescing_wait_early() -> None:
    async def scenario() -> float:
        browser = Browser(asyncio.get_running_loop())
        browser.mark([("station", "s")])
        assert not browser.urgent()
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, browser.mark, [("alarm", "e1")])
        t0 = loop.time()
        await asyncio.wait_for(browser.hurry.wait(), 5.0)  # what the event stream does while it holds presence back
        return loop.time() - t0

    waited = asyncio.run(scenario())
    assert waited < 5.0  # woken by the alarm, not by the end of the wait
