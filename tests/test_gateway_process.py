"""`station-gateway run` as a real process: hard kills, the Will, and a broken config."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from gateway.localbroker import LocalBroker
from tests.faults.gateway_proc import ROOT, STATION, kill_campaign, start_gateway
from tests.stations import station_dict, subscribe, wait_for, write_station


def test_sigkill_twenty_times_loses_nothing(broker: LocalBroker, tmp_path: Path) -> None:
    """The short run of the kill campaign (`make soak` does 100: bench/soak.py)."""
    report = kill_campaign(broker, tmp_path, kills=20, seed=20261121)
    assert report.returncode == 0, report.log_tail
    wire = report.wire
    assert wire.integrity == "ok"
    assert wire.missing == [], f"{len(wire.missing)} accepted messages never arrived: {wire.missing[:20]}"
    assert wire.delivered > 200
    assert report.wills_seen == 20
    assert wire.redelivery_mismatches == []  # duplicates are only redeliveries: same seq, same payload
    assert wire.out_of_order == []  # within a class, first deliveries in seq order across every kill
    assert report.boots == 21
    assert not wire.malformed


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
