"""Power cuts, simulated from a record of every write and sync the outbox makes.

Why not just copy the database while it is written: a copy of two files taken one after the
other is no moment in time (the main file before a checkpoint, the WAL after the restart that
followed it: a state no crash can leave, so it cries wolf), a copy of a file being written can
tear a page anywhere, and a copy never loses what the kernel accepted but had not synced, so it
tests no more than a process crash.

So: the writer (a real `Outbox` in a child) runs under `strace`, which records every write,
sync, truncate and rename with its file, offset and length. At random moments the child is
frozen with SIGSTOP (strace marks the exact point in the record) and its files are copied: a
true point-in-time image of the page cache. A power cut at that point may then lose anything not
yet synced. For every file, the bytes written since its last fsync, cut at 512-byte sector
boundaries, are each kept, zeroed or filled with garbage at random (bytes not written are never
touched), the file may lose its unsynced growth, and a rename not
yet followed by a directory fsync may be undone. That is a superset of what a real disk can do
(sectors are taken as atomic, as SQLite itself assumes): if the outbox survives these, it
survives a power cut. Files created or deleted keep the snapshot's directory entries (SQLite
fsyncs the directory when it creates the WAL, which covers the one journal it deletes, at
creation). The shared-memory index (-shm) is not copied: SQLite rebuilds it from the WAL.

The check on each crash state: `PRAGMA integrity_check` is ok; every message the child reported
accepted before the cut is there (unless an ack for it had begun); nothing is there that was not
accepted, except the put in progress; reopened by `Outbox`, numbering resumes right after the
last seq it ever allocated: gap-free, never reused.
"""

from __future__ import annotations

import codecs
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gateway.uplink.outbox as outbox_module
from gateway.uplink.outbox import ALARM, Outbox

ROOT = Path(__file__).resolve().parents[2]
SECTOR = 512
STOP_MARK = "--- stopped by SIGSTOP ---"
SYSCALLS = "openat,write,pwrite64,pwritev,pwritev2,writev,fsync,fdatasync,ftruncate,fallocate,rename,renameat,renameat2,unlink,unlinkat"

WRITER = r"""
import os, random, sys
import gateway.uplink.outbox as ob
db, seed, block = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ob.SEQ_BLOCK = block  # renew the seq reservation often, so cuts land in it too
rng = random.Random(seed)
box = ob.Outbox(db)
box._db.execute("PRAGMA wal_autocheckpoint=16")  # checkpoints and WAL restarts every few messages
if len(sys.argv) > 4:
    box._db.execute(sys.argv[4])  # the negative control weakens the outbox on purpose
os.write(1, b"P %d\n" % os.getpid())
pending, i = [], 0
while True:
    size = rng.choice((60, 300, 1500, 5000))  # 5000: a row that overflows its page
    seq = box.put("t", ob.ALARM if i % 5 == 0 else ob.TELEMETRY, lambda s: (b'{"seq": %d}' % s).ljust(size, b" "))
    os.write(1, b"A %d\n" % seq)
    pending.append(seq)
    i += 1
    if rng.random() < 0.3:
        batch = pending[: rng.randint(1, len(pending))]
        os.write(1, b"D %d %d\n" % (batch[0], batch[-1]))  # the ack of this range begins
        box.ack(batch)
        del pending[: len(batch)]
"""


@dataclass(frozen=True, slots=True)
class Op:
    """One recorded event: write, sync, truncate, rename, unlink, out (a line on stdout), stop."""

    kind: str
    path: str = ""
    offset: int = 0
    length: int = 0
    target: str = ""
    text: bytes = b""


@dataclass
class Recording:
    ops: list[Op]
    snapshots: list[tuple[int, Path]]  # (index in ops of the cut, copy of the files at that point)
    live: Path


