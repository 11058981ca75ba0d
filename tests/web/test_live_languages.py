"""The live stream speaks each browser's language, and words each record once per language however many pages are open.

The first test reads two real event streams from a real uvicorn (the `live` fixture of test_web_hostile: broker,
ingest, station, SQLite and PostgreSQL); the second is `enrich.events` on one record handed to many browsers (pure).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from zoneinfo import ZoneInfo

import httpx2 as httpx

from county.directory import parse_directory
from county.web import enrich
from county.wording import Say
from gateway.localbroker import LocalBroker
from tests.county.conftest import db_url, postgres  # noqa: F401 - fixtures: both databases
from tests.web.conftest import BRIDGE
from tests.web.hostile import envelope, publish_raw, strict_json
from tests.web.test_web_hostile import EVIL, http_log_in, live  # noqa: F401 - `live`: the fixture

NAMES = "path,中文名,English name\n410421,示范县,Shifan County\n410421/xiaoqi,小旗乡,Xiaoqi Township\n"


def wait_event(lines: Iterator[str], kind: str, has: str, timeout: float = 20.0) -> dict:
    """The record of the next `kind` event whose data mentions `has` (strict JSON, as a browser parses it)."""
    deadline, event = time.monotonic() + timeout, ""
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:") and event == kind and has in line:
            return strict_json(line[5:].strip())
        assert time.monotonic() < deadline, f"no {kind} event with {has} on the stream"
    raise AssertionError("the stream ended")


def test_two_browsers_in_different_languages_each_get_their_own_words_on_the_same_record(live, broker: LocalBroker) -> None:  # noqa: ANN001, F811
    base, _ = live
    with ExitStack() as stack:
        streams = {}
        for lang in ("zh", "en"):
            client = stack.enter_context(httpx.Client(base_url=base, timeout=30))
            http_log_in(client, "duty")
            client.get("/", params={"lang": lang})  # the page's language switch, kept in the session
            lines = stack.enter_context(client.stream("GET", "/api/events")).iter_lines()
            wait_event(lines, "link", "broker")  # registered with the fan-out before the alarm comes
            streams[lang] = lines
        alarm = envelope(EVIL, "alarm", 7, event_id="flood-7", alarm="water_level", severity="danger", state="raised", category="flood",
                         source="gauge", summary="level high", raised_at="2026-12-03T00:00:00+00:00",
                         details={"level_m": 3.4, "warning_m": 2.5, "danger_m": 3.0, "rate": float("nan")})
        publish_raw(broker.port, f"vs/v1/{EVIL}/event/water_level", json.dumps(alarm).encode())
        zh, en = (wait_event(streams[lang], "alarm", "flood-7") for lang in ("zh", "en"))
    assert zh["key"] == en["key"] == f"{EVIL}#flood-7" and zh["details"]["rate"] is en["details"]["rate"] is None
    assert (zh["kind_label"], zh["severity_label"], zh["state_label"]) == ("水位", "危险", "触发")
    assert (en["kind_label"], en["severity_label"], en["state_label"]) == ("water level", "danger", "raised")
    assert zh["text"].startswith("gauge 水位 3.4") and en["text"].startswith("gauge: water level 3.4")
    assert zh["labels"]["station"] == en["labels"]["station"] == "evil-09"


def test_one_record_sent_to_many_browsers_is_worded_once_per_language() -> None:
    names = parse_directory(NAMES)
    words = enrich.LiveWords()
    alarm = {"key": f"{BRIDGE}#e1", "station": BRIDGE, "alarm": "sensor_stale", "state": "raised", "severity": "warning", "source": "g1",
             "summary": "no reading from g1 for 30 s", "details": {"silent_s": 30}}
    birth = {"name": "漫水桥"}

    async def browser(lang: str, rec: dict) -> dict:
        async def source() -> AsyncIterator[dict]:
            yield {"event": "alarm", "record": dict(rec)}  # as the fan-out hands it: each stream its own copy of the record

        [item] = [i async for i in enrich.events(source(), Say(lang, ZoneInfo("Asia/Shanghai"), names), lambda s: birth, words)]
        return json.loads(item["data"])

    async def pages(rec: dict) -> list[dict]:
        return await asyncio.gather(*(browser(lang, rec) for lang in ("zh", "en") * 10))

    seen = asyncio.run(pages(alarm))
    assert words.worded == 2  # twenty pages, two languages
    assert {p["text"] for p in seen[0::2]} == {"传感器 g1 已 30 秒无数据"} and {p["labels"]["town"] for p in seen[0::2]} == {"小旗乡"}
    assert {p["kind_label"] for p in seen[1::2]} == {"sensor silent"} and {p["labels"]["town"] for p in seen[1::2]} == {"Xiaoqi Township"}
    cleared = asyncio.run(pages({**alarm, "state": "cleared"}))  # the next step of the same alarm is worded again, once per language
    assert words.worded == 4 and {p["state_label"] for p in cleared} == {"已解除", "cleared"}
    birth = {"name": "新桥"}  # the station renamed itself in a birth message: its alarm's labels follow
    assert {p["labels"]["station"] for p in asyncio.run(pages({**alarm, "state": "cleared"}))} == {"新桥"} and words.worded == 6
