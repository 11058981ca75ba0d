"""`stationctl install-service`: a unit systemd accepts, enabled in a root, and a gateway that
really speaks sd_notify (READY=1, WATCHDOG=1, STOPPING=1) over NOTIFY_SOCKET."""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.provisioning.conftest import sim_station, stationctl
from tests.stations import write_station

ROOT = Path(__file__).resolve().parents[2]


def ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(path)
    return parser


def test_unit_and_journald_dropin_pass_systemd_analyze(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    config = write_station(tmp_path / "station.yaml", sim_station(tmp_path, 1883))
    units, journald = tmp_path / "units", tmp_path / "journald.conf.d"
    result = stationctl("install-service", "--config", config, "--unit-dir", units, "--journald-dir", journald, "--no-enable")
    assert result.exit_code == 0, result.output
    assert "已写入" in result.output and "下一步" in result.output and "wrote" not in result.output
    unit_path = units / "station-gateway.service"

    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (apt install systemd)"
    verify = subprocess.run([analyze, "verify", str(unit_path)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (verify.stdout + verify.stderr).splitlines() if str(unit_path) in line or "Unknown" in line]
    assert verify.returncode == 0 and complaints == [], verify.stdout + verify.stderr

    unit = ini(unit_path)
    service = unit["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main" and service["Restart"] == "always"
    assert int(service["WatchdogSec"]) >= 30 and int(service["RestartSec"]) > 0
    assert service["ExecStart"].endswith(f"station-gateway run --config {config.resolve()}")
    assert Path(service["ExecStart"].split()[0]).is_file()
    assert unit["Unit"]["StartLimitBurst"] and unit["Unit"]["StartLimitAction"] == "reboot"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    journal = ini(journald / "50-station-gateway.conf")["Journal"]
    assert journal["Storage"] == "volatile" and journal["RateLimitIntervalSec"] and journal["RuntimeMaxUse"]

    persistent = stationctl("install-service", "--config", config, "--unit-dir", units, "--journald-dir", journald,
                            "--no-enable", "--persistent-journal", "--watchdog-sec", "45", "--lang", "en")
    assert persistent.exit_code == 0
    assert "wrote" in persistent.output and "(WatchdogSec=45)" in persistent.output and "next:" in persistent.output
    journal = ini(journald / "50-station-gateway.conf")["Journal"]
    assert journal["Storage"] == "persistent" and journal["SystemMaxUse"] == "64M"
    assert ini(unit_path)["Service"]["WatchdogSec"] == "45"


def test_enable_in_an_image_root(tmp_path: Path) -> None:
    root = tmp_path / "sdcard"
    (root / "etc/station-gateway").mkdir(parents=True)
    write_station(root / "etc/station-gateway/station.yaml", sim_station(tmp_path, 1883))
    result = stationctl("install-service", "--root", root, "--config", "/etc/station-gateway/station.yaml")
    assert result.exit_code == 0, result.output
    link = root / "etc/systemd/system/multi-user.target.wants/station-gateway.service"
    assert link.is_symlink() and os.readlink(link) == "/etc/systemd/system/station-gateway.service"
    assert (root / "etc/systemd/journald.conf.d/50-station-gateway.conf").exists()
    assert "--config /etc/station-gateway/station.yaml" in (root / "etc/systemd/system/station-gateway.service").read_text()


def test_gateway_sends_ready_and_watchdog_over_notify_socket(tmp_path: Path, broker) -> None:
    doc = sim_station(tmp_path, broker.port, cameras=[], health={"interval_s": 3600, "loop_stall_s": 1.5})
    config = write_station(tmp_path / "station.yaml", doc)
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(1.0)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path)}
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config", str(config), "--log-level", "WARNING"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and messages.count("WATCHDOG=1") < 2:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                assert proc.poll() is None, (tmp_path / "gateway.log").read_text()
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "STOPPING=1" not in messages:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                pass
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
        log.close()
    assert "READY=1" in messages, messages
    assert messages.index("READY=1") < messages.index("WATCHDOG=1")
    assert messages.count("WATCHDOG=1") >= 2
    assert "STOPPING=1" in messages
