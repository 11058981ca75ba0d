"""A hostile or broken station cannot stop the county ingest, touch another station's records or fill its database (issue 14).

Real mosquitto, real SQLite and PostgreSQL, payloads published the way `mosquitto_pub` would.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from county.ingest import Ingest
from county.limits import REJECT_KEEP_BYTES
from county.store import Store
from gateway.localbroker import LocalBroker
from tests.county.capture import Capture
from tests.county.test_store import alarm, incoming
from tests.stations import wait_for
from wire.messages import Alarm, Reply, Telemetry, Topics, to_payload

EVIL = Topics("410421", "y", "l", "evil")
GOOD = Topics("410422", "xiaoqi", "zhuwa", "pond-01")
GOOD_STATION = "410422/xiaoqi/zhuwa/pond-01"


def raw(topic: str, seq: Any, **extra: Any) -> bytes:
    """A telemetry message as text, so that what json.dumps would not write (huge ints, NaN) can be sent."""
    doc = {"kind": "telemetry", "station": "410421/y/l/evil", "seq": seq, "event_id": "e", "ts": "2026-12-02T00:00:00Z",
           "clock_synced": True, "boot_id": "b", "sensor": "g", "values": {}, **extra}
    return json.dumps(doc, allow_nan=True).encode()


def good(seq: int) -> bytes:
    return to_payload(Telemetry(station=GOOD_STATION, seq=seq, event_id=f"t{seq}", ts="2026-12-02T00:00:00Z", clock_synced=True,
                                boot_id="b", sensor="gauge-1", values={"level_m": 0.5}))


def good_seqs(store: Store) -> list[int]:
    return sorted(int(s) for (s,) in store.query("SELECT seq FROM telemetry WHERE station = ?", (GOOD_STATION,)))


def publish_all(pub: Capture, items: list[tuple[str, bytes]]) -> None:
    for info in [pub.client.publish(t, p, qos=1) for t, p in items]:  # back to back: the bad ones share batches with good ones
        info.wait_for_publish(30)


def test_huge_integers_and_non_finite_numbers_are_rejects_and_the_stream_goes_on(broker: LocalBroker, db_url: str) -> None:
    health = raw(EVIL.health, 5).replace(b'"kind": "telemetry"', b'"kind": "health"').replace(
        b'"sensor": "g", "values": {}', b'"uptime_s": NaN, "queue_depth": 0, "queue_bytes": 0, "dropped_total": 0')
    hostile = [(EVIL.telemetry("g"), raw("", 18446744073709551616)), (EVIL.health, health),
               (EVIL.telemetry("g"), raw("", 3, values={"x": float("inf")})), (EVIL.telemetry("g"), raw("", 4, values={"x": 2**64})),
               (EVIL.telemetry("g"), raw("", 6, values={"x": 1}).replace(b'"x": 1', b'"x": 1e999')),
               (EVIL.event("fire"), b'{"kind":"notice","station":"410421/y/l/evil","seq":7,"event_id":"n","ts":"2026-12-02T00:00:00Z",'
                                    b'"clock_synced":true,"boot_id":"b","notice":"x","severity":"info","summary":"s",'
                                    b'"details":{"a":[1,{"b":-Infinity}]}}')]
    store = Store(db_url)
    first = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-hostile").start()
    pub = Capture(broker.port, "nothing/#")
    try:
        assert first.connected.wait(10)
        time.sleep(0.3)
        items = [hostile[0], *((GOOD.telemetry("gauge-1"), good(seq)) for seq in range(1, 4)), *hostile[1:],
                 *((GOOD.telemetry("gauge-1"), good(seq)) for seq in range(4, 8))]
        publish_all(pub, items)
        assert wait_for(lambda: first.stats.acked >= len(items), timeout=20), first.stats
        assert good_seqs(store) == list(range(1, 8))
        assert (first.stats.rejected, first.stats.write_errors) == (len(hostile), 0), first.stats
        errors = [e for (e,) in store.query("SELECT error FROM rejects")]
        assert all("64 bits" in e or "non-finite" in e or "finite number" in e for e in errors), errors
        first.stop()
        publish_all(pub, [(GOOD.telemetry("gauge-1"), good(seq)) for seq in range(8, 11)])  # while it is away
        second = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-hostile").start()
        try:
            assert wait_for(lambda: good_seqs(store) == list(range(1, 11)), timeout=20), good_seqs(store)
            assert second.wait_idle(timeout=10) and second.stats.write_errors == 0 and second.stats.rejected == 0, second.stats
        finally:
            second.stop()
    finally:
        pub.stop()
        first.stop()
        store.close()


def test_a_station_cannot_touch_another_stations_alarm(db_url: str) -> None:
    """The attacker, in another township and on its own topic, sends the victim's event_id with a higher seq: two alarms."""
    victim = [alarm(1, "raised", "warning"), alarm(3, "updated", "danger")]
    attacker_topics = Topics("410421", "y", "l", "evil")
    attack = incoming(attacker_topics.event("water_level"), Alarm(
        station="410421/y/l/evil", seq=99, event_id="alarm-1", ts="2026-07-01T12:00:50Z", clock_synced=True, boot_id="x",
        alarm="water_level", state="cleared", severity="info", category="safety", source="gauge-1", raised_at="2026-07-01T12:00:00Z"))
    store = Store(db_url)
    try:
        store.write([victim[0]])
        store.write([attack])
        store.write([victim[1]])
        rows = store.query("SELECT station, state, severity, last_seq, cleared_at FROM alarms WHERE event_id = ? ORDER BY station",
                           ("alarm-1",))
        assert [(r[0], r[1], r[2], int(r[3]), r[4] is None) for r in rows] == [
            ("410421/xiaoqi/zhuwa/pond-01", "updated", "danger", 3, True), ("410421/y/l/evil", "cleared", "info", 99, False)]
        reply = {"ts": "2026-07-01T12:00:00Z", "clock_synced": True, "boot_id": "b", "command_id": "c-1", "command": "status",
                 "ok": True, "outcome": "done"}
        store.write([incoming(GOOD.reply("c-1"), Reply(station=GOOD_STATION, seq=1, event_id="r1", **reply)),
                     incoming(EVIL.reply("c-1"), Reply(station="410421/y/l/evil", seq=1, event_id="r1", **{**reply, "ok": False}))])
        assert store.query("SELECT ok FROM replies WHERE station = ? AND command_id = ?", (GOOD_STATION, "c-1")) in ([(1,)], [(True,)])
    finally:
        store.close()


