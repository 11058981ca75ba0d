"""Chinese first on the county web view: names from the directory and the birth message, alarm words, the county's
time zone with the date, a readable audit. In process (Starlette's test client) against a real broker, ingest and
station; each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from county.accounts import Accounts
from county.directory import parse_directory
from county.ingest import Ingest
from county.keys import generate
from county.send import BrokerOptions
from county.store import Store
from county.web import audit_view, enrich
from county.web.app import ServeSettings, create_app
from county.wording import Say
from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.county.conftest import db_url, postgres  # noqa: F401 - fixtures: both databases
from tests.stations import config_of, wait_for
from tests.web.conftest import BRIDGE, PASSWORD, water_station
from tests.web.test_web_http import log_in, open_alarm

NAMES = "path,中文名,English name\n410421,示范县,Shifan County\n410421/xiaoqi,小旗乡,Xiaoqi Township\n"
HOSTILE_NAME = "<script>alert(1)</script>漫水桥"
NEW_YEAR_UTC = 1_767_225_600.0  # 2026-01-01 00:00 UTC = 08:00 in Asia/Shanghai


@pytest.fixture
def web(broker: LocalBroker, tmp_path: Path, db_url: str) -> Iterator[tuple[TestClient, str]]:  # noqa: F811
    key_file = tmp_path / "county.key"
    public_key, _ = generate(key_file)
    store = Store(db_url)
    Accounts(store).add("duty", PASSWORD, "410421", "值班长 王明")
    ingest = Ingest(store, "127.0.0.1", broker.port, client_id="chinese-test-ingest", group="").start()
    station = Station(config_of(water_station(tmp_path / "bridge", broker.port, public_key, BRIDGE, HOSTILE_NAME, rise_at_s=0.5)))
    station.start()
    settings = ServeSettings(db=db_url, broker=BrokerOptions("127.0.0.1", broker.port), key_file=key_file, tz=ZoneInfo("Asia/Shanghai"),
                             directory=parse_directory(NAMES))
    try:
        with TestClient(create_app(settings), base_url="http://county.test") as client:
            yield client, db_url
    finally:
        station.stop()
        ingest.stop()
        store.close()


def test_chinese_board_api_gives_names_and_alarm_words_and_english_on_request(web) -> None:  # noqa: ANN001
    client, _ = web
    log_in(client, "duty")
    open_alarm(client)
    assert wait_for(lambda: client.get("/api/board").json()["alarms"][0]["severity"] == "danger", timeout=20)  # the level passes warning
    alarm = client.get("/api/board").json()["alarms"][0]
    assert (alarm["kind_label"], alarm["severity_label"]) == ("水位", "危险")
    assert re.fullmatch(r"gauge-1 水位 \d\.\d\d 米，超过危险水位 2\.00 米", alarm["text"]) and "above" in alarm["summary"]  # the station's own line stays beside it
    assert alarm["labels"] == {"county": "示范县", "town": "小旗乡", "village": "zhuwa", "station": HOSTILE_NAME}
    board = client.get("/api/board").json()
    [card] = [s for s in board["stations"] if s["station"] == BRIDGE]
    assert card["labels"]["town"] == "小旗乡" and card["labels"]["station"] == HOSTILE_NAME and board["lang"] == "zh"
    english = client.get("/api/board?lang=en").json()
    [alarm_en] = [a for a in english["alarms"] if a["key"] == alarm["key"]]
    assert (alarm_en["kind_label"], alarm_en["severity_label"], english["lang"]) == ("water level", "danger", "en")
    assert re.fullmatch(r"gauge-1: water level \d\.\d\d m, above the danger mark 2\.00 m", alarm_en["text"])
    assert english["stations"][0]["labels"]["county"] == "Shifan County"
    assert client.get("/api/board").json()["lang"] == "en"  # kept in the session until ?lang=zh
    assert client.get("/api/board?lang=zh").json()["alarms"][0]["kind_label"] == "水位"


def test_chinese_audit_shows_an_announcement_as_readable_text_never_json(web) -> None:  # noqa: ANN001
    client, _ = web
    _, csrf = log_in(client, "duty")
    assert wait_for(lambda: any(s["online"] for s in client.get("/api/board").json()["stations"]), timeout=20)
    sent = client.post("/api/announce", json={"target": "410421/xiaoqi", "text": "今晚有暴雨，请远离河道", "priority": "emergency", "repeat": 2},
                       headers={"x-csrf-token": csrf})
    assert sent.status_code == 200, sent.text
    page = client.get("/audit").text
    assert "发送广播“今晚有暴雨，请远离河道”" in page
    for words in ("广播内容", "优先级", "紧急", "次数", "小旗乡", "duty"):
        assert words in page, words
    assert "\\u4eca" not in page and "&#34;" not in page and '{"' not in page and "batch" not in page  # no JSON, escaped or not
    assert "&lt;script&gt;alert(1)&lt;/script&gt;漫水桥" in page and "<script>alert" not in page  # a station's name is text
    english = client.get("/audit?lang=en").text
    assert "announced" in english and "priority" in english and "emergency" in english and 'data-lang="en"' in english


def test_chinese_times_are_in_the_county_zone_with_the_date(web) -> None:  # noqa: ANN001
    client, url = web
    store = Store(url)
    try:
        Accounts(store).log("duty", "ack", BRIDGE, NEW_YEAR_UTC, {"event_id": "e-1", "args": {"event_id": "e-1", "operator": "值班长 王明"}})
    finally:
        store.close()
    log_in(client, "duty")
    page = client.get("/audit").text
    assert "2026-01-01 08:00:00" in page and 'data-tz="Asia/Shanghai"' in page and 'data-lang="zh"' in page
    assert "确认告警" in page and "告警编号" in page
    one_day = client.get("/audit?day=2026-01-01&account=duty").text
    assert "2026-01-01 08:00:00" in one_day and "登录" not in one_day.split("<tbody>")[1]  # today's login is another day
    assert "2026-01-01 08:00:00" not in client.get("/audit?day=2025-12-31").text  # the county's day, not UTC's
    assert "日期应为" in client.get("/audit?day=yesterday").text


def test_chinese_pages_switch_language_and_keep_the_page(web) -> None:  # noqa: ANN001
    client, _ = web
    log_in(client, "duty")
    zh = client.get("/cases?state=all").text
    assert 'id="lang-switch"' in zh and "/cases?state=all&amp;lang=en" in zh and 'data-lang="zh"' in zh
    assert 'data-lang="en"' in client.get("/cases?state=all&lang=en").text


def test_chinese_live_records_carry_the_same_words_as_the_first_load() -> None:
    """`enrich.events` on the stream's own records (pure: the live stream itself is covered by the browser tests)."""
    say = Say("zh", ZoneInfo("Asia/Shanghai"), parse_directory(NAMES))
    alarm = {"key": f"{BRIDGE}#e1", "station": BRIDGE, "alarm": "sensor_stale", "state": "raised", "severity": "warning", "source": "g1",
             "summary": "no reading from g1 for 30 s", "details": {"silent_s": 30}}

    async def source() -> AsyncIterator[dict[str, str]]:
        yield {"event": "link", "data": "{}"}
        yield {"event": "alarm", "data": json.dumps(alarm)}
        yield {"event": "station", "data": json.dumps({"station": BRIDGE, "name": "漫水桥"})}

    async def collect() -> list[dict[str, str]]:
        return [item async for item in enrich.events(source(), say, lambda s: {"name": "漫水桥"})]

    link, live_alarm, station = asyncio.run(collect())
    assert link == {"event": "link", "data": "{}"}
    words = json.loads(live_alarm["data"])
    assert (words["text"], words["kind_label"], words["state_label"]) == ("传感器 g1 已 30 秒无数据", "传感器无数据", "触发")
    assert words["labels"]["station"] == "漫水桥" and json.loads(station["data"])["labels"]["town"] == "小旗乡"


