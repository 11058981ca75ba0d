"""What county commands leave across a gateway restart: a silence goes on, a queued announcement gets its final reply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from county.feed import FeedCollector
from gateway.localbroker import LocalBroker
from gateway.silence_file import SavedSilence, SilenceFile, remaining_after_restart
from gateway.station import Station
from tests.commands.conftest import RawPublisher, notices, quiet_doc, send, signed, wait_reply
from tests.stations import config_of, subscribe, wait_for


@pytest.fixture
def feed(broker: LocalBroker) -> Iterator[FeedCollector]:
    """What the county sees, across the station's restarts."""
    collector, sub = subscribe(broker.port)
    yield collector
    sub.stop()


@contextmanager
def running(doc: dict) -> Iterator[Station]:
    """One run of the gateway, connected; stopped (gracefully) at the end of the block."""
    station = Station(config_of(doc))
    station.start()
    try:
        assert wait_for(lambda: station.uplink.stats.connected, timeout=10)
        yield station
    finally:
        station.stop()


def test_remaining_silence_counts_the_time_off_and_never_exceeds_what_was_asked() -> None:
    saved = SavedSilence(set_at=1_800_000_000.0, duration_s=600.0, emergencies=False)
    assert remaining_after_restart(saved, 1_800_000_000.0 + 100) == 500.0  # a restart 100 s later
    assert remaining_after_restart(saved, 1_800_000_000.0 + 601) == 0.0  # it ran out while the gateway was down
    assert remaining_after_restart(saved, 100.0) == 600.0  # rebooted to 1970: at most the asked 600 s, from now


def test_silence_goes_on_after_a_restart_and_a_lifted_one_does_not(broker: LocalBroker, feed: FeedCollector, tmp_path: Path,
                                                                   county_key: Ed25519PrivateKey) -> None:
    doc = quiet_doc(tmp_path, broker.port, county_key)
    with running(doc):
        [silenced] = send(broker.port, signed(county_key, "silence", {"duration_s": 600, "force": True}))
    assert silenced["outcome"] == "silenced"

    with running(doc):  # the watchdog restarted the gateway
        assert wait_for(lambda: notices(feed, "silence_resumed"), timeout=10)
        [status] = send(broker.port, signed(county_key, "status"))
        [held] = send(broker.port, signed(county_key, "announce", {"text": "火情", "priority": "emergency"}))
        [lifted] = send(broker.port, signed(county_key, "silence", {"duration_s": 0}))
    [resumed] = notices(feed, "silence_resumed")
    assert resumed["severity"] == "info" and resumed["details"]["emergencies"] is True
    assert 500 < resumed["details"]["remaining_s"] <= 600
    assert status["result"]["silenced_until"] is not None
    assert (held["ok"], held["outcome"]) == (False, "silenced")  # a forced silence holds emergencies too
    assert lifted["outcome"] == "unsilenced"

    with running(doc):
        [status] = send(broker.port, signed(county_key, "status"))
        [played] = send(broker.port, signed(county_key, "announce", {"text": "恢复"}))
    assert status["result"]["silenced_until"] is None
    assert (played["ok"], played["outcome"]) == (True, "completed")
    assert len(notices(feed, "silence_resumed")) == 1


def test_a_garbled_silence_file_is_reported_and_the_station_runs_on(broker: LocalBroker, feed: FeedCollector, tmp_path: Path,
                                                                     county_key: Ed25519PrivateKey) -> None:
    doc = quiet_doc(tmp_path, broker.port, county_key)
    outbox = config_of(doc).outbox.path
    silence = SilenceFile(outbox.with_name(f"{outbox.stem}-silence.json"))
    silence.path.parent.mkdir(parents=True, exist_ok=True)
    silence.path.write_bytes(b'{"set_at": "\xff\x00 torn by a power cut')
    with running(doc):
        assert wait_for(lambda: notices(feed, "silence_dropped"), timeout=10)
        [played] = send(broker.port, signed(county_key, "announce", {"text": "通知"}))
    [dropped] = notices(feed, "silence_dropped")
    assert str(silence.path) in dropped["summary"] and "unreadable" in dropped["summary"]
    assert (played["ok"], played["outcome"]) == (True, "completed")
    assert not silence.path.exists()  # not reported again at every start


def test_silence_file_round_trip_and_impossible_values(tmp_path: Path) -> None:
    f = SilenceFile(tmp_path / "silence.json")
    assert f.load() == (None, "")
    saved = SavedSilence(set_at=1_800_000_000.5, duration_s=90.0, emergencies=True)
    assert f.save(saved) == ""
    assert f.load() == (saved, "")
    f.path.write_text(json.dumps({"set_at": 1.0, "duration_s": 1e12, "emergencies": False}))
    loaded, error = f.load()
    assert loaded is None and "impossible" in error
    assert SilenceFile(tmp_path / "no-such-dir" / "silence.json").save(saved).startswith("cannot keep the silence")


def test_announcements_still_queued_when_the_gateway_stops_get_a_final_reply(broker: LocalBroker, feed: FeedCollector,
                                                                              tmp_path: Path, county_key: Ed25519PrivateKey) -> None:
    """Nothing queued survives a restart; the county hears so at once instead of waiting for the expiry."""
    doc = quiet_doc(tmp_path, broker.port, county_key)
    long = signed(county_key, "announce", {"text": "长" * 150, "repeat": 10, "interval_s": 30})
    behind = signed(county_key, "announce", {"text": "排队的通知"})
    with running(doc) as station:
        raw = RawPublisher(broker.port)
        try:
            for cmd in (long, behind):
                raw.publish("announce", cmd)
        finally:
            raw.close()
        assert station.announcer is not None
        assert wait_for(lambda: station.announcer.busy() and station.announcer.waiting() == 1, timeout=10)
    with running(doc):  # whatever the first run stored and could not send goes now
        replies = {c["id"]: wait_reply(feed, c["id"]) for c in (long, behind)}
    for reply in replies.values():
        assert (reply["ok"], reply["outcome"], reply["reason"]) == (False, "pre-empted", "gateway stopping")
