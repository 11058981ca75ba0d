"""An oversized command never reaches a station: the broker's `message_size_limit`.

Issue 14 item 5: a 100 MB command, rejected by the gateway, still peaked it at 367 MB: paho reads
the whole packet (and copies it twice) before any of our code can look at its size.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from gateway.config.vision import SnapshotConfig
from gateway.localbroker import MESSAGE_SIZE_LIMIT, LocalBroker
from tests.conftest import ROOT
from tests.faults.gateway_proc import STATION, start_gateway
from tests.stations import station_dict, subscribe, wait_for, write_station
from wire.commands import MAX_PAYLOAD_BYTES

EXAMPLES = ROOT / "examples"


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024


def publish(port: int, topic: str, payload: bytes) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"size-test-{time.monotonic_ns()}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        c.publish(topic, payload, qos=1).wait_for_publish(60)
    finally:
        c.loop_stop()
        c.disconnect()


def test_example_broker_limits_payloads_above_the_largest_legitimate_message() -> None:
    conf = (EXAMPLES / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8")
    found = re.findall(r"^message_size_limit (\d+)$", conf, re.MULTILINE)
    assert found, "the county broker example sets no message_size_limit"
    limit = int(found[0])
    largest = max(MAX_PAYLOAD_BYTES, SnapshotConfig().max_bytes)  # a signed command; an alarm snapshot by default
    assert largest < limit <= 16 * 1024 * 1024
    assert limit == MESSAGE_SIZE_LIMIT  # tests and demos run the county's limit
    assert str(limit) in (EXAMPLES / "mosquitto" / "README.md").read_text(encoding="utf-8")


def test_oversized_command_does_not_reach_the_gateway(broker: LocalBroker, tmp_path: Path) -> None:
    collector, sub = subscribe(broker.port)
    config = write_station(tmp_path / "station.yaml", station_dict(tmp_path, broker.port))
    proc = start_gateway(config, tmp_path / "gateway.log")
    got: list[int] = []
    arrived = threading.Event()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="size-watcher")
    watcher.on_message = lambda c, u, m: (got.append(len(m.payload)), arrived.set())
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe(f"vs/v1/{STATION}/snapshot/#", qos=1)
    watcher.loop_start()
    try:
        assert wait_for(lambda: collector.status.get(STATION) is True, timeout=30)
        time.sleep(2)  # start-up is over: its peak is behind us
        before = peak_rss_mib(proc.pid)
        publish(broker.port, f"vs/v1/{STATION}/cmd/announce", b"x" * (16 * 1024 * 1024))
        time.sleep(3)
        assert peak_rss_mib(proc.pid) - before < 8, "the 16 MiB command reached the gateway"
        assert proc.poll() is None and collector.status.get(STATION) is True

        # a snapshot of a legitimate size still goes through
        publish(broker.port, f"vs/v1/{STATION}/snapshot/evt-1", b"\xff\xd8" + b"j" * 1_000_000)
        assert arrived.wait(10) and got == [1_000_002]
    finally:
        watcher.loop_stop()
        watcher.disconnect()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        sub.stop()
