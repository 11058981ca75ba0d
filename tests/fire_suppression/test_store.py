"""The durable store: beside the outbox, survives a new instance, sees another writer, survives a damaged file."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.alarms import OpenAlarm
from gateway.localbroker import LocalBroker
from gateway.rules.fire_suppression import Suppression
from gateway.vision.suppressions import FalseAlarmError, SuppressionStore, false_alarm_action, suppressions_path
from tests.commands.conftest import quiet_doc, send, signed
from tests.stations import config_of, wait_for


def sup(camera: str = "cam", until: float = 5000.0, added_at: float = 100.0) -> Suppression:
    return Suppression(camera, "fire", (0.1, 0.1, 0.3, 0.3), until, added_at, "ev1")


def test_kept_beside_the_outbox_and_read_back(tmp_path: Path) -> None:
    path = suppressions_path(tmp_path / "outbox.db")
    assert path == tmp_path / "outbox-suppressions.json"
    SuppressionStore(path).add(sup(), now=100.0)
    again = SuppressionStore(path)
    assert again.items(now=200.0) == [sup()]
    assert again.items(now=6000.0) == []  # expired


def test_a_change_by_another_writer_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    gateway, technician = SuppressionStore(path), SuppressionStore(path)
    gateway.add(sup("a"), now=100.0)
    gateway.add(sup("b", added_at=101.0), now=101.0)
    assert technician.clear(now=102.0, camera="a") == 1
    assert [s.camera for s in gateway.for_camera("b", now=103.0)] == ["b"]
    assert gateway.for_camera("a", now=103.0) == []
    assert gateway.counts(now=103.0) == {"b": 1}


def test_a_damaged_file_is_set_aside_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"suppressions": [{"camera": "x"', encoding="utf-8")
    store = SuppressionStore(path)
    assert store.items(now=1.0) == [] and "unreadable" in store.problem
    assert (tmp_path / "s.json.bad").exists()
    store.add(sup(), now=100.0)
    assert json.loads(path.read_text(encoding="utf-8"))["suppressions"][0]["camera"] == "cam"


def test_the_action_refuses_unknown_alarms_and_widens_the_box(tmp_path: Path) -> None:
    store = SuppressionStore(tmp_path / "s.json")
    alarm = OpenAlarm(event_id="ev9", kind="smoke", source="cam", severity="danger", category="safety", summary="",
                      details={"box": [0.4, 0.4, 0.5, 0.5]}, raised_at=0.0)
    act = false_alarm_action(store, {"ev9": alarm}.get, wall=lambda: 1000.0)
    result = act("ev9", 2.0)
    assert result["camera"] == "cam" and result["alarm"] == "smoke" and result["region"] == [0.35, 0.35, 0.55, 0.55]
    assert store.items(now=1000.0 + 7199)[0].until == 1000.0 + 7200
    try:
        act("nope", 1.0)
    except FalseAlarmError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("an unknown alarm must be refused")


def test_a_station_without_cameras_says_so(broker: LocalBroker, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    from gateway.station import Station

    station = Station(config_of(quiet_doc(tmp_path, broker.port, county_key)))
    station.start()
    try:
        assert wait_for(lambda: station.uplink.stats.connected, timeout=10)
        [reply] = send(broker.port, signed(county_key, "false_alarm", {"event_id": "abc"}))
    finally:
        station.stop()
    assert not reply["ok"] and reply["outcome"] == "failed" and "no camera" in reply["reason"]


def test_a_station_reports_a_damaged_file_and_keeps_watching(broker: LocalBroker, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    from gateway.station import Station
    from tests.fire_suppression.test_false_alarm_e2e import fire_scene, station_doc
    from tests.stations import subscribe

    suppressions_path(tmp_path / "outbox.db").write_text("not json", encoding="utf-8")
    collector, sub = subscribe(broker.port)
    station = Station(config_of(station_doc(tmp_path, broker.port, county_key, fire_scene(tmp_path / "left.png", True))))
    station.start()
    try:
        notice = lambda: [m for m in collector.messages if m["kind"] == "notice" and m["notice"] == "suppressions_unreadable"]  # noqa: E731
        assert wait_for(notice, timeout=20)
        assert wait_for(lambda: any(m["kind"] == "alarm" and m["alarm"] == "fire" for m in collector.messages), timeout=60)
    finally:
        station.stop()
        sub.stop()
    assert "unreadable" in notice()[0]["summary"]
