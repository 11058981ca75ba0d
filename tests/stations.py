"""Station files for tests, built as dicts so each test states only what it cares about."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import yaml

from county.feed import FeedCollector, FeedSubscriber
from gateway.config.station import StationConfig


def station_dict(tmp: Path, port: int, **overrides: Any) -> dict[str, Any]:
    """A fast simulated station: one gauge rising to danger, one smoke input, a recording speaker."""
    doc: dict[str, Any] = {
        "station": {"county": "410421", "town": "xiaoqi", "village": "zhuwa", "id": "test-01"},
        "broker": {"host": "127.0.0.1", "port": port, "keepalive_s": 5, "backoff_initial_s": 0.1, "backoff_max_s": 0.5,
                   "connect_timeout_s": 2},
        "outbox": {"path": str(tmp / "outbox.db")},
        "clock": {"sync_check": "plausible"},
        "health": {"interval_s": 3600},
        "water_sensors": [{
            "id": "gauge-1", "poll_interval_s": 0.05, "telemetry_interval_s": 0.2, "stale_after_s": 2,
            "rules": {"warning_m": 1.0, "danger_m": 2.0, "hysteresis_m": 0.05},
            "driver": {"type": "simulated", "loop": False,
                       "scenario": [{"at_s": 0, "level_m": 0.5}, {"at_s": 1.0, "level_m": 2.5}, {"at_s": 2.0, "level_m": 0.5}]},
        }],
        "fire_inputs": [],
        "loudspeaker": {
            "driver": {"type": "simulated", "record_dir": str(tmp / "speaker"), "seconds_per_char": 0.01},
            "actions": [{"alarm": "water_level", "min_severity": "danger", "text": "水位危险,请远离河道", "priority": "emergency"}],
        },
    }
    for key, value in overrides.items():
        doc[key] = value
    return doc


def write_station(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def config_of(doc: dict[str, Any]) -> StationConfig:
    return StationConfig.model_validate(copy.deepcopy(doc))


def subscribe(port: int, prefix: str = "vs/v1") -> tuple[FeedCollector, FeedSubscriber]:
    """A county-side collector connected before the test starts publishing."""
    collector = FeedCollector()
    sub = FeedSubscriber("127.0.0.1", port, prefix, collector).start()
    assert sub.connected.wait(10), "test subscriber could not connect"
    return collector, sub


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
