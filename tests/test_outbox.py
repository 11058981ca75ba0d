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


# ---------------------------------------------------------------------- SD card wear (issue 17)

def envelope(seq: int, kind: str = "telemetry", size: int = 0) -> bytes:
    """A message shaped like the station's own (RELIABILITY.md, section 10: 300 to 600 bytes)."""
    body = (f'{{"station": "410421/xiaoqi/zhuwa/bridge-01", "seq": {seq}, "event_id": "{seq:032x}", '
            f'"ts": "2026-12-03T02:47:06.791051Z", "clock_synced": true, "boot_id": "fc324487758945fa", "kind": "{kind}", '
            f'"sensor": "gauge-1", "values": {{"level_m": 0.6034, "level_min_m": 0.6034, "level_max_m": 0.6{seq % 1000:03d}, "band": 0}}}}')
    return body.encode().ljust(size, b" ")


def wal_frames(db: Path, page: int) -> int:
    wal = Path(str(db) + "-wal")
    return (wal.stat().st_size - 32) // (page + 24) if wal.exists() and wal.stat().st_size else 0


def test_a_put_writes_one_page_and_carries_the_deletes_of_what_was_acked(tmp_path: Path) -> None:
    """The SD card budget, counted in pages rather than timed: each put is one synced transaction
    writing one WAL frame (a page), with the rows acked since the last put deleted in it; no
    separate transaction per ack, no counter row, no index page."""
    db = tmp_path / "o.db"
    box = Outbox(db)
    page = box._db.execute("PRAGMA page_size").fetchone()[0]
    box._db.execute("PRAGMA wal_autocheckpoint=0")  # keep every frame to count it
    for ack_every in (1, 3):
        pending: list[int] = []
        before = wal_frames(db, page)
        for _ in range(60):
            pending.append(box.put("410421/xiaoqi/zhuwa/bridge-01/telemetry", TELEMETRY, lambda s: envelope(s, size=600)))
            if len(pending) == ack_every:
                box.ack(pending)
                pending = []
        assert wal_frames(db, page) - before == 60, f"acked every {ack_every}"
    assert box.stats().depth == 0
    box.close()


