"""The steady soak: `station-gateway run` at ten times the normal rates, measured from /proc.

"Normal" is examples/sim-station.yaml (gauge polled every 0.5 s, telemetry every 5 s, smoke input
every 0.2 s, health every 10 s, a flood and a smoke alarm every minute). Every interval and the
scenario's clock are divided by `speedup`, so alarms are raised, escalated, announced and cleared
ten times as often too. The gateway is a real process; its RSS, descriptors, threads, CPU and the
bytes it sends to storage (/proc/PID/io write_bytes: what would reach the SD card, before the
file system's own journal) are sampled, with the SQLite files' sizes. At the end every seq it
allocated must have reached the county or still be queued.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.localbroker import LocalBroker
from tests.faults.gateway_proc import ProcSample, WireCheck, check_wire, sample, start_gateway
from tests.stations import subscribe, wait_for, write_station

ROOT = Path(__file__).resolve().parents[2]
STATION = "410421/xiaoqi/zhuwa/bridge-01"


def fast_sim_station(tmp: Path, port: int, speedup: float = 10.0) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "examples" / "sim-station.yaml").read_text(encoding="utf-8"))
    doc["broker"].update(port=port, backoff_initial_s=0.2, backoff_max_s=2)
    doc["outbox"]["path"] = str(tmp / "outbox.db")
    doc["health"]["interval_s"] /= speedup
    for s in doc["water_sensors"]:
        s["poll_interval_s"] /= speedup
        s["telemetry_interval_s"] /= speedup
        s["stale_after_s"] /= speedup
        s["rules"]["rise_window_s"] /= speedup
        s["rules"]["rise_rate_m_per_min"] *= speedup
        for p in s["driver"]["scenario"]:
            p["at_s"] /= speedup
    for f in doc["fire_inputs"]:
        f["poll_interval_s"] /= speedup
        f["debounce_s"] /= speedup
        f["min_clear_s"] /= speedup
        f["driver"]["period_s"] /= speedup
        for w in f["driver"]["active"]:
            w["start_s"] /= speedup
            w["end_s"] /= speedup
    doc["loudspeaker"]["driver"]["record_dir"] = str(tmp / "speaker")
    doc["loudspeaker"]["driver"]["seconds_per_char"] /= speedup
    for a in doc["loudspeaker"]["actions"]:
        a["cooldown_s"] /= speedup
        a["interval_s"] = a.get("interval_s", 2.0) / speedup
    return doc


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _slope_per_hour(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 3:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 3600 if den else 0.0


@dataclass
class SteadyReport:
    seconds: float
    speedup: float
    delivered: int = 0
    msg_per_s: float = 0.0
    alarms_raised: int = 0
    plays: int = 0
    rss_mib_start: float = 0.0  # after the warm-up
    rss_mib_end: float = 0.0
    rss_mib_max: float = 0.0
    rss_slope_mib_per_h: float = 0.0  # second half
    fds_start: int = 0
    fds_end: int = 0
    fds_min: int = 0
    fds_max: int = 0
    threads_min: int = 0
    threads_max: int = 0
    cpu_percent: float = 0.0
    write_mib_per_h: float = 0.0
    write_bytes_per_msg: float = 0.0
    sqlite_max_bytes: dict[str, int] = field(default_factory=dict)
    wire: WireCheck = field(default_factory=WireCheck)
    returncode: int | None = None
    samples: list[ProcSample] = field(default_factory=list)


def steady(tmp: Path, seconds: float, speedup: float = 10.0, every_s: float = 10.0, warmup_s: float = 30.0,
           progress: bool = False, speaker_dir: Path | None = None) -> SteadyReport:
    """`speaker_dir`: where the simulated loudspeaker logs its plays (default: under `tmp`); the SD card
    figures put it on a tmpfs, since a real station's loudspeaker writes no such log."""
    broker = LocalBroker(workdir=tmp / "broker").start()
    collector, sub = subscribe(broker.port)
    doc = fast_sim_station(tmp, broker.port, speedup)
    if speaker_dir is not None:
        doc["loudspeaker"]["driver"]["record_dir"] = str(speaker_dir)
    config = write_station(tmp / "station.yaml", doc)
    log = tmp / "gateway.log"
    report = SteadyReport(seconds=seconds, speedup=speedup)
    sizes: dict[str, int] = {}
    proc = start_gateway(config, log)
    try:
        assert wait_for(lambda: collector.status.get(STATION) is True, timeout=60), log.read_text()[-2000:]
        time.sleep(min(warmup_s, seconds / 4))
        t0, cpu0, delivered0 = time.monotonic(), _cpu_s(proc.pid), len(collector.seqs[STATION].seen)
        report.samples.append(sample(proc.pid))
        while time.monotonic() - t0 < seconds:
            time.sleep(min(every_s, max(0.0, seconds - (time.monotonic() - t0))))
            assert proc.poll() is None, f"the gateway died: {log.read_text()[-2000:]}"
            report.samples.append(sample(proc.pid))
            for f in tmp.glob("outbox.db*"):
                sizes[f.name] = max(sizes.get(f.name, 0), f.stat().st_size if f.exists() else 0)
            if progress:
                s = report.samples[-1]
                print(f"  {s.t - t0:7.0f} s  rss {s.rss_bytes / 2**20:6.1f} MiB  fds {s.fds}  threads {s.threads}  "
                      f"written {s.write_bytes / 2**20:7.1f} MiB  delivered {len(collector.seqs[STATION].seen)}", flush=True)
        elapsed, cpu = time.monotonic() - t0, _cpu_s(proc.pid) - cpu0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        report.returncode = proc.returncode
        sub.stop()
        broker.stop()
    first, last = report.samples[0], report.samples[-1]
    half = report.samples[len(report.samples) // 2:]
    report.delivered = len(collector.seqs[STATION].seen)
    report.msg_per_s = round(report.delivered / (elapsed + min(warmup_s, seconds / 4)), 2)
    report.alarms_raised = sum(1 for m in collector.messages if m["kind"] == "alarm" and m["state"] == "raised")
    report.plays = collector.playbacks["completed"]
    mib = [s.rss_bytes / 2**20 for s in report.samples]
    report.rss_mib_start, report.rss_mib_end, report.rss_mib_max = round(mib[0], 1), round(mib[-1], 1), round(max(mib), 1)
    report.rss_slope_mib_per_h = round(_slope_per_hour([s.t for s in half], [s.rss_bytes / 2**20 for s in half]), 2)
    fds = [s.fds for s in report.samples]
    report.fds_start, report.fds_end, report.fds_min, report.fds_max = fds[0], fds[-1], min(fds), max(fds)
    threads = [s.threads for s in report.samples]
    report.threads_min, report.threads_max = min(threads), max(threads)
    report.cpu_percent = round(100 * cpu / elapsed, 2)
    written = last.write_bytes - first.write_bytes
    report.write_mib_per_h = round(written / 2**20 / elapsed * 3600, 1)
    report.write_bytes_per_msg = round(written / max(1, report.delivered - delivered0))
    report.sqlite_max_bytes = sizes
    report.wire = check_wire(collector, tmp / "outbox.db", STATION)
    return report
