"""Opening a serial port from a pyserial URL, with errors that name the device.

A port is a URL (`/dev/ttyUSB0`, `hwgrep://1a86:7523`, `rfc2217://host:port`, `loop://`), so a
sensor moved to another USB socket or behind a network serial server needs no code change.
The URL is resolved again on every open: after an unplug, `hwgrep://` finds the adapter under
whatever name the kernel gave it this time.
"""

from __future__ import annotations

import serial

from foundation.errors import DeviceUnavailable


def open_serial(
    name: str,
    url: str,
    baudrate: int = 9600,
    bytesize: int = 8,
    parity: str = "N",
    stopbits: int = 1,
    timeout: float = 0.05,
) -> serial.SerialBase:
    """Open `url` for device `name`; DeviceUnavailable (naming both) when it cannot be opened."""
    try:
        return serial.serial_for_url(
            url,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            timeout=timeout,
            write_timeout=max(timeout, 1.0),
            exclusive=True,
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceUnavailable(name, f"cannot open serial port {url!r}: {exc}") from exc
