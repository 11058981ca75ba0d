"""Ingest against a real mosquitto and simulated stations: every row once, shared load, no loss across restarts."""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from county.cli import app
from county.ingest import SNAPSHOT_MAX_BYTES, Ingest
from county.sim.fleet import SelectorFleet
from county.sim.scenario import ScenarioParams
from county.store import MESSAGE_TABLES, Store
from gateway.localbroker import LocalBroker
from tests.county.capture import Capture
from tests.county.conftest import FleetFactory
from tests.county.jpeg import real_jpeg
from tests.stations import wait_for
from wire.messages import Alarm, Notice, SnapshotRef, Telemetry, Topics, to_payload

BUSY = ScenarioParams(telemetry_s=0.2, health_s=1.0, alarm_every_s=1.5, alarm_duration_s=0.8)


def stored_seqs(store: Store) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = defaultdict(list)
    for table in MESSAGE_TABLES:
        for station, seq in store.query(f"SELECT station, seq FROM {table}"):
            seqs[station].append(int(seq))
    return seqs


def allocated(fleet: SelectorFleet) -> dict[str, list[int]]:
    return {s.path: list(range(s.outbox.last_seq + 1)) for s in fleet.stations}


def settle(fleet: SelectorFleet, *members: Ingest) -> None:
    """Stop the scenarios, let every outbox drain and every member go quiet."""
    fleet.scenario = False
    assert wait_for(lambda: fleet.pending() == 0, timeout=30), f"{fleet.pending()} still queued"
    for m in members:
        assert m.wait_idle(quiet_s=0.5, timeout=30)


def test_two_members_share_the_stream_and_every_row_is_stored_once(broker: LocalBroker, db_url: str, fleet: FleetFactory) -> None:
    stores = [Store(db_url), Store(db_url)]
    members = [Ingest(s, "127.0.0.1", broker.port, client_id=f"ingest-{i}").start() for i, s in enumerate(stores)]
    try:
        assert all(m.connected.wait(10) for m in members)
        time.sleep(0.3)  # subscriptions in place before the stations speak
        f = fleet(broker.port, 20, BUSY)
        time.sleep(4.0)
        command = {"id": "c-42", "args": {}}
        capture = Capture(broker.port, "vs/v1/+/+/+/+/reply/#")
        capture.publish(f.stations[3].topics.command("status"), json.dumps(command).encode())
        assert wait_for(lambda: capture.snapshot(), timeout=10)
        capture.stop()
        settle(f, *members)
        got = stored_seqs(stores[0])
        expected = allocated(f)
        assert sum(map(len, expected.values())) > 20 * 15
        assert {k: sorted(v) for k, v in got.items()} == expected  # every seq of every station, and each once
        assert all(m.stats.stored > 0 for m in members), [m.stats for m in members]  # the broker shared the load
        assert sum(m.stats.stored for m in members) == sum(map(len, expected.values()))
        assert stores[0].query("SELECT COUNT(*), SUM(CASE WHEN online THEN 1 ELSE 0 END) FROM stations") == [(20, 20)]
        assert stores[0].query("SELECT command, outcome FROM replies WHERE command_id = ?", ("c-42",)) == [("status", "done")]
        raised = stores[0].query("SELECT COUNT(*) FROM events WHERE kind = 'alarm' AND state = 'raised'")[0][0]
        assert raised > 0 and stores[0].query("SELECT COUNT(*) FROM alarms")[0][0] == raised
        assert stores[0].query("SELECT COUNT(*) FROM rejects") == [(0,)]
    finally:
        for m in members:
            m.stop()
        for s in stores:
            s.close()


def test_a_restarted_member_gets_what_the_broker_queued_meanwhile(broker: LocalBroker, tmp_path: Path, fleet: FleetFactory) -> None:
    url = f"sqlite:///{tmp_path / 'county.db'}"
    store = Store(url)
    first = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-restart").start()
    assert first.connected.wait(10)
    time.sleep(0.3)
    f = fleet(broker.port, 5)
    f.call(lambda: [s.burst(20) for s in f.stations])
    assert first.wait_idle(timeout=20) and first.stats.stored == 100
    first.stop()
    f.call(lambda: [s.burst(40) for s in f.stations])  # while the ingest is away
    assert wait_for(lambda: f.pending() == 0, timeout=20)
    second = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-restart").start()
    try:
        assert second.connected.wait(10) and second.stats.session_present
        assert wait_for(lambda: second.stats.stored >= 200, timeout=20) and second.wait_idle(timeout=20)
        assert {k: sorted(v) for k, v in stored_seqs(store).items()} == allocated(f)
        assert second.stats.stored == 200 and second.stats.duplicates == 0
    finally:
        second.stop()
        store.close()


