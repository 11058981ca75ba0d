"""The station's download of an update over a poor link: resumed with Range, bounded, verified (a real HTTP server)."""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path

import pytest

from gateway.update.download import DownloadError, NoRoom, Tampered, ensure_room, fetch
from tests.update.serve import Served, serving


def payload(tmp_path: Path, size: int = 300_000) -> tuple[Path, str]:
    path = tmp_path / "served.bin"
    path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_download_cut_in_the_middle_resumes_where_it_stopped(tmp_path: Path) -> None:
    src, sha = payload(tmp_path)
    served = Served(files={"b.tar.gz": src}, cut_first_at={"b.tar.gz": 100_000})
    served.release.set()  # cut at once
    seen: list[int] = []
    with serving(served):
        got = fetch(served.url("b.tar.gz"), tmp_path / "dl" / "b.tar.gz", src.stat().st_size, sha, seen.append, threading.Event())
    assert got.read_bytes() == src.read_bytes()
    assert served.ranges == [("b.tar.gz", 0), ("b.tar.gz", 100_000)]  # the second request asked only for the rest
    assert not (tmp_path / "dl" / "b.tar.gz.part").exists()
    assert seen[-1] == src.stat().st_size


def test_a_part_left_by_an_earlier_attempt_is_continued(tmp_path: Path) -> None:
    src, sha = payload(tmp_path)
    dest = tmp_path / "dl" / "b.tar.gz"
    dest.parent.mkdir()
    (tmp_path / "dl" / "b.tar.gz.part").write_bytes(src.read_bytes()[:123_456])  # the gateway restarted mid-download
    served = Served(files={"b.tar.gz": src})
    with serving(served):
        fetch(served.url("b.tar.gz"), dest, src.stat().st_size, sha, lambda n: None, threading.Event())
    assert served.ranges == [("b.tar.gz", 123_456)] and dest.read_bytes() == src.read_bytes()


def test_bytes_that_are_not_the_declared_ones_are_refused_as_tampered_and_not_kept(tmp_path: Path) -> None:
    src, sha = payload(tmp_path)
    data = bytearray(src.read_bytes())
    data[5000] ^= 0xFF
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    served = Served(files={"b.tar.gz": bad})
    dest = tmp_path / "dl" / "b.tar.gz"
    with serving(served), pytest.raises(Tampered, match="sha256"):
        fetch(served.url("b.tar.gz"), dest, len(data), sha, lambda n: None, threading.Event())
    assert not dest.exists() and not dest.with_name("b.tar.gz.part").exists()


def test_a_server_sending_more_than_declared_is_cut_off_at_the_declared_size(tmp_path: Path) -> None:
    src, sha = payload(tmp_path)
    served = Served(files={"b.tar.gz": src})
    with serving(served), pytest.raises(Tampered, match="more than the declared"):
        fetch(served.url("b.tar.gz"), tmp_path / "dl" / "b.tar.gz", 1000, sha, lambda n: None, threading.Event())
    assert (tmp_path / "dl" / "b.tar.gz.part").stat().st_size <= 1000


def test_a_missing_file_fails_at_once_with_the_servers_answer(tmp_path: Path) -> None:
    served = Served()
    with serving(served), pytest.raises(DownloadError, match="HTTP 404"):
        fetch(served.url("gone.tar.gz"), tmp_path / "dl" / "gone.tar.gz", 10, "0" * 64, lambda n: None, threading.Event())
    assert served.ranges == []  # 404 before any range was recorded; no retry loop either


def test_an_unreachable_server_gives_up_with_a_clear_reason(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="download failed"):
        fetch("http://127.0.0.1:9/x.tar.gz", tmp_path / "x.tar.gz", 10, "0" * 64, lambda n: None, threading.Event(), timeout_s=2, attempts=2)


def test_an_update_that_would_fill_the_storage_is_refused_before_downloading(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    ensure_room({tmp_path / "updates": 1000, tmp_path / "opt": 1000}, spare=1000)  # not created yet: its parent is asked
    with pytest.raises(NoRoom, match="MB free in"):
        ensure_room({tmp_path / "updates": free // 2, tmp_path / "opt": free // 2}, spare=free // 10)  # summed: same disk
