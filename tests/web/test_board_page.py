"""The duty officer's board in headless Chromium (issue 19 point 7): filters, overdue first, the banner and sound of a new
danger, the lifecycle's updates collapsed, the newest snapshot and the loudspeaker's plays.

The county runs for real (broker, ingest with the case loop, `countyctl serve`; the fixture of tests/web/loop). The banner
is raised by a real station; the other alarms come from a scripted station: wire-contract messages (`wire.messages`, the
station's own models) published on the broker as a station publishes them, so that a test decides exactly how many
updates, snapshots and plays there are and which township and kind each alarm has.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

import paho.mqtt.client as mqtt
import pytest

from gateway.station import Station
from tests.county.jpeg import real_jpeg
from tests.stations import config_of, wait_for
from tests.web.conftest import water_station
from tests.web.loop.conftest import DUTY, LoopCounty, desk, loop_county  # noqa: F401 - the fixture, used by name
from wire.messages import Alarm, Playback, SnapshotRef, Topics, to_payload

XIAOQI = "410421/xiaoqi/zhuwa/script-01"
DONGFENG = "410421/dongfeng/liuzhuang/script-02"


class ScriptedStation:
    """Publishes a station's messages (QoS 1, as its uplink does) with its own gap-free seq."""

    def __init__(self, port: int, path: str) -> None:
        self.path, self.topics, self.seq = path, Topics(*path.split("/")), 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"script-{path.replace('/', '-')}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _env(self, event_id: str) -> dict[str, Any]:
        self.seq += 1
        return {"station": self.path, "seq": self.seq, "event_id": event_id, "ts": datetime.now(timezone.utc), "clock_synced": True,
                "boot_id": "script-boot"}

    def alarm(self, event_id: str, state: str, alarm: str = "person_in_water_zone", severity: str = "danger",
              details: dict[str, Any] | None = None, snapshot: SnapshotRef | None = None, raised_at: datetime | None = None) -> None:
        msg = Alarm(**self._env(event_id), alarm=alarm, state=state, severity=severity, category="safety", source="cam-1/pond",
                    summary=f"{alarm} {state}", details=details or {"count": 1}, raised_at=raised_at or datetime.now(timezone.utc),
                    snapshot=snapshot)
        self.client.publish(self.topics.event(alarm), to_payload(msg), qos=1).wait_for_publish(10)

    def snapshot(self, event_id: str, n: int) -> SnapshotRef:
        jpeg = real_jpeg(label=f"shot {n}")
        topic = self.topics.snapshot(event_id if n == 1 else f"{event_id}-{n}")
        self.client.publish(topic, jpeg, qos=1).wait_for_publish(10)
        return SnapshotRef(topic=topic, bytes=len(jpeg), sha256=hashlib.sha256(jpeg).hexdigest())

    def played(self, ref: str, plays: int = 1) -> None:
        now = datetime.now(timezone.utc)
        msg = Playback(**self._env(f"play-{self.seq + 1}"), key="person_in_water_zone", ref=ref, what="水深危险，请离开", priority="warning",
                       outcome="completed", plays=plays, started=now, ended=now)
        self.client.publish(f"{self.topics.event('loudspeaker')}", to_payload(msg), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def scripted(loop_county: LoopCounty) -> Any:  # noqa: F811 - the imported fixture
    stations = {p: ScriptedStation(loop_county.broker.port, p) for p in (XIAOQI, DONGFENG)}
    yield stations
    for s in stations.values():
        s.close()


def query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def rows(page: Any) -> list[str]:
    return page.eval_on_selector_all("#alarms tbody tr.alarm", "rs => rs.map(r => r.dataset.eventId)")


def test_board_filters_narrow_the_list_and_survive_a_live_change(loop_county: LoopCounty, scripted: Any, browser: Any) -> None:  # noqa: F811
    scripted[XIAOQI].alarm("f-water", "raised", alarm="water_level", severity="warning", details={"level_m": 2.1})
    scripted[DONGFENG].alarm("f-fire", "raised", alarm="fire", severity="warning")
    page = desk(browser, loop_county, "duty")
    try:
        page.wait_for_selector('tr[data-event-id="f-fire"]', timeout=15_000)
        page.goto("/?town=410421/xiaoqi&status=open")  # a shared link: the filters are in its query
        page.wait_for_selector('tr[data-event-id="f-water"]', timeout=15_000)
        assert "f-fire" not in rows(page) and page.input_value("#f-town") == "410421/xiaoqi" and page.input_value("#f-status") == "open"
        scripted[DONGFENG].alarm("f-fire-2", "raised", alarm="fire", severity="warning")  # live, outside the filter
        scripted[XIAOQI].alarm("f-water-2", "raised", alarm="water_level", severity="warning", details={"level_m": 2.2})  # inside it
        page.wait_for_selector('tr[data-event-id="f-water-2"]', timeout=15_000)
        time.sleep(0.5)
        assert not {"f-fire", "f-fire-2"} & set(rows(page)), "a live change brought back what the filter hides"
        assert query(page)["town"] == ["410421/xiaoqi"] and page.input_value("#f-town") == "410421/xiaoqi"
        page.select_option("#f-kind", "fire")  # nothing is a fire in xiaoqi
        page.wait_for_function("() => document.querySelectorAll('#alarms tbody tr.alarm').length === 0")
        assert query(page) == {"town": ["410421/xiaoqi"], "status": ["open"], "kind": ["fire"]} and page.is_visible("#alarms-empty")
        page.click("#filters-clear")
        page.wait_for_selector('tr[data-event-id="f-fire-2"]')
        assert query(page) == {}
        # ended alarms are muted and collapsed below the open ones
        scripted[XIAOQI].alarm("f-water", "cleared", alarm="water_level", severity="warning", details={"level_m": 1.0})
        page.wait_for_selector('tr[data-event-id="f-water"].ended', timeout=15_000)
        order = rows(page)
        assert order.index("f-water") > max(order.index(k) for k in ("f-fire", "f-fire-2", "f-water-2"))
    finally:
        page.context.close()


def test_board_puts_an_overdue_cases_alarm_first_and_loud(loop_county: LoopCounty, scripted: Any, browser: Any) -> None:  # noqa: F811
    station = scripted[XIAOQI]
    station.alarm("late-1", "raised", severity="danger")  # the loop opens a case for each danger alarm
    assert wait_for(lambda: [c for c in loop_county.cases.list(DUTY) if "late-1" in loop_county.cases.get(DUTY, c.id).alarms], timeout=30)
    time.sleep(1.1)
    station.alarm("fresh-1", "raised", severity="danger")  # newer: it would sort above late-1
    assert wait_for(lambda: [c for c in loop_county.cases.list(DUTY) if "fresh-1" in loop_county.cases.get(DUTY, c.id).alarms], timeout=30)
    late = next(c for c in loop_county.cases.list(DUTY) if "late-1" in loop_county.cases.get(DUTY, c.id).alarms)
    page = desk(browser, loop_county, "duty")
    try:
        page.wait_for_selector('tr[data-event-id="fresh-1"]', timeout=15_000)
        order = rows(page)
        assert order.index("fresh-1") < order.index("late-1")
        loop_county.cases.tick(late.accept_due)  # late-1's case is past its deadline to be accepted; fresh-1's is not yet
        assert loop_county.case(late.id).overdue
        page.reload()
        page.wait_for_selector('#alarms tbody tr.alarm.overdue[data-event-id="late-1"]', timeout=25_000)
        assert rows(page)[0] == "late-1" and page.get_attribute('tr[data-event-id="late-1"]', "data-overdue") == "1"
        assert f"#{late.id}" in page.text_content('tr[data-event-id="late-1"] .case')
        assert "loud" in (page.get_attribute('tr[data-event-id="fresh-1"]', "class") or "")  # open danger: loud too, below
        page.goto("/?status=overdue")
        page.wait_for_selector('tr[data-event-id="late-1"]', timeout=25_000)
        assert rows(page) == ["late-1"]
    finally:
        page.context.close()


def test_board_shows_the_banner_and_sounds_on_a_new_danger_from_a_real_station(loop_county: LoopCounty, browser: Any) -> None:  # noqa: F811
    listening, quiet = desk(browser, loop_county, "duty"), desk(browser, loop_county, "xiaoqi")
    path = "410421/xiaoqi/zhuwa/banner-01"
    try:
        for page in (listening, quiet):
            page.wait_for_selector("#link.up", timeout=15_000)
        assert listening.is_hidden("#danger-banner")
        listening.click("#sound-toggle")  # the click lets the page start audio
        assert listening.get_attribute("#sound-toggle", "aria-pressed") == "true"
        assert listening.evaluate("() => window.__lastBeep.reason") == "switch"
        public_key = (loop_county.root / "county.key.pub").read_text().strip()  # it trusts the county: the ack is carried out
        station = Station(config_of(water_station(loop_county.root / "banner-01", loop_county.broker.port, public_key, path, "竹洼村东岸",
                                                  rise_at_s=1.0)))  # rises to danger and stays there
        station.start()
        loop_county.stations[path] = station  # stopped with the county
        item = f'#danger-banner .banner-item[data-key^="{path}#"]'
        listening.wait_for_selector(item, timeout=30_000)
        quiet.wait_for_selector(item, timeout=15_000)
        key = listening.get_attribute(item, "data-key")
        beep = listening.evaluate("() => window.__lastBeep")
        assert beep["reason"] == key and beep["state"] == "running"
        assert quiet.evaluate("() => window.__lastBeep") is None  # sound off: the banner only
        # the banner follows the operator to the other board pages
        listening.goto(f"/stations/{path}")
        listening.wait_for_selector(item, timeout=15_000)
        # an operator opening the board now gets no banner and no sound for it: old news
        late = desk(browser, loop_county, "duty")
        try:
            late.wait_for_selector(f'tr[data-station="{path}"]', timeout=15_000)
            time.sleep(0.5)
            assert late.is_hidden("#danger-banner") and late.evaluate("() => window.__lastBeep") is None
        finally:
            late.context.close()
        quiet.click(f"{item} button.dismiss")  # dismissed on one account's page
        quiet.wait_for_selector("#danger-banner", state="hidden")
        listening.click(f"{item} button.ack")  # acknowledged: gone
        listening.wait_for_selector("#danger-banner", state="hidden", timeout=30_000)
    finally:
        listening.context.close()
        quiet.context.close()


def test_board_collapses_updates_and_shows_the_newest_snapshot_and_the_plays(loop_county: LoopCounty, scripted: Any, browser: Any) -> None:  # noqa: F811
    station, event_id = scripted[DONGFENG], "many-1"
    first = station.snapshot(event_id, 1)
    station.alarm(event_id, "raised", severity="warning", snapshot=first)
    shots = [first]
    for k in range(12):
        if k in (4, 9):
            shots.append(station.snapshot(event_id, len(shots) + 1))
        station.alarm(event_id, "updated", severity="warning", snapshot=shots[-1], details={"count": 1 + k % 3})
    for _ in range(3):
        station.played(event_id)
    page = desk(browser, loop_county, "dongfeng")
    try:
        row = f'tr[data-event-id="{event_id}"]'
        page.wait_for_selector(f'{row} .plays[data-plays="3"]', timeout=20_000)
        assert page.get_attribute(f"{row} .updates", "data-updates") == "12" and "更新 ×12" in page.text_content(f"{row} .updates")
        assert "已播报 3 次" in page.text_content(f"{row} .plays")
        assert page.get_attribute(f"{row} img.thumb", "src").startswith(f"/snapshot/{event_id}/3?")  # the newest of three
        page.click(f"{row} td:nth-child(2) a")
        page.wait_for_selector("ol.timeline li.updates-run")
        assert page.get_attribute("li.updates-run", "data-count") == "12" and "更新 ×12" in page.text_content("li.updates-run")
        visible = page.eval_on_selector_all('ol.timeline li[data-state="updated"]', "ls => ls.filter(l => !l.hidden).length")
        assert visible == 1  # the latest step, not twelve rows
        page.click("li.updates-run button.expand")
        assert page.eval_on_selector_all('ol.timeline li[data-state="updated"]', "ls => ls.filter(l => !l.hidden).length") == 12
        assert "已播报 3 次" in page.text_content("#detail-plays")
        page.wait_for_function("() => { const i = document.querySelector('#snapshot'); return i && i.complete && i.naturalWidth > 0 }",
                               timeout=20_000)
        assert page.get_attribute("#snapshot", "src").startswith(f"/snapshot/{event_id}/3?")
        assert page.eval_on_selector_all("#snapshots button.snap", "bs => bs.map(b => b.dataset.n)") == ["3", "2", "1"]
        page.click('#snapshots button.snap[data-n="2"]')
        page.wait_for_function("() => document.querySelector('#snapshot').src.includes('/2?')")
        for n, ref in enumerate(shots, start=1):  # each one is the station's own picture, checked against what the alarm said
            url = f"/snapshot/{event_id}/{n}?station={DONGFENG}"
            assert hashlib.sha256(page.request.get(url).body()).hexdigest() == ref.sha256
        assert page.request.get(f"/snapshot/{event_id}/4?station={DONGFENG}").status == 404
    finally:
        page.context.close()
    outsider = desk(browser, loop_county, "xiaoqi")  # another township: not found, as if it did not exist
    try:
        assert outsider.request.get(f"/snapshot/{event_id}/2?station={DONGFENG}").status == 404
        assert f"{DONGFENG}#{event_id}" not in outsider.request.get("/api/board/cases").json()["cases"]
    finally:
        outsider.context.close()
