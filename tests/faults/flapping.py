"""The broker flapping: stopped and started again and again under a busy station.

The station runs in this process so its descriptors (/proc/self/fd) and threads
(`threading.active_count()`) can be counted before and after. Each reconnection delay the
uplink chooses is read from its stats as it is set (polled every few ms; every delay is at least
`backoff_initial_s / 2`, so none is missed). Down times vary: most flaps are short, every tenth
is long enough for the delay to reach its cap. The broker is stopped cleanly (SIGTERM) so it
keeps what it already acknowledged for the durable county session; the station sees a dropped
connection either way, and hard kills are covered by the gateway's own kill campaign.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from county.feed import FeedCollector, FeedSubscriber
from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.faults.gateway_proc import STATION, WireCheck, busy_station, check_wire
from tests.stations import config_of, wait_for

INITIAL_S, CAP_S = 0.1, 0.5


def open_fds() -> int:
    gc.collect()  # what earlier code left for the collector must not count for or against this run
    return len(fd_targets())


def fd_targets() -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue  # the descriptor listdir itself used, closed since
    return sorted(out)


class DelayRecorder:
    """Polls the uplink's next reconnection delay and keeps each new value."""

    def __init__(self, station: Station) -> None:
        self._station = station
        self.delays: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delay-recorder", daemon=True)

    def _run(self) -> None:
        last = self._station.uplink.stats.next_attempt_in_s
        while not self._stop.wait(0.005):
            now = self._station.uplink.stats.next_attempt_in_s
            if now != last:
                self.delays.append(now)
                last = now

    def start(self) -> "DelayRecorder":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class FlapReport:
    flaps: int
    fds_before: int = 0
    fds_after: int = 0
    threads_before: int = 0
    threads_after: int = 0
    connects: int = 0
    delays: int = 0
    delay_min_s: float = 0.0
    delay_max_s: float = 0.0
    distinct_delays: int = 0
    capped_delays: int = 0  # chosen once the ceiling had reached the cap (above 0.4 s)
    capped_spread_s: float = 0.0  # max - min of those: jitter at the cap
    reconnect_median_s: float = 0.0  # broker back -> station connected
    reconnect_max_s: float = 0.0
    wire: WireCheck = field(default_factory=WireCheck)

    def problems(self) -> list[str]:
        w = self.wire
        return [p for p, bad in (
            (f"fds {self.fds_before} -> {self.fds_after}", self.fds_after > self.fds_before),  # a leak is growth
            (f"threads {self.threads_before} -> {self.threads_after}", self.threads_after > self.threads_before),
            (f"a delay above the cap: {self.delay_max_s}", self.delay_max_s > CAP_S),
            (f"a delay below half the first: {self.delay_min_s}", self.delay_min_s < INITIAL_S / 2),
            (f"delays repeat ({self.distinct_delays} distinct of {self.delays}): no jitter", self.distinct_delays != self.delays),
            (f"connects {self.connects} for {self.flaps} flaps", self.connects != self.flaps + 1),
            (f"{len(w.missing)} accepted messages lost: {w.missing[:10]}", w.missing),
            (f"out of order: {w.out_of_order}", w.out_of_order),
        ) if bad]


def flap(tmp: Path, flaps: int, seed: int) -> FlapReport:
    rng = random.Random(seed)
    report = FlapReport(flaps=flaps)
    broker = LocalBroker(workdir=tmp / "broker", persistent=True).start()
    collector = FeedCollector()
    sub = FeedSubscriber("127.0.0.1", broker.port, "vs/v1", collector, client_id="county-flap", durable=True).start()
    assert sub.connected.wait(10)
    doc = busy_station(tmp, broker.port)
    doc["broker"].update(backoff_initial_s=INITIAL_S, backoff_max_s=CAP_S)
    doc["water_sensors"][0]["telemetry_interval_s"] = 0.05
    station = Station(config_of(doc))
    recorder = DelayRecorder(station)
    back: list[float] = []
    try:
        station.start()
        assert wait_for(lambda: station.uplink.stats.connected, timeout=20)
        recorder.start()
        time.sleep(1.0)
        steady = lambda: station.uplink.stats.connected and sub.client.is_connected()  # noqa: E731 - both sockets open
        assert wait_for(steady, timeout=20)
        report.fds_before, report.threads_before = open_fds(), threading.active_count()
        for i in range(flaps):
            broker.stop()
            assert wait_for(lambda: not station.uplink.stats.connected, timeout=20)
            time.sleep(3.0 if i % 10 == 9 else rng.uniform(0.0, 0.6))  # every tenth: long enough to reach the cap
            broker.start()
            t0 = time.monotonic()
            assert wait_for(lambda i=i: station.uplink.stats.connects >= i + 2 and station.uplink.stats.connected, timeout=30, interval=0.01)
            back.append(time.monotonic() - t0)
        assert wait_for(lambda: station.outbox.stats().depth < 10, timeout=30)
        time.sleep(1.0)
        assert wait_for(steady, timeout=20)
        report.fds_after, report.threads_after = open_fds(), threading.active_count()
        report.connects = station.uplink.stats.connects
    finally:
        recorder.stop()
        station.stop()
        # the county's own session catches up before it is checked
        wait_for(lambda: sub.client.is_connected(), timeout=10)
        time.sleep(1.0)
        sub.stop()
        broker.stop()
    d = recorder.delays
    report.delays, report.distinct_delays = len(d), len(set(d))
    report.delay_min_s, report.delay_max_s = round(min(d), 3), round(max(d), 3)
    capped = [x for x in d if x > 0.4]  # only a ceiling at the cap (0.5; the one below is 0.4) gives more than 0.4
    report.capped_delays = len(capped)
    report.capped_spread_s = round(max(capped) - min(capped), 3) if capped else 0.0
    report.reconnect_median_s, report.reconnect_max_s = round(statistics.median(back), 3), round(max(back), 3)
    report.wire = check_wire(collector, tmp / "outbox.db", STATION)
    return report
