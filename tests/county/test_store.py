"""The county store on SQLite and PostgreSQL: once per (station, seq), alarm lifecycles in any order, snapshots once per alarm."""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import cv2
import numpy as np

from county.ingest import SNAPSHOT_MAX_BYTES, parse
from county.store import Incoming, Reject, SnapshotIncoming, Store
from tests.county.jpeg import real_jpeg
from wire.messages import Alarm, Envelope, Health, Notice, Playback, Reply, Status, Telemetry, Topics, to_payload

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
TOPICS = Topics("410421", "xiaoqi", "zhuwa", "pond-01")
STATION = "410421/xiaoqi/zhuwa/pond-01"


def env(seq: int, event_id: str | None = None, second: float = 0.0) -> dict[str, Any]:
    return {"station": STATION, "seq": seq, "event_id": event_id or f"m{seq}", "ts": T0 + timedelta(seconds=second or seq),
            "clock_synced": True, "boot_id": "boot-1"}


def incoming(topic: str, message: Envelope) -> Incoming:
    return Incoming(topic, message, to_payload(message).decode(), time.time())


def alarm(seq: int, state: str, severity: str = "danger", acked_by: str | None = None) -> Incoming:
    return incoming(TOPICS.event("water_level"), Alarm(
        **env(seq, "alarm-1"), alarm="water_level", state=state, severity=severity, category="safety", source="gauge-1",
        summary=f"level {state}", raised_at=T0, acked_by=acked_by))


def mixed_batch() -> list[Incoming]:
    return [
        incoming(TOPICS.telemetry("gauge-1"), Telemetry(**env(0), sensor="gauge-1", values={"level_m": 1.5, "band": 1})),
        alarm(1, "raised", "warning"),
        incoming(TOPICS.event("loudspeaker"), Playback(**env(2), key="water_level", ref="alarm-1", what="危险", priority="emergency",
                                                        outcome="completed", plays=1)),
        incoming(TOPICS.health, Health(**env(3), uptime_s=10.0, queue_depth=4, queue_bytes=900, dropped_total=0, camera_fps={"cam-1": 12.5})),
        incoming(TOPICS.event("outbox_full"), Notice(**env(4), notice="outbox_full", severity="warning", summary="dropped 3")),
        incoming(TOPICS.reply("c-1"), Reply(**env(5), command_id="c-1", command="status", ok=True, outcome="done", result={"a": 1})),
    ]


def counts(store: Store) -> dict[str, int]:
    return {t: store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("events", "telemetry", "health", "replies", "alarms", "status_log", "stations")}


def test_every_kind_is_stored_once_however_often_it_arrives(db_url: str) -> None:
    store = Store(db_url)
    try:
        first = store.write(mixed_batch())
        again = store.write(mixed_batch())
        assert (first.inserted, first.duplicates) == (6, 0)
        assert (again.inserted, again.duplicates) == (0, 6)
        assert counts(store) == {"events": 3, "telemetry": 1, "health": 1, "replies": 1, "alarms": 1, "status_log": 0, "stations": 0}
        readings = store.query("SELECT readings FROM telemetry")[0][0]
        assert (json.loads(readings) if isinstance(readings, str) else readings) == {"level_m": 1.5, "band": 1}
        assert store.query("SELECT queue_depth FROM health") == [(4,)]
        assert store.query("SELECT kind, name FROM events ORDER BY seq") == [("alarm", "water_level"), ("playback", "water_level"),
                                                                             ("notice", "outbox_full")]
        assert store.query("SELECT command_id, outcome FROM replies") == [("c-1", "done")]
    finally:
        store.close()


def test_alarm_lifecycle_is_queryable_and_order_does_not_matter(db_url: str) -> None:
    steps = [alarm(1, "raised", "warning"), alarm(2, "updated", "danger"), alarm(3, "acked", "danger", acked_by="duty-officer"),
             alarm(4, "cleared", "danger", acked_by="duty-officer")]
    shuffled = steps[:]
    random.Random(7).shuffle(shuffled)
    store = Store(db_url)
    try:
        for step in shuffled:  # one step per batch, in a scrambled order, as two ingest members could write them
            store.write([step])
        store.write(steps)  # and every one redelivered
        rows = store.query("SELECT state, severity, raised_at, acked_by, acked_at, cleared_at, last_seq FROM alarms WHERE event_id = ?", ("alarm-1",))
        assert len(rows) == 1
        state, severity, raised_at, acked_by, acked_at, cleared_at, last_seq = rows[0]
        assert (state, severity, acked_by, last_seq) == ("cleared", "danger", "duty-officer", 4)
        assert all(v is not None for v in (raised_at, acked_at, cleared_at))
        assert store.query("SELECT COUNT(*) FROM alarms WHERE state <> 'cleared'") == [(0,)]
        assert store.query("SELECT COUNT(*) FROM events") == [(4,)]
    finally:
        store.close()


