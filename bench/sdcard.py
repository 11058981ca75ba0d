"""SD card wear: bytes the gateway writes to storage per published message, and what that means
for a card's life (RELIABILITY.md, section 10; budget: 8 KB per message).

Two measurements, both from /proc/PID/io `write_bytes` (what the process sends towards the
card, before the file system's journal and the card's own write amplification):

- the outbox alone, in this process: durable puts of 300-byte messages acked one, three or ten
  at a time, on a folder of the real disk (var/sdcard: a tmpfs counts nothing); with WAL frames
  per message, counted from the WAL's growth, and the enqueue latency;
- `station-gateway run` on the simulated station against a real mosquitto (tests/faults/steady.py),
  at ten times the normal rates (as the soak) and at the normal rates, whose MiB/h gives the years.

Run: `.venv/bin/python -m bench.sdcard` (about 12 minutes), or
`.venv/bin/python -m bench.sdcard --soak-minutes 2 --normal-minutes 5` for a shorter look.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the steady soak lives in tests/faults, shared with `make test`
    sys.path.insert(0, str(ROOT))

from gateway.uplink.outbox import ALARM, TELEMETRY, Outbox  # noqa: E402

BUDGET = 8000  # bytes written per published message (issue 17)
PAYLOAD = b'{"station":"410421/xiaoqi/zhuwa/bench","seq":0,"kind":"telemetry","values":{"level_m":1.234}}'.ljust(300, b" ")
TOPIC = "410421/xiaoqi/zhuwa/bridge-01/telemetry"
# The card the years are given for: SanDisk High Endurance 32 GB, rated for 2,500 hours of Full HD
# video at 26 Mbit/s (11.7 GB an hour), about 29 TB written in long sequential runs. Small synced
# writes wear a card more than video does: the years are also given with a write amplification of
# 4 for the ext4 journal and the card's own garbage collection (an assumption, not a measurement).
CARD_TB_WRITTEN = 2500 * 11.7e9 / 1e12
WRITE_AMPLIFICATION = 4.0


def write_bytes(pid: int | str = "self") -> int:
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(io["write_bytes"])


def outbox_alone(work: Path, ack_every: int, n: int = 2000, alarm_every: int = 10) -> dict[str, float]:
    """Write bytes and WAL frames per message for puts acked `ack_every` at a time, as an uplink does."""
    folder = work / f"outbox-{ack_every}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    box = Outbox(folder / "o.db")
    wal = folder / "o.db-wal"
    page = box._db.execute("PRAGMA page_size").fetchone()[0]
    box._db.execute("PRAGMA wal_autocheckpoint=100000")  # count frames over the whole run (the real one checkpoints every 1000)
    pending: list[int] = []
    latencies = []
    w0, wal0 = write_bytes(), wal.stat().st_size
    for i in range(n):
        t = time.perf_counter()
        pending.append(box.put(TOPIC, ALARM if i % alarm_every == 0 else TELEMETRY, lambda s: PAYLOAD))
        latencies.append(time.perf_counter() - t)
        if len(pending) >= ack_every:
            box.ack(pending)
            pending = []
    written, frames = write_bytes() - w0, (wal.stat().st_size - wal0) / (page + 24)
    box.close()
    latencies.sort()
    return {"bytes_per_msg": written / n, "wal_frames_per_msg": frames / n, "page_size": page,
            "enqueue_median_ms": statistics.median(latencies) * 1000, "enqueue_p99_ms": latencies[int(n * 0.99)] * 1000}


def gateway(work: Path, minutes: float, speedup: float) -> dict[str, Any]:
    """`station-gateway run` on the simulated station for `minutes`: its write_bytes per message and per hour."""
    from tests.faults.steady import steady

    folder = work / f"gateway-x{speedup:g}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # the simulated loudspeaker's play log is the simulator's, not the product's: kept off the disk measured
    speaker = Path(tempfile.mkdtemp(prefix="sdcard-speaker-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        r = steady(folder, seconds=minutes * 60, speedup=speedup, every_s=min(30.0, minutes * 15), warmup_s=30.0, speaker_dir=speaker)
    finally:
        shutil.rmtree(speaker, ignore_errors=True)
    return {"minutes": minutes, "speedup": speedup, "delivered": r.delivered, "lost": len(r.wire.missing),
            "msg_per_s": r.msg_per_s, "write_mib_per_h": r.write_mib_per_h, "bytes_per_msg": r.write_bytes_per_msg,
            "sqlite_max_bytes": r.sqlite_max_bytes}


def card_years(mib_per_h: float, amplification: float = 1.0) -> float:
    per_year = mib_per_h * 2**20 * 24 * 365 * amplification
    return CARD_TB_WRITTEN * 1e12 / per_year if per_year else float("inf")


def run(soak_minutes: float = 3.0, normal_minutes: float = 8.0, work: Path | None = None) -> dict[str, Any]:
    work = work or ROOT / "var" / "sdcard"
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    print("outbox alone: 300-byte puts, one alarm in ten, acked 1, 3 or 10 at a time")
    for k in (1, 3, 10):
        f = figures[f"outbox_ack_every_{k}"] = outbox_alone(work, k)
        print(f"  ack every {k:2d}: {f['bytes_per_msg']:7.0f} B/msg  {f['wal_frames_per_msg']:.2f} WAL frames of {f['page_size']} B/msg  "
              f"enqueue median {f['enqueue_median_ms']:.3f} ms  p99 {f['enqueue_p99_ms']:.3f} ms")
    for name, minutes, speedup in (("gateway_x10", soak_minutes, 10.0), ("gateway_normal", normal_minutes, 1.0)):
        if minutes <= 0:
            continue
        f = figures[name] = gateway(work, minutes, speedup)
        print(f"  station-gateway run, sim station at {speedup:g}x rates, {minutes:g} min: {f['delivered']} delivered, "
              f"{f['lost']} lost, {f['write_mib_per_h']} MiB/h, {f['bytes_per_msg']} B/msg (budget {BUDGET})")
    normal = figures.get("gateway_normal")
    if normal:
        figures["card_years"] = card_years(normal["write_mib_per_h"])
        figures["card_years_amplified"] = card_years(normal["write_mib_per_h"], WRITE_AMPLIFICATION)
        print(f"  32 GB high-endurance card (~{CARD_TB_WRITTEN:.0f} TB written): {figures['card_years']:.0f} years at the "
              f"normal rates, {figures['card_years_amplified']:.0f} with a write amplification of {WRITE_AMPLIFICATION:g}")
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--soak-minutes", type=float, default=3.0, help="gateway at 10x rates (0: skip)")
    ap.add_argument("--normal-minutes", type=float, default=8.0, help="gateway at the normal rates (0: skip)")
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "sdcard", help="a folder on the disk to measure (not tmpfs)")
    args = ap.parse_args(argv)
    figures = run(args.soak_minutes, args.normal_minutes, args.work)
    print(json.dumps(figures, indent=1, default=float))
    over = [k for k in ("gateway_x10", "gateway_normal") if k in figures and figures[k]["bytes_per_msg"] > BUDGET]
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
