"""Find which RTSP paths of the common makes a camera answers, with their resolution and rate.

Each attempt is bounded: first one TCP connect to the RTSP port (a dead address fails in
`timeout_s`, not once per path) and one bare DESCRIBE (a port that accepts but never speaks RTSP
fails in `timeout_s` too), then each path opened by OpenCV's FFmpeg backend, as the
gateway's RTSP driver opens it, with open/read timeouts, inside a worker thread that is given up
on after `timeout_s` plus a margin (FFmpeg does not honour its timeouts in every state). A path
that fails is asked once more with a bare RTSP DESCRIBE, so the technician learns whether the
login was refused (401) or the path does not exist (404). Credentials are put in the URL only to
open the stream; every URL shown carries `PASSWORD` in their place (`foundation.redact` masks
anything a library error might echo back).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import cv2

from foundation.redact import redact
from provisioning.rtsp_paths import VENDOR_PATHS, VendorPath

PLACEHOLDER = "PASSWORD"
MARGIN_S = 3.0  # beyond the FFmpeg timeouts, before an attempt is abandoned
GRAB_FRAMES = 6


@dataclass
class StreamFound:
    """One vendor path tried on the camera: whether it opened, and what it streams."""

    vendor: str
    stream: str
    path: str
    url: str  # as shown: the password replaced by PASSWORD
    ok: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    status: int | None = None  # the RTSP status of a bare DESCRIBE, when the open failed
    error: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stream_url(host: str, port: int, path: str, user: str | None, password: str | None) -> str:
    """The URL to open: user and password percent-encoded, so `@`, `:` or `/` in them stay theirs."""
    login = ""
    if user:
        login = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "") + "@"
    where = f"[{host}]" if ":" in host and not host.startswith("[") else host  # an IPv6 address
    return f"rtsp://{login}{where}:{port}{path}"


def shown_url(host: str, port: int, path: str, user: str | None, password: str | None) -> str:
    """The URL a person may read and paste: the password (if any) replaced by PASSWORD."""
    return stream_url(host, port, path, user, PLACEHOLDER if password else None).replace(quote(PLACEHOLDER), PLACEHOLDER)


def port_error(host: str, port: int, timeout_s: float) -> str | None:
    """None when something listens on host:port, else why not (refused, timed out, no route)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except socket.timeout:
        return f"no answer from {host}:{port} within {timeout_s:g} s"
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"


def describe_status(host: str, port: int, path: str, timeout_s: float) -> int | None:
    """The status code of a bare RTSP DESCRIBE of `path` (401: login needed, 404: no such stream)."""
    where = f"[{host}]" if ":" in host and not host.startswith("[") else host
    request = f"DESCRIBE rtsp://{where}:{port}{path} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\nUser-Agent: stationctl\r\n\r\n"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(request.encode("ascii", "replace"))
            head = sock.recv(256).decode("latin-1")
    except OSError:
        return None
    match = re.match(r"RTSP/1\.\d (\d{3})", head)
    return int(match.group(1)) if match else None


def _grab(url: str, timeout_s: float, result: dict[str, Any]) -> None:
    """Open `url` and read a few frames; fills `result` (run in a worker thread)."""
    ms = int(timeout_s * 1000)
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
    try:
        if not cap.isOpened():
            result["error"] = "the stream did not open"
            return
        started, frames, shape = time.monotonic(), 0, None
        while frames < GRAB_FRAMES and time.monotonic() - started < timeout_s:
            ok, image = cap.read()
            if not ok or image is None:
                break
            frames, shape = frames + 1, image.shape
        if shape is None:
            result["error"] = "the stream opened but sent no picture"
            return
        elapsed = time.monotonic() - started
        stated = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        # the stream's own rate when it states a sane one; the first frames of a live stream arrive in a burst
        fps = stated if 0 < stated <= 120 else (frames / elapsed if elapsed > 0 else 0.0)
        result.update(width=int(shape[1]), height=int(shape[0]), fps=round(fps, 1))
    finally:
        cap.release()


def try_stream(url: str, timeout_s: float) -> dict[str, Any]:
    """{width, height, fps} of the stream, or {error}; never longer than timeout_s plus a margin."""
    result: dict[str, Any] = {}
    worker = threading.Thread(target=_grab, args=(url, timeout_s, result), daemon=True, name="rtsp-probe")
    worker.start()
    worker.join(timeout_s * 2 + MARGIN_S)  # open and first read each have their own timeout
    if worker.is_alive():
        return {"error": f"no picture within {timeout_s * 2 + MARGIN_S:g} s"}
    return result or {"error": "the stream did not open"}


def probe_host(
    host: str,
    port: int = 554,
    user: str | None = None,
    password: str | None = None,
    channel: int = 1,
    timeout_s: float = 4.0,
    paths: tuple[VendorPath, ...] = VENDOR_PATHS,
    say: Callable[[str], None] = lambda _: None,
) -> tuple[str | None, list[StreamFound]]:
    """(why the camera cannot be reached, or None; one row per vendor path tried)."""
    unreachable = port_error(host, port, timeout_s)
    if unreachable is not None:
        return redact(unreachable), []
    if describe_status(host, port, "/", timeout_s) is None:  # a listener that never answers would cost every path its timeout
        return f"{host}:{port} accepts connections but gives no RTSP answer within {timeout_s:g} s (not an RTSP port?)", []
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"  # what the gateway's driver uses by default
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # the table says why a path failed; FFmpeg's own lines only clutter it
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    secret = stream_url(host, port, "", user, password)
    rows: list[StreamFound] = []
    for vp in paths:
        path = vp.path(channel)
        say(f"{vp.vendor} {vp.stream}: {path}")
        started = time.monotonic()
        url = stream_url(host, port, path, user, password)
        got = try_stream(url, timeout_s)
        row = StreamFound(vp.vendor, vp.stream, path, shown_url(host, port, path, user, password), "error" not in got,
                          got.get("width", 0), got.get("height", 0), got.get("fps", 0.0))
        if not row.ok:
            row.status = describe_status(host, port, path, timeout_s)
            row.error = redact(str(got["error"]).replace(url, row.url).replace(secret, ""), [url])
        row.seconds = round(time.monotonic() - started, 2)
        rows.append(row)
    return None, rows


def explain(row: StreamFound, zh: bool, login_given: bool, any_opened: bool) -> str:
    """Why a path failed, in the technician's words (a bare DESCRIBE cannot tell a wrong login from a wrong path)."""
    if row.status == 401 and not login_given:
        return "需要登录（401）：加 --user 和 --password-file" if zh else "needs a login (401): add --user and --password-file"
    if row.status == 401 and any_opened:
        return "此型号无此路径" if zh else "not a path of this camera"
    if row.status == 401:
        return ("拒绝登录或无此路径（401）：核对 --user 和密码文件" if zh
                else "login refused or no such path (401): check --user and the password file")
    if row.status == 404:
        return "无此路径（404）" if zh else "no such path (404)"
    if row.status is not None and row.status >= 400:
        return f"RTSP {row.status}"
    return row.error
