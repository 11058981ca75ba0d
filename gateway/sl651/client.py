"""One centre's link: a thread that sends the queued reports in order and answers the centre.

A report leaves the queue only when the centre acknowledged it (same function and serial); no
acknowledgement within `ack_timeout_s`, a NAK or a broken connection closes the link and the
same report goes again after a backoff (`foundation.backoff`). An idle link sends keep-alives
(2F). Queries (37) and clock commands (4A) are answered whenever they arrive.
"""

from __future__ import annotations

import logging
import random
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from foundation.backoff import Backoff
from foundation.errors import BadFrame, GatewayError
from gateway.config.sl651 import Sl651Centre, Sl651Config
from gateway.sl651.frames import CLOCK, EOT, HEADER, KEEPALIVE, NAK, QUERY, SOH, Downlink, decode_down, encode_up, frame_length
from gateway.sl651.queue import ReportQueue

log = logging.getLogger(__name__)
POLL_S = 0.5  # longest wait before an idle link looks at the queue again (wake() cuts it short)


class LinkLost(GatewayError, ConnectionError):
    """The centre closed the link, refused a report or did not acknowledge it in time."""


@dataclass
class CentreStatus:
    centre: str
    connected: bool = False
    acknowledged: int = 0
    last_ack_wall: float | None = None
    last_error: str | None = None


def centre_name(centre: Sl651Centre) -> str:
    return f"{centre.address}@{centre.host}:{centre.port}"


class CentreClient:
    """The link to one centre, in its own thread. `answer(downlink)` gives the elements of a reply, or None."""

    def __init__(self, centre: Sl651Centre, cfg: Sl651Config, queue: ReportQueue, answer: Callable[[Downlink], bytes | None],
                 wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.name = centre_name(centre)
        self._centre = centre
        self._cfg = cfg
        self._queue = queue
        self._answer = answer
        self._wall = wall
        self._mono = monotonic
        self._stop = threading.Event()
        self._backoff = Backoff(cfg.backoff_initial_s, cfg.backoff_max_s, clock=monotonic, rng=random.Random())
        self._thread: threading.Thread | None = None
        self._ended = False  # the centre's last acknowledgement closed the link (EOT)
        self._wake_r, self._wake_w = socket.socketpair()  # wakes an idle link when a report is queued
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.status = CentreStatus(self.name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"sl651-{self.name}", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A report was queued: send it now instead of at the next poll."""
        try:
            self._wake_w.send(b"\0")
        except OSError:  # already woken (buffer full) or closed
            pass

    def request_stop(self) -> None:
        self._stop.set()
        self.wake()

    def stop(self, timeout: float = 5.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._thread is None or not self._thread.is_alive():
            self._wake_r.close()
            self._wake_w.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._backoff.ready():
                self._stop.wait(self._backoff.remaining())
                continue
            try:
                sock = socket.create_connection((self._centre.host, self._centre.port), timeout=self._cfg.connect_timeout_s)
            except OSError as exc:
                self._failed(exc)
                continue
            try:
                self._session(sock)
            except (OSError, LinkLost) as exc:
                self._failed(exc)
            finally:
                self.status.connected = False
                sock.close()

    def _failed(self, exc: BaseException) -> None:
        self.status.last_error = str(exc) or type(exc).__name__
        delay = self._backoff.failed()
        log.info("SL651 centre %s: %s; retrying in %.1f s", self.name, self.status.last_error, delay)

    def _frame(self, function: int, serial: int, elements: bytes = b"") -> bytes:
        cfg = self._cfg
        return encode_up(self._centre.address, cfg.station_address, cfg.password, function, serial, self._wall(), cfg.utc_offset_h, elements)

    def _session(self, sock: socket.socket) -> None:
        """Send, await acknowledgements, keep alive. The backoff starts over only after an acknowledgement or an
        idle keep-alive period: a centre that accepts connections but never acknowledges is retried ever slower."""
        self.status.connected = True
        self.status.last_error = None
        buf = bytearray()
        last_sent = self._mono()
        while not self._stop.is_set():
            item = self._queue.next_for(self.name)
            if item is not None:
                report_id, report = item
                serial = self._queue.next_serial(self.name)
                sock.sendall(self._frame(report.function, serial, report.elements))
                last_sent = self._mono()
                if self._await_ack(sock, buf, report.function, serial):
                    self._queue.acknowledged(self.name, report_id)
                    self._backoff.succeeded()
                    self.status.acknowledged += 1
                    self.status.last_ack_wall = self._wall()
                    if self._ended:
                        return
                continue
            idle = self._cfg.keepalive_s - (self._mono() - last_sent)
            if idle <= 0:
                sock.sendall(self._frame(KEEPALIVE, self._queue.next_serial(self.name)))
                last_sent = self._mono()
                self._backoff.succeeded()
                continue
            down = self._read(sock, buf, self._mono() + min(idle, POLL_S))
            if down is not None:
                self._reply(sock, down)

    def _await_ack(self, sock: socket.socket, buf: bytearray, function: int, serial: int) -> bool:
        deadline = self._mono() + self._cfg.ack_timeout_s
        while not self._stop.is_set():
            down = self._read(sock, buf, min(deadline, self._mono() + POLL_S))
            if down is None:
                if self._mono() >= deadline:
                    raise LinkLost("no acknowledgement from the centre")
                continue
            if down.function == function and down.serial == serial:
                if down.end == NAK:
                    raise LinkLost("the centre refused the report (NAK)")
                self._ended = down.end == EOT
                return True
            self._reply(sock, down)
        return False

    def _reply(self, sock: socket.socket, down: Downlink) -> None:
        if down.function not in (QUERY, CLOCK):
            return
        elements = self._answer(down)
        if elements is not None:
            sock.sendall(self._frame(down.function, down.serial, elements))

    def _read(self, sock: socket.socket, buf: bytearray, deadline: float) -> Downlink | None:
        """The next valid downlink frame for this station, or None at the deadline."""
        while True:
            frame = self._take(buf)
            if frame is not None:
                try:
                    down = decode_down(frame)
                except BadFrame as exc:
                    log.info("SL651 centre %s: dropped a frame: %s", self.name, exc)
                    continue
                if down.station == self._cfg.station_address and down.password == self._cfg.password.upper():
                    return down
                continue
            remaining = deadline - self._mono()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([sock, self._wake_r], [], [], remaining)
            if self._wake_r in ready:
                try:
                    self._wake_r.recv(4096)
                except OSError:
                    pass
                return None
            if not ready:
                return None
            data = sock.recv(4096)
            if not data:
                raise LinkLost("the centre closed the connection")
            buf += data

    @staticmethod
    def _take(buf: bytearray) -> bytes | None:
        """Cut one complete frame off the front of `buf`, skipping garbage before a start mark."""
        while True:
            start = buf.find(SOH)
            if start < 0:
                del buf[:max(0, len(buf) - 1)]
                return None
            del buf[:start]
            if len(buf) < HEADER:
                return None
            try:
                length = frame_length(bytes(buf[:HEADER]))
            except BadFrame:
                del buf[:1]
                continue
            if len(buf) < length:
                return None
            frame = bytes(buf[:length])
            del buf[:length]
            return frame
