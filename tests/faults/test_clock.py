"""Boot with the clock at 1970 (no RTC, no NTP yet), then NTP sets it: marked, ordered, right again."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from foundation.clock import WallClock
from gateway.config.station import ClockConfig
from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.stations import config_of, station_dict, subscribe, wait_for

EARLIEST = datetime.fromisoformat("2025-01-01T00:00:00+00:00").timestamp()


class PiClock:
    """The wall clock and the kernel's NTP flag of a Pi without an RTC: 1970 at boot, until NTP steps it."""

    def __init__(self) -> None:
        self.offset = 1000.0 - time.time()  # 1970-01-01T00:16:40 and running
        self.ntp = False

    def now(self) -> float:
        return time.time() + self.offset

    def kernel(self) -> bool:
        return self.ntp

    def ntp_sync(self) -> None:
        self.offset, self.ntp = 0.0, True


def ts(m: dict) -> float:
    return datetime.fromisoformat(m["ts"]).timestamp()


def test_boot_at_1970_marks_messages_unsynced_then_timestamps_are_right(broker: LocalBroker, tmp_path: Path) -> None:
    doc = station_dict(tmp_path, broker.port, clock={"sync_check": "kernel"})  # the default: trust only NTP
    doc["water_sensors"][0]["driver"]["scenario"] = [{"at_s": 0, "level_m": 0.5}, {"at_s": 1.0, "level_m": 2.5},
                                                     {"at_s": 5.0, "level_m": 2.5}, {"at_s": 6.0, "level_m": 0.5}]
    pi = PiClock()
    collector, sub = subscribe(broker.port)
    station = Station(config_of(doc), wall=WallClock(ClockConfig(sync_check="kernel"), now=pi.now, kernel=pi.kernel))
    station.start()
    try:
        assert wait_for(lambda: any(m["kind"] == "alarm" and m["state"] == "raised" for m in collector.messages), timeout=20)
        raised_real = time.time()
        before = len(collector.messages)
        pi.ntp_sync()  # NTP answers: the clock steps from 1970 to now
        stepped_at = time.time()
        assert wait_for(lambda: any(m["kind"] == "alarm" and m["state"] == "cleared" for m in collector.messages), timeout=20)
        assert wait_for(lambda: sum(1 for m in collector.messages[before:] if m["kind"] == "telemetry") >= 5, timeout=20)
    finally:
        station.stop()
        sub.stop()
    msgs = [m for m in collector.messages if m["kind"] != "status"]
    early = [m for m in msgs if ts(m) < EARLIEST]
    late = [m for m in msgs if ts(m) >= EARLIEST]
    assert early and late
    assert all(m["clock_synced"] is False and ts(m) < 3600 for m in early)  # 1970, and said so
    assert all(m["clock_synced"] is True and abs(ts(m) - time.time()) < 600 for m in late)
    assert all(ts(m) >= stepped_at - 1 for m in late)  # nothing after the step still carries 1970
    # the county orders by seq: gap-free, and the unsynced messages come first
    seqs = [m["seq"] for m in msgs]
    assert sorted(set(seqs)) == list(range(len(set(seqs))))
    assert max(m["seq"] for m in early) < min(m["seq"] for m in late)
    # the alarm raised at "1970" is placed right once the clock is known: its later messages carry
    # the real wall time of the raise (computed from the monotonic clock)
    life = [m for m in msgs if m["kind"] == "alarm" and m["alarm"] == "water_level"]
    raised = next(m for m in life if m["state"] == "raised")
    cleared = next(m for m in life if m["state"] == "cleared")
    assert raised["clock_synced"] is False and datetime.fromisoformat(raised["raised_at"]).year == 1970
    assert cleared["clock_synced"] is True and cleared["event_id"] == raised["event_id"]
    assert abs(datetime.fromisoformat(cleared["raised_at"]).timestamp() - raised_real) < 3
    statuses = [m for m in collector.messages if m["kind"] == "status"]
    assert statuses[0]["clock_synced"] is False


def test_a_plausible_but_unsynced_clock_is_distrusted_until_ntp_and_rechecked_every_period() -> None:
    """fake-hwclock restores the last shutdown time: plausible, but not NTP time. The verdict is cached
    for `recheck_s`, so NTP's arrival is seen within one period (never the other way round: a clock
    is never called synced before the kernel says so)."""
    pi = PiClock()
    pi.offset = -3 * 86400.0  # three days behind, after a long power cut
    clock = WallClock(ClockConfig(sync_check="kernel"), now=pi.now, kernel=pi.kernel, recheck_s=0.3)
    assert clock.now() > EARLIEST and clock.synced() is False
    pi.ntp_sync()
    assert clock.synced() is False  # cached verdict, at most recheck_s old
    assert wait_for(clock.synced, timeout=5, interval=0.05)
    assert abs(clock.now() - time.time()) < 1
    plausible = WallClock(ClockConfig(sync_check="plausible"), now=lambda: 1000.0)
    assert plausible.synced() is False  # an RTC station still never trusts 1970
