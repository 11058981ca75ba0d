"""The durable queue: gap-free seqs, bounded size, alarms never dropped, corruption survived."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from gateway.uplink.outbox import ALARM, SEQ_BLOCK, TELEMETRY, Outbox


def payload(seq: int, size: int = 100) -> bytes:
    return (f'{{"seq": {seq}}}'.encode()).ljust(size, b" ")


def test_seq_is_gap_free_across_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    first = [box.put("t/a", TELEMETRY, payload) for _ in range(5)]
    box.ack(first[:3])
    box.close()
    box = Outbox(tmp_path / "o.db")
    later = [box.put("t/a", ALARM, payload) for _ in range(3)]
    assert first + later == list(range(8))
    assert [m.seq for m in box.peek(TELEMETRY, -1)] == [3, 4]
    assert [m.seq for m in box.peek(ALARM, -1)] == [5, 6, 7]
    assert box.peek(ALARM, 5)[0].payload.startswith(b'{"seq": 6}')


def test_seq_continues_after_everything_was_delivered(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.ack([box.put("t", ALARM, payload) for _ in range(4)])
    box.close()
    assert Outbox(tmp_path / "o.db").put("t", ALARM, payload) == 4


def test_full_outbox_drops_oldest_telemetry_never_alarms(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_bytes=64 * 1024)
    alarms = [box.put("t/alarm", ALARM, lambda s: payload(s, 1000)) for _ in range(20)]
    telemetry = [box.put("t/tele", TELEMETRY, lambda s: payload(s, 1000)) for _ in range(100)]
    stats = box.stats()
    assert stats.bytes <= 64 * 1024
    assert [m.seq for m in box.peek(ALARM, -1)] == alarms
    kept = [m.seq for m in box.peek(TELEMETRY, -1)]
    assert kept == telemetry[-len(kept):]  # the newest survive, the oldest went
    assert stats.dropped_total == len(telemetry) - len(kept) > 0
    count, first, last = box.take_drop_report()
    assert count == stats.dropped_total and first == telemetry[0] and last == telemetry[count - 1]
    assert box.take_drop_report() is None
    # alarms keep coming even when nothing is left to drop
    more = [box.put("t/alarm", ALARM, lambda s: payload(s, 1000)) for _ in range(100)]
    assert [m.seq for m in box.peek(ALARM, -1, limit=1000)] == alarms + more
    box.close()
    assert Outbox(tmp_path / "o.db").stats().dropped_total == stats.dropped_total + len(kept)


def test_corrupt_database_is_moved_aside_and_numbering_never_reused(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    box = Outbox(db)
    seqs = [box.put("t", ALARM, payload) for _ in range(10)]
    box.close()
    db.write_bytes(b"this is not an sqlite database, the SD card lost it" * 100)
    box = Outbox(db)
    assert box.recovered_from is not None
    assert Path(box.recovered_from.moved_to).exists()
    assert "not a database" in box.recovered_from.error
    nxt = box.put("t", ALARM, payload)
    assert nxt > max(seqs) and nxt == box.recovered_from.resumed_at_seq
    assert nxt <= max(seqs) + SEQ_BLOCK + 1
    assert box.stats().depth == 1


def test_truncated_database_is_recovered(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    box = Outbox(db)
    for _ in range(300):
        box.put("t", TELEMETRY, lambda s: payload(s, 500))
    box.close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    box = Outbox(db)
    assert box.put("t", ALARM, payload) >= 300
    assert box.stats().depth >= 1


CHILD = r"""
import sys
from gateway.uplink.outbox import Outbox, ALARM, TELEMETRY
box = Outbox(sys.argv[1])
i = 0
while True:
    seq = box.put("t", ALARM if i % 7 == 0 else TELEMETRY, lambda s: b'{"seq": %d}' % s)
    print(seq, flush=True)
    i += 1
"""


def test_accepted_messages_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    accepted: list[int] = []
    for round_ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(12 + 3 * round_)]  # killed mid-run, however slow the host
        time.sleep(0.05 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        accepted += [int(line) for line in [*lines, *out.split()] if line.strip()]
    assert len(accepted) > 50
    assert accepted == sorted(set(accepted))  # strictly increasing across runs
    con = sqlite3.connect(db)
    stored = {row[0] for row in con.execute("SELECT seq FROM outbox")}
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    assert set(accepted) <= stored
    assert sorted(stored) == list(range(len(stored)))  # no gap across five hard kills