_CALL = re.compile(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)(?:<([^>]*)>)?")
_FD = re.compile(r"^(\d+)<([^>]*)>")
_TAIL2 = re.compile(r", (\d+), (\d+)$")
_TAIL1 = re.compile(r", (\d+)$")
_STR = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_trace(text: str) -> list[Op]:
    """strace -f -y -s 40 output to Ops, in order; unknown write-like calls fail loudly."""
    ops: list[Op] = []
    pos: dict[int, int] = {}
    for line in text.splitlines():
        if STOP_MARK in line:
            ops.append(Op("stop"))
            continue
        m = _CALL.match(line)
        if m is None:
            continue
        call, args, ret, ret_path = m.group(1), m.group(2), int(m.group(3)), m.group(4)
        if ret < 0:
            continue
        fd_m = _FD.match(args)
        if call == "openat":
            pos[ret] = 0
            if "O_TRUNC" in args and ret_path:
                ops.append(Op("truncate", ret_path, length=0))
        elif call in ("write", "pwrite64"):
            assert fd_m, line
            fd, path = int(fd_m.group(1)), fd_m.group(2)
            if path.startswith("pipe:"):
                if fd == 1:
                    ops.append(Op("out", text=codecs.escape_decode(_STR.search(args).group(1))[0]))  # type: ignore[union-attr]
                continue
            if call == "pwrite64":
                offset = int(_TAIL2.search(args).group(2))  # type: ignore[union-attr]
            else:
                offset = pos.get(fd, 0)
                pos[fd] = offset + ret
            small = _STR.search(args)
            data = codecs.escape_decode(small.group(1))[0] if small and not args[small.end():].startswith("...") else b""
            ops.append(Op("write", path, offset, ret, text=data))
        elif call in ("fsync", "fdatasync"):
            assert fd_m, line
            ops.append(Op("sync", fd_m.group(2)))
        elif call == "ftruncate":
            assert fd_m, line
            ops.append(Op("truncate", fd_m.group(2), length=int(_TAIL1.search(args).group(1))))  # type: ignore[union-attr]
        elif call in ("rename", "renameat", "renameat2"):
            names = _STR.findall(args)
            ops.append(Op("rename", names[0], target=names[1]))
        elif call in ("unlink", "unlinkat"):
            ops.append(Op("unlink", _STR.findall(args)[0]))
        elif call in ("pwritev", "pwritev2", "writev", "fallocate"):
            raise AssertionError(f"the crash model does not handle {call}: {line}")
    return ops