def test_acked_messages_leave_the_queue_at_once_and_the_database_with_the_next_put(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    box = Outbox(db, exclusive=False)
    seqs = [box.put("t", ALARM if i == 0 else TELEMETRY, lambda s: envelope(s)) for i in range(4)]
    box.ack(seqs[:3])
    assert [m.seq for m in box.peek(TELEMETRY, -1)] == [3] and box.peek(ALARM, -1) == []
    assert box.stats().depth == 1 and not box.has_alarms()
    crashed = Outbox(db, exclusive=False)  # a crash now: the acked rows are still stored, sent again (at-least-once)
    assert [m.seq for m in crashed.peek(TELEMETRY, -1)] == [1, 2, 3] and crashed.has_alarms()
    crashed._db.close()
    nxt = box.put("t", TELEMETRY, lambda s: envelope(s))
    con = sqlite3.connect(db)
    assert [r[0] for r in con.execute("SELECT seq FROM outbox ORDER BY seq")] == [3, nxt]
    con.close()
    box.close()


def test_numbering_continues_after_a_crash_once_everything_was_acked(tmp_path: Path) -> None:
    """No `meta.next_seq` per put: `max(seq) + 1` while a row is left, and the counter is written
    whenever rows leave outside a put (here: more acks waiting than `ACK_DEFER_MAX`)."""
    import gateway.uplink.outbox as outbox_module

    db = tmp_path / "o.db"
    box = Outbox(db, exclusive=False)
    seqs = [box.put("t", TELEMETRY, lambda s: envelope(s)) for _ in range(outbox_module.ACK_DEFER_MAX)]
    box.ack(seqs)  # all acked, deleted on their own: the table is empty
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    con.close()
    assert Outbox(db, exclusive=False).put("t", ALARM, lambda s: envelope(s)) == len(seqs)  # no close: as after kill -9


def test_payloads_come_back_byte_for_byte_packed_or_not(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    box = Outbox(db, exclusive=False)
    made: dict[int, bytes] = {}
    for build in (lambda s: envelope(s, "alarm"), lambda s: os.urandom(700), lambda s: b"", lambda s: "竹洼村漫水桥".encode() * 50):
        seq = box.put("t", ALARM, lambda s, build=build: made.setdefault(s, build(s)))
    box.close()
    box = Outbox(db, exclusive=False)
    assert {m.seq: m.payload for m in box.peek(ALARM, -1)} == made
    con = sqlite3.connect(db)
    stored = dict(con.execute("SELECT seq, LENGTH(payload) FROM outbox").fetchall())
    con.close()
    assert stored[0] < len(made[0]) / 2 and stored[1] == 700  # the envelope packs, random bytes are kept as they are
    assert box.stats().bytes == sum(map(len, made.values()))  # the bound counts payload bytes, not packed ones
    assert seq == 3


def test_a_database_from_before_the_sd_card_layout_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    con = sqlite3.connect(db)
    con.executescript("""
        PRAGMA journal_mode=WAL;
        CREATE TABLE outbox (seq INTEGER PRIMARY KEY, klass INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
                             retain INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
        CREATE INDEX outbox_by_class ON outbox (klass, seq);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE open_alarms (event_id TEXT PRIMARY KEY, body TEXT NOT NULL);
        INSERT INTO outbox VALUES (7, 0, 't/a', CAST('{"seq": 7}' AS BLOB), 0, 1.0), (8, 1, 't/t', CAST('{"seq": 8}' AS BLOB), 1, 2.0);
        INSERT INTO meta VALUES ('next_seq', 9), ('dropped', 3);
        INSERT INTO open_alarms VALUES ('e1', '{"event_id": "e1", "kind": "water_level", "source": "gauge-1", "severity": "danger", "category": "safety", "summary": "s", "details": {}, "raised_at": 1.0, "acked_by": null}');
    """)
    con.close()
    box = Outbox(db)
    assert [(m.seq, m.payload, m.retain) for m in box.peek(ALARM, -1) + box.peek(TELEMETRY, -1)] == [(7, b'{"seq": 7}', False), (8, b'{"seq": 8}', True)]
    assert [a.event_id for a in box.load_alarms()] == ["e1"]
    assert box.stats().dropped_total == 3 and box.stats().bytes == 20
    assert box.put("t", TELEMETRY, lambda s: envelope(s)) == 9
    box.close()
    con = sqlite3.connect(db)
    assert {r[0] for r in con.execute("SELECT name FROM sqlite_master")} == {"outbox", "meta", "sqlite_autoindex_meta_1", "alarms_open"}
    con.close()


def test_open_alarms_are_written_with_the_next_put(tmp_path: Path) -> None:
    from gateway.alarms import OpenAlarm

    db = tmp_path / "o.db"
    box = Outbox(db, exclusive=False)
    alarm = OpenAlarm(event_id="e1", kind="water_level", source="gauge-1", severity="danger", category="safety",
                      summary="s", details={}, raised_at=1.0)
    box.save_alarm(alarm)
    assert [a.event_id for a in box.load_alarms()] == ["e1"]
    box.put("t", ALARM, lambda s: envelope(s, "alarm"))  # the alarm's own message carries it
    assert [a.event_id for a in Outbox(db, exclusive=False).load_alarms()] == ["e1"]  # no close: as after kill -9
    box.delete_alarm("e1")
    assert box.load_alarms() == []
    box.close()
    assert Outbox(db, exclusive=False).load_alarms() == []


def test_the_gateway_outbox_writes_no_shared_index_file(tmp_path: Path) -> None:
    """The WAL index stays in memory (one gateway per outbox): no `-shm` pages for the kernel to
    write back to the card every few seconds, which at a quiet station's rate cost a tenth of all."""
    db = tmp_path / "o.db"
    box = Outbox(db)
    for _ in range(20):
        box.ack([box.put("t", TELEMETRY, lambda s: envelope(s))])
    assert Path(str(db) + "-wal").exists() and not Path(str(db) + "-shm").exists()
    box.close()
    assert [m.seq for m in Outbox(db).peek(TELEMETRY, -1)] == []
