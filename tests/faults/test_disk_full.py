"""A disk that fills up, for real: the outbox on a 2 MiB tmpfs, filled with a ballast file.

While the outbox cannot store: alarms go out from memory with seqs never reused (not even after a
restart), telemetry is counted and not kept, a `disk_full` health alarm says so and clears once
messages are stored again. A restart on a full disk keeps the queue where it is and sends it when
the database can be opened again.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from county.feed import FeedCollector, FeedSubscriber
from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.faults.gateway_proc import ALARM_KINDS, STATION, first_deliveries
from tests.stations import config_of, station_dict, wait_for


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted afterwards."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Write a ballast file until the file system says it is full, then free `leave` bytes."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for chunk in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        if leave:
            os.ftruncate(fd, os.fstat(fd).st_size - leave)
    finally:
        os.close(fd)
    return ballast


def flooding_station(tmp: Path, disk: Path, port: int) -> Station:
    """A gauge that floods every 3 s (raise, escalate, clear), telemetry every 0.2 s, health every second."""
    doc = station_dict(tmp, port)
    doc["outbox"]["path"] = str(disk / "outbox.db")
    doc["health"]["interval_s"] = 1.0
    doc["water_sensors"][0]["driver"].update(loop=True, scenario=[
        {"at_s": 0, "level_m": 0.5}, {"at_s": 1.0, "level_m": 2.5}, {"at_s": 2.0, "level_m": 0.5}, {"at_s": 3.0, "level_m": 0.5}])
    return Station(config_of(doc))


def county(port: int, name: str) -> tuple[FeedCollector, FeedSubscriber]:
    collector = FeedCollector()
    sub = FeedSubscriber("127.0.0.1", port, "vs/v1", collector, client_id=name, durable=True).start()
    assert sub.connected.wait(10)
    return collector, sub


def alarms(collector: FeedCollector, kind: str, state: str) -> list[dict]:
    return [m for m in collector.messages if m["kind"] == "alarm" and m["alarm"] == kind and m["state"] == state]


def check_wire(collector: FeedCollector, split_at: int | None = None) -> None:
    """No seq ever carried two different messages; every gap explained; alarms in seq order.

    `split_at`: alarms below and above it are each in order (a queue that could not be read while
    the disk was full goes out after the alarms sent meanwhile; the county orders by seq).
    """
    by_seq: dict[int, dict] = {}
    for m in collector.messages:
        if m["kind"] != "status":
            assert by_seq.setdefault(m["seq"], m) == m, f"seq {m['seq']} reused"
    skipped = [(m["details"]["first_seq"], m["details"]["resumed_at_seq"]) for m in collector.messages if m.get("notice") == "seq_skipped"]
    gaps = [s for s in range(max(by_seq)) if s not in by_seq]
    assert all(any(lo <= s < hi for lo, hi in skipped) for s in gaps), f"unexplained gaps {gaps[:10]}, skipped {skipped}"
    order = first_deliveries(collector.messages, ALARM_KINDS)
    for part in ([order] if split_at is None else [[s for s in order if s < split_at], [s for s in order if s >= split_at]]):
        assert part == sorted(part)
    assert not collector.malformed


@pytest.mark.timeout(240)
def test_full_disk_alarms_flow_unstored_seqs_never_reused_and_it_is_reported(small_disk: Path, tmp_path: Path, broker: LocalBroker) -> None:
    collector, sub = county(broker.port, "county-disk")
    station = flooding_station(tmp_path, small_disk, broker.port)
    ballast = None
    try:
        station.start()
        assert wait_for(lambda: sum(1 for m in collector.messages if m["kind"] == "telemetry") >= 5, timeout=20)
        ballast = fill(small_disk)
        # the warnings still reach the county, and the county is told why telemetry stopped
        assert wait_for(lambda: alarms(collector, "disk_full", "raised"), timeout=20)
        full_from = alarms(collector, "disk_full", "raised")[0]["seq"]
        assert wait_for(lambda: len([m for m in alarms(collector, "water_level", "raised") if m["seq"] > full_from]) >= 2, timeout=30)
        assert wait_for(lambda: any(m["kind"] == "playback" and m["seq"] > full_from for m in collector.messages), timeout=20)
        assert station.outbox.stats().next_seq > full_from  # the unstored ones took seqs

        # a restart while the disk is still full: numbering jumps over what went out unstored
        station.stop()
        last_before = max(collector.seqs[STATION].seen)
        station = flooding_station(tmp_path, small_disk, broker.port)
        station.start()
        assert wait_for(lambda: any(m.get("notice") == "seq_skipped" for m in collector.messages), timeout=20)
        skipped = next(m for m in collector.messages if m.get("notice") == "seq_skipped")
        assert skipped["details"]["resumed_at_seq"] > last_before and skipped["seq"] >= skipped["details"]["resumed_at_seq"]
        assert wait_for(lambda: len([m for m in alarms(collector, "water_level", "raised") if m["seq"] > skipped["seq"]]) >= 1, timeout=30)

        ballast.unlink()  # space comes back
        assert wait_for(lambda: alarms(collector, "disk_full", "cleared"), timeout=30)
        assert wait_for(lambda: sum(1 for m in collector.messages if m["kind"] == "telemetry" and m["seq"] > skipped["seq"]) >= 5, timeout=20)
    finally:
        station.stop()
        sub.stop()
        if ballast is not None:
            ballast.unlink(missing_ok=True)
    raised = alarms(collector, "disk_full", "raised")[0]
    assert raised["category"] == "health" and raised["severity"] == "critical" and "full" in raised["summary"]
    cleared = alarms(collector, "disk_full", "cleared")[-1]
    assert cleared["details"]["sent_unstored"] >= 1 and cleared["details"]["telemetry_not_stored"] >= 1
    assert cleared["details"]["lost"] == 0
    check_wire(collector)


@pytest.mark.timeout(240)
def test_restart_on_a_full_disk_keeps_the_queue_and_sends_it_when_space_returns(small_disk: Path, tmp_path: Path) -> None:
    broker = LocalBroker(workdir=tmp_path / "broker", persistent=True).start()
    collector, sub = county(broker.port, "county-restart")
    station = flooding_station(tmp_path, small_disk, broker.port)
    ballast = None
    try:
        station.start()
        assert wait_for(lambda: station.uplink.stats.connected, timeout=20)
        broker.stop()
        assert wait_for(lambda: station.outbox.stats().alarms >= 4 and station.outbox.stats().depth >= 30, timeout=30)
        station.stop()  # a clean stop: the database is checkpointed, its WAL and index files removed
        queued = set(range(station.outbox.last_seq + 1)) - collector.seqs[STATION].seen
        ballast = fill(small_disk)
        assert not (small_disk / "outbox.db-wal").exists()
        station = flooding_station(tmp_path, small_disk, broker.port)
        # the outbox keeps its WAL index in memory (no -shm file to create), so it opens on the full disk
        assert station.outbox.unavailable is None
        assert (small_disk / "outbox.db").stat().st_size > 0 and not list(small_disk.glob("*.corrupt-*"))
        station.start()
        broker.start()
        # nothing new can be stored, yet the alarms go out, and the county is told
        assert wait_for(lambda: alarms(collector, "disk_full", "raised") and alarms(collector, "water_level", "raised"), timeout=30)
        ballast.unlink()
        assert wait_for(lambda: queued <= collector.seqs[STATION].seen, timeout=30)  # the old queue, delivered
        assert wait_for(lambda: alarms(collector, "disk_full", "cleared"), timeout=30)
    finally:
        station.stop()
        sub.stop()
        broker.stop()
        if ballast is not None:
            ballast.unlink(missing_ok=True)
    check_wire(collector, split_at=max(queued) + 1)
    unstored = [m for m in collector.messages if m["kind"] == "alarm" and m["alarm"] == "water_level" and m["seq"] > max(queued)]
    assert unstored and min(m["seq"] for m in unstored) > max(queued)


def test_configured_warnings_are_synthesised_at_start_and_still_play_on_a_full_disk(small_disk: Path, tmp_path: Path,
                                                                                   broker: LocalBroker) -> None:
    import threading

    from drivers.base import Utterance
    from gateway.devices import build_speaker

    doc = station_dict(tmp_path, broker.port)
    doc["water_sensors"][0]["driver"]["scenario"] = [{"at_s": 0, "level_m": 0.5}]  # quiet: nothing plays meanwhile
    doc["loudspeaker"]["driver"] = {"type": "alsa", "device": "null", "cache_dir": str(small_disk / "tts")}
    warning = doc["loudspeaker"]["actions"][0]["text"]
    station = Station(config_of(doc))
    station.start()
    try:
        assert wait_for(lambda: len(list((small_disk / "tts").glob("tts-*.wav"))) == 1, timeout=30)
    finally:
        station.stop()
    fill(small_disk)
    speaker = build_speaker(config_of(doc).loudspeaker)  # the next run, on the full card
    try:
        assert speaker.play(Utterance(text=warning), threading.Event()).completed
        # A county announcement never said before cannot be cached, so it plays from memory.
        assert speaker.play(Utterance(text="一句从没说过的话"), threading.Event()).completed
    finally:
        speaker.close()
    assert [p.name for p in (small_disk / "tts").iterdir()] == [next((small_disk / "tts").glob("tts-*.wav")).name]


def test_a_nearly_full_card_never_caches_a_cut_off_warning_and_it_plays_whole(small_disk: Path, tmp_path: Path) -> None:
    """espeak-ng writing its own file on a card with 24 KiB left exits 0 with a tenth of the
    warning in a well-formed WAV; the cache would replay that for good. Now the write fails
    loudly, nothing is cached, and the whole warning plays from memory."""
    import threading

    from drivers.base import DeviceUnavailable, Utterance
    from drivers.speaker import AlsaSpeaker
    from drivers.tts import EspeakTts

    text = "这里不是游泳区域,水深危险,请马上上岸离开"

    def played(tts: EspeakTts, name: str) -> int:
        """Bytes that reached an ALSA device recording to a file (tmp_path has room)."""
        out = tmp_path / f"{name}.raw"
        speaker = AlsaSpeaker("loudspeaker", tts, device=f"file:'{out}',raw")
        try:
            assert speaker.play(Utterance(text=text), threading.Event()).completed
        finally:
            speaker.close()
        return out.stat().st_size

    whole = played(EspeakTts("loudspeaker", tmp_path / "roomy"), "roomy")
    tts = EspeakTts("loudspeaker", small_disk / "tts")
    (small_disk / "tts").mkdir()
    fill(small_disk, leave=24 * 1024)
    with pytest.raises(DeviceUnavailable, match="cannot write the speech cache"):
        tts.wav_for(text)  # what start-up's prepare reports as speech_unprepared
    assert played(tts, "full") == whole > 200_000
    assert list((small_disk / "tts").iterdir()) == []  # no cut-off WAV, no temporary file
    assert tts.cache_failures == 1


def test_a_first_start_on_a_full_disk_runs_without_its_database_until_space_returns(small_disk: Path) -> None:
    from gateway.uplink.outbox import TELEMETRY, Outbox

    ballast = fill(small_disk)
    box = Outbox(small_disk / "outbox.db")
    try:
        assert box.unavailable and "full" in box.unavailable  # said why; the station reports it (outbox_unavailable)
        assert not box.retry_open()
        ballast.unlink()
        assert box.retry_open() and box.unavailable is None
        seq = box.put("t", TELEMETRY, lambda s: b'{"seq": %d}' % s)
        assert [m.seq for m in box.peek(TELEMETRY, -1)] == [seq]
    finally:
        box.close()
