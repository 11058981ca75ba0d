"""A station with a real serial ultrasonic sensor: unplugged and replugged, the county is told."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import serial

from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.stations import config_of, station_dict, subscribe, wait_for


def frame(distance_mm: int) -> bytes:
    hi, lo = distance_mm >> 8, distance_mm & 0xFF
    return bytes([0xFF, hi, lo, (0xFF + hi + lo) & 0xFF])


class Feeder:
    """The sensor's side of the line: a frame every 50 ms until stopped or the port vanishes."""

    def __init__(self, port: Path, distance_mm: int) -> None:
        self.port, self.distance = port, distance_mm
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            with serial.serial_for_url(str(self.port), timeout=0.1) as s:
                while not self.stop.is_set():
                    s.write(frame(self.distance))
                    time.sleep(0.05)
        except (OSError, serial.SerialException):
            return


def notices(collector, name: str) -> list[dict]:  # noqa: ANN001
    return [m for m in collector.messages if m.get("notice") == name]


def test_unplugged_sensor_goes_offline_then_online_and_the_rest_runs_on(socat, broker: LocalBroker, tmp_path: Path) -> None:
    pair = socat()
    feeder = Feeder(pair.b, 1500)
    doc = station_dict(tmp_path, broker.port)
    doc["water_sensors"].append({
        "id": "sonar-1", "poll_interval_s": 0.1, "telemetry_interval_s": 0.5, "stale_after_s": 30,
        "rules": {"warning_m": 2.5, "danger_m": 3.0},
        "driver": {"type": "ultrasonic", "port": str(pair.a), "mount_height_m": 3.5, "timeout_s": 0.5,
                   "backoff_initial_s": 0.2, "backoff_max_s": 0.5},
    })
    collector, sub = subscribe(broker.port)
    station = Station(config_of(doc))
    station.start()
    try:
        sonar = lambda: [m for m in collector.messages if m["kind"] == "telemetry" and m["sensor"] == "sonar-1"]  # noqa: E731
        assert wait_for(lambda: len(sonar()) >= 2, timeout=15)
        assert abs(sonar()[-1]["values"]["level_m"] - 2.0) < 0.01  # 3.5 m mount height - 1.5 m distance
        feeder.stop.set()
        pair.stop()  # the USB adapter is pulled out
        assert wait_for(lambda: notices(collector, "device_offline"), timeout=15)
        gauge_before = len([m for m in collector.messages if m["kind"] == "telemetry" and m["sensor"] == "gauge-1"])
        pair.start()  # plugged back in
        feeder = Feeder(pair.b, 1000)
        assert wait_for(lambda: notices(collector, "device_online"), timeout=20)
        assert wait_for(lambda: abs(sonar()[-1]["values"]["level_m"] - 2.5) < 0.01, timeout=10)
        gauge_after = len([m for m in collector.messages if m["kind"] == "telemetry" and m["sensor"] == "gauge-1"])
    finally:
        feeder.stop.set()
        station.stop()
        sub.stop()
    offline = notices(collector, "device_offline")[0]
    assert offline["source"] == "sonar-1" and offline["details"]["error"]
    assert gauge_after > gauge_before  # the other sensor kept reporting throughout
