"""One gateway per station: a second `station-gateway run` on the same files refuses at once.

Issue 14 item 8: a technician started one by hand while the service ran; the two took over each
other's broker session every 0.4 s, both allocated outbox seqs and a false `disk_full` alarm
went to the county.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from foundation.instance_lock import AlreadyRunning, InstanceLock, read_holder
from gateway.localbroker import LocalBroker
from tests.faults.gateway_proc import ROOT, STATION, start_gateway
from tests.stations import station_dict, subscribe, wait_for, write_station


def offline_statuses(messages: list[dict]) -> int:
    return sum(1 for m in messages if m["kind"] == "status" and not m["online"])


def test_second_gateway_refuses_and_a_killed_one_restarts(broker: LocalBroker, tmp_path: Path) -> None:
    collector, sub = subscribe(broker.port)
    config = write_station(tmp_path / "station.yaml", station_dict(tmp_path, broker.port))
    log = tmp_path / "gateway.log"
    first = start_gateway(config, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        assert wait_for(lambda: collector.status.get(STATION) is True, timeout=30), log.read_text()
        offline_before = offline_statuses(collector.messages)

        started = time.monotonic()
        second = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config", str(config)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = second.communicate(timeout=30)
        assert second.returncode not in (0, None)
        assert time.monotonic() - started < 20  # at once, not after a fight over the broker session
        assert "already running" in err and f"pid {first.pid}" in err, err
        assert read_holder(tmp_path / "outbox.db.lock") == first.pid

        # the first one was never kicked off the broker and still runs
        time.sleep(1.5)
        assert first.poll() is None
        assert offline_statuses(collector.messages) == offline_before
        assert collector.status.get(STATION) is True

        # read-only technician commands keep working beside the running service
        validate = subprocess.run([sys.executable, "-m", "provisioning.cli", "validate", str(config)], cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
        assert validate.returncode == 0 and validate.stdout.startswith("OK"), validate.stderr

        # kill -9: the kernel drops the lock, the next start takes it
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        assert wait_for(lambda: collector.status.get(STATION) is False, timeout=15)
        first = start_gateway(config, log)
        assert wait_for(lambda: collector.status.get(STATION) is True, timeout=30), log.read_text()[-3000:]
        assert read_holder(tmp_path / "outbox.db.lock") == first.pid
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        sub.stop()
    assert first.returncode == 0
    assert "UNIQUE constraint" not in log.read_text()
    assert not any(m.get("alarm") == "disk_full" for m in collector.messages)


def test_lock_names_its_holder_and_is_free_once_released(tmp_path: Path) -> None:
    path = tmp_path / "state" / "outbox.db.lock"
    with InstanceLock(path):
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock(path)  # a second open of the file: flock refuses it even in the same process
        assert refused.value.pid == os.getpid()
        assert f"pid {os.getpid()}" in str(refused.value)
    with InstanceLock(path) as again:
        assert read_holder(again.path) == os.getpid()
    assert path.exists()  # never deleted: a newcomer must lock the same inode
