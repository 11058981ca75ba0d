"""Devices that fail under a running station: each is reported or recovers, the other loops go on.

A serial sensor unplugged and replugged is tests/drivers/test_station_serial.py; here a
loudspeaker whose ALSA device does not exist, and an IP camera whose RTSP stream stalls.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.localbroker import LocalBroker
from gateway.station import Station
from tests.conftest import MODELS, ROOT
from tests.stations import config_of, station_dict, subscribe, wait_for
from tests.vision.conftest import VTEST, RtspServer, free_port


def kinds(collector, kind: str, state: str | None = None, source: str | None = None) -> list[dict]:  # noqa: ANN001
    return [m for m in collector.messages if m["kind"] == "alarm" and m["alarm"] == kind
            and (state is None or m["state"] == state) and (source is None or m["source"] == source)]


def gauge_telemetry(collector) -> int:  # noqa: ANN001
    return sum(1 for m in collector.messages if m["kind"] == "telemetry" and m["sensor"] == "gauge-1")


def test_missing_loudspeaker_is_reported_and_the_alarm_still_goes_out(broker: LocalBroker, tmp_path: Path) -> None:
    doc = station_dict(tmp_path, broker.port)
    doc["loudspeaker"]["driver"] = {"type": "alsa", "device": "hw:99", "cache_dir": str(tmp_path / "tts")}
    doc["water_sensors"][0]["driver"]["loop"] = True
    doc["water_sensors"][0]["driver"]["scenario"].append({"at_s": 3.0, "level_m": 0.5})
    collector, sub = subscribe(broker.port)
    station = Station(config_of(doc))
    station.start()
    try:
        assert wait_for(lambda: len(kinds(collector, "water_level", "raised")) >= 2, timeout=40)  # two floods
        assert wait_for(lambda: sum(1 for m in collector.messages if m["kind"] == "playback") >= 2, timeout=30)
        before = gauge_telemetry(collector)
        assert wait_for(lambda: gauge_telemetry(collector) > before + 5, timeout=10)  # the sensor loop runs on
    finally:
        station.stop()
        sub.stop()
    plays = [m for m in collector.messages if m["kind"] == "playback"]
    assert all(p["outcome"] == "failed" and "hw:99" in p["error"] for p in plays), plays
    raised = kinds(collector, "water_level", "raised")
    assert {p["ref"] for p in plays} <= {r["event_id"] for r in raised}  # each failure names its alarm
    assert kinds(collector, "water_level", "cleared")  # lifecycles go on regardless
    assert not collector.malformed


def rtsp_camera(url: str) -> dict[str, Any]:
    """The pond example's camera on an RTSP stream, analysing 2 frames a second."""
    cam = yaml.safe_load((ROOT / "examples" / "pond-station.yaml").read_text(encoding="utf-8"))["cameras"][0]
    cam["driver"] = {"type": "rtsp", "url": url, "transport": "tcp", "timeout_s": 3.0, "stall_s": 2.0,
                     "reopen_backoff_s": 0.5, "reopen_backoff_max_s": 1.0}
    model = MODELS / "coco_ssd_mobilenet_v1_quant"
    cam["detection"]["model"].update(path=str(model / "detect.tflite"), labels=str(model / "labelmap.txt"))
    cam.update(max_fps=2, stale_after_s=3.0)
    return cam


@pytest.mark.timeout(240)
def test_stalled_camera_stream_is_reported_and_recovers_while_the_station_runs_on(broker: LocalBroker, tmp_path: Path) -> None:
    server = RtspServer(VTEST, free_port())
    server.start()
    doc = station_dict(tmp_path, broker.port, cameras=[rtsp_camera(server.url)])
    collector, sub = subscribe(broker.port)
    station = Station(config_of(doc))
    station.start()
    try:
        watch = station._camera_watches[0]
        assert wait_for(lambda: watch.frames >= 3, timeout=90)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGSTOP)  # the camera hangs: connection open, no more frames
        try:
            assert wait_for(lambda: kinds(collector, "camera_stale", "raised", "pond-cam"), timeout=60)
            during = gauge_telemetry(collector)
            assert wait_for(lambda: gauge_telemetry(collector) > during + 5, timeout=10)  # the gauge loop runs on
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        assert wait_for(lambda: kinds(collector, "camera_stale", "cleared", "pond-cam"), timeout=90)
        frames = watch.frames
        assert wait_for(lambda: watch.frames > frames, timeout=30)
    finally:
        station.stop()
        sub.stop()
        server.stop()
    stale = kinds(collector, "camera_stale", "raised", "pond-cam")[0]
    assert stale["category"] == "health" and stale["severity"] == "warning" and stale["details"]["silent_s"] >= 3
    assert not collector.malformed