class DownStore(Store):
    """A database that refuses every write, as one that went away."""

    def write(self, batch, rejects=()):  # noqa: ANN001, ANN201
        raise ConnectionError("database is down")


def test_nothing_is_acknowledged_before_it_is_stored(broker: LocalBroker, tmp_path: Path, fleet: FleetFactory) -> None:
    """Messages received but never stored are redelivered to the next run: PUBACK follows the commit."""
    url = f"sqlite:///{tmp_path / 'county.db'}"
    down = DownStore(url)
    first = Ingest(down, "127.0.0.1", broker.port, client_id="ingest-ack").start()
    assert first.connected.wait(10)
    time.sleep(0.3)
    f = fleet(broker.port, 4)
    f.call(lambda: [s.burst(25) for s in f.stations])
    assert wait_for(lambda: first.stats.received >= 100 and first.stats.write_errors >= 2, timeout=20)
    first.stop(drain_s=0)
    assert first.stats.acked == 0
    store = Store(url)
    second = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-ack").start()
    try:
        assert wait_for(lambda: second.stats.stored >= 100, timeout=20), second.stats
        assert {k: sorted(v) for k, v in stored_seqs(store).items()} == allocated(f)
    finally:
        second.stop()
        store.close()
        down.close()


def test_redeliveries_and_garbage_are_absorbed(broker: LocalBroker, tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'county.db'}")
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-dup").start()
    assert member.connected.wait(10)
    time.sleep(0.3)
    topics = Topics("410421", "xiaoqi", "zhuwa", "pond-01")
    msg = Telemetry(station="410421/xiaoqi/zhuwa/pond-01", seq=9, event_id="t9", ts="2026-07-01T00:00:00Z", clock_synced=False,
                    boot_id="b", sensor="gauge-1", values={"level_m": 0.7})
    pub = Capture(broker.port, "nothing/#")
    try:
        for _ in range(3):
            pub.publish(topics.telemetry("gauge-1"), to_payload(msg))
        pub.publish(topics.telemetry("gauge-1"), b"\xff not json")
        pub.publish(topics.telemetry("gauge-1"), b"[" * 100_000)  # nested too deep for the JSON parser
        pub.publish(topics.telemetry("gauge-1"), to_payload(msg.model_copy(update={"seq": 10, "event_id": "t10"})))
        assert wait_for(lambda: member.stats.received >= 6, timeout=10) and member.wait_idle(timeout=10)
        assert store.query("SELECT seq, clock_synced FROM telemetry ORDER BY seq") == [(9, 0), (10, 0)]
        assert (member.stats.stored, member.stats.duplicates, member.stats.rejected) == (2, 2, 2)
        assert member.stats.acked == 6  # garbage is acknowledged too (kept in rejects), or it would come back forever
    finally:
        pub.stop()
        member.stop()
        store.close()