class _MarkCounter:
    """Counts strace's stop marks in its growing output file, reading only what is new."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._tail = ""
        self._count = 0

    def count(self) -> int:
        with open(self._path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read().decode(errors="replace")
            self._offset = f.tell()
        lines = (self._tail + chunk).split("\n")
        self._tail = lines.pop()
        self._count += sum(STOP_MARK in line for line in lines)
        return self._count


def record(workdir: Path, pauses: int, seed: int, seq_block: int = 40, max_gap_s: float = 0.03, extra_sql: str = "",
           min_progress: int = 2) -> Recording:
    """Run the writer under strace, freezing it `pauses` times to copy its files; then SIGKILL it.

    Before each freeze the writer must have accepted `min_progress` more messages, so a slow
    machine (strace on a loaded CI host) still spreads the cuts over as much work as a fast one.
    """
    strace = shutil.which("strace")
    assert strace, "strace is missing (apt-get install strace)"
    workdir = workdir.resolve()  # strace names files by absolute path; so must the writer and the model
    live = workdir / "live"
    live.mkdir(parents=True)
    trace = workdir / "trace.txt"
    rng = random.Random(seed)
    proc = subprocess.Popen(
        [strace, "-f", "-qq", "-y", "-s", "40", "-e", f"trace={SYSCALLS}", "-o", str(trace),
         sys.executable, "-c", WRITER, str(live / "o.db"), str(seed), str(seq_block), *([extra_sql] if extra_sql else [])],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    assert first and first[0] == b"P", f"writer did not start: {first!r}"
    pid = int(first[1])
    accepted = [0]

    def drain() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            accepted[0] += line.startswith(b"A ")

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    snapshots: list[Path] = []
    marks = _MarkCounter(trace)
    try:
        for k in range(pauses):
            deadline = time.monotonic() + 60
            while accepted[0] < (k + 1) * min_progress:
                assert time.monotonic() < deadline, f"the writer stalled at {accepted[0]} messages"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, max_gap_s))
            os.kill(pid, signal.SIGSTOP)
            deadline = time.monotonic() + 30
            while marks.count() <= k:
                assert time.monotonic() < deadline, "strace did not record the stop"
                time.sleep(0.005)
            snap = workdir / f"snap-{k:04d}"
            snap.mkdir()
            for f in live.iterdir():
                if not f.name.endswith("-shm"):
                    shutil.copyfile(f, snap / f.name)
            snapshots.append(snap)
            os.kill(pid, signal.SIGCONT)
    finally:
        os.kill(pid, signal.SIGKILL)
        proc.wait(30)
        drainer.join(10)
    ops = parse_trace(trace.read_text(errors="replace"))
    stops = [i for i, op in enumerate(ops) if op.kind == "stop"]
    assert len(stops) == len(snapshots), (len(stops), len(snapshots))
    final = workdir / "snap-kill"  # the SIGKILL itself: the process and its open files gone mid-write
    final.mkdir()
    for f in live.iterdir():
        if not f.name.endswith("-shm"):
            shutil.copyfile(f, final / f.name)
    return Recording(ops, [*zip(stops, snapshots), (len(ops), final)], live)


@dataclass
class CutFacts:
    """What the writer had reported by the cut, and what the simulated power cut did."""

    accepted: list[int] = field(default_factory=list)
    ack_begun: set[int] = field(default_factory=set)
    damaged_sectors: int = 0
    shrunk_files: int = 0
    undone_renames: int = 0


def power_cut(rec: Recording, cut: int, snapshot: Path, out: Path, rng: random.Random) -> CutFacts:
    """Write into `out` one state the files could be in after a power cut at ops[cut]."""
    facts = CutFacts()
    unsynced: dict[str, list[tuple[int, int]]] = {}
    size: dict[str, int] = {}
    synced_size: dict[str, int] = {}
    renames: list[tuple[str, str, bytes | None]] = []  # not yet followed by a directory sync
    content: dict[str, bytes] = {}  # small whole-file writes (the seq reservation), to undo a rename
    history: dict[str, list[bytes]] = {}
    for op in rec.ops[:cut]:
        if op.kind == "out":
            word, *nums = op.text.split()
            if word == b"A":
                facts.accepted.append(int(nums[0]))
            elif word == b"D":
                facts.ack_begun.update(range(int(nums[0]), int(nums[1]) + 1))
        elif op.kind == "write":
            unsynced.setdefault(op.path, []).append((op.offset, op.length))
            size[op.path] = max(size.get(op.path, 0), op.offset + op.length)
            if op.offset == 0 and op.text and len(op.text) == op.length:
                content[op.path] = op.text
        elif op.kind == "truncate":
            size[op.path] = op.length
        elif op.kind == "sync":
            unsynced.pop(op.path, None)
            synced_size[op.path] = size.get(op.path, 0)
            if any(os.path.dirname(new) == op.path for _, new, _ in renames):
                renames = [r for r in renames if os.path.dirname(r[1]) != op.path]
        elif op.kind == "rename":
            before = history.get(op.target, [])
            renames.append((op.path, op.target, before[-1] if before else None))
            history.setdefault(op.target, []).append(content.get(op.path, b""))
            for table in (unsynced, size, synced_size, content):
                if op.path in table:
                    table[op.target] = table.pop(op.path)  # type: ignore[index]
    live = str(rec.live)
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(snapshot, out)
    for path, ranges in unsynced.items():
        if not path.startswith(live):
            continue
        f = out / os.path.relpath(path, live)
        if not f.exists():
            continue
        data = bytearray(f.read_bytes())
        for lo, hi in _pieces(ranges, len(data)):
            r = rng.random()
            if r < 0.35:
                data[lo:hi] = bytes(hi - lo)
                facts.damaged_sectors += 1
            elif r < 0.7:
                data[lo:hi] = rng.randbytes(hi - lo)
                facts.damaged_sectors += 1
        floor = synced_size.get(path, 0)
        if len(data) > floor and rng.random() < 0.3:
            del data[rng.randint(floor, len(data)):]
            facts.shrunk_files += 1
        f.write_bytes(bytes(data))
    for old, new, previous in renames:
        if not new.startswith(live) or rng.random() < 0.5:
            continue
        facts.undone_renames += 1
        moved, target = out / os.path.relpath(new, live), out / os.path.relpath(old, live)
        if moved.exists():
            moved.replace(target)
        if previous is not None:
            moved.write_bytes(previous)
    return facts


def _pieces(ranges: list[tuple[int, int]], end: int) -> list[tuple[int, int]]:
    """The written bytes, merged, cut at sector boundaries: the units a power cut keeps or loses.

    Only written bytes are ever damaged, never their neighbours in the same sector ("powersafe
    overwrite", which SQLite assumes by default: the bytes of a synced frame sharing a sector with
    an unsynced one stay intact).
    """
    merged: list[list[int]] = []
    for off, n in sorted((o, o + n) for o, n in ranges):
        if merged and off <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], n)
        else:
            merged.append([off, n])
    out = []
    for lo, hi in merged:
        hi = min(hi, end)
        while lo < hi:
            cut = min(hi, (lo // SECTOR + 1) * SECTOR)
            out.append((lo, cut))
            lo = cut
    return out


@contextmanager
def seq_block(block: int) -> Iterator[None]:
    """Open outboxes with the writer's reservation block (a module constant of the outbox)."""
    saved = outbox_module.SEQ_BLOCK
    outbox_module.SEQ_BLOCK = block
    try:
        yield
    finally:
        outbox_module.SEQ_BLOCK = saved


