"""`station-gateway run` as a real process: hard kills, the Will, and a broken config."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from gateway.localbroker import LocalBroker
from tests.stations import station_dict, subscribe, wait_for, write_station

ROOT = Path(__file__).resolve().parent.parent
STATION = "410421/xiaoqi/zhuwa/test-01"


def start_gateway(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config), "--log-level", "WARNING"],
        cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


def busy_station(tmp_path: Path, port: int) -> dict:
    """Telemetry every 20 ms and a flood every 3 s: plenty in flight when the kill comes."""
    doc = station_dict(tmp_path, port)
    sensor = doc["water_sensors"][0]
    sensor["poll_interval_s"] = 0.02
    sensor["telemetry_interval_s"] = 0.02
    sensor["driver"] = {"type": "simulated", "loop": True,
                        "scenario": [{"at_s": 0, "level_m": 0.5}, {"at_s": 1.0, "level_m": 2.5}, {"at_s": 2.0, "level_m": 0.5}, {"at_s": 3.0, "level_m": 0.5}]}
    return doc


def test_sigkill_twenty_times_loses_nothing(broker: LocalBroker, tmp_path: Path) -> None:
    collector, sub = subscribe(broker.port)
    config = write_station(tmp_path / "station.yaml", busy_station(tmp_path, broker.port))
    log = tmp_path / "gateway.log"
    rng = random.Random(20261121)
    saw_will = 0
    for _ in range(20):
        proc = start_gateway(config, log)
        assert wait_for(lambda: collector.status.get(STATION) is True, timeout=20), log.read_text()
        time.sleep(rng.uniform(0.05, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # the broker publishes the Will: the county sees the station go offline
        if wait_for(lambda: collector.status.get(STATION) is False, timeout=5):
            saw_will += 1
    # a last, clean run drains whatever the kills left in the outbox
    proc = start_gateway(config, log)
    db = tmp_path / "outbox.db"
    try:
        assert wait_for(lambda: collector.status.get(STATION) is True, timeout=20)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0, log.read_text()[-3000:]
    sub.stop()

    con = sqlite3.connect(db)
    allocated = con.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0]
    left = {r[0] for r in con.execute("SELECT seq FROM outbox")}
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    tracker = collector.seqs[STATION]
    missing = [s for s in range(allocated) if s not in tracker.seen and s not in left]
    assert missing == [], f"{len(missing)} accepted messages never arrived: {missing[:20]}"
    assert len(tracker.seen) > 200
    assert saw_will == 20
    # duplicates are only redeliveries: same seq, same event id, same payload
    by_seq: dict[int, dict] = {}
    for m in collector.messages:
        if m["kind"] == "status":
            continue
        if m["seq"] in by_seq:
            assert by_seq[m["seq"]] == m
        by_seq[m["seq"]] = m
    boots = {m["boot_id"] for m in collector.messages}
    assert len(boots) == 21
    assert not collector.malformed


def test_broken_config_runs_on_last_good_and_says_so(broker: LocalBroker, tmp_path: Path) -> None:
    collector, sub = subscribe(broker.port)
    config = write_station(tmp_path / "station.yaml", station_dict(tmp_path, broker.port))
    log = tmp_path / "gateway.log"
    proc = start_gateway(config, log)
    assert wait_for(lambda: collector.status.get(STATION) is True, timeout=20)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert (tmp_path / "station.yaml.last-good").exists()

    config.write_text(config.read_text().replace("warning_m: 1.0", "warning_m: [oops"), encoding="utf-8")
    proc = start_gateway(config, log)
    try:
        assert wait_for(lambda: any(m.get("notice") == "config_invalid" for m in collector.messages), timeout=20), log.read_text()
        assert wait_for(lambda: collector.status.get(STATION) is True, timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    sub.stop()
    notice = next(m for m in collector.messages if m.get("notice") == "config_invalid")
    assert notice["severity"] == "danger" and "last good" in notice["summary"]
    assert any("line" in p for p in notice["details"]["problems"])

    (tmp_path / "station.yaml.last-good").unlink()
    refused = subprocess.run([sys.executable, "-m", "gateway.cli", "run", "--config", str(config)], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "cannot start" in refused.stderr and "line" in refused.stderr
