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
