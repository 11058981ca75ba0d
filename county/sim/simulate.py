"""`countyctl simulate`: N simulated stations in one process against one broker.

Every station has its own paho client (own connection, birth, Will), its own durable
`gateway.uplink.outbox.Outbox` and its own scenario (`county.sim.scenario`), and speaks the wire models.
Two ways to drive them:

- `selector` (default): all clients on one selector loop (`county.sim.fleet`): one thread, cost
  proportional to traffic, fine for thousands of stations; the gateway's drain policy and client
  set-up (`gateway.uplink.drain`, `gateway.uplink.session`), driven without the Uplink's thread.
- `threads`: one real `gateway.uplink.mqtt.Uplink` per station, exactly the gateway's code, one
  thread each, plus one thread running every scenario. Faithful, but at most MAX_THREADED
  stations per process (paho's `loop()` uses select(), blind above descriptor 1023) and more
  than twice the CPU; kept to measure against (BENCHMARKS.md).

Outboxes live under `--workdir` (default: a fresh directory in /dev/shm when it exists): they
stand for a thousand SD cards, and the county's own disk should not pay for their fsyncs.
"""

from __future__ import annotations

import heapq
import logging
import os
import random
import resource
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from county.i18n import pick
from county.sim.fleet import LinkConfig, SelectorFleet
from county.sim.scenario import ScenarioParams
from county.sim.station import SimStation
from foundation.errors import OutboxError
from gateway.uplink.mqtt import Uplink

log = logging.getLogger(__name__)


T = TypeVar("T")