def test_a_20_mb_payload_is_stored_capped_with_its_size_and_hash(tmp_path: Path, db_url: str) -> None:
    """A broker without the county's message_size_limit (as the one the attack found) hands the ingest 20 MB payloads."""
    big = b'{"kind":"telemetry","junk":"' + b"x" * (20 * 1024 * 1024) + b'"}'
    broker = LocalBroker(extra_config="message_size_limit 0\n", workdir=tmp_path / "open-broker")
    broker.start()
    store = Store(db_url)
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-big").start()
    pub = Capture(broker.port, "nothing/#")
    try:
        assert member.connected.wait(10)
        time.sleep(0.3)
        publish_all(pub, [(EVIL.telemetry("g"), big), (EVIL.snapshot("a-1"), big), (GOOD.telemetry("gauge-1"), good(1))])
        assert wait_for(lambda: member.stats.acked >= 3, timeout=30), member.stats
        assert good_seqs(store) == [1]
        rows = store.query("SELECT topic, error, payload, size, sha256 FROM rejects ORDER BY id")
        assert len(rows) == 2
        for topic, error, payload, size, sha in rows:
            assert "too big" in error and int(size) == len(big) and sha == hashlib.sha256(big).hexdigest()
            assert len(payload.encode()) <= REJECT_KEEP_BYTES
        assert rows[0][2].startswith('{"kind":"telemetry","junk":"xxx')
    finally:
        pub.stop()
        member.stop()
        store.close()
        broker.stop()


class PickyStore(Store):
    """A database that refuses any row of one station (as one with a constraint the wire contract does not know)."""

    def write(self, batch, rejects=()):  # noqa: ANN001, ANN201
        if any(getattr(getattr(i, "message", None), "station", "") == "410421/y/l/evil" for i in batch):
            raise sqlite3.IntegrityError("CHECK constraint failed: no evil")
        return super().write(batch, rejects)


class OutageStore(Store):
    """A database that is down for its first seconds, then back."""

    back_at = 0.0

    def write(self, batch, rejects=()):  # noqa: ANN001, ANN201
        if time.monotonic() < self.back_at:
            raise psycopg.OperationalError("connection refused")
        return super().write(batch, rejects)


