"""One file over HTTP for the stations to download, resumable, and nothing else on the disk.

A small threaded `http.server` (stdlib: a county PC needs nothing installed for it): the file
lives at `/<random token>/<its name>`, every other path is 404, so a station (or anyone on the
network) can fetch that one file and no other. A station on a weak mobile link resumes with
`Range: bytes=N-`; one range per request is served (several ranges get the whole file, which
RFC 9110 allows). Connections are bounded: past `max_clients` at once a client gets 503 and
tries again later, and a silent client is dropped after `idle_timeout_s`.
"""

from __future__ import annotations

import re
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

from county.update.bundle_file import UpdateFile

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """The (first, last) bytes a `Range` header asks for; None: the whole file; False: unsatisfiable.

    Pure, so its rules are tested on their own: `bytes=N-` resumes, `bytes=-N` is the last N
    bytes, a last byte past the end is cut to the end, anything malformed or several ranges
    mean the whole file.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        n = int(last)
        return (max(0, size - n), size - 1) if n > 0 and size > 0 else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


class OneFileServer:
    """Serves `file` at `url_path` until `stop()`; `port` is the one bound (0 picks a free one)."""

    def __init__(self, file: UpdateFile, host: str = "0.0.0.0", port: int = 0, max_clients: int = 32, idle_timeout_s: float = 60.0) -> None:
        self.file = file
        self.token = secrets.token_urlsafe(18)
        self.url_path = f"/{self.token}/{quote(file.path.name)}"
        self.slots = threading.BoundedSemaphore(max_clients)
        self.served_bytes = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self, idle_timeout_s))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, base: str) -> str:
        """The file's URL under `base` (`http://HOST:PORT`, or the address stations see when it differs)."""
        return base.rstrip("/") + self.url_path

    def start(self) -> OneFileServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="update-file-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OneFileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, requests: int, sent: int) -> None:
        with self._lock:
            self.requests += requests
            self.served_bytes += sent


def _handler(server: OneFileServer, idle_timeout_s: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = idle_timeout_s  # a client that stops reading or writing is dropped
        server_version = "countyctl-update"
        sys_version = ""

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            pass  # the progress table says what the stations do; no line per request on the operator's screen

        def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
            self._serve(body=False)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            if unquote(urlsplit(self.path).path) != unquote(server.url_path):
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            if not server.slots.acquire(blocking=False):
                self.send_response(HTTPStatus.SERVICE_UNAVAILABLE)
                self.send_header("Retry-After", "10")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            try:
                self._send_file(body)
            finally:
                server.slots.release()

        def _send_file(self, body: bool) -> None:
            f = server.file
            wanted = byte_range(self.headers.get("Range"), f.size)
            if wanted is False:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{f.size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            first, last = wanted if isinstance(wanted, tuple) else (0, f.size - 1)
            length = last - first + 1
            self.send_response(HTTPStatus.PARTIAL_CONTENT if isinstance(wanted, tuple) else HTTPStatus.OK)
            self.send_header("Content-Type", "application/gzip" if f.kind == "software" else "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", f'"{f.sha256}"')
            self.send_header("Content-Length", str(length))
            if isinstance(wanted, tuple):
                self.send_header("Content-Range", f"bytes {first}-{last}/{f.size}")
            self.end_headers()
            if not body:
                server.count(1, 0)
                return
            sent = 0
            try:
                with f.path.open("rb") as src:
                    src.seek(first)
                    while sent < length:
                        block = src.read(min(CHUNK, length - sent))
                        if not block:
                            break
                        self.wfile.write(block)
                        sent += len(block)
            except (ConnectionError, TimeoutError):
                pass  # the station went away mid-file; it resumes with a Range
            finally:
                server.count(1, sent)

    return Handler

