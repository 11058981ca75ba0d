"""A whole county on one machine for the web view's tests.

Real parts only: a mosquitto on a free port, the county ingest writing SQLite, `countyctl serve`
as its own process, real gateway `Station`s with simulated sensors (one of them the pond
example with the real model on real video, which raises a person-in-water alarm with a JPEG
snapshot), and Debian's Chromium driven by Playwright (`executable_path`, no browser download).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from county.accounts import Accounts
from county.feed import FeedCollector
from county.sim.webdemo import start_center, station_doc
from county.store import Store
from gateway.localbroker import LocalBroker, free_port
from gateway.station import Station
from tests.conftest import ROOT
from tests.stations import config_of, station_dict, subscribe, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"
POND = "410421/xiaoqi/zhuwa/pond-01"
FERRY = "410421/dongfeng/liuzhuang/ferry-02"
BRIDGE = "410421/xiaoqi/zhuwa/bridge-01"
# who may log in: (name, scope, display name)
OPERATORS = [("duty", "410421", "值班长 王明"), ("xiaoqi", "410421/xiaoqi", "小旗乡 李娟"), ("dongfeng", "410421/dongfeng", "东风乡 赵强")]


def water_station(tmp: Path, port: int, public_key: str, path: str, name: str, rise_at_s: float | None,
                  silent_from_s: float | None = None, health_s: float = 3600) -> dict[str, Any]:
    """A simulated gauge station trusting the county key; the level rises to danger at `rise_at_s` and stays there
    (and the gauge stops answering at `silent_from_s`)."""
    county, town, village, sid = path.split("/")
    doc = station_dict(tmp, port)
    doc["station"] = {"county": county, "town": town, "village": village, "id": sid, "name": name}
    doc["outbox"] = {"path": str(tmp / "outbox.db")}
    gauge = doc["water_sensors"][0]
    gauge["telemetry_interval_s"] = 1.0
    gauge["driver"]["scenario"] = [{"at_s": 0, "level_m": 0.5}] + ([{"at_s": rise_at_s, "level_m": 2.5}] if rise_at_s is not None else [])
    if silent_from_s is not None:
        gauge["driver"]["silent_from_s"] = silent_from_s
    doc["health"] = {"interval_s": health_s}
    doc["commands"] = {"keys": [{"name": "county-test", "public_key": public_key}]}
    return doc


def pond_station(tmp: Path, port: int, public_key: str) -> dict[str, Any]:
    """The pond example (real camera clip, real model) as the web demo runs it, with absolute paths and faster reconnects."""
    doc = station_doc(ROOT / "examples/pond-station.yaml", tmp, port, public_key)
    doc["broker"].update(keepalive_s=5, backoff_initial_s=0.1, backoff_max_s=0.5)
    cam = doc["cameras"][0]
    cam["driver"]["path"] = str((ROOT / cam["driver"]["path"]).resolve())
    for key in ("path", "labels"):
        cam["detection"]["model"][key] = str((ROOT / cam["detection"]["model"][key]).resolve())
    cam["detection"]["model"]["threads"] = 1
    cam["max_fps"] = 4
    doc["loudspeaker"]["driver"]["seconds_per_char"] = 0.02
    return doc


@dataclass
class County:
    """Everything a web test talks to."""

    root: Path
    broker: LocalBroker
    db_url: str
    key_file: Path
    public_key: str
    base_url: str
    collector: FeedCollector
    stations: dict[str, Station] = field(default_factory=dict)

    def start_station(self, path: str, doc: dict[str, Any]) -> Station:
        station = Station(config_of(doc))
        station.start()
        self.stations[path] = station
        assert wait_for(lambda: station.uplink.stats.connected, timeout=15), f"{path} did not connect"
        return station

    def messages(self, station: str | None = None, **match: Any) -> list[dict[str, Any]]:
        with self.collector.lock:
            return [m for m in self.collector.messages
                    if (station is None or m["station"] == station) and all(m.get(k) == v for k, v in match.items())]

    def wait_message(self, timeout: float = 60.0, **match: Any) -> dict[str, Any]:
        assert wait_for(lambda: self.messages(**match), timeout=timeout), f"no message {match} within {timeout} s"
        return self.messages(**match)[0]

    def audit(self) -> list[Any]:
        store = Store(self.db_url)
        try:
            return Accounts(store).audit("", 500)
        finally:
            store.close()


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[County]:
    root = tmp_path_factory.mktemp("county")
    center = start_center(root, OPERATORS, PASSWORD, ingest_id="test-ingest")
    broker, db_url, key_file, public_key = center.broker, center.db_url, center.key_file, center.public_key
    collector, sub = subscribe(broker.port)
    try:
        with serving(root, db_url, broker.port, key_file) as base_url:
            c = County(root, broker, db_url, key_file, public_key, base_url, collector)
            try:
                c.start_station(POND, pond_station(root / "pond", broker.port, public_key))
                c.start_station(FERRY, water_station(root / "ferry", broker.port, public_key, FERRY, "刘庄渡口", rise_at_s=1.0))
                yield c
            finally:
                for station in c.stations.values():
                    station.stop()
    finally:
        sub.stop()
        center.stop()


@contextmanager
def serving(root: Path, db_url: str, broker_port: int, key_file: Path) -> Iterator[str]:
    """`countyctl serve` as a county runs it, on a free port: its base URL once it answers; stopped afterwards."""
    web_port = free_port()
    log = open(root / "serve.log", "wb")  # noqa: SIM115 - closed below
    serve = subprocess.Popen(
        [sys.executable, "-m", "county.cli", "serve", "--db", db_url, "--broker", f"127.0.0.1:{broker_port}", "--key", str(key_file),
         "--listen", f"127.0.0.1:{web_port}", "--secret-file", str(root / "session.secret"), "--tz", "Asia/Shanghai"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{web_port}"
    try:
        assert wait_for(lambda: web_up(base_url) or serve.poll() is not None, timeout=30) and serve.poll() is None, \
            (root / "serve.log").read_text(errors="replace")
        yield base_url
    finally:
        serve.terminate()
        try:
            serve.wait(10)
        except subprocess.TimeoutExpired:
            serve.kill()
        log.close()


def web_up(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/login", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is missing: `make test` installs it (apt package chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def login(browser: Any, county: County, name: str, password: str = PASSWORD) -> Any:
    """A fresh browser context logged in as `name`, on the overview."""
    context = browser.new_context(base_url=county.base_url, viewport={"width": 1600, "height": 1000}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(county.base_url + "/")
    page.wait_for_selector("#link.up", timeout=15_000)
    return page


