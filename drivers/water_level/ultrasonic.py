"""Water level from a UART ultrasonic distance sensor looking down at the water.

The sensor face is mounted `mount_height_m` above the station datum, so the level is
`mount_height_m - distance`. Supported frames: the 4-byte binary frame of A02YYUW / DYP-A01
style sensors and MaxBotix's ASCII `R####\\r`. Streaming sensors are drained on every read (all
frames since the last poll feed the echo filter); controlled-output sensors get `trigger`
written first. Garbled frames are counted and skipped; a silent or vanished port raises
DeviceUnavailable, closes the port and backs off, and the next read after the back-off opens the
URL again (so `hwgrep://` finds a re-plugged adapter under its new name).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import serial

from drivers.base import DeviceUnavailable, WaterReading
from drivers.link import LinkedDevice, LinkStatus, LinkTracker
from drivers.serial_port import open_serial
from drivers.water_level.filter import MedianFilter
from drivers.water_level.frames import parse_ascii_frames, parse_binary_frames

Parser = Callable[[bytes], tuple[list[float], int, bytes]]

FRAME_PARSERS: dict[str, Parser] = {
    "binary": parse_binary_frames,
    "ascii_mm": functools.partial(parse_ascii_frames, unit_mm=1.0),
    "ascii_cm": functools.partial(parse_ascii_frames, unit_mm=10.0),
    "ascii_in": functools.partial(parse_ascii_frames, unit_mm=25.4),
}


class UltrasonicWaterLevel(LinkedDevice):
    """A WaterLevelSensor over a serial URL; `status` tells whether it is online and why not."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        mount_height_m: float,
        frame_format: str = "binary",
        baudrate: int = 9600,
        trigger: bytes | None = None,
        min_distance_m: float = 0.03,
        max_distance_m: float = 4.5,
        window: int = 5,
        max_jump_m: float = 0.10,
        timeout_s: float = 1.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[LinkStatus], None] | None = None,
    ) -> None:
        if frame_format not in FRAME_PARSERS:
            raise ValueError(f"{name}: unknown frame_format {frame_format!r}; one of {sorted(FRAME_PARSERS)}")
        if not 0 <= min_distance_m < max_distance_m:
            raise ValueError(f"{name}: need 0 <= min_distance_m < max_distance_m")
        self.name = name
        self.url = url
        self.frame_format = frame_format
        self._parse = FRAME_PARSERS[frame_format]
        self._mount = mount_height_m
        self._baudrate = baudrate
        self._trigger = trigger
        self._min_mm = min_distance_m * 1000
        self._max_mm = max_distance_m * 1000
        self._timeout = timeout_s
        self._filter = MedianFilter(window, max_jump_m * 1000)
        self._link = LinkTracker(name, backoff_initial_s, backoff_max_s, clock, on_change)
        self._port: serial.SerialBase | None = None
        self._rest = b""
        self._closed = False
        self.frames_ok = 0
        self.frames_bad = 0
        self.out_of_range = 0

    def connect(self) -> None:
        """Open the port now rather than at the first read (a bench check of the wiring).

        Opening discards whatever the port had buffered, so only frames sent after this count.
        """
        if self._closed:
            raise DeviceUnavailable(self.name, "driver is closed")
        if self._port is None:
            self._link.check_ready()
            self._open()

    def read(self) -> WaterReading:
        if self._closed:
            raise DeviceUnavailable(self.name, "driver is closed")
        self._link.check_ready()
        port = self._port or self._open()
        try:
            fresh, received, bad, far = self._collect(port)
        except (serial.SerialException, OSError) as exc:
            self._drop()
            raise self._link.failed(f"serial port {self.url!r} failed: {exc}") from exc
        if not fresh:
            if far:
                raise self._link.failed(
                    f"all {far} readings outside {self._min_mm / 1000:g}-{self._max_mm / 1000:g} m: "
                    "nothing in range, or water up at the sensor face (blind zone)"
                )
            self._drop()
            raise self._link.failed(self._silence_reason(received, bad))
        self._link.succeeded()
        distance_mm = self._filter.value()
        assert distance_mm is not None
        return WaterReading(
            level_m=round(self._mount - distance_mm / 1000, 4),
            raw={
                "distance_mm": round(distance_mm, 1),
                "frames_ok": self.frames_ok,
                "frames_bad": self.frames_bad,
                "outliers": self._filter.outliers,
                "out_of_range": self.out_of_range,
            },
        )

    def close(self) -> None:
        self._closed = True
        self._drop()

    # ------------------------------------------------------------------------------- internals

    def _open(self) -> serial.SerialBase:
        try:
            self._port = open_serial(self.name, self.url, baudrate=self._baudrate, timeout=0.05)
        except DeviceUnavailable as exc:
            raise self._link.failed(exc.reason) from exc
        self._rest = b""
        self._filter.clear()
        return self._port

    def _drop(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass  # the device is already gone

    def _collect(self, port: serial.SerialBase) -> tuple[int, int, int, int]:
        """Read until at least one in-range frame came and the input is drained, or the timeout.

        Returns (in-range frames, bytes received, bad frames, out-of-range frames) of this read.
        """
        deadline = time.monotonic() + self._timeout
        if self._trigger:
            port.write(self._trigger)
        fresh = received = bad_here = far = 0
        while True:
            chunk = port.read(max(1, port.in_waiting))
            if chunk:
                received += len(chunk)
                distances, bad, self._rest = self._parse(self._rest + chunk)
                bad_here += bad
                self.frames_bad += bad
                for mm in distances:
                    if self._min_mm <= mm <= self._max_mm:
                        self._filter.add(mm)
                        self.frames_ok += 1
                        fresh += 1
                    else:
                        self.out_of_range += 1
                        far += 1
            if (fresh and not port.in_waiting) or time.monotonic() >= deadline:
                return fresh, received, bad_here, far

    def _silence_reason(self, received: int, bad: int) -> str:
        if not received:
            return f"no data within {self._timeout:g} s on {self.url!r}: check power and wiring (sensor TX to RX)"
        return (
            f"{received} bytes but no valid {self.frame_format} frame within {self._timeout:g} s "
            f"({bad} bad): check the baud rate ({self._baudrate}) and frame_format"
        )
