"""The last good config copy: written like every other file of the station (foundation.atomic_file)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gateway.cli import last_good_path, resolve_config
from tests.stations import station_dict, write_station


def test_last_good_copy_keeps_the_station_files_mode(tmp_path: Path) -> None:
    """A station file holding a camera login is 0600; its fallback copy must not be readable by everyone."""
    doc = station_dict(tmp_path, 1883)
    doc["cameras"] = [{"id": "gate", "driver": {"type": "rtsp", "url": "rtsp://admin:Xq7-Secret@10.0.0.9/live"}}]
    config = write_station(tmp_path / "station.yaml", doc)
    config.chmod(0o600)
    old_umask = os.umask(0o022)  # the usual one: a plain copy would come out 0644
    try:
        cfg, problems = resolve_config(config)
    finally:
        os.umask(old_umask)
    keep = last_good_path(config)
    assert problems == [] and cfg.station.path.endswith("test-01")
    assert keep.read_bytes() == config.read_bytes()
    assert stat.S_IMODE(keep.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".station", "station"))) == ["station.yaml", "station.yaml.last-good"]

