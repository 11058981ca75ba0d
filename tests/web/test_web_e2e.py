"""The county web view in a real browser, against a real broker, ingest, server and stations."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from county.wording import SEVERITIES, label
from tests.conftest import ROOT
from tests.stations import wait_for
from tests.web.conftest import BRIDGE, FERRY, POND, County, login, water_station

DOCS_IMG = ROOT / "docs" / "img"


def test_an_alarm_raised_at_a_station_appears_on_the_open_page_within_seconds(county: County, browser) -> None:  # noqa: ANN001
    page = login(browser, county, "duty")
    try:
        page.wait_for_selector(f'.tile[data-station="{POND}"]')
        county.start_station(BRIDGE, water_station(county.root / "bridge", county.broker.port, county.public_key, BRIDGE, "竹洼村漫水桥",
                                                   rise_at_s=2.0))
        alarm = county.wait_message(station=BRIDGE, kind="alarm", alarm="water_level", state="raised", timeout=30)
        seen = time.monotonic()
        row = f'tr[data-event-id="{alarm["event_id"]}"]'
        page.wait_for_selector(row, timeout=10_000)
        latency = time.monotonic() - seen
        assert latency < 5.0, f"the alarm reached the page {latency:.1f} s after it reached the broker"
        assert page.get_attribute(f"{row} .sev", "data-severity") == alarm["severity"]  # shown in Chinese (issue 19)
        assert page.text_content(f"{row} .sev") == label(SEVERITIES, alarm["severity"], "zh")
        # the station's tile carries a badge for it, and the tile is in its township and village
        badge = f'section[data-town="410421/xiaoqi"] .village[data-village="zhuwa"] .tile[data-station="{BRIDGE}"] .badge[data-event-id="{alarm["event_id"]}"]'
        page.wait_for_selector(badge)
        print(f"alarm on the wire -> row on the page: {latency * 1000:.0f} ms")
    finally:
        page.context.close()


def test_acknowledge_button_sends_a_signed_ack_and_the_page_shows_it_acked(county: County, browser) -> None:  # noqa: ANN001
    alarm = county.wait_message(station=FERRY, kind="alarm", alarm="water_level", state="raised", timeout=30)
    page = login(browser, county, "duty")
    try:
        button = f'tr[data-event-id="{alarm["event_id"]}"] button.ack'
        page.click(button)
        acked = county.wait_message(station=FERRY, kind="alarm", event_id=alarm["event_id"], state="acked", timeout=20)
        assert acked["acked_by"] == "值班长 王明"  # the operator's name went into the signed command
        page.wait_for_selector(f'tr[data-event-id="{alarm["event_id"]}"][data-state="acked"]', timeout=10_000)
        assert "值班长 王明" in page.text_content(f'tr[data-event-id="{alarm["event_id"]}"] .acked-by')
        assert page.query_selector(button) is None  # nothing left to acknowledge
        reply = county.wait_message(station=FERRY, kind="reply", command="ack", timeout=10)
        page.wait_for_selector(f'li.command[data-command-id="{reply["command_id"]}"][data-outcome="acked"]', timeout=10_000)
    finally:
        page.context.close()
    assert wait_for(lambda: any(e.action == "ack" and e.operator == "duty" and e.command_id == reply["command_id"]
                                and e.outcome == "acked" and e.target == FERRY for e in county.audit()), timeout=10)


def test_acknowledging_from_the_alarm_page_adds_the_step_to_its_lifecycle(county: County, browser) -> None:  # noqa: ANN001
    assert BRIDGE in county.stations, "started by the first test of this module"
    alarm = county.wait_message(station=BRIDGE, kind="alarm", alarm="water_level", state="raised", timeout=30)
    page = login(browser, county, "xiaoqi")
    try:
        page.goto(f"/alarms/{alarm['event_id']}")
        page.click("#detail-state button.ack")
        page.wait_for_selector('#alarm-detail[data-state="acked"]', timeout=15_000)
        page.wait_for_selector('ol.timeline li[data-state="acked"]', timeout=15_000)
        assert "小旗乡 李娟" in page.text_content("ol.timeline")
    finally:
        page.context.close()


def test_alarm_view_shows_the_snapshot_evidence_and_the_lifecycle(county: County, browser) -> None:  # noqa: ANN001
    alarm = county.wait_message(station=POND, kind="alarm", alarm="person_in_water_zone", state="raised", timeout=90)
    assert alarm["snapshot"]
    page = login(browser, county, "xiaoqi")
    try:
        page.wait_for_selector(f'tr[data-event-id="{alarm["event_id"]}"] img.thumb')
        page.goto(f"/alarms/{alarm['event_id']}")
        page.wait_for_function("() => { const i = document.querySelector('#snapshot'); return i && i.complete && i.naturalWidth > 0 }",
                               timeout=20_000)
        jpeg = page.request.get(f"/snapshot/{alarm['event_id']}").body()
        assert hashlib.sha256(jpeg).hexdigest() == alarm["snapshot"]["sha256"]  # the evidence is the station's own picture
        page.wait_for_selector("#detail-state")
        assert page.get_attribute("#alarm-detail", "data-state") in ("raised", "updated", "acked", "cleared")
        assert page.query_selector('ol.timeline li[data-state="raised"]') is not None
    finally:
        page.context.close()


def test_station_view_draws_the_water_level_of_the_last_24_hours(county: County, browser) -> None:  # noqa: ANN001
    assert wait_for(lambda: len(county.messages(station=FERRY, kind="telemetry")) >= 5, timeout=30)
    page = login(browser, county, "dongfeng")
    try:
        page.goto(f"/stations/{FERRY}")
        page.wait_for_function("() => { const i = document.querySelector('img.chart'); return i && i.complete && i.naturalWidth > 0 }",
                               timeout=20_000)
        svg = page.request.get(page.get_attribute("img.chart", "src")).text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<path" in svg
    finally:
        page.context.close()


def test_announce_to_a_township_reaches_its_stations_only_and_replies_show_up(county: County, browser) -> None:  # noqa: ANN001
    page = login(browser, county, "duty")
    text = "今晚八点村委会开会,请各户派代表参加"
    try:
        page.click('section[data-town="410421/xiaoqi"] button.announce')
        page.fill("#announce-text", text)
        page.click("#announce-send")
        xiaoqi = [s for s in county.stations if s.startswith("410421/xiaoqi/")]
        assert len(xiaoqi) >= 1
        for station in xiaoqi:
            page.wait_for_selector(f'li.command[data-station="{station}"][data-outcome="completed"]', timeout=90_000)
    finally:
        page.context.close()
    played = [m for m in county.messages(kind="playback") if m["what"] == text]
    assert sorted(m["station"] for m in played) == sorted(xiaoqi)
    assert not [m for m in county.messages(station=FERRY, kind="reply") if m["command"] == "announce"]
    entries = [e for e in county.audit() if e.action == "announce"]
    assert sorted(e.target for e in entries) == sorted(xiaoqi) and {e.operator for e in entries} == {"duty"}


def test_a_township_account_sees_and_commands_only_its_own_township(county: County, browser) -> None:  # noqa: ANN001
    pond_alarm = county.wait_message(station=POND, kind="alarm", state="raised", timeout=90)
    page = login(browser, county, "dongfeng")
    try:
        page.wait_for_selector(f'.tile[data-station="{FERRY}"]')
        time.sleep(1.0)  # live updates from the other township keep arriving meanwhile
        assert page.query_selector(f'.tile[data-station="{POND}"]') is None
        assert page.query_selector(f'[data-event-id="{pond_alarm["event_id"]}"]') is None
        assert page.query_selector('section[data-town="410421/xiaoqi"]') is None
        board = page.request.get("/api/board").json()
        assert {s["station"] for s in board["stations"]} == {FERRY}
        assert all(a["station"] == FERRY for a in board["alarms"])
        # direct addresses of the other township's things are "not found", as if they did not exist
        page.goto(f"/alarms/{pond_alarm['event_id']}")
        assert page.query_selector("#missing") is not None
        assert page.request.get(f"/snapshot/{pond_alarm['event_id']}").status == 404
        assert page.request.get(f"/chart.svg?station={POND}&sensor=x").status == 404
        csrf = page.get_attribute('meta[name="csrf-token"]', "content")
        ack = page.request.post("/api/ack", data=json.dumps({"event_id": pond_alarm["event_id"]}),
                                headers={"content-type": "application/json", "x-csrf-token": csrf})
        assert ack.status == 404
        announce = page.request.post("/api/announce", data=json.dumps({"target": "410421/xiaoqi", "text": "测试"}),
                                     headers={"content-type": "application/json", "x-csrf-token": csrf})
        assert announce.status == 404
    finally:
        page.context.close()
    assert not [m for m in county.messages(station=POND, kind="reply") if m["command"] == "ack"]


def test_wrong_password_is_refused_and_logged(county: County, browser) -> None:  # noqa: ANN001
    context = browser.new_context(base_url=county.base_url)
    page = context.new_page()
    try:
        page.goto("/")
        assert page.url.endswith("/login")  # nothing without logging in
        page.fill("#username", "xiaoqi")
        page.fill("#password", "not the password")
        page.click("#login-submit")
        assert "Wrong name or password" in page.text_content("#login-error")
        assert page.request.get("/api/board").status == 401
    finally:
        context.close()
    assert any(e.action == "login_failed" and e.operator == "xiaoqi" for e in county.audit())


def test_screenshots_of_the_overview_and_an_alarm(county: County, browser, tmp_path: Path) -> None:  # noqa: ANN001
    """Pictures of the overview and of an alarm with its evidence; `WRITE_DOCS_SCREENSHOT=1` refreshes those in docs/img."""
    alarm = county.wait_message(station=POND, kind="alarm", state="raised", timeout=90)
    folder = DOCS_IMG if os.environ.get("WRITE_DOCS_SCREENSHOT") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page = login(browser, county, "duty")
    try:
        page.wait_for_selector("tr.alarm img.thumb")
        page.wait_for_function("() => [...document.querySelectorAll('img.thumb')].some((i) => i.complete && i.naturalWidth > 0)",
                               timeout=20_000)
        page.screenshot(path=str(folder / "county-overview.png"), full_page=True)
        page.goto(f"/alarms/{alarm['event_id']}")
        page.wait_for_function("() => { const i = document.querySelector('#snapshot'); return i && i.complete && i.naturalWidth > 0 }",
                               timeout=20_000)
        page.screenshot(path=str(folder / "county-alarm.png"), full_page=True)
    finally:
        page.context.close()
    for name in ("county-overview.png", "county-alarm.png"):
        data = (folder / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">刘庄北渡'


def test_a_refused_command_shows_as_a_health_notice_of_that_station_only_where_it_may_be_seen(county: County, browser) -> None:  # noqa: ANN001
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    duty, xiaoqi = login(browser, county, "duty"), login(browser, county, "xiaoqi")
    hostile = mqtt.Client(CallbackAPIVersion.VERSION2)
    hostile.connect("127.0.0.1", county.broker.port)
    hostile.loop_start()
    try:
        hostile.publish(f"vs/v1/{FERRY}/cmd/announce", b'{"name": "announce", "args": {"text": "unsigned"}}', qos=1).wait_for_publish(5)
        county.wait_message(station=FERRY, kind="notice", notice="command_rejected", timeout=20)
        duty.wait_for_selector(f'#notices li[data-notice="command_rejected"][data-station="{FERRY}"]', timeout=10_000)
        time.sleep(0.5)
        assert xiaoqi.query_selector(f'#notices li[data-station="{FERRY}"]') is None
    finally:
        hostile.loop_stop()
        hostile.disconnect()
        duty.context.close()
        xiaoqi.context.close()


def test_a_gauge_that_stops_answering_shows_on_its_station_tile(county: County, browser) -> None:  # noqa: ANN001
    path = "410421/dongfeng/liuzhuang/ferry-04"
    page = login(browser, county, "dongfeng")
    try:
        county.start_station(path, water_station(county.root / "ferry-04", county.broker.port, county.public_key, path, "刘庄南渡",
                                                 rise_at_s=None, silent_from_s=1.0, health_s=1.0))
        page.wait_for_selector(f'.tile[data-station="{path}"] .health', timeout=20_000)
        problems = page.text_content(f'.tile[data-station="{path}"] .health')
        assert "gauge-1: offline" in problems and "uplink" not in problems  # a connected uplink is not a problem
        assert page.query_selector(f'.tile[data-station="{FERRY}"] .health') is None  # a healthy station shows none
    finally:
        page.context.close()


def test_a_station_going_offline_and_back_shows_on_the_open_page(county: County, browser) -> None:  # noqa: ANN001
    """Its name is hostile HTML too: the page shows it as text and runs nothing."""
    path = "410421/dongfeng/liuzhuang/ferry-03"
    page = login(browser, county, "dongfeng")
    try:
        station = county.start_station(path, water_station(county.root / "ferry-03", county.broker.port, county.public_key, path,
                                                           HOSTILE_NAME, rise_at_s=None))
        tile = f'.tile[data-station="{path}"]'
        page.wait_for_selector(f'{tile}[data-online="online"]', timeout=10_000)
        assert page.text_content(f"{tile} .name") == HOSTILE_NAME and page.query_selector(f"{tile} img") is None
        assert page.evaluate("() => window.__pwned") is None
        station.stop()  # its goodbye (retained status: offline, "shutdown")
        page.wait_for_selector(f'{tile}[data-online="offline"]', timeout=10_000)
        assert "shutdown" in page.text_content(f"{tile} .presence")
        county.start_station(path, water_station(county.root / "ferry-03", county.broker.port, county.public_key, path, HOSTILE_NAME,
                                                 rise_at_s=None))
        page.wait_for_selector(f'{tile}[data-online="online"]', timeout=10_000)
    finally:
        page.context.close()


def test_the_page_says_when_the_server_lost_the_broker_and_resumes_after(county: County, browser) -> None:  # noqa: ANN001
    """Runs last: it stops the shared broker for a while (stations queue meanwhile)."""
    page = login(browser, county, "duty")
    try:
        county.broker.stop()
        page.wait_for_selector("#link.broker-down", timeout=15_000)
        county.broker.start()
        page.wait_for_selector("#link.up", timeout=20_000)
        path = "410421/xiaoqi/zhuwa/bridge-09"
        county.start_station(path, water_station(county.root / "bridge-09", county.broker.port, county.public_key, path, "竹洼村北桥",
                                                 rise_at_s=0.5))
        alarm = county.wait_message(station=path, kind="alarm", state="raised", timeout=30)
        page.wait_for_selector(f'tr[data-event-id="{alarm["event_id"]}"]', timeout=10_000)
    finally:
        page.context.close()
