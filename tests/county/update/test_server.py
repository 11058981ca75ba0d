"""The county's one-file server: the file whole or resumed by Range, and nothing else on the disk."""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from county.update.bundle_file import UpdateFile
from county.update.server import OneFileServer, byte_range

DATA = bytes(range(256)) * 1000  # 256000 bytes


@pytest.fixture
def served(tmp_path: Path) -> Iterator[OneFileServer]:
    path = tmp_path / "village-station-gateway-9.9.9-raspberrypi-aarch64.tar.gz"
    path.write_bytes(DATA)
    (tmp_path / "secret.txt").write_text("not for stations")
    f = UpdateFile(path, "software", "9.9.9", len(DATA), hashlib.sha256(DATA).hexdigest())
    with OneFileServer(f, "127.0.0.1", 0) as server:
        yield server


def get(server: OneFileServer, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_the_whole_file(served: OneFileServer) -> None:
    url = served.url(f"http://127.0.0.1:{served.port}")
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200 and r.read() == DATA
        assert r.headers["Accept-Ranges"] == "bytes"


def test_a_broken_download_resumes_where_it_stopped(served: OneFileServer) -> None:
    status, headers, first = get(served, served.url_path, {"Range": "bytes=0-99999"})
    assert status == 206 and headers["content-range"] == f"bytes 0-99999/{len(DATA)}" and first == DATA[:100000]
    status, headers, rest = get(served, served.url_path, {"Range": "bytes=100000-"})
    assert status == 206 and headers["content-range"] == f"bytes 100000-{len(DATA) - 1}/{len(DATA)}"
    assert first + rest == DATA
    status, _, tail = get(served, served.url_path, {"Range": "bytes=-10"})
    assert status == 206 and tail == DATA[-10:]


def test_a_range_past_the_end_is_refused_with_the_size(served: OneFileServer) -> None:
    status, headers, _ = get(served, served.url_path, {"Range": f"bytes={len(DATA)}-"})
    assert status == 416 and headers["content-range"] == f"bytes */{len(DATA)}"


def test_a_wrong_token_or_any_other_path_is_404(served: OneFileServer) -> None:
    name = served.url_path.rsplit("/", 1)[1]
    for path in (f"/wrongtoken/{name}", "/", f"/{served.token}/", f"/{served.token}/secret.txt", f"/{served.token}/../secret.txt",
                 "/etc/passwd", f"/{served.token}/{name}/../../secret.txt"):
        status, _, body = get(served, path)
        assert status == 404, path
        assert b"not for stations" not in body


def test_head_and_other_methods(served: OneFileServer) -> None:
    status, headers, body = get(served, served.url_path, method="HEAD")
    assert status == 200 and headers["content-length"] == str(len(DATA)) and body == b""
    status, _, _ = get(served, served.url_path, method="PUT")
    assert status == 501


def test_too_many_clients_at_once_are_asked_to_come_back(served: OneFileServer) -> None:
    taken = 0
    while served.slots.acquire(blocking=False):  # every download slot busy
        taken += 1
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(served.url(f"http://127.0.0.1:{served.port}"), timeout=10)
        assert err.value.code == 503 and err.value.headers["Retry-After"]
    finally:
        for _ in range(taken):
            served.slots.release()
    assert get(served, served.url_path)[0] == 200


def test_range_rules() -> None:
    assert byte_range(None, 100) is None
    assert byte_range("bytes=10-", 100) == (10, 99)
    assert byte_range("bytes=10-19", 100) == (10, 19)
    assert byte_range("bytes=90-500", 100) == (90, 99)
    assert byte_range("bytes=-5", 100) == (95, 99)
    assert byte_range("bytes=-500", 100) == (0, 99)
    assert byte_range("bytes=100-", 100) is False
    assert byte_range("bytes=20-10", 100) is False
    assert byte_range("bytes=-0", 100) is False
    assert byte_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole file
    assert byte_range("items=0-1", 100) is None
