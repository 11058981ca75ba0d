"""Issue 19 (map): a station's coordinates and place names go from its station file into its birth message, and the
county keeps them (the stations table, migrated in place for an older database; the board's station card)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from county.store import Incoming, Store
from county.web.board import Board
from foundation.errors import ConfigError
from gateway.config.station import parse_config
from gateway.localbroker import LocalBroker
from gateway.station import Station
from provisioning.cli import app as stationctl
from tests.stations import config_of, station_dict, subscribe, wait_for
from wire.messages import Status

PLACE = {"town_name": "小旗乡", "village_name": "竹洼村", "lat": 33.8741, "lon": 113.0612}


def placed_station(tmp: Path, port: int) -> dict[str, Any]:
    doc = station_dict(tmp, port)
    doc["station"] = {**doc["station"], "name": "竹洼村东塘", **PLACE}
    return doc


def test_map_birth_message_carries_coordinates_and_the_county_stores_them(broker: LocalBroker, tmp_path: Path, db_url: str) -> None:
    collector, sub = subscribe(broker.port)
    station = Station(config_of(placed_station(tmp_path, broker.port)))
    station.start()
    try:
        assert wait_for(lambda: any(m["kind"] == "status" and m["online"] for m in collector.messages), timeout=15)
        with collector.lock:
            birth = next(m for m in collector.messages if m["kind"] == "status" and m["online"])
    finally:
        station.stop()
        sub.stop()
    assert {k: birth[k] for k in PLACE} == PLACE and birth["name"] == "竹洼村东塘"
    status = Status.model_validate(birth)  # the wire model the ingest validates with
    store = Store(db_url)
    try:
        store.write([Incoming(f"vs/v1/{status.station}/status", status, json.dumps(birth, ensure_ascii=False), 1.0)])
        rows = store.query("SELECT town_name, village_name, lat, lon, name FROM stations WHERE station = ?", (status.station,))
        assert rows == [("小旗乡", "竹洼村", 33.8741, 113.0612, "竹洼村东塘")]
    finally:
        store.close()


def test_map_the_board_card_carries_the_place_of_the_birth_message_and_refuses_half_a_place() -> None:
    board = Board()
    station = "410421/xiaoqi/zhuwa/pond-01"
    doc = {"kind": "status", "station": station, "seq": 1, "event_id": "b1", "ts": "2026-12-03T02:00:00Z", "online": True, **PLACE}
    changes = board.handle(f"vs/v1/{station}/status", json.dumps(doc).encode(), retained=False, now=1.0)
    card = board.stations[station].public()
    assert ("station", station) in changes and {k: card[k] for k in PLACE} == PLACE
    moved = {**doc, "event_id": "b2", "lat": "north", "lon": 113.0}  # a hostile or broken value never reaches the map
    board.handle(f"vs/v1/{station}/status", json.dumps(moved).encode(), retained=False, now=2.0)
    assert (board.stations[station].lat, board.stations[station].lon) == (None, None)


def test_map_a_station_file_with_half_a_place_or_an_impossible_one_is_refused_clearly(tmp_path: Path) -> None:
    doc = placed_station(tmp_path, 1883)
    for change, words in (({"lon": None}, "both lat and lon"), ({"lat": 91.0}, "lat"), ({"lon": -181.0}, "lon")):
        bad = {**doc, "station": {**doc["station"], **change}}
        bad["station"] = {k: v for k, v in bad["station"].items() if v is not None}
        with pytest.raises(ConfigError, match=words):
            parse_config(yaml.safe_dump(bad, allow_unicode=True), "station.yaml")
    assert parse_config(yaml.safe_dump(doc, allow_unicode=True), "station.yaml").station.lat == 33.8741


def test_map_stationctl_init_writes_the_place_into_the_station_file(tmp_path: Path) -> None:
    out = tmp_path / "station.yaml"
    result = CliRunner().invoke(stationctl, ["init", "--out", str(out), "--county", "410421", "--town", "xiaoqi", "--village", "zhuwa",
                                             "--id", "pond-01", "--town-name", "小旗乡", "--village-name", "竹洼村", "--lat", "33.8741",
                                             "--lon", "113.0612", "--site", "pond", "--lang", "en"])
    assert result.exit_code == 0, result.output
    station = yaml.safe_load(out.read_text(encoding="utf-8"))["station"]
    assert {k: station[k] for k in PLACE} == PLACE
    half = CliRunner().invoke(stationctl, ["init", "--out", str(tmp_path / "half.yaml"), "--county", "410421", "--town", "xiaoqi",
                                           "--village", "zhuwa", "--id", "pond-02", "--lat", "33.8", "--site", "pond", "--lang", "en"])
    assert half.exit_code != 0 and "lat and lon" in half.output and not (tmp_path / "half.yaml").exists()


OLD_STATIONS = """CREATE TABLE stations (
    station TEXT PRIMARY KEY, online {bool} NOT NULL, reason TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
    config_hash TEXT NOT NULL, capabilities {json} NOT NULL, boot_id TEXT NOT NULL, seq BIGINT NOT NULL, ts {ts} NOT NULL,
    event_id TEXT NOT NULL, received_at {ts} NOT NULL)"""


def test_map_an_older_stations_table_gains_the_place_columns_and_keeps_its_rows(db_url: str) -> None:
    pg = db_url.startswith("postgresql")
    types = {"ts": "TIMESTAMPTZ", "json": "JSONB", "bool": "BOOLEAN"} if pg else {"ts": "TEXT", "json": "TEXT", "bool": "INTEGER"}
    conn: Any = psycopg.connect(db_url, autocommit=True) if pg else sqlite3.connect(db_url[len("sqlite:///"):], isolation_level=None)
    p = "%s" if pg else "?"
    conn.execute(OLD_STATIONS.format(**types))
    conn.execute(f"INSERT INTO stations VALUES ({', '.join([p] * 12)})", (
        "410421/xiaoqi/zhuwa/old-01", True, "", "老站", "0.1", "h", "[]", "boot", 3, "2026-07-01T12:00:00+00:00", "e", "2026-07-01T12:00:00+00:00"))
    conn.close()
    stores = [Store(db_url), Store(db_url)]  # the second finds it done
    try:
        assert stores[0].query("SELECT name, town_name, village_name, lat, lon FROM stations") == [("老站", "", "", None, None)]
        status = Status(station="410421/xiaoqi/zhuwa/old-01", seq=4, event_id="e2", ts="2026-07-02T00:00:00Z", clock_synced=True,
                        boot_id="b2", online=True, name="老站", **PLACE)
        stores[1].write([Incoming("vs/v1/410421/xiaoqi/zhuwa/old-01/status", status, status.model_dump_json(), 2.0)])
        assert stores[0].query("SELECT town_name, lat, lon FROM stations") == [("小旗乡", 33.8741, 113.0612)]
    finally:
        for s in stores:
            s.close()
