"""The desk and the station's clock: a wrong clock refuses commands only while it is wrong, never afterwards."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.commands.desk import CommandDesk
from gateway.station import Station
from tests.commands.conftest import PREFIX, quiet_doc, signed
from tests.stations import config_of
from wire.signing import public_to_base64

NOW = time.time()


def rig(tmp_path: Path, key: Ed25519PrivateKey, wall: list[float], sync: str = "plausible") -> tuple[Station, CommandDesk]:
    doc = quiet_doc(tmp_path, 1, key)
    doc["clock"] = {"sync_check": sync, "earliest_valid": "2025-01-01T00:00:00Z"}
    cfg = config_of(doc)
    station = Station(cfg, wall=lambda: wall[0], command_handler=lambda *a: None)
    return station, CommandDesk.build(station.desk_port(), clock=time.monotonic, wall=station.wall)


def test_a_clock_stuck_in_the_future_refuses_commands_only_while_it_is_wrong(tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    wall = [4_102_444_800.0]  # an RTC that says 2100 and claims to be right
    station, desk = rig(tmp_path, county_key, wall)
    try:
        wrong = desk.handle(f"{PREFIX}/cmd/status", json.dumps(signed(county_key, "status", now=NOW)).encode())
        wall[0] = NOW + 30  # NTP puts it right
        right = desk.handle(f"{PREFIX}/cmd/status", json.dumps(signed(county_key, "status", now=NOW + 30)).encode())
    finally:
        desk.close()
        station.outbox.close()
    assert (wrong.accepted, wrong.code) == (False, "expired")
    assert right.accepted
    assert desk.guard.floor == int(NOW + 30)  # the floor holds county time only


def test_a_station_without_a_trusted_clock_still_takes_fresh_commands_and_refuses_old_ones(tmp_path: Path,
                                                                                        county_key: Ed25519PrivateKey) -> None:
    wall = [86400.0]  # a Pi without RTC booted in 1970
    station, desk = rig(tmp_path, county_key, wall)
    topic = f"{PREFIX}/cmd/status"
    try:
        first = desk.handle(topic, json.dumps(signed(county_key, "status", now=NOW)).encode())
        later = desk.handle(topic, json.dumps(signed(county_key, "status", now=NOW + 600)).encode())
        stale = desk.handle(topic, json.dumps(signed(county_key, "status", now=NOW, ttl=60)).encode())
    finally:
        desk.close()
        station.outbox.close()
    assert first.accepted and later.accepted
    assert (stale.accepted, stale.code) == (False, "expired")  # judged against the county time it has seen


def test_a_key_file_gone_since_validation_is_reported_not_fatal(tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    key_file = tmp_path / "county.pub"
    key_file.write_text(public_to_base64(county_key.public_key()))
    doc = quiet_doc(tmp_path, 1, county_key)
    doc["commands"]["keys"].append({"name": "county-file", "public_key_file": str(key_file)})
    cfg = config_of(doc)
    key_file.unlink()
    station = Station(cfg, command_handler=lambda *a: None)
    desk = CommandDesk.build(station.desk_port(), clock=time.monotonic, wall=station.wall)
    try:
        desk.tick(time.monotonic())
        ok = desk.handle(f"{PREFIX}/cmd/status", json.dumps(signed(county_key, "status")).encode())
        notices = [json.loads(m.payload) for m in station.outbox.peek(0, -1, 50)]
    finally:
        desk.close()
        station.outbox.close()
    assert ok.accepted  # the other key still works
    [notice] = [n for n in notices if n.get("notice") == "command_keys_invalid"]
    assert "county-file" in notice["summary"] and notice["severity"] == "danger"
