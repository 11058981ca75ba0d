"""A small reference centre (中心站) for commissioning and demos: receive, decode, acknowledge.

It accepts stations over TCP, decodes every frame with `county.sl651.decode`, acknowledges
reports (30-35) the way platforms do — same function, serial and send time, end ESC (stay
online) — and hands each frame to a callback (print, store). It can also query a connected
station (37) or send it the centre's clock (4A). Not a production platform: no database, no
authentication beyond the frame password it is given.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from county.sl651.decode import Frame, Sl651DecodeError, crc16_modbus, decode, split_frames

log = logging.getLogger(__name__)
REPORTS = {0x30, 0x31, 0x32, 0x33, 0x34, 0x35}
ESC = 0x1B


def bcd_time(wall: float, utc_offset_h: float) -> bytes:
    return bytes.fromhex(datetime.fromtimestamp(wall, timezone(timedelta(hours=utc_offset_h))).strftime("%y%m%d%H%M%S"))


def downlink(station: str, centre: int, password: str, function: int, serial: int, sent: bytes, end: int = ESC, rest: bytes = b"") -> bytes:
    """One downlink frame: 7E7E, station, centre, password, function, 8 + length, STX, body, end, CRC."""
    body = serial.to_bytes(2, "big") + sent + rest
    frame = (b"\x7e\x7e" + bytes.fromhex(station) + bytes([centre]) + bytes.fromhex(password) + bytes([function])
             + (0x8000 | len(body)).to_bytes(2, "big") + b"\x02" + body + bytes([end]))
    return frame + crc16_modbus(frame).to_bytes(2, "big")


def acknowledgement(frame: Frame, raw: bytes) -> bytes:
    """The acknowledgement of an uplink report: same function and serial, its send time echoed."""
    return downlink(frame.station, frame.centre, frame.password, frame.function, frame.serial, raw[16:22])


class ReferenceCentre:
    """A TCP centre on `host:port` (0: any free port); `on_frame(frame, raw)` sees every decoded frame."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, on_frame: Callable[[Frame, bytes], None] | None = None,
                 acknowledge: bool = True, utc_offset_h: float = 8.0, wall: Callable[[], float] = time.time) -> None:
        self._server = socket.create_server((host, port))
        self._server.settimeout(0.2)  # the accept loop notices stop() without a connection
        self.port = self._server.getsockname()[1]
        self._on_frame = on_frame
        self.acknowledge = acknowledge
        self._offset = utc_offset_h
        self._wall = wall
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._links: dict[str, tuple[socket.socket, int, str]] = {}  # station -> (socket, centre, password)
        self._conns: list[socket.socket] = []
        self._serial = 0
        self.frames: list[Frame] = []
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._accept, name="sl651-centre", daemon=True)

    def start(self) -> "ReferenceCentre":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._server.close()
        with self._lock:
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()

    def received(self, function: int | None = None) -> list[Frame]:
        with self._lock:
            return [f for f in self.frames if function is None or f.function == function]

    def query(self, station: str) -> None:
        """Ask a connected station for its current data (37)."""
        self._command(station, 0x37)

    def set_clock(self, station: str, wall: float | None = None) -> None:
        """Send a connected station the centre's clock (4A)."""
        self._command(station, 0x4A, wall)

    def _command(self, station: str, function: int, wall: float | None = None) -> None:
        with self._lock:
            sock, centre, password = self._links[station]
            self._serial = self._serial % 0xFFFF + 1
            serial = self._serial
        sock.sendall(downlink(station, centre, password, function, serial, bcd_time(self._wall() if wall is None else wall, self._offset), end=0x05))

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), name="sl651-centre-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray()
        try:
            while not self._stop.is_set():
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
                for raw in split_frames(buf):
                    try:
                        frame = decode(raw)
                    except Sl651DecodeError as exc:
                        self.errors.append(f"{exc}: {raw.hex().upper()}")
                        buf[:0] = raw[2:]  # resynchronise on the next start mark
                        continue
                    self._handle(conn, frame, raw)
        except OSError:
            return
        finally:
            conn.close()

    def _handle(self, conn: socket.socket, frame: Frame, raw: bytes) -> None:
        if not frame.upstream:
            return
        with self._lock:
            self._links[frame.station] = (conn, frame.centre, frame.password)
            self.frames.append(frame)
        if self._on_frame is not None:
            self._on_frame(frame, raw)
        if self.acknowledge and frame.function in REPORTS:
            conn.sendall(acknowledgement(frame, raw))
