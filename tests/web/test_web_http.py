"""The web view's HTTP rules, in process (Starlette's test client) against a real broker and station.

Each test runs on SQLite and on PostgreSQL (the private server of tests/county/pg.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from county.accounts import Accounts
from county.ingest import Ingest
from county.keys import generate
from county.send import BrokerOptions
from county.store import Store
from county.web.app import ServeSettings, create_app
from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.county.conftest import db_url, postgres  # noqa: F401 - fixtures: both databases
from tests.stations import config_of, wait_for
from tests.web.conftest import BRIDGE, PASSWORD, water_station


@pytest.fixture
def web(broker: LocalBroker, tmp_path: Path, db_url: str) -> Iterator[tuple[TestClient, Station, str]]:  # noqa: F811 - the fixture
    key_file = tmp_path / "county.key"
    public_key, _ = generate(key_file)
    store = Store(db_url)
    accounts = Accounts(store)
    accounts.add("duty", PASSWORD, "410421", "值班长 王明")
    accounts.add("dongfeng", PASSWORD, "410421/dongfeng", "东风乡 赵强")
    ingest = Ingest(store, "127.0.0.1", broker.port, client_id="http-test-ingest", group="").start()
    station = Station(config_of(water_station(tmp_path / "bridge", broker.port, public_key, BRIDGE, "漫水桥", rise_at_s=0.5)))
    station.start()
    settings = ServeSettings(db=db_url, broker=BrokerOptions("127.0.0.1", broker.port), key_file=key_file)
    try:
        with TestClient(create_app(settings), base_url="http://county.test") as client:
            yield client, station, db_url
    finally:
        station.stop()
        ingest.stop()
        store.close()


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> tuple[int, str]:
    """(status of the login POST, the CSRF token of the page after it)."""
    page = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"username": name, "password": password, "csrf": token}, follow_redirects=False)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text if r.status_code == 303 else r.text)
    return r.status_code, csrf.group(1) if csrf else ""


def open_alarm(client: TestClient) -> dict:
    """The gauge's level alarm: it stays open while the water stays high (its flash-flood alarm clears once the
    water stops rising, so an ack racing that clear would find nothing to acknowledge)."""
    def level() -> list[dict]:
        return [a for a in client.get("/api/board").json()["alarms"] if a["alarm"] == "water_level" and a["state"] != "cleared"]
    assert wait_for(lambda: bool(level()), timeout=20)
    return level()[0]


def test_pages_and_data_need_a_login(web) -> None:  # noqa: ANN001
    client, _, _ = web
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/board").status_code == 401
    assert client.get("/api/events").status_code == 401
    assert client.post("/api/ack", json={"event_id": "x"}).status_code == 401


def test_state_changing_requests_need_the_session_csrf_token(web) -> None:  # noqa: ANN001
    client, _, _ = web
    status, csrf = log_in(client, "duty")
    assert status == 303 and csrf
    alarm = open_alarm(client)
    assert client.post("/api/ack", json={"event_id": alarm["event_id"]}).status_code == 403
    assert client.post("/api/ack", json={"event_id": alarm["event_id"]}, headers={"x-csrf-token": "forged"}).status_code == 403
    ok = client.post("/api/ack", json={"event_id": alarm["event_id"]}, headers={"x-csrf-token": csrf})
    assert ok.status_code == 200 and len(ok.json()["command_ids"]) == 1
    assert wait_for(lambda: next(a for a in client.get("/api/board").json()["alarms"] if a["key"] == alarm["key"])["state"] == "acked", timeout=15)


def test_bad_announcements_get_a_reason_and_send_nothing(web) -> None:  # noqa: ANN001
    client, _, url = web
    _, csrf = log_in(client, "duty")
    h = {"x-csrf-token": csrf}
    blank = client.post("/api/announce", json={"target": BRIDGE, "text": "   "}, headers=h)
    assert blank.status_code == 400 and "not valid" in blank.json()["error"]
    control = client.post("/api/announce", json={"target": BRIDGE, "text": "停水\x1b[2J"}, headers=h)
    assert control.status_code == 400 and "control" in control.json()["error"]
    assert client.post("/api/announce", json={"target": "410422", "text": "你好"}, headers=h).status_code == 404
    assert client.post("/api/announce", content=b"[1, 2]", headers={**h, "content-type": "application/json"}).status_code == 400
    assert client.post("/api/announce", content=b"{broken", headers={**h, "content-type": "application/json"}).status_code == 400
    store = Store(url)
    try:
        assert not [e for e in Accounts(store).audit() if e.action == "announce"]
    finally:
        store.close()


def test_a_command_while_the_broker_is_away_is_refused_and_logged_not_lost(web, broker: LocalBroker) -> None:  # noqa: ANN001
    client, _, url = web
    _, csrf = log_in(client, "duty")
    alarm = open_alarm(client)
    broker.stop()
    assert wait_for(lambda: client.get("/api/board").json()["broker"] is False, timeout=15)
    r = client.post("/api/ack", json={"event_id": alarm["event_id"]}, headers={"x-csrf-token": csrf})
    assert r.status_code == 503 and "not sent" in r.json()["error"]
    store = Store(url)
    try:
        [entry] = [e for e in Accounts(store).audit() if e.action == "ack"]
    finally:
        store.close()
    assert entry.outcome == "not_sent" and entry.operator == "duty" and "not reachable" in entry.detail["error"]
    broker.start()
    assert wait_for(lambda: client.get("/api/board").json()["broker"] is True, timeout=20)
    assert wait_for(lambda: client.get("/api/board").json()["stations"][0]["online"] is True, timeout=20)  # commands only while connected
    again = client.post("/api/ack", json={"event_id": alarm["event_id"]}, headers={"x-csrf-token": csrf})
    assert again.status_code == 200
    assert wait_for(lambda: next(a for a in client.get("/api/board").json()["alarms"] if a["key"] == alarm["key"])["acked_by"] == "值班长 王明", timeout=20)


def test_repeated_wrong_passwords_lock_the_account_for_a_while(web) -> None:  # noqa: ANN001
    client, _, _ = web
    for _ in range(5):
        assert log_in(client, "dongfeng", "wrong password")[0] == 401
    page = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"username": "dongfeng", "password": PASSWORD, "csrf": token}, follow_redirects=False)
    assert r.status_code == 401 and "try again in" in r.text


def test_a_disabled_account_is_logged_out_at_its_next_request(web) -> None:  # noqa: ANN001
    client, _, url = web
    assert log_in(client, "dongfeng")[0] == 303
    assert client.get("/api/board").status_code == 200
    store = Store(url)
    try:
        Accounts(store).set_enabled("dongfeng", False)
    finally:
        store.close()
    assert client.get("/api/board").status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_commands_to_an_offline_station_are_refused_with_the_reason(web) -> None:  # noqa: ANN001
    client, station, _ = web
    _, csrf = log_in(client, "duty")
    alarm = open_alarm(client)
    station.stop()  # its goodbye: offline, "shutdown"
    assert wait_for(lambda: client.get("/api/board").json()["stations"][0]["online"] is False, timeout=15)
    ack = client.post("/api/ack", json={"event_id": alarm["event_id"]}, headers={"x-csrf-token": csrf})
    assert ack.status_code == 409 and "offline" in ack.json()["error"]
    announce = client.post("/api/announce", json={"target": "410421/xiaoqi", "text": "通知"}, headers={"x-csrf-token": csrf})
    assert announce.status_code == 409 and "offline" in announce.json()["error"]


def test_pages_forbid_foreign_scripts_and_framing(web) -> None:  # noqa: ANN001
    client, _, _ = web
    headers = client.get("/login").headers
    assert "default-src 'self'" in headers["content-security-policy"] and "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
