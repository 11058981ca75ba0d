"""A county centre running the closed loop, for the case pages' browser tests.

Real parts only: a mosquitto on a free port, the real ingest with the `CaseLoop` on its hook
(as `countyctl ingest --cases` runs it) over SQLite, a webhook receiver on a free port (the
notification channel), `countyctl serve` as its own process, real gateway `Station`s with a
simulated gauge that rises to danger, and Debian's Chromium (the `browser` fixture of tests/web).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from county.accounts import Accounts, Operator
from county.cases.config import load_config
from county.cases.db import LoopDb
from county.cases.loop import CaseLoop
from county.cases.model import Case
from county.cases.service import Cases
from county.ingest import Ingest
from county.keys import generate
from county.people import People, check_person
from county.store import Store
from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.county.loop.conftest import WebhookReceiver, write_config
from tests.stations import config_of, station_dict, wait_for
from tests.web.conftest import PASSWORD, serving

ZHUWA = "410421/xiaoqi/zhuwa/test-01"
LIUZHUANG = "410421/dongfeng/liuzhuang/gauge-02"
DUTY = Operator("duty", "410421", "值班长 王明")
# (name, scope, display name): the county's duty officer, two township accounts, one grid worker per village
ACCOUNTS = [("duty", "410421", "值班长 王明"), ("xiaoqi", "410421/xiaoqi", "小旗乡 李娟"), ("dongfeng", "410421/dongfeng", "东风乡 赵强"),
            ("wang", "410421/xiaoqi/zhuwa", "网格员 王芳"), ("zhao", "410421/dongfeng/liuzhuang", "网格员 赵刚")]
PEOPLE = [("王芳", "13800000001", "grid_worker", "410421/xiaoqi/zhuwa", "wang"),
          ("赵刚", "13800000002", "grid_worker", "410421/dongfeng/liuzhuang", "zhao"),
          ("李娟", "13800000003", "town_duty", "410421/xiaoqi", "xiaoqi")]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True,
         "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"}


@dataclass
class LoopCounty:
    root: Path
    broker: LocalBroker
    db_url: str
    base_url: str
    webhook: WebhookReceiver
    cases: Cases  # the test's own reading hand on the county database
    stations: dict[str, Station] = field(default_factory=dict)

    def start_station(self, path: str, scenario: list[dict[str, float]] | None = None) -> Station:
        """A real station whose simulated gauge follows `scenario` (default: rises to danger at 1 s, falls at 2 s)."""
        county, town, village, sid = path.split("/")
        doc = station_dict(self.root / sid, self.broker.port)
        doc["station"] = {"county": county, "town": town, "village": village, "id": sid}
        if scenario is not None:
            doc["water_sensors"][0]["driver"]["scenario"] = scenario
        station = Station(config_of(doc))
        station.start()
        self.stations[path] = station
        return station

    def case_of(self, station: str, timeout: float = 40.0) -> Case:
        assert wait_for(lambda: [c for c in self.cases.list(DUTY) if c.station == station], timeout=timeout), f"no case for {station}"
        return next(c for c in self.cases.list(DUTY) if c.station == station)

    def alarms(self, station: str) -> list[tuple[str, str]]:
        """(event id, severity) of the station's stored alarms, oldest first."""
        return [(r[0], r[1]) for r in self.cases.db.query("SELECT event_id, severity FROM alarms WHERE station = ? ORDER BY raised_at",
                                                          (station,))]

    def case(self, case_id: int) -> Case:
        return self.cases.get(DUTY, case_id)


@pytest.fixture(scope="module")
def loop_county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopCounty]:
    root = tmp_path_factory.mktemp("loop-county")
    broker = LocalBroker(workdir=root / "broker").start()
    db_url = f"sqlite:///{root / 'county.db'}"
    key_file = root / "county.key"
    generate(key_file)
    webhook = WebhookReceiver()
    config = load_config(write_config(root, webhook))
    cases = Cases(LoopDb(db_url), config)
    accounts = Accounts(cases.db.store, guard=cases.db.call)
    for name, scope, display in ACCOUNTS:
        accounts.add(name, PASSWORD, scope, display)
    people = People(cases.db)
    for name, phone, role, scope, account in PEOPLE:
        people.upsert(check_person(name, phone, role, scope, account), 0.0)
    store = Store(db_url)
    loop = CaseLoop(db_url, config, poll_s=0.1).start()
    ingest = Ingest(store, "127.0.0.1", broker.port, client_id="loop-web-ingest", group="", on_stored=loop.offer).start()
    try:
        assert ingest.connected.wait(10)
        with serving(root, db_url, broker.port, key_file) as base_url:
            c = LoopCounty(root, broker, db_url, base_url, webhook, cases)
            try:
                yield c
            finally:
                for station in c.stations.values():
                    station.stop()
    finally:
        ingest.stop()
        loop.stop()
        store.close()
        cases.db.close()
        webhook.stop()
        broker.stop()
        assert loop.stats.errors == 0, loop.stats.last_error


def desk(browser: Any, county: LoopCounty, name: str) -> Any:
    """A desktop context logged in as `name` (the duty officer's screen)."""
    context = browser.new_context(base_url=county.base_url, viewport={"width": 1400, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.goto("/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(county.base_url + "/")
    return page


def phone(browser: Any, county: LoopCounty, name: str) -> Any:
    """A phone (390x844, touch) logged in as `name` through the phone's own login, landing on "my cases"."""
    context = browser.new_context(base_url=county.base_url, locale="zh-CN", timezone_id="Asia/Shanghai", **PHONE)
    page = context.new_page()
    page.goto("/m/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.tap("#login-submit")
    page.wait_for_url(county.base_url + "/m/")
    return page
