"""`/snapshot/{event_id}` and `/snapshot/{event_id}/{n}`: one handler; without a number, the newest (what the board shows).

A real uvicorn, broker and ingest (the `live` fixture of test_web_hostile, SQLite and PostgreSQL); the alarm and its three
snapshots come from a scripted station publishing wire-contract messages (test_board_page's).
"""

from __future__ import annotations

import hashlib

import httpx2 as httpx

from gateway.localbroker import LocalBroker
from tests.county.conftest import db_url, postgres  # noqa: F401 - fixtures: both databases
from tests.stations import wait_for
from tests.web.test_board_page import DONGFENG, ScriptedStation
from tests.web.test_web_hostile import http_log_in, live  # noqa: F401 - `live`: the fixture


def test_a_snapshot_without_a_number_is_the_newest_and_each_one_is_the_stations_own(live, broker: LocalBroker) -> None:  # noqa: ANN001, F811
    base, _ = live
    station = ScriptedStation(broker.port, DONGFENG)
    try:
        first = station.snapshot("shots-1", 1)
        station.alarm("shots-1", "raised", snapshot=first)
        shots = [first, station.snapshot("shots-1", 2), station.snapshot("shots-1", 3)]
        for shot in shots[1:]:
            station.alarm("shots-1", "updated", snapshot=shot)
    finally:
        station.close()
    with httpx.Client(base_url=base, timeout=30) as client:
        http_log_in(client, "duty")
        newest = f"/snapshot/shots-1?station={DONGFENG}"
        assert wait_for(lambda: client.get(newest).status_code == 200 and client.get(f"/snapshot/shots-1/3?station={DONGFENG}").status_code == 200,
                        timeout=20)
        assert hashlib.sha256(client.get(newest).content).hexdigest() == shots[2].sha256
        for n, shot in enumerate(shots, start=1):
            r = client.get(f"/snapshot/shots-1/{n}", params={"station": DONGFENG})
            assert r.headers["content-type"] == "image/jpeg" and hashlib.sha256(r.content).hexdigest() == shot.sha256
        for missing in ("/snapshot/shots-1/4", "/snapshot/shots-1/0", "/snapshot/no-such-alarm", "/snapshot/no-such-alarm/1"):
            r = client.get(missing, params={"station": DONGFENG})
            assert r.status_code == 404 and r.json()["error"] == "snapshot not found", missing