def raise_fd_limit(wanted: int) -> int:
    """Lift the soft open-files limit towards `wanted` (each station holds a socket and three SQLite files)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def default_workdir() -> Path:
    base = "/dev/shm" if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="vs-fleet-", dir=base))


@dataclass(frozen=True, slots=True)
class FleetLayout:
    """Where N stations sit: `county/tNN/vNNN/sim-NNNN`, 25 stations per village, 10 villages per township."""

    county: str = "410421"
    per_village: int = 25
    villages_per_town: int = 10

    def place(self, i: int) -> tuple[str, str, str, str]:
        village = i // self.per_village
        return self.county, f"t{village // self.villages_per_town:02d}", f"v{village:03d}", f"sim-{i:04d}"


def make_stations(n: int, workdir: Path, params: ScenarioParams, layout: FleetLayout = FleetLayout(), seed: int = 0,
                  first: int = 0) -> list[SimStation]:
    """Stations number `first` .. `first + n - 1` of the layout."""
    now, wall = time.monotonic(), time.time()
    return [SimStation(*layout.place(i), workdir=workdir, params=params, seed=seed * 1_000_003 + i, now=now, wall=wall)
            for i in range(first, first + n)]


class Fleet(Protocol):
    stations: list[SimStation]

    def start(self) -> "Fleet": ...

    def call(self, fn: Callable[[], T], timeout: float = 60.0) -> T: ...

    def stop(self, goodbye: bool = True, timeout: float = 10.0) -> None: ...

    def pending(self) -> int: ...

    def connected(self) -> int: ...


MAX_THREADED = 150  # ~6 descriptors a station (socket, paho's socket pair, SQLite db/wal/shm) must stay below 1024


class ThreadedFleet:
    """One gateway Uplink (and thread) per station; one more thread steps every scenario."""

    def __init__(self, stations: list[SimStation], cfg: LinkConfig, scenario: bool = True) -> None:
        if len(stations) > MAX_THREADED:
            raise ValueError(f"threads mode runs at most {MAX_THREADED} stations per process (paho's loop() uses select(), "
                             f"which cannot watch file descriptors above 1023); use the selector mode for {len(stations)}")
        self.stations = stations
        self.scenario = scenario
        broker = cfg.broker()
        self.uplinks = [
            Uplink(broker, s.client_id, s.topics.status, s.topics.commands, s.outbox, status=s.status_payload,
                   on_command=s.on_command, rng=random.Random(i))
            for i, s in enumerate(stations)
        ]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "ThreadedFleet":
        for up in self.uplinks:
            up.start()
        self._thread = threading.Thread(target=self._scenarios, name="scenarios", daemon=True)
        self._thread.start()
        return self

    def _scenarios(self) -> None:
        ticks = [(s.state.due, i) for i, s in enumerate(self.stations)]
        heapq.heapify(ticks)
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                while self.scenario and ticks and ticks[0][0] <= now and not self._stop.is_set():
                    _, i = heapq.heappop(ticks)
                    try:
                        self.stations[i].tick(now)
                    except OutboxError as exc:  # as the gateway does: report, keep the loop
                        log.error("%s: %s", self.stations[i].path, exc)
                    heapq.heappush(ticks, (self.stations[i].state.due, i))
            wait = max(0.0, ticks[0][0] - time.monotonic()) if ticks and self.scenario else 0.05
            self._stop.wait(min(0.05, wait))

    def call(self, fn: Callable[[], T], timeout: float = 60.0) -> T:
        """Run `fn` while no scenario step runs (the Uplink threads only read the outboxes, under their own lock)."""
        with self._lock:
            return fn()

    def stop(self, goodbye: bool = True, timeout: float = 10.0) -> None:
        """Every Uplink says goodbye (the gateway's Uplink always does; `goodbye` is for the selector fleet)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for up in self.uplinks:
            up.stop(timeout=0)  # tell every thread first, then join: one by one, a thousand goodbyes would take long
        for up in self.uplinks:
            up.stop(timeout)
        for s in self.stations:
            s.close()

    def pending(self) -> int:
        return sum(s.outbox.stats().depth for s in self.stations)

    def connected(self) -> int:
        return sum(1 for up in self.uplinks if up.stats.connected)


def build_fleet(mode: str, stations: list[SimStation], cfg: LinkConfig, scenario: bool = True, ramp_s: float = 2.0) -> Fleet:
    if mode == "threads":
        return ThreadedFleet(stations, cfg, scenario=scenario)
    if mode == "selector":
        return SelectorFleet(stations, cfg, ramp_s=ramp_s, scenario=scenario)
    raise ValueError(f"unknown mode {mode!r} (selector or threads)")


def run(n: int, host: str, port: int, mode: str, seconds: float, params: ScenarioParams, workdir: Path | None,
        report: Callable[[Fleet], None] | None = None, layout: FleetLayout = FleetLayout()) -> dict[str, int]:
    """Run a fleet for `seconds` (0: until Ctrl-C); returns what it did."""
    if mode == "threads" and n > MAX_THREADED:
        raise ValueError(f"threads mode runs at most {MAX_THREADED} stations per process (paho's loop() uses select()); "
                         f"use --mode selector for {n}")
    raise_fd_limit(4 * n + 256)
    own_dir = workdir is None
    wd = workdir or default_workdir()
    wd.mkdir(parents=True, exist_ok=True)
    stations = make_stations(n, wd, params, layout)
    fleet = build_fleet(mode, stations, LinkConfig(host, port), ramp_s=max(1.0, n / 500))
    fleet.start()
    t0 = time.monotonic()
    try:
        while not seconds or time.monotonic() - t0 < seconds:
            time.sleep(min(1.0, seconds or 1.0))
            if report is not None:
                report(fleet)
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()
        if own_dir:
            shutil.rmtree(wd, ignore_errors=True)
    return {"stations": n, "seq_allocated": sum(s.outbox.last_seq + 1 for s in stations)}


def main(n: int, broker: str, mode: str, seconds: float, county: str, telemetry_s: float, health_s: float, alarm_every_s: float,
         workdir: Path | None, echo: Callable[[str], None], lang: str = "en") -> dict[str, int]:
    """`countyctl simulate`: build, run, report every 10 s (in `lang`), stop cleanly (goodbye statuses) at the end."""
    from county.topics import parse_broker

    host, port = parse_broker(broker)
    params = ScenarioParams(telemetry_s=telemetry_s, health_s=health_s, alarm_every_s=alarm_every_s)
    last = [0.0]

    def report(fleet: Fleet) -> None:
        if time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            echo(pick(lang, (f"已连接 {fleet.connected()}/{n} 个站点，站点缓存中排队 {fleet.pending()} 条",
                             f"{fleet.connected()}/{n} connected, {fleet.pending()} queued in outboxes")))

    echo(pick(lang, (f"模拟县 {county} 的 {n} 个站点（{mode} 方式），连接 {host}:{port}",
                     f"simulating {n} stations ({mode}) of county {county} against {host}:{port}")))
    result = run(n, host, port, mode, seconds, params, workdir, report, FleetLayout(county=county))
    echo(pick(lang, (f"完成：共产生 {result['seq_allocated']} 条消息", f"done: {result['seq_allocated']} messages made")))
    return result