def test_snapshots_are_stored_once_and_bad_ones_do_not_stop_the_ingest(tmp_path: Path, db_url: str) -> None:
    """A raw JPEG on `snapshot/{event_id}` is kept byte for byte; garbage there is a reject and the stream goes on.
    The broker forwards the oversize JPEG (the county's refuses it; a misconfigured one would not)."""
    broker = LocalBroker(extra_config="message_size_limit 0\n", workdir=tmp_path / "open-broker")
    broker.start()
    store = Store(db_url)
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-snap").start()  # shared group: snapshots must still come directly
    assert member.connected.wait(10)
    time.sleep(0.3)
    station = "410421/xiaoqi/zhuwa/pond-01"
    topics = Topics("410421", "xiaoqi", "zhuwa", "pond-01")
    jpeg = real_jpeg()
    ref = SnapshotRef(topic=topics.snapshot("a-1"), bytes=len(jpeg), sha256=hashlib.sha256(jpeg).hexdigest())
    raised = Alarm(station=station, seq=1, event_id="a-1", ts="2026-07-01T00:00:00Z", clock_synced=True, boot_id="b",
                   alarm="water_level", state="raised", severity="danger", category="safety", source="gauge-1",
                   raised_at="2026-07-01T00:00:00Z", snapshot=ref)
    later = Telemetry(station=station, seq=2, event_id="t2", ts="2026-07-01T00:00:05Z", clock_synced=True, boot_id="b",
                      sensor="gauge-1", values={"level_m": 0.7})
    pub = Capture(broker.port, "nothing/#")
    try:
        pub.publish(topics.snapshot("a-1"), jpeg)
        pub.publish(topics.event("water_level"), to_payload(raised))
        pub.publish(topics.snapshot("a-1"), jpeg)  # a redelivery
        pub.publish(topics.snapshot("a-2"), b"GIF89a\x00\x01 not a jpeg")
        pub.publish(topics.snapshot("a-3"), jpeg + bytes(SNAPSHOT_MAX_BYTES))  # oversize
        pub.publish(topics.telemetry("gauge-1"), to_payload(later))  # the stream goes on after garbage
        pub.publish(topics.snapshot("a-4"), other := real_jpeg(160, 120, "a-4"))
        assert wait_for(lambda: member.stats.received >= 7, timeout=10) and member.wait_idle(timeout=10)
        got = store.snapshot(station, "a-1")
        assert got == jpeg and hashlib.sha256(got).hexdigest() == ref.sha256 and len(got) == ref.bytes
        assert store.snapshot(station, "a-4") == other
        assert store.query("SELECT event_id, sha256, bytes FROM snapshots ORDER BY event_id") == [
            ("a-1", ref.sha256, ref.bytes), ("a-4", hashlib.sha256(other).hexdigest(), len(other))]
        assert store.query("SELECT COUNT(*) FROM alarms") == [(1,)] and store.query("SELECT seq FROM telemetry") == [(2,)]
        s = member.stats
        assert (s.stored, s.snapshots, s.duplicates, s.rejected, s.acked, s.write_errors) == (2, 2, 1, 2, 7, 0), s
        errors = sorted(e for (e,) in store.query("SELECT error FROM rejects"))
        assert "not a JPEG" in errors[0] and "too big" in errors[1], errors
    finally:
        pub.stop()
        member.stop()
        store.close()
        broker.stop()


def test_a_nul_in_a_valid_payload_is_a_reject_and_the_station_goes_on(broker: LocalBroker, db_url: str) -> None:
    """JSON may carry U+0000 (`\\u0000`), which PostgreSQL TEXT and JSONB refuse: it must be a reject on both databases,
    not a batch that fails and is retried forever; an escaped backslash (`\\\\u0000`) is ordinary text and is stored."""
    store = Store(db_url)
    member = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-nul").start()
    assert member.connected.wait(10)
    time.sleep(0.3)
    station = "410421/xiaoqi/zhuwa/pond-01"
    topics = Topics("410421", "xiaoqi", "zhuwa", "pond-01")
    envelope = dict(station=station, ts="2026-07-01T00:00:00Z", clock_synced=True, boot_id="b")

    def notice(seq: int, summary: str) -> bytes:
        return to_payload(Notice(**envelope, seq=seq, event_id=f"n{seq}", notice="device_error", severity="warning", summary=summary))

    def telemetry(seq: int) -> bytes:
        return to_payload(Telemetry(**envelope, seq=seq, event_id=f"t{seq}", sensor="gauge-1", values={"level_m": 0.1 * seq}))

    bad = notice(2, "camera\x00 failed")
    assert b'"camera\\u0000 failed"' in bad  # valid JSON: the escape, not a raw NUL byte
    literal = notice(5, "path C:\\u0000\\x")  # a backslash then u0000: no NUL at all
    assert b"\\\\u0000" in literal
    sent = [(topics.telemetry("gauge-1"), telemetry(1)), (topics.event("device_error"), bad),
            (topics.telemetry("gauge-1"), telemetry(3)), (topics.telemetry("gauge-1"), telemetry(4)),
            (topics.event("device_error"), literal), (topics.telemetry("gauge-1"), telemetry(6))]
    pub = Capture(broker.port, "nothing/#")
    try:
        for info in [pub.client.publish(t, p, qos=1) for t, p in sent]:  # back to back: the bad one shares a batch with good ones
            info.wait_for_publish(5)
        assert wait_for(lambda: member.stats.received >= len(sent), timeout=10)
        assert member.wait_idle(timeout=10), member.stats  # not stuck retrying a batch the database refuses
        s = member.stats
        assert (s.stored, s.rejected, s.acked, s.write_errors) == (5, 1, 6, 0), s  # everything acknowledged, nothing left behind
        assert sorted(seq for (seq,) in store.query("SELECT seq FROM telemetry")) == [1, 3, 4, 6]
        assert store.query("SELECT seq, summary FROM events") == [(5, "path C:\\u0000\\x")]
        [(topic, error, payload)] = store.query("SELECT topic, error, payload FROM rejects")
        assert topic == topics.event("device_error")
        assert error == "contains a NUL character (U+0000), which the database cannot store"
        assert "\x00" not in payload and json.loads(payload)["seq"] == 2  # the station's text, kept for a human
    finally:
        pub.stop()
        member.stop()
        store.close()