def test_a_message_the_database_refuses_becomes_a_reject_and_an_outage_holds_messages_back(broker: LocalBroker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'county.db'}"
    store = PickyStore(url)
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-picky").start()
    pub = Capture(broker.port, "nothing/#")
    try:
        assert member.connected.wait(10)
        time.sleep(0.3)
        items = [(GOOD.telemetry("gauge-1"), good(seq)) for seq in range(1, 41)]
        items[17:17] = [(EVIL.telemetry("g"), raw("", 1, values={"x": 1}))]
        publish_all(pub, items)
        assert wait_for(lambda: member.stats.acked >= len(items), timeout=30), member.stats
        assert good_seqs(store) == list(range(1, 41)) and member.stats.unstorable == 1
        [(error,)] = store.query("SELECT error FROM rejects")
        assert "the database refused it" in error and "no evil" in error
    finally:
        member.stop()
        store.close()
    outage = OutageStore(url)
    outage.back_at = time.monotonic() + 3.0
    member = Ingest(outage, "127.0.0.1", broker.port, client_id="ingest-picky").start()
    try:
        assert member.connected.wait(10)
        time.sleep(0.3)
        publish_all(pub, [(GOOD.telemetry("gauge-1"), good(seq)) for seq in range(41, 61)])
        assert wait_for(lambda: good_seqs(outage) == list(range(1, 61)), timeout=30), member.stats
        assert member.stats.write_errors > 0 and member.stats.rejected == 0 and member.stats.unstorable == 0, member.stats
    finally:
        pub.stop()
        member.stop()
        outage.close()


OLD_ALARMS = """CREATE TABLE alarms (
    event_id TEXT PRIMARY KEY, station TEXT NOT NULL, alarm TEXT NOT NULL, source TEXT NOT NULL, category TEXT NOT NULL,
    severity TEXT NOT NULL, state TEXT NOT NULL, summary TEXT NOT NULL, raised_at {ts} NOT NULL, acked_by TEXT, acked_at {ts},
    cleared_at {ts}, last_seq BIGINT NOT NULL, updated_at {ts} NOT NULL)"""
OLD_REJECTS = "CREATE TABLE rejects (id {serial}, topic TEXT NOT NULL, error TEXT NOT NULL, payload TEXT NOT NULL, received_at {ts} NOT NULL)"


