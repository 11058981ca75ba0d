"""`station-gateway run` as a real process: start it, measure it, kill it, and check the wire.

Shared by tests/test_gateway_process.py (20 hard kills in `make test`) and bench/soak.py (100).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from county.feed import FeedCollector
from gateway.localbroker import LocalBroker
from tests.stations import station_dict, subscribe, wait_for, write_station

ROOT = Path(__file__).resolve().parents[2]
STATION = "410421/xiaoqi/zhuwa/test-01"
ALARM_KINDS = ("alarm", "notice", "playback", "reply")  # the outbox's ALARM class; the rest is telemetry


def start_gateway(config: Path, log: Path, log_level: str = "WARNING") -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(config), "--log-level", log_level],
        cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


def busy_station(tmp_path: Path, port: int) -> dict[str, Any]:
    """Telemetry every 20 ms and a flood every 3 s: plenty in flight when the kill comes."""
    doc = station_dict(tmp_path, port)
    sensor = doc["water_sensors"][0]
    sensor["poll_interval_s"] = 0.02
    sensor["telemetry_interval_s"] = 0.02
    sensor["driver"] = {"type": "simulated", "loop": True,
                        "scenario": [{"at_s": 0, "level_m": 0.5}, {"at_s": 1.0, "level_m": 2.5}, {"at_s": 2.0, "level_m": 0.5}, {"at_s": 3.0, "level_m": 0.5}]}
    return doc


@dataclass(frozen=True, slots=True)
class ProcSample:
    """What /proc says about a process: memory, descriptors, threads, bytes it sent to storage."""

    t: float
    rss_bytes: int
    fds: int
    threads: int
    write_bytes: int


def sample(pid: int) -> ProcSample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    threads = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Threads:"))
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return ProcSample(time.monotonic(), rss, len(os.listdir(f"/proc/{pid}/fd")), threads, int(io["write_bytes"]))


def first_deliveries(messages: list[dict[str, Any]], kinds: tuple[str, ...] | None = None) -> list[int]:
    """Seqs in the order they first arrived (status excluded; `kinds` filters by message kind)."""
    seen: set[int] = set()
    out = []
    for m in messages:
        if m["kind"] == "status" or (kinds is not None and m["kind"] not in kinds) or m["seq"] in seen:
            continue
        seen.add(m["seq"])
        out.append(m["seq"])
    return out


@dataclass
class WireCheck:
    """The county's view checked against the outbox database after the last run."""

    allocated: int = 0
    delivered: int = 0
    left_in_outbox: int = 0
    missing: list[int] = field(default_factory=list)
    redeliveries: int = 0
    redelivery_mismatches: list[int] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    integrity: str = ""
    malformed: list[str] = field(default_factory=list)


def check_wire(collector: FeedCollector, db: Path, station: str = STATION) -> WireCheck:
    """Every allocated seq delivered or still queued; duplicates identical; each class in seq order."""
    con = sqlite3.connect(db)
    try:
        allocated = con.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0]
        left = {r[0] for r in con.execute("SELECT seq FROM outbox")}
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
    seen = collector.seqs[station].seen
    out = WireCheck(allocated=allocated, delivered=len(seen), left_in_outbox=len(left), integrity=integrity,
                    missing=[s for s in range(allocated) if s not in seen and s not in left],
                    redeliveries=collector.seqs[station].duplicates, malformed=list(collector.malformed))
    by_seq: dict[int, dict[str, Any]] = {}
    for m in collector.messages:
        if m["kind"] == "status":
            continue
        if m["seq"] in by_seq and by_seq[m["seq"]] != m:
            out.redelivery_mismatches.append(m["seq"])
        by_seq.setdefault(m["seq"], m)
    telemetry_kinds = tuple({m["kind"] for m in collector.messages} - set(ALARM_KINDS) - {"status"})
    for name, kinds in (("alarms", ALARM_KINDS), ("telemetry", telemetry_kinds)):
        order = first_deliveries(collector.messages, kinds)
        if order != sorted(order):
            out.out_of_order.append(name)
    return out


@dataclass
class KillReport:
    kills: int
    wills_seen: int = 0
    boots: int = 0
    returncode: int | None = None
    wire: WireCheck = field(default_factory=WireCheck)
    log_tail: str = ""


def kill_campaign(broker: LocalBroker, tmp: Path, kills: int, seed: int) -> KillReport:
    """SIGKILL a busy gateway `kills` times at random moments, then run it once cleanly to drain."""
    collector, sub = subscribe(broker.port)
    config = write_station(tmp / "station.yaml", busy_station(tmp, broker.port))
    log = tmp / "gateway.log"
    db = tmp / "outbox.db"
    rng = random.Random(seed)
    report = KillReport(kills=kills)
    online = lambda: collector.status.get(STATION) is True  # noqa: E731
    try:
        for _ in range(kills):
            proc = start_gateway(config, log)
            assert wait_for(online, timeout=60), log.read_text()[-3000:]
            time.sleep(rng.uniform(0.05, 1.5))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            # the broker publishes the Will: the county sees the station go offline
            if wait_for(lambda: collector.status.get(STATION) is False, timeout=10):
                report.wills_seen += 1
        con = sqlite3.connect(db)
        backlog_end = con.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()[0]
        con.close()
        proc = start_gateway(config, log)  # a last, clean run drains whatever the kills left
        try:
            assert wait_for(online, timeout=60)
            wait_for(lambda: all(s in collector.seqs[STATION].seen for s in range(backlog_end)), timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        report.returncode = proc.returncode
    finally:
        sub.stop()
    report.wire = check_wire(collector, db)
    report.boots = len({m["boot_id"] for m in collector.messages})
    report.log_tail = log.read_text()[-3000:]
    return report