def check(state: Path, facts: CutFacts, block: int) -> list[str]:
    """Problems found in one crash state (empty: the promises hold)."""
    db = state / "o.db"
    problems = []
    con = sqlite3.connect(db)
    try:
        verdict = con.execute("PRAGMA integrity_check").fetchone()[0]
        stored = {r[0] for r in con.execute("SELECT seq FROM outbox")}
    except sqlite3.DatabaseError as exc:
        return [f"unreadable: {exc}"]
    finally:
        con.close()
    if verdict != "ok":
        return [f"integrity_check: {verdict}"]
    accepted = set(facts.accepted)
    last = max(facts.accepted, default=-1)
    missing = sorted(accepted - facts.ack_begun - stored)
    if missing:
        problems.append(f"accepted but gone: {missing[:10]}")
    phantom = sorted(stored - accepted - {last + 1})
    if phantom:
        problems.append(f"never accepted yet stored: {phantom[:10]}")
    with seq_block(block):
        box = Outbox(db)
        try:
            if box.recovered_from is not None:
                problems.append(f"treated as corrupt: {box.recovered_from.error}")
            nxt = box.put("t", ALARM, lambda s: b"{}")
        finally:
            box.close()
    if nxt not in (last + 1, last + 2):
        problems.append(f"numbering resumed at {nxt} after last accepted {last}")
    return problems


@dataclass
class PowerCutReport:
    cuts: int = 0
    snapshots: int = 0
    accepted_max: int = 0
    damaged_sectors: int = 0
    shrunk_files: int = 0
    undone_renames: int = 0
    cuts_mid_write: int = 0
    problems: list[str] = field(default_factory=list)


def campaign(workdir: Path, pauses: int, variants: int, seed: int, seq_block_size: int = 40, extra_sql: str = "") -> PowerCutReport:
    """Record a writer with `pauses` freezes, then check `variants` power cuts at each freeze and at the kill.

    `extra_sql` is run by the writer after opening the outbox (the negative control weakens it).
    """
    rec = record(workdir, pauses, seed, seq_block_size, extra_sql=extra_sql)
    rng = random.Random(seed + 1)
    report = PowerCutReport(snapshots=len(rec.snapshots))
    for cut, snap in rec.snapshots:
        for v in range(variants):
            facts = power_cut(rec, cut, snap, workdir / "state", rng)
            report.cuts += 1
            report.accepted_max = max(report.accepted_max, max(facts.accepted, default=0))
            report.damaged_sectors += facts.damaged_sectors
            report.shrunk_files += facts.shrunk_files
            report.undone_renames += facts.undone_renames
            report.cuts_mid_write += bool(facts.damaged_sectors or facts.shrunk_files)
            for p in check(workdir / "state", facts, seq_block_size):
                report.problems.append(f"{snap.name} variant {v}: {p}")
    return report


def kill_writers(db: Path, rounds: int, rng: random.Random) -> tuple[int, list[int], str]:
    """The plain version: SIGKILL a writer child `rounds` times; (accepted, lost seqs, integrity)."""
    child = WRITER.replace("ob.SEQ_BLOCK = block", "pass")
    accepted: list[int] = []
    acked: set[int] = set()
    for _ in range(rounds):
        proc = subprocess.Popen([sys.executable, "-c", child, str(db), str(rng.randrange(1 << 30)), "0"], cwd=ROOT,
                                stdout=subprocess.PIPE)
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        for line in out.decode().splitlines():
            word, *nums = line.split()
            if word == "A":
                accepted.append(int(nums[0]))
            elif word == "D":
                acked.update(range(int(nums[0]), int(nums[1]) + 1))
    con = sqlite3.connect(db)
    try:
        verdict = con.execute("PRAGMA integrity_check").fetchone()[0]
        stored = {r[0] for r in con.execute("SELECT seq FROM outbox")}
    finally:
        con.close()
    lost = sorted(set(accepted) - acked - stored)
    assert accepted == sorted(set(accepted)), "a seq was reused across kills"
    return len(accepted), lost, verdict
