"""Decoding SL 651-2014 HEX frames, written from the standard independently of the station's encoder.

Both directions are read: uplink (`7E7E`, centre, station, ..., length top nibble 0) and
downlink (station before centre, top nibble 8). The CRC is this module's own table
(CRC-16/Modbus: reflected 0x8005, start FFFF, sent high byte first), so a fault in the station's
CRC shows up here instead of agreeing with itself. Any bytes give either a `Frame` or
`Sl651DecodeError`, never another exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from foundation.errors import GatewayError


class Sl651DecodeError(GatewayError, ValueError):
    """The bytes are not a valid SL 651-2014 HEX frame."""


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


FUNCTIONS = {0x2F: "keepalive", 0x30: "test", 0x31: "uniform", 0x32: "timed", 0x33: "added", 0x34: "hourly",
             0x35: "manual", 0x36: "picture", 0x37: "query", 0x4A: "clock"}
ELEMENT_NAMES = {0x20: "rain_now_mm", 0x26: "rain_total_mm", 0x22: "rain_1h_mm", 0x39: "river_level_m", 0x38: "voltage_v",
                 0x3B: "reservoir_level_m", 0x45: "status"}
END_NAMES = {0x03: "ETX", 0x17: "ETB", 0x04: "EOT", 0x05: "ENQ", 0x06: "ACK", 0x15: "NAK", 0x1B: "ESC"}


@dataclass
class Frame:
    """One decoded frame; `elements` maps element names (or `0xNN`) to values."""

    upstream: bool
    centre: int
    station: str
    password: str
    function: int
    serial: int
    sent: str  # 20yy-MM-dd HH:mm:ss, the frame's own local time
    end: int
    raw_body: bytes
    station_type: int | None = None
    observed: str | None = None
    elements: dict[str, object] = field(default_factory=dict)

    @property
    def function_name(self) -> str:
        return FUNCTIONS.get(self.function, f"0x{self.function:02X}")


def _bcd_digits(raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise Sl651DecodeError(f"not BCD: {text}")
    return text


def _time(raw: bytes) -> str:
    d = _bcd_digits(raw)
    parts = [int(d[i:i + 2]) for i in range(0, len(d), 2)] + [0]
    try:
        t = datetime(2000 + parts[0], parts[1], parts[2], parts[3], parts[4], parts[5])
    except ValueError as exc:
        raise Sl651DecodeError(f"not a time: {d}") from exc
    return t.strftime("%Y-%m-%d %H:%M:%S")


def epoch_of(text: str, utc_offset_h: float = 8.0) -> float:
    """A frame time as epoch seconds, given the frames' time zone."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone(timedelta(hours=utc_offset_h))).timestamp()


def _number(definition: int, raw: bytes) -> float:
    decimals = definition & 0x07
    negative = raw[:1] == b"\xff"
    value = int(_bcd_digits(raw[1:] if negative else raw) or "0")
    return (-value if negative else value) / 10**decimals


def _elements(frame: Frame, data: bytes) -> None:
    i = 0
    while i < len(data):
        ident = data[i]
        if data[i:i + 2] == b"\xf1\xf1":
            frame.elements["station"] = _bcd_digits(data[i + 2:i + 7]) if len(data) >= i + 7 else _fail("F1F1 cut short")
            if len(data) > i + 7:
                frame.station_type = data[i + 7]
                i += 8
            else:
                i += 7
            continue
        if data[i:i + 2] == b"\xf0\xf0":
            if len(data) < i + 7:
                _fail("F0F0 cut short")
            frame.observed = _time(data[i + 2:i + 7])
            i += 7
            continue
        if i + 2 > len(data):
            _fail("element identifier cut short")
        definition = data[i + 1]
        size = definition >> 3
        raw = data[i + 2:i + 2 + size]
        if len(raw) != size:
            _fail(f"element 0x{ident:02X} cut short")
        i += 2 + size
        if data[i - size - 2:i - size] == b"\xf5\xc0":
            frame.elements["levels_5min_m"] = [None if raw[k:k + 2] == b"\xff\xff" else int.from_bytes(raw[k:k + 2], "big") / 100
                                               for k in range(0, size - 1, 2)]
        elif ident == 0x45:
            frame.elements["status"] = int.from_bytes(raw, "big")
        elif ident >= 0xF0:
            frame.elements[f"0x{ident:02X}{definition:02X}"] = raw.hex()
        else:
            frame.elements[ELEMENT_NAMES.get(ident, f"0x{ident:02X}")] = _number(definition, raw)


def _fail(message: str) -> str:
    raise Sl651DecodeError(message)


def decode(data: bytes) -> Frame:
    """Check and decode one complete frame."""
    if len(data) < 17 or data[:2] != b"\x7e\x7e":
        raise Sl651DecodeError("no 7E7E start or too short")
    if crc16_modbus(data[:-2]) != int.from_bytes(data[-2:], "big"):
        raise Sl651DecodeError("CRC mismatch")
    direction, length = data[11] >> 4, int.from_bytes(data[11:13], "big") & 0x0FFF
    if direction not in (0, 8):
        raise Sl651DecodeError("bad direction nibble")
    if data[13] != 0x02:
        raise Sl651DecodeError("not a single-packet frame (STX 02)")
    if len(data) != 14 + length + 3:
        raise Sl651DecodeError("length does not match")
    upstream = direction == 0
    centre, station_raw = (data[2], data[3:8]) if upstream else (data[7], data[2:7])
    body = data[14:14 + length]
    if len(body) < 8:
        raise Sl651DecodeError("body shorter than serial and send time")
    frame = Frame(upstream=upstream, centre=centre, station=_bcd_digits(station_raw), password=data[8:10].hex().upper(),
                  function=data[10], serial=int.from_bytes(body[:2], "big"), sent=_time(body[2:8]), end=data[-3], raw_body=body)
    if upstream:
        _elements(frame, body[8:])
    return frame


def split_frames(buf: bytearray) -> list[bytes]:
    """Cut the complete frames off the front of a stream buffer (garbage before a 7E7E is dropped)."""
    frames = []
    while True:
        start = buf.find(b"\x7e\x7e")
        if start < 0:
            del buf[:max(0, len(buf) - 1)]
            return frames
        del buf[:start]
        if len(buf) < 14:
            return frames
        total = 14 + (int.from_bytes(buf[11:13], "big") & 0x0FFF) + 3
        if len(buf) < total:
            return frames
        frames.append(bytes(buf[:total]))
        del buf[:total]
