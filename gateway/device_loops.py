"""The device loops: one thread per water sensor and fire input, each kept alive by a guard.

A loop reads its device, puts what it saw (or the error) into the brain's inbox, and waits: the
poll interval while the device answers, the capped exponential backoff of `foundation.backoff`
while it fails, so a dead line is not hammered. No jitter: a device on the station's own line
contends with nobody, and the first retry comes after twice the poll interval as before. A loop that crashes on an
unexpected error is reported (`LoopCrashed`) and started again by `Loops`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from drivers.modbus_bus import ModbusBusPool
from foundation.backoff import backoff_delay
from foundation.errors import DeviceUnavailable, GatewayError
from gateway.config.station import FireInputConfig, WaterSensorConfig
from gateway.devices import build_fire_input, build_water_sensor
from gateway.events import FireObserved, Inbox, LinkChanged, LoopCrashed, WaterObserved

log = logging.getLogger(__name__)

READ_ERRORS = (DeviceUnavailable, GatewayError, OSError, ValueError)
WATER_RETRY_MAX_S = 30.0  # a failing water sensor is retried at least this often
FIRE_RETRY_MAX_S = 5.0  # a failing fire input is a safety input: retried at least this often
REOPEN_AFTER = 3  # a water sensor unavailable more often than this in a row is closed and opened afresh


def next_wait(poll_s: float, failures: int, cap_s: float) -> float:
    """The wait before the next read: the poll interval while reads succeed, min(cap, poll * 2**failures) after `failures` in a row."""
    if failures == 0:
        return poll_s
    return backoff_delay(failures, poll_s, cap_s, None)


class Loops:
    """Threads that must keep running until the station stops: a crash is reported and the loop started again."""

    def __init__(self, inbox: Inbox, stop: threading.Event) -> None:
        self._inbox = inbox
        self._stop = stop
        self._threads: list[threading.Thread] = []

    def spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=self._guard, args=(name, target, *args), name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def join(self, timeout_s: float = 5.0) -> None:
        for t in self._threads:
            t.join(timeout_s)

    def _guard(self, name: str, target: Callable[..., None], *args: Any) -> None:
        """Run a loop; if it crashes on an unexpected error, report it and run it again."""
        while not self._stop.is_set():
            try:
                target(*args)
                return
            except Exception as exc:  # noqa: BLE001 - a loop must survive anything its device does
                log.exception("loop %s crashed; restarting it in 1 s", name)
                self._inbox.put(LoopCrashed(name, f"{type(exc).__name__}: {exc}"))
                self._stop.wait(1.0)


class DeviceLoops:
    """Polls the water sensors and fire inputs, each in its own guarded loop."""

    def __init__(self, water: list[WaterSensorConfig], fire: list[FireInputConfig], inbox: Inbox, stop: threading.Event,
                 clock: Callable[[], float], beat: Callable[[str], None]) -> None:
        self._water = water
        self._fire = fire
        self._inbox = inbox
        self._stop = stop
        self._clock = clock
        self._beat = beat
        self._modbus = ModbusBusPool()  # sensors sharing an RS-485 line share one client and its lock

    def start(self, loops: Loops) -> None:
        for sensor in self._water:
            loops.spawn(f"water:{sensor.id}", self._water_loop, sensor)
        for inp in self._fire:
            loops.spawn(f"fire:{inp.id}", self._fire_loop, inp)

    def _water_loop(self, cfg: WaterSensorConfig) -> None:
        sensor_id = cfg.id
        driver = None
        failures = 0
        while not self._stop.is_set():
            self._beat(f"water:{sensor_id}")
            try:
                if driver is None:
                    driver = build_water_sensor(
                        cfg, clock=self._clock, modbus_buses=self._modbus,
                        on_change=lambda status: self._inbox.put(LinkChanged(sensor_id, status.online, status.last_error or "")),
                    )
                reading = driver.read()
                failures = 0
                self._inbox.put(WaterObserved(sensor_id, reading.level_m, self._clock()))
            except READ_ERRORS as exc:
                self._inbox.put(WaterObserved(sensor_id, None, self._clock(), str(exc)))
                failures += 1
                if isinstance(exc, DeviceUnavailable) and driver is not None and failures > REOPEN_AFTER:
                    driver.close()
                    driver = None
            self._stop.wait(next_wait(cfg.poll_interval_s, failures, WATER_RETRY_MAX_S))
        if driver is not None:
            driver.close()

    def _fire_loop(self, cfg: FireInputConfig) -> None:
        input_id = cfg.id
        driver = None
        failures = 0
        while not self._stop.is_set():
            self._beat(f"fire:{input_id}")
            try:
                if driver is None:
                    driver = build_fire_input(cfg, clock=self._clock)
                self._inbox.put(FireObserved(input_id, driver.is_active(), self._clock()))
                failures = 0
            except READ_ERRORS as exc:
                self._inbox.put(FireObserved(input_id, None, self._clock(), str(exc)))
                if driver is not None:
                    driver.close()
                driver = None
                failures += 1
            self._stop.wait(next_wait(cfg.poll_interval_s, failures, FIRE_RETRY_MAX_S))
        if driver is not None:
            driver.close()