def test_chinese_audit_rows_group_one_announcement_and_say_each_stations_outcome() -> None:
    """`audit_view.readable` on stored rows (pure): one row per batch, states and results in words, the error beside its station."""
    say = Say("zh", ZoneInfo("Asia/Shanghai"), parse_directory(NAMES))
    detail = {"target": "410421/xiaoqi", "batch": "b1", "args": {"text": "今晚有暴雨", "priority": "emergency", "repeat": 2}}
    at = "2026-01-01T00:00:00+00:00"
    rows = [(3, at, "duty", "announce", "410421/xiaoqi/a/s1", "c1", "done", json.dumps(detail, ensure_ascii=False)),
            (2, at, "duty", "announce", "410421/xiaoqi/a/s2", "c2", "not_sent", json.dumps({**detail, "error": "broker away"}, ensure_ascii=False)),
            (1, at, "system", "case_escalate", "410421/xiaoqi/a/s2", None, "", {"case": 7, "why": "accept", "level": "town"}),
            (0, at, "wang", "case_open", "410421/xiaoqi/a/s2", None, "", '{"case": 7, "to": ["王网格", "朱村长"], "note": ""}')]
    announce, escalate, opened = audit_view.readable(rows, say)
    assert (announce.when, announce.who, announce.what) == ("2026-01-01 08:00:00", "duty", "发送广播“今晚有暴雨”")
    assert [(name, said) for _, name, said in announce.targets] == [("小旗乡 a s1", "已执行"), ("小旗乡 a s2", "未发出（broker away）")]
    assert announce.lines == [("范围", "小旗乡"), ("广播内容", "今晚有暴雨"), ("优先级", "紧急"), ("次数", "2")]
    assert (escalate.who, escalate.what, escalate.lines) == ("系统", "督办升级 #7", [("原因", "未按时签收"), ("升级到", "乡镇级")])
    assert opened.lines == [("派给", "王网格、朱村长")]
