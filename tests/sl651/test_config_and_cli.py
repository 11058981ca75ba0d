"""The station file's `sl651` block, and `countyctl sl651 listen` as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from foundation.errors import ConfigError
from gateway.config.station import load_config
from gateway.sl651.reporter import Sl651Reporter
from tests.stations import config_of, station_dict, wait_for, write_station

BLOCK = {"station_address": "0012345678", "password": "1234", "centres": [{"address": 1, "host": "10.0.0.5", "port": 5001}],
         "timed_report_s": 300, "keepalive_s": 40}


def test_the_block_of_the_brief_loads_from_a_station_file(tmp_path: Path) -> None:
    cfg = load_config(write_station(tmp_path / "station.yaml", station_dict(tmp_path, 1883, sl651=BLOCK)))
    assert cfg.sl651 is not None and cfg.sl651.centres[0].host == "10.0.0.5" and cfg.sl651.allow_clock_set is False
    reporter = Sl651Reporter.from_station(cfg)
    assert reporter is not None and reporter.sensor_id == "gauge-1"
    reporter.queue.close()
    assert (tmp_path / "sl651.db").exists()  # beside the outbox
    assert Sl651Reporter.from_station(config_of(station_dict(tmp_path, 1883))) is None


@pytest.mark.parametrize("bad", [{"station_address": "12345"}, {"password": "12G4"}, {"centres": []}, {"typo_field": 1},
                                 {"centres": [{"address": 0, "host": "h", "port": 1}]}])
def test_a_wrong_block_is_refused(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(ValidationError):
        config_of(station_dict(tmp_path, 1883, sl651={**BLOCK, **bad}))


def test_an_unknown_sensor_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Sl651Reporter.from_station(config_of(station_dict(tmp_path, 1883, sl651={**BLOCK, "sensor_id": "nope"})))


def test_listen_decodes_acknowledges_prints_and_stores(tmp_path: Path) -> None:
    out = tmp_path / "frames.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", "from county.sl651.cli import app; app()", "listen", "--port", "0", "--host", "127.0.0.1",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        doc = station_dict(tmp_path, 1883, sl651={**BLOCK, "centres": [{"address": 7, "host": "127.0.0.1", "port": port}], "hourly_report": False})
        reporter = Sl651Reporter.from_station(config_of(doc))
        assert reporter is not None
        reporter.start()
        try:
            reporter.on_reading("gauge-1", 2.5, time.monotonic(), time.time())
            printed = json.loads(proc.stdout.readline())
            assert wait_for(lambda: reporter.status()["centres"][0]["pending"] == 0, 5)  # acknowledged
        finally:
            reporter.stop()
        assert printed["function_name"] in ("timed", "added") and printed["centre"] == 7 and printed["elements"]["river_level_m"] == 2.5
        assert json.loads(out.read_text().splitlines()[0]) == printed
    finally:
        proc.terminate()
        proc.wait(10)
