"""Signed county commands end to end: a real mosquitto, real Station objects, the countyctl code path."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.commands.conftest import STATION, RawPublisher, commands_doc, notices, quiet_doc, replies, send, signed, wait_reply
from tests.stations import config_of, subscribe, wait_for


def started(doc: dict) -> Station:
    station = Station(config_of(doc))
    station.start()
    assert wait_for(lambda: station.uplink.stats.connected, timeout=10)
    return station


def spoken(tmp_path: Path) -> list[str]:
    log = tmp_path / "speaker" / "plays.jsonl"
    if not log.exists():
        return []
    return [json.loads(line).get("text") or "" for line in log.read_text(encoding="utf-8").splitlines()]


def test_status_selftest_and_config_get(broker: LocalBroker, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    station = started(quiet_doc(tmp_path, broker.port, county_key))
    try:
        [status] = send(broker.port, signed(county_key, "status"))
        [selftest] = send(broker.port, signed(county_key, "selftest"))
        [config] = send(broker.port, signed(county_key, "config/get"))
    finally:
        station.stop()
    assert status["ok"] and status["outcome"] == "done" and status["station"] == STATION
    assert status["result"]["online"] is True and status["result"]["config_hash"] == station.cfg.fingerprint()
    assert status["result"]["open_alarms"] == [] and status["result"]["silenced_until"] is None
    checks = selftest["result"]["checks"]
    assert {"outbox", "uplink", "loops", "devices", "clock", "command_keys", "replay_store", "loudspeaker"} <= set(checks)
    assert checks["uplink"]["ok"] and checks["command_keys"]["detail"] == "county-test"
    assert selftest["outcome"] == ("passed" if selftest["ok"] else "failed")
    assert config["ok"] and config["result"]["config"]["station"]["id"] == "test-01"
    assert config["result"]["config"]["commands"]["keys"][0]["name"] == "county-test"


def test_announce_is_answered_when_the_loudspeaker_has_played_it(broker: LocalBroker, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    collector, sub = subscribe(broker.port)
    station = started(quiet_doc(tmp_path, broker.port, county_key))
    try:
        doc = signed(county_key, "announce", {"text": "明天上午八点到十点停水", "repeat": 2, "interval_s": 0.05})
        [reply] = send(broker.port, doc)
        assert wait_for(lambda: any(m["kind"] == "playback" for m in collector.messages))
    finally:
        station.stop()
        sub.stop()
    assert reply["ok"] and reply["outcome"] == "completed" and reply["command_id"] == doc["id"]
    assert reply["result"]["plays"] == 2 and reply["result"]["priority"] == "announcement"
    playback = next(m for m in collector.messages if m["kind"] == "playback")
    assert playback["ref"] == doc["id"] and playback["outcome"] == "completed"
    assert spoken(tmp_path) == ["明天上午八点到十点停水"] * 2


def test_announce_replies_say_pre_empted_and_expired(broker: LocalBroker, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    collector, sub = subscribe(broker.port)
    station = started(quiet_doc(tmp_path, broker.port, county_key))
    raw = RawPublisher(broker.port)
    try:
        long_text = "请注意" * 50  # 150 characters: 1.5 s on the simulated speaker
        a = signed(county_key, "announce", {"text": long_text, "expires_s": 0.5})
        b = signed(county_key, "announce", {"text": "紧急通知" * 35, "priority": "emergency"})
        c = signed(county_key, "announce", {"text": "广播", "expires_s": 0.3})
        raw.publish("announce", a)
        assert wait_for(lambda: station.announcer is not None and station.announcer.busy(), timeout=5)
        raw.publish("announce", b)
        raw.publish("announce", c)
        got = {d["id"]: wait_reply(collector, d["id"]) for d in (a, b, c)}
    finally:
        raw.close()
        station.stop()
        sub.stop()
    assert (got[a["id"]]["ok"], got[a["id"]]["outcome"]) == (False, "pre-empted")
    assert (got[b["id"]]["ok"], got[b["id"]]["outcome"]) == (True, "completed")
    assert (got[c["id"]]["ok"], got[c["id"]]["outcome"]) == (False, "expired")
    assert "广播" not in spoken(tmp_path)


def test_silence_holds_announcements_and_only_a_forced_one_holds_emergencies(broker: LocalBroker, tmp_path: Path,
                                                                            county_key: Ed25519PrivateKey) -> None:
    station = started(quiet_doc(tmp_path, broker.port, county_key))
    try:
        [silenced] = send(broker.port, signed(county_key, "silence", {"duration_s": 600}))
        [held] = send(broker.port, signed(county_key, "announce", {"text": "通知"}))
        [urgent] = send(broker.port, signed(county_key, "announce", {"text": "洪水", "priority": "emergency"}))
        [status] = send(broker.port, signed(county_key, "status"))
        send(broker.port, signed(county_key, "silence", {"duration_s": 600, "force": True}))
        [urgent_held] = send(broker.port, signed(county_key, "announce", {"text": "火情", "priority": "emergency"}))
        [lifted] = send(broker.port, signed(county_key, "silence", {"duration_s": 0}))
        [after] = send(broker.port, signed(county_key, "announce", {"text": "恢复"}))
    finally:
        station.stop()
    assert silenced["ok"] and silenced["outcome"] == "silenced" and silenced["result"]["emergencies"] == "still played"
    assert (held["ok"], held["outcome"]) == (False, "silenced")
    assert (urgent["ok"], urgent["outcome"]) == (True, "completed")
    assert status["result"]["silenced_until"] is not None
    assert (urgent_held["ok"], urgent_held["outcome"]) == (False, "silenced")
    assert lifted["outcome"] == "unsilenced" and (after["ok"], after["outcome"]) == (True, "completed")
    assert spoken(tmp_path) == ["洪水", "恢复"]


def test_ack_shows_in_the_alarm_lifecycle(broker: LocalBroker, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    collector, sub = subscribe(broker.port)
    doc = commands_doc(tmp_path, broker.port, county_key)
    doc["water_sensors"][0]["driver"]["scenario"] = [{"at_s": 0, "level_m": 1.5}]  # a warning that stays
    station = started(doc)
    try:
        assert wait_for(lambda: any(m["kind"] == "alarm" and m["state"] == "raised" for m in collector.messages))
        raised = next(m for m in collector.messages if m["kind"] == "alarm" and m["state"] == "raised")
        [acked] = send(broker.port, signed(county_key, "ack", {"event_id": raised["event_id"], "operator": "值班员 张三"}))
        [again] = send(broker.port, signed(county_key, "ack", {"event_id": "0123456789abcdef", "operator": "张三"}))
        [status] = send(broker.port, signed(county_key, "status"))
        assert wait_for(lambda: any(m["kind"] == "alarm" and m["state"] == "acked" for m in collector.messages))
    finally:
        station.stop()
        sub.stop()
    assert acked["ok"] and acked["outcome"] == "acked" and acked["result"]["alarm"] == "water_level"
    step = next(m for m in collector.messages if m["kind"] == "alarm" and m["state"] == "acked")
    assert step["event_id"] == raised["event_id"] and step["acked_by"] == "值班员 张三" and "张三" in step["summary"]
    assert (again["ok"], again["outcome"]) == (False, "failed") and "no open alarm" in again["reason"]
    assert status["result"]["open_alarms"][0]["acked_by"] == "值班员 张三"


def test_every_bad_command_is_rejected_with_a_reason_and_a_notice_and_never_runs(broker: LocalBroker, tmp_path: Path,
                                                                                 county_key: Ed25519PrivateKey) -> None:
    collector, sub = subscribe(broker.port)
    station = started(quiet_doc(tmp_path, broker.port, county_key, text_max_chars=20))
    raw = RawPublisher(broker.port)
    stranger = Ed25519PrivateKey.generate()
    unsigned = signed(county_key, "announce", {"text": "unsigned"})
    del unsigned["sig"]
    tampered = signed(county_key, "announce", {"text": "ok"})
    tampered["args"]["text"] = "tampered"
    good = signed(county_key, "announce", {"text": "一次"})
    cases = {
        "unsigned": unsigned,
        "bad_signature": tampered,
        "unknown_key": signed(stranger, "announce", {"text": "stranger"}),
        "wrong_station": signed(county_key, "announce", {"text": "other"}, station="410421/xiaoqi/zhuwa/test-02"),
        "expired": signed(county_key, "announce", {"text": "late"}, now=1_700_000_000),
        "bad_arguments": signed(county_key, "announce", {"text": "太长" * 11}),
    }
    try:
        for doc in cases.values():
            raw.publish("announce", doc)
        raw.publish("announce", good)
        assert wait_reply(collector, good["id"])["outcome"] == "completed"
        raw.publish("announce", good)  # the same command again: a replay
        raw.publish("announce", b"\x00garbage")
        got = {code: wait_reply(collector, doc["id"]) for code, doc in cases.items()}
        assert wait_for(lambda: len(replies(collector, good["id"])) == 2)
        assert wait_for(lambda: any(r["command_id"].startswith("sha256-") for r in replies(collector)))
        assert wait_for(lambda: len(notices(collector)) == len(cases) + 2)
    finally:
        raw.close()
        station.stop()
        sub.stop()
    for code, reply in got.items():
        assert (reply["ok"], reply["outcome"], reply["result"]["code"]) == (False, "rejected", code), reply
        assert reply["reason"]
    replay = replies(collector, good["id"])[1]
    assert (replay["outcome"], replay["result"]["code"]) == ("rejected", "replayed")
    garbage = next(r for r in replies(collector) if r["command_id"].startswith("sha256-"))
    assert garbage["result"]["code"] == "malformed" and garbage["command"] == "announce"
    assert {n["details"]["code"] for n in notices(collector)} == {*cases, "replayed", "malformed"}
    assert spoken(tmp_path) == ["一次"]  # only the good command ever reached the loudspeaker


def test_a_command_id_is_refused_after_a_restart(broker: LocalBroker, tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    collector, sub = subscribe(broker.port)
    doc = signed(county_key, "status")
    station = started(quiet_doc(tmp_path, broker.port, county_key))
    try:
        [first] = send(broker.port, doc)
    finally:
        station.stop()
    station = started(quiet_doc(tmp_path, broker.port, county_key))
    raw = RawPublisher(broker.port)
    try:
        raw.publish("status", doc)
        assert wait_for(lambda: len(replies(collector, doc["id"])) == 2)
    finally:
        raw.close()
        station.stop()
        sub.stop()
    assert first["ok"]
    assert replies(collector, doc["id"])[1]["result"]["code"] == "replayed"


def test_config_get_masks_camera_logins_and_the_hash_does_not_cover_them(broker: LocalBroker, tmp_path: Path,
                                                                          county_key: Ed25519PrivateKey) -> None:
    doc = quiet_doc(tmp_path, broker.port, county_key)
    url = "rtsp://admin:Hik/12345@127.0.0.1:1/Streaming/Channels/102"
    doc["cameras"] = [{"id": "cam-1", "driver": {"type": "rtsp", "url": url, "timeout_s": 0.5}}]
    station = started(doc)
    try:
        [config] = send(broker.port, signed(county_key, "config/get"))
    finally:
        station.stop()
    assert config["ok"] and "Hik/12345" not in json.dumps(config)
    assert config["result"]["config"]["cameras"][0]["driver"]["url"] == "rtsp://***@127.0.0.1:1/Streaming/Channels/102"
    other_password = json.loads(json.dumps(doc).replace("Hik/12345", "another-one"))
    other_host = json.loads(json.dumps(doc).replace("127.0.0.1:1/", "127.0.0.2:1/"))
    assert config_of(other_password).fingerprint() == config["result"]["config_hash"] == station.cfg.fingerprint()
    assert config_of(other_host).fingerprint() != station.cfg.fingerprint()
