"""Real parts for the stationctl tests: a simulated station with a real video camera, the
driver tests' socat pseudo-terminals, pymodbus server and gpiozero mock pins, and a runner that
calls `stationctl` in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provisioning.cli import app
from tests.conftest import MEDIA, MODELS
from tests.drivers.conftest import modbus_server, pin_factory, socat  # noqa: F401 - fixtures shared with the driver tests
from tests.stations import station_dict, write_station

VIDEO = MEDIA / "people" / "vtest.avi"
SSD = MODELS / "coco_ssd_mobilenet_v1_quant"  # read from ../shared, never copied into the repository
SSD_SHA256 = "e4b118e5e4531945de2e659742c7c590f7536f8d0ed26d135abcfe83b4779d13"
STATION = "410421/xiaoqi/zhuwa/test-01"


def stationctl(*args: Any, input: str | None = None):  # noqa: A002
    """Run `stationctl ARGS` in-process; the result has exit_code and output (stdout and stderr)."""
    return CliRunner().invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


def sim_station(tmp: Path, port: int, **overrides: Any) -> dict[str, Any]:
    """The test station of tests/stations.py, steady (below warning), with a smoke input and a video camera."""
    doc = station_dict(tmp, port)
    doc["water_sensors"][0]["driver"] = {"type": "simulated", "scenario": [{"at_s": 0, "level_m": 0.42}]}
    doc["fire_inputs"] = [{"id": "smoke-1", "kind": "smoke", "driver": {"type": "simulated", "active": []}}]
    # commissioned as a pond camera must be: a person detector and a danger zone (else `check` fails on the config)
    doc["cameras"] = [{"id": "cam-1", "name": "pond camera", "driver": {"type": "file", "path": str(VIDEO), "fps": 25},
                       "detection": {"model": {"path": str(SSD / "detect.tflite"), "labels": str(SSD / "labelmap.txt"), "sha256": SSD_SHA256}},
                       "zones": [{"id": "pond", "polygon": [[0.1, 0.5], [0.9, 0.5], [0.9, 0.95], [0.1, 0.95]]}]}]
    doc.update(overrides)
    return doc


def bare_camera_station(tmp: Path, port: int) -> dict[str, Any]:
    """`sim_station` before commissioning its camera: no detector, no zone (what `stationctl zone` starts from)."""
    doc = sim_station(tmp, port)
    for key in ("detection", "zones"):
        doc["cameras"][0].pop(key)
    return doc


@pytest.fixture
def station_file(tmp_path: Path, broker) -> Path:
    """A simulated station file pointing at the test broker."""
    return write_station(tmp_path / "station.yaml", sim_station(tmp_path, broker.port))
