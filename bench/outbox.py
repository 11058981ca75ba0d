"""Outbox figures: drain rate after an outage against raw paho QoS 1, enqueue time, idle cost.

Run: `make bench` (or `.venv/bin/python -m bench.outbox`). Every rate is measured against raw
paho-mqtt QoS 1 publishing to the same broker in the same run, rounds interleaved, medians kept.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config.station import BrokerConfig
from gateway.localbroker import LocalBroker
from gateway.uplink.mqtt import Uplink
from gateway.uplink.outbox import ALARM, TELEMETRY, Outbox

N = 10_000
ROUNDS = 5
INFLIGHT = 100
PAYLOAD = b'{"station":"410421/xiaoqi/zhuwa/bench","seq":0,"kind":"telemetry","values":{"level_m":1.234}}'.ljust(300, b" ")
ROOT = Path(__file__).resolve().parent.parent


def raw_paho_rate(port: int) -> float:
    """Messages per second for paho alone: N QoS 1 publishes, same in-flight window, until all PUBACKed."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(INFLIGHT)
    client.max_queued_messages_set(0)
    done = threading.Event()
    acked = [0]

    def on_publish(c, u, mid, rc, props):  # noqa: ANN001
        acked[0] += 1
        if acked[0] == N:
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    for i in range(N):
        client.publish(f"bench/raw/{i % 10}", PAYLOAD, qos=1)
    done.wait(120)
    elapsed = time.perf_counter() - t0
    client.disconnect()
    client.loop_stop()
    return N / elapsed


def outbox_drain_rate(port: int, workdir: Path) -> tuple[float, list[float]]:
    """Queue N messages while the link is down, then time the uplink draining them (until the last PUBACK).

    Deleting PUBACKed rows is batched (up to 0.5 s, to spare the SD card); the outbox is checked
    empty afterwards, untimed. The raw reference is timed to its last PUBACK too.
    """
    db = workdir / f"drain-{time.monotonic_ns()}.db"
    box = Outbox(db, max_bytes=1 << 30)
    put_times = []
    for i in range(N):
        t = time.perf_counter()
        box.put(f"bench/outbox/{i % 10}", ALARM if i % 50 == 0 else TELEMETRY, lambda s: PAYLOAD)
        put_times.append(time.perf_counter() - t)
    cfg = BrokerConfig(host="127.0.0.1", port=port, max_inflight=INFLIGHT, backoff_initial_s=0.1, backoff_max_s=0.5)
    up = Uplink(cfg, "bench-outbox", "bench/status", "bench/cmd/#", box, status=lambda online, reason: b"{}", rng=random.Random(0))
    t0 = time.perf_counter()
    up.start()
    # timed like the raw reference: until the broker has PUBACKed the last message
    while up.stats.pubacks < N and time.perf_counter() - t0 < 300:
        time.sleep(0.002)
    elapsed = time.perf_counter() - t0
    while box.stats().depth > 0 and time.perf_counter() - t0 < 300:  # the batched deletes catch up
        time.sleep(0.01)
    assert box.stats().depth == 0, "the outbox did not empty"
    up.stop()
    box.close()
    return N / elapsed, put_times


def gateway_idle(port: int, seconds: float = 20.0) -> tuple[float, int]:
    """CPU share (of one core) and RSS of `station-gateway run` on the simulated station."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", "examples/sim-station.yaml", "--broker", f"127.0.0.1:{port}",
             "--log-level", "WARNING"], cwd=ROOT, stdout=open(Path(tmp) / "log", "wb"), stderr=subprocess.STDOUT,
        )
        time.sleep(5.0)  # imports and first connection are not idle cost
        tick = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick

        c0, t0 = cpu(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu(), time.monotonic()
        rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if line.startswith("VmRSS"))
        proc.terminate()
        proc.wait(20)
    return (c1 - c0) / (t1 - t0), rss_kb * 1024


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, LocalBroker(workdir=Path(tmp) / "broker") as broker:
        raw, drain, puts = [], [], []
        for _ in range(ROUNDS):
            raw.append(raw_paho_rate(broker.port))
            rate, put_times = outbox_drain_rate(broker.port, Path(tmp))
            drain.append(rate)
            puts += put_times
        cpu, rss = gateway_idle(broker.port)
    figures = {
        "raw_paho_qos1_msgs_per_s": statistics.median(raw),
        "outbox_drain_msgs_per_s": statistics.median(drain),
        "drain_vs_raw": statistics.median(d / r for d, r in zip(drain, raw)),
        "enqueue_median_ms": statistics.median(puts) * 1000,
        "enqueue_p99_ms": sorted(puts)[int(len(puts) * 0.99)] * 1000,
        "gateway_idle_cpu_percent": cpu * 100,
        "gateway_idle_rss_mib": rss / 2**20,
    }
    print("outbox and uplink (10,000 messages of 300 bytes, QoS 1, in-flight window 100, median of 5 interleaved rounds)")
    print(f"  raw paho QoS 1 publish:            {figures['raw_paho_qos1_msgs_per_s']:8.0f} msg/s")
    print(f"  outbox drain after outage:         {figures['outbox_drain_msgs_per_s']:8.0f} msg/s")
    print(f"  drain / raw (per round, median):   {figures['drain_vs_raw']:8.2f}   (goal >= 0.7)")
    print(f"  durable enqueue median / p99:      {figures['enqueue_median_ms']:8.3f} / {figures['enqueue_p99_ms']:.3f} ms")
    print(f"  gateway on sim station, idle CPU:  {figures['gateway_idle_cpu_percent']:8.2f} % of one core")
    print(f"  gateway on sim station, RSS:       {figures['gateway_idle_rss_mib']:8.1f} MiB")
    return figures


if __name__ == "__main__":
    run()