def test_cli_reports_in_the_readers_language(broker: LocalBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'county.db'}"
    common = ["--db", db, "--broker", f"127.0.0.1:{broker.port}", "--seconds", "1", "--report-every", "0.4", "--client-id", "ingest-lang"]
    zh = runner.invoke(app, ["ingest", *common])
    assert zh.exit_code == 0, zh.output
    assert zh.stderr.startswith(f"入库 ingest-lang：从 127.0.0.1:{broker.port} 接收 vs/v1，写入 {db}（共享组 ingest）")
    assert zh.stderr.splitlines()[-1].startswith("已接收 0，已存 0，")
    en = runner.invoke(app, ["ingest", *common, "--group", "", "--lang", "en"])
    assert en.exit_code == 0, en.output
    assert en.stderr.startswith(f"ingest ingest-lang: vs/v1 from 127.0.0.1:{broker.port} into {db} (shared group '')")
    assert en.stderr.splitlines()[-1].startswith("received 0, stored 0, ")


def test_cli_refuses_in_the_readers_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop file that cannot be read, a broker that is not HOST:PORT: one line, Chinese unless --lang en, exit 2."""
    monkeypatch.delenv("LANG", raising=False)
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'county.db'}"
    missing = tmp_path / "loop.yaml"
    zh = runner.invoke(app, ["ingest", "--db", db, "--cases", str(missing), "--seconds", "1"])
    assert zh.exit_code == 2 and zh.stderr.startswith(f"入库：无法读取 {missing}")
    en = runner.invoke(app, ["ingest", "--db", db, "--cases", str(missing), "--seconds", "1", "--lang", "en"])
    assert en.exit_code == 2 and en.stderr.startswith(f"ingest: cannot read {missing}")
    port = runner.invoke(app, ["ingest", "--db", db, "--broker", "127.0.0.1:mqtt"])
    assert port.exit_code == 2 and "入库：--broker '127.0.0.1:mqtt' 应写成 HOST:PORT" in port.stderr
    port_en = runner.invoke(app, ["ingest", "--db", db, "--broker", "127.0.0.1:mqtt", "--lang", "en"])
    assert port_en.exit_code == 2 and "ingest: --broker '127.0.0.1:mqtt' is not HOST:PORT" in port_en.stderr


def test_cli_never_prints_the_database_password(broker: LocalBroker, postgres, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The start line names the database; a PostgreSQL URL's login is masked (the private server trusts any password)."""
    monkeypatch.delenv("LANG", raising=False)
    url = postgres.database().replace("postgresql://county@", "postgresql://county:s3cret@")
    result = CliRunner().invoke(app, ["ingest", "--db", url, "--broker", f"127.0.0.1:{broker.port}", "--seconds", "1", "--client-id", "ingest-pw"])
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.stderr and "写入 postgresql://***@127.0.0.1:" in result.stderr
