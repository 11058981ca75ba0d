"""A running station reports its gauge over SL 651 beside MQTT: the added report (33) follows the
alarm within a second, and a station whose broker is down still reports to the hydrology centre."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from county.sl651.decode import Frame
from county.sl651.listener import ReferenceCentre
from gateway.health_report import hydrology_devices
from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.stations import config_of, station_dict, subscribe, wait_for


def sl651_block(port: int) -> dict:
    return {"station_address": "0012345678", "password": "1234", "keepalive_s": 1, "ack_timeout_s": 2, "hourly_report": False,
            "backoff_initial_s": 0.1, "backoff_max_s": 0.3, "connect_timeout_s": 1,
            "centres": [{"address": 1, "host": "127.0.0.1", "port": port}]}


class TimedCentre:
    """The county's reference centre, noting when each frame arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, Frame]] = []
        self.centre = ReferenceCentre("127.0.0.1", 0, on_frame=lambda frame, raw: self.arrivals.append((time.time(), frame))).start()

    def first(self, function: int) -> tuple[float, Frame] | None:
        return next(((t, f) for t, f in list(self.arrivals) if f.function == function), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_added_report_reaches_the_centre_within_a_second_of_the_alarm(broker: LocalBroker, tmp_path: Path) -> None:
    centre = TimedCentre()
    raised_at: list[float] = []
    collector, sub = subscribe(broker.port)
    collector.on_line = lambda line: raised_at.append(line.received) if line.kind == "alarm" and not raised_at else None
    station = Station(config_of(station_dict(tmp_path, broker.port, sl651=sl651_block(centre.centre.port))))
    station.start()
    try:
        assert wait_for(lambda: centre.first(0x33) is not None and raised_at, timeout=20), "no added report or no alarm"
        at, frame = centre.first(0x33)
        assert frame.station == "0012345678" and frame.elements["river_level_m"] >= 1.0
        assert abs(at - raised_at[0]) < 1.0, f"33 came {at - raised_at[0]:+.2f} s after the MQTT alarm"
        assert wait_for(lambda: station.sl651.status()["centres"][0]["pending"] == 0, timeout=10)
    finally:
        station.stop()
        sub.stop()
        centre.centre.stop()


def test_a_station_without_its_broker_still_reports_and_says_so_in_health(tmp_path: Path) -> None:
    centre = TimedCentre()
    station = Station(config_of(station_dict(tmp_path, free_port(), sl651=sl651_block(centre.centre.port))))
    station.start()
    try:
        assert wait_for(lambda: centre.first(0x33) is not None, timeout=20), "no added report while the broker is down"
        assert not station.uplink.stats.connected
        assert wait_for(lambda: station.sl651.status()["centres"][0]["connected"], timeout=5)
        name = f"sl651:1@127.0.0.1:{centre.centre.port}"
        assert wait_for(lambda: hydrology_devices(station.sl651.status()) == {name: "connected"}, timeout=10)
    finally:
        station.stop()
        centre.centre.stop()
    offline = hydrology_devices({"centres": [{"centre": "centre-1", "connected": False, "last_error": "refused", "pending": 3}]})
    assert offline == {"sl651:centre-1": "offline: refused, 3 pending"}