def test_status_is_logged_once_and_the_latest_new_one_is_the_station_state(db_url: str) -> None:
    def status(event_id: str, online: bool, reason: str = "") -> Incoming:
        return incoming(TOPICS.status, Status(**env(7, event_id), online=online, reason=reason, version="0.1.0", capabilities=["water_level"]))

    birth, will = status("birth-1", True), status("will-1", False, "connection lost")
    store = Store(db_url)
    try:
        assert store.write([birth]).statuses == 1
        assert store.write([will]).statuses == 1
        assert store.write([birth]).statuses == 0  # a retained copy seen again on resubscription moves nothing
        assert store.query("SELECT online, reason FROM stations") in ([(0, "connection lost")], [(False, "connection lost")])
        assert store.query("SELECT COUNT(*) FROM status_log") == [(2,)]
    finally:
        store.close()


def test_rejects_are_kept_with_the_reason(db_url: str) -> None:
    store = Store(db_url)
    try:
        bad = [parse(TOPICS.telemetry("gauge-1"), b"{not json", time.time()),
               parse(TOPICS.health, b'{"kind": "health", "station": "x"}', time.time()),
               parse("vs/v1/410421/xiaoqi/zhuwa/other/health", to_payload(Health(**env(1), uptime_s=1, queue_depth=0, queue_bytes=0,
                                                                                  dropped_total=0)), time.time())]
        assert all(isinstance(r, Reject) for r in bad)
        store.write([], bad)  # type: ignore[arg-type]
        errors = [e for (e,) in store.query("SELECT error FROM rejects ORDER BY id")]
        assert "JSONDecodeError" in errors[0] and "ValidationError" in errors[1] and "does not match the topic" in errors[2]
    finally:
        store.close()


def test_a_snapshot_is_stored_once_beside_its_alarm_and_read_back_intact(db_url: str) -> None:
    jpeg = real_jpeg()
    shot = parse(TOPICS.snapshot("alarm-1"), jpeg, time.time())
    assert isinstance(shot, SnapshotIncoming)
    assert (shot.station, shot.event_id, shot.sha256) == (STATION, "alarm-1", hashlib.sha256(jpeg).hexdigest())
    store = Store(db_url)
    try:
        first = store.write([*mixed_batch(), shot])  # one transaction with the alarm it belongs to
        again = store.write([shot, shot])  # redelivered, and a second member's copy
        assert (first.inserted, first.snapshots, first.duplicates) == (6, 1, 0)
        assert (again.inserted, again.snapshots, again.duplicates) == (0, 0, 2)
        got = store.snapshot(STATION, "alarm-1")
        assert type(got) is bytes and got == jpeg
        assert store.query("SELECT sha256, bytes FROM snapshots") == [(hashlib.sha256(jpeg).hexdigest(), len(jpeg))]
        assert store.snapshot(STATION, "alarm-2") is None and store.snapshot("410421/xiaoqi/zhuwa/other", "alarm-1") is None
    finally:
        store.close()


def test_bad_snapshots_are_rejects_with_the_reason(db_url: str) -> None:
    jpeg = real_jpeg()
    png = bytes(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1])  # binary, NUL bytes and all
    bad = [parse(TOPICS.snapshot("e-1"), png, time.time()),
           parse(TOPICS.snapshot("e-2"), jpeg + b"\0" * (SNAPSHOT_MAX_BYTES + 1 - len(jpeg)), time.time()),
           parse(TOPICS.snapshot("e 3!"), jpeg, time.time()),
           parse(TOPICS.snapshot("e-4"), b"", time.time()),
           parse(TOPICS.health, b"\x00\x01 binary garbage on a JSON channel", time.time())]
    assert all(isinstance(r, Reject) for r in bad)
    at_the_limit = jpeg + b"\0" * (SNAPSHOT_MAX_BYTES - len(jpeg))
    assert isinstance(parse(TOPICS.snapshot("e-5"), at_the_limit, time.time()), SnapshotIncoming)
    store = Store(db_url)
    try:
        result = store.write([], bad)  # type: ignore[arg-type]
        assert (result.rejects, result.snapshots) == (5, 0)
        rows = store.query("SELECT error, payload FROM rejects ORDER BY id")
        errors = [e for e, _ in rows]
        assert "not a JPEG" in errors[0] and "too big" in errors[1] and "bad event id" in errors[2] and "not a JPEG" in errors[3]
        assert rows[0][1].startswith(f"{len(png)} bytes, starting 89 50 4e 47")  # a description, not megabytes of binary
        assert store.query("SELECT COUNT(*) FROM snapshots") == [(0,)]
    finally:
        store.close()
