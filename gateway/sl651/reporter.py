"""The station's SL 651-2014 reporter: the small API the station calls, over rules, queue and links.

The station calls `on_reading` for every water-level reading and `on_alarm` for every alarm
signal; everything else (timed, added and hourly reports, keep-alives, queries, the clock) runs
here, independent of the MQTT link: a station without a broker still reports. The station's OS
clock is never set from here: a centre's clock (4A) is recorded as an offset and applied only
when `allow_clock_set` is true and a `set_clock` hook was given.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foundation.errors import ConfigError
from gateway.config.sl651 import Sl651Config
from gateway.config.station import StationConfig, WaterRules
from gateway.sl651 import elements as el
from gateway.sl651 import schedule
from gateway.sl651.client import CentreClient
from gateway.sl651.frames import CLOCK, QUERY, Downlink
from gateway.sl651.queue import ReportQueue

log = logging.getLogger(__name__)


class Sl651Reporter:
    """Reports one water sensor to every configured centre."""

    def __init__(self, cfg: Sl651Config, rules: WaterRules, sensor_id: str, queue_path: Path,
                 set_clock: Callable[[float], None] | None = None, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.sensor_id = sensor_id
        self._rules = schedule.ReportRules(cfg.station_address, cfg.station_type, cfg.utc_offset_h, cfg.timed_report_s,
                                           cfg.hourly_report, rules)
        self._state = schedule.ScheduleState()
        self._lock = threading.Lock()
        self._wall = wall
        self._set_clock = set_clock
        self.queue = ReportQueue(queue_path, cfg.max_queued)
        self.clients = [CentreClient(c, cfg, self.queue, self._answer, wall=wall, monotonic=monotonic) for c in cfg.centres]
        for client in self.clients:  # before any reading, so a new centre gets every report from now on
            self.queue.register(client.name)
        self.clock_offset_s: float | None = None
        self.clock_applied = False

    @classmethod
    def from_station(cls, station: StationConfig, set_clock: Callable[[float], None] | None = None) -> "Sl651Reporter | None":
        """The reporter the station file asks for; None when it has no `sl651` block."""
        cfg = station.sl651
        if cfg is None:
            return None
        sensors = {s.id: s for s in station.water_sensors}
        sensor_id = cfg.sensor_id or next(iter(sensors), None)
        if sensor_id is None or sensor_id not in sensors:
            raise ConfigError(f"sl651: water sensor {cfg.sensor_id!r} not found" if cfg.sensor_id else "sl651: the station has no water sensor to report")
        path = cfg.queue_path or station.outbox.path.with_name("sl651.db")
        return cls(cfg, sensors[sensor_id].rules, sensor_id, path, set_clock=set_clock)

    def start(self) -> "Sl651Reporter":
        for client in self.clients:
            client.start()
        return self

    def stop(self) -> None:
        """Stop every link (a connection attempt in progress may take `connect_timeout_s`), then close the queue."""
        for client in self.clients:
            client.request_stop()
        for client in self.clients:
            client.stop(self.cfg.connect_timeout_s + 2)
        self.queue.close()

    def on_reading(self, sensor_id: str, level_m: float, now: float, wall: float, voltage: float | None = None) -> int:
        """Feed a good reading (`now` monotonic, `wall` epoch seconds); the number of reports it queued."""
        if sensor_id != self.sensor_id:
            return 0
        with self._lock:
            self._state, reports = schedule.step(self._rules, self._state, schedule.Reading(level_m, wall, voltage), now)
        for report in reports:
            self.queue.append(report)
        if reports:
            self._wake()
        return len(reports)

    def on_alarm(self, kind: str, active: bool, now: float, wall: float, severity: str | None = None, source: str | None = None) -> None:
        """Alarm signals of the station (sensor_stale of the reported sensor, battery_low ...) set the status bits (45)."""
        if kind in ("sensor_stale", "sensor_fault") and source not in (None, self.sensor_id):
            return
        with self._lock:
            self._state = schedule.on_alarm(self._state, kind, active)

    def test_report(self, wall: float | None = None) -> bool:
        """Queue a test report (30) of the latest reading, for commissioning; False before any reading."""
        with self._lock:
            report = schedule.test_report(self._rules, self._state, self._wall() if wall is None else wall)
        if report is None:
            return False
        self.queue.append(report)
        self._wake()
        return True

    def _wake(self) -> None:
        for client in self.clients:
            client.wake()

    def status(self) -> dict[str, Any]:
        """For health reports and `stationctl`: per centre whether linked, acknowledged and pending."""
        return {
            "station_address": self.cfg.station_address,
            "sensor_id": self.sensor_id,
            "clock_offset_s": self.clock_offset_s,
            "clock_applied": self.clock_applied,
            "centres": [
                {"centre": c.name, "connected": c.status.connected, "acknowledged": c.status.acknowledged,
                 "pending": self.queue.pending(c.name), "last_ack_wall": c.status.last_ack_wall, "last_error": c.status.last_error}
                for c in self.clients
            ],
        }

    def _answer(self, down: Downlink) -> bytes | None:
        """Elements of the answer to a centre's query (37) or clock command (4A); runs in a link thread."""
        station = el.station(self.cfg.station_address, self.cfg.station_type)
        if down.function == QUERY:
            with self._lock:
                last = self._state.last
                return station if last is None else schedule.observation(self._rules, self._state, last)
        if down.function == CLOCK:
            try:
                centre_time = el.parse_time_bcd(down.sent_raw, self.cfg.utc_offset_h)
            except ValueError:
                return None
            self.clock_offset_s = centre_time - self._wall()
            if self.cfg.allow_clock_set and self._set_clock is not None:
                self._set_clock(centre_time)
                self.clock_applied = True
            log.info("SL651 centre clock differs by %.1f s (%s)", self.clock_offset_s, "applied" if self.clock_applied else "recorded only")
            return el.STATION + el.bcd(self.cfg.station_address)
        return None