def test_a_database_of_the_previous_version_is_migrated_and_works(db_url: str) -> None:
    """The tables as the previous version made them (alarms keyed by event_id alone, rejects uncapped), with rows in them."""
    pg = db_url.startswith("postgresql")
    types = {"ts": "TIMESTAMPTZ", "serial": "BIGSERIAL PRIMARY KEY"} if pg else {"ts": "TEXT", "serial": "INTEGER PRIMARY KEY"}
    conn: Any = psycopg.connect(db_url, autocommit=True) if pg else sqlite3.connect(db_url[len("sqlite:///"):], isolation_level=None)
    p = "%s" if pg else "?"
    conn.execute(OLD_ALARMS.format(**types))
    conn.execute(OLD_REJECTS.format(**types))
    conn.execute(f"INSERT INTO alarms VALUES ({', '.join([p] * 14)})", (
        "alarm-1", "410421/xiaoqi/zhuwa/pond-01", "water_level", "gauge-1", "safety", "warning", "raised", "old", "2026-07-01T12:00:00+00:00",
        None, None, None, 1, "2026-07-01T12:00:00+00:00"))
    conn.execute(f"INSERT INTO rejects (topic, error, payload, received_at) VALUES ({p}, {p}, {p}, {p})", ("t", "e", "x", "2026-07-01T12:00:00+00:00"))
    conn.close()
    stores = [Store(db_url), Store(db_url)]  # the second finds it done
    try:
        store = stores[0]
        store.write([alarm(2, "updated", "danger")])
        store.write([incoming(EVIL.event("water_level"), Alarm(
            station="410421/y/l/evil", seq=99, event_id="alarm-1", ts="2026-07-01T12:00:50Z", clock_synced=True, boot_id="x",
            alarm="water_level", state="cleared", severity="info", category="safety", source="g", raised_at="2026-07-01T12:00:00Z"))])
        rows = store.query("SELECT station, state, last_seq FROM alarms ORDER BY station")
        assert [(s, st_, int(q)) for s, st_, q in rows] == [("410421/xiaoqi/zhuwa/pond-01", "updated", 2), ("410421/y/l/evil", "cleared", 99)]
        assert store.query("SELECT COUNT(*) FROM alarms WHERE state = 'updated' AND station = ?", ("410421/xiaoqi/zhuwa/pond-01",)) == [(1,)]
        result = stores[1].write([], [])
        assert result.rejects == 0
        assert store.query("SELECT payload, size, sha256 FROM rejects") == [("x", None, None)]
    finally:
        for s in stores:
            s.close()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63 - 2, max_value=2**70) | st.floats()
    | st.text(max_size=20) | st.sampled_from(["\ud800", "a\udfffb", "\x00", "\\u0000"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
FIELDS = ["seq", "values", "samples", "event_id", "station", "ts", "kind", "sensor", "extra", "details"]


@st.composite
def hostile_payloads(draw: st.DrawFn) -> tuple[str, bytes]:
    shape = draw(st.sampled_from(["field", "value", "any", "deep", "long"]))
    topic = EVIL.telemetry("g")
    if shape == "deep":
        n = draw(st.integers(1, 20000))
        return topic, (draw(st.sampled_from(["[", '{"a":'])) * n).encode()
    if shape == "long":
        return topic, raw("", 1, values={"x": 1}).replace(b'"e"', b'"' + b"e" * draw(st.integers(0, 400_000)) + b'"')
    if shape == "any":
        return topic, json.dumps(draw(JSON), allow_nan=True).encode()
    doc = json.loads(raw("", 1))
    if shape == "field":
        doc[draw(st.sampled_from(FIELDS))] = draw(JSON)
    else:
        doc["values"] = draw(st.dictionaries(st.text(max_size=8), JSON, max_size=4))
    return topic, json.dumps(doc, allow_nan=True).encode()


def test_arbitrary_json_never_stops_the_ingest(broker: LocalBroker, db_url: str) -> None:
    """Whatever a station sends (non-finite numbers, huge integers, deep nesting, long strings, NULs, lone surrogates), a good
    message sent after it is stored and everything is acknowledged."""
    store = Store(db_url)
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-fuzz").start()
    pub = Capture(broker.port, "nothing/#")
    seq = iter(range(1, 10_000))
    assert member.connected.wait(10)
    time.sleep(0.3)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(hostile_payloads(), min_size=1, max_size=4))
    def feed(payloads: list[tuple[str, bytes]]) -> None:
        n = next(seq)
        publish_all(pub, [*payloads, (GOOD.telemetry("gauge-1"), good(n))])
        assert wait_for(lambda: n in good_seqs(store), timeout=20), (member.stats, payloads)

    try:
        feed()
        assert member.wait_idle(timeout=20) and member.stats.acked == member.stats.received, member.stats
        assert member.stats.unstorable == 0, member.stats.last_error  # every hostile payload was refused at parse time
    finally:
        pub.stop()
        member.stop()
        store.close()


def test_the_contract_says_integers_fit_in_64_bits_and_numbers_are_finite() -> None:
    from county.contract import build_contract

    schemas = build_contract()["components"]["schemas"]
    assert schemas["Telemetry"]["properties"]["seq"]["maximum"] == 2**63 - 1
    assert {"maximum": 2**63 - 1, "minimum": -(2**63), "type": "integer"} in schemas["Telemetry"]["properties"]["values"]["additionalProperties"]["anyOf"]
    assert "finite numbers, integers within 64 bits" in schemas["Alarm"]["properties"]["details"]["description"]
    assert schemas["Health"]["properties"]["queue_depth"]["maximum"] == 2**31 - 1


def test_the_ingest_and_the_web_survive_postgresql_dropping_their_connections(broker: LocalBroker, postgres) -> None:  # noqa: ANN001
    """A PostgreSQL restart or failover drops every client connection; psycopg never reconnects by itself."""
    from county.web.data import Database

    url = postgres.database()
    store = Store(url)
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-pg-drop").start()
    pub = Capture(broker.port, "nothing/#")
    web = Database(Store(url))
    try:
        assert member.connected.wait(10)
        time.sleep(0.3)
        publish_all(pub, [(GOOD.telemetry("gauge-1"), good(seq)) for seq in range(1, 11)])
        assert wait_for(lambda: good_seqs(store) == list(range(1, 11)), timeout=30), member.stats
        with psycopg.connect(url, autocommit=True) as admin:  # what a server restart does to its clients
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        publish_all(pub, [(GOOD.telemetry("gauge-1"), good(seq)) for seq in range(11, 21)])
        assert wait_for(lambda: member.stats.acked >= 20, timeout=30), member.stats
        check = Store(url)
        assert good_seqs(check) == list(range(1, 21)) and member.stats.rejected == 0 and member.stats.unstorable == 0, member.stats
        check.close()
        with contextlib.suppress(psycopg.OperationalError):  # the web's connection was dropped too: one request fails,
            web.call(good_seqs, web.store)                     # which is how psycopg learns it
        assert web.call(good_seqs, web.store) == list(range(1, 21))  # and the next one is served
    finally:
        pub.stop()
        member.stop()
        store.close()
        web.store.close()
