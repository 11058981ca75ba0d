"""A small HTTP file server the update tests start, as the county's would serve a bundle: Range requests
answered with 206, and on request a first download cut in the middle (after a pause the test controls)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Served:
    """What the server serves and what it saw."""

    files: dict[str, Path] = field(default_factory=dict)
    cut_first_at: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before the first download is cut
    release: threading.Event = field(default_factory=threading.Event)  # the cut waits for this (set: cut at once)
    cut_done: threading.Event = field(default_factory=threading.Event)  # the first part of a cut download has been sent
    ranges: list[tuple[str, int]] = field(default_factory=list)  # (path, first byte) of every request
    port: int = 0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            name = self.path.lstrip("/")
            path = served.files.get(name)
            if path is None:
                self.send_error(404)
                return
            data = path.read_bytes()
            start = 0
            spec = self.headers.get("Range", "")
            if spec.startswith("bytes=") and spec[6:].endswith("-"):
                start = int(spec[6:-1])
            served.ranges.append((name, start))
            if start >= len(data) and start:
                self.send_error(416)
                return
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            cut = served.cut_first_at.pop(name, None)
            if cut is not None and start == 0:
                self.wfile.write(data[:cut])
                self.wfile.flush()
                served.cut_done.set()
                served.release.wait(120)
                self.close_connection = True
                return
            self.wfile.write(data[start:])

    return Handler


@contextmanager
def serving(served: Served) -> Iterator[Served]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    served.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.release.set()
        server.shutdown()
        server.server_close()
