"""Encoding the elements (要素) of SL 651-2014 report bodies, HEX mode.

An element is an identifier byte, a data-definition byte (high 5 bits: length in bytes, low 3
bits: decimals) and the value in BCD; a negative value has FFH in its highest byte. F1F1
(station), F0F0 (observation time) and the 5-minute water-level group are fixed forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

STATION = b"\xf1\xf1"
OBSERVED = b"\xf0\xf0"
RIVER_LEVEL = 0x39  # 瞬时河道水位, N(7,3) m
VOLTAGE = 0x38  # 电源电压, N(4,2) V
STATUS = 0x45  # 遥测站状态及报警信息, 4 bytes HEX
LEVELS_5MIN = b"\xf5\xc0"  # 1 小时内 5 分钟间隔相对水位 1: 12 x 2 bytes HEX, cm; FFFF invalid

# Status bits (element 45H, appendix of the standard): bit set = alarm / fault.
BIT_BATTERY_LOW = 1
BIT_LEVEL_ALARM = 2
BIT_LEVEL_METER_FAULT = 6


def zone(utc_offset_h: float) -> timezone:
    return timezone(timedelta(hours=utc_offset_h))


def bcd(digits: str) -> bytes:
    """'0012345678' -> 00 12 34 56 78 (an even number of decimal digits)."""
    if len(digits) % 2 or not set(digits) <= set("0123456789"):
        raise ValueError(f"not an even run of decimal digits: {digits!r}")
    return bytes(int(digits[i]) << 4 | int(digits[i + 1]) for i in range(0, len(digits), 2))


def time_bcd(wall: float, utc_offset_h: float, seconds: bool) -> bytes:
    """A wall time as yyMMddHHmm[ss] BCD in the frames' time zone."""
    t = datetime.fromtimestamp(wall, zone(utc_offset_h))
    return bcd(t.strftime("%y%m%d%H%M%S" if seconds else "%y%m%d%H%M"))


def parse_time_bcd(raw: bytes, utc_offset_h: float) -> float:
    """yyMMddHHmm[ss] BCD -> epoch seconds (ValueError when not a time)."""
    digits = raw.hex()
    if not set(digits) <= set("0123456789"):
        raise ValueError(f"time is not BCD: {digits}")
    parts = [int(digits[i:i + 2]) for i in range(0, len(digits), 2)]
    yy, mo, dd, hh, mi = parts[:5]
    ss = parts[5] if len(parts) > 5 else 0
    return datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=zone(utc_offset_h)).timestamp()


def number(identifier: int, value: float, length: int, decimals: int) -> bytes:
    """One numeric element: identifier, data definition, BCD value (FFH high byte when negative)."""
    scaled = round(abs(value) * 10**decimals)
    digits = 2 * length - (2 if value < 0 else 0)
    if scaled >= 10**digits:
        raise ValueError(f"{value} does not fit {length} bytes with {decimals} decimals")
    body = bcd(f"{scaled:0{digits}d}")
    if value < 0:
        body = b"\xff" + body
    return bytes([identifier, length << 3 | decimals]) + body


def station(address: str, station_type: int) -> bytes:
    return STATION + bcd(address) + bytes([station_type])


def observed(wall: float, utc_offset_h: float) -> bytes:
    return OBSERVED + time_bcd(wall, utc_offset_h, seconds=False)


def river_level(level_m: float) -> bytes:
    return number(RIVER_LEVEL, level_m, 4, 3)


def voltage(volts: float) -> bytes:
    return number(VOLTAGE, volts, 2, 2)


def status(bits: int) -> bytes:
    return bytes([STATUS, 4 << 3]) + (bits & 0xFFFFFFFF).to_bytes(4, "big")


def levels_5min(levels_m: Sequence[float | None]) -> bytes:
    """The twelve 5-minute levels of one hour, in cm; a missing or out-of-range one is FFFF."""
    if len(levels_m) != 12:
        raise ValueError("the hourly group has twelve levels")
    out = bytearray(LEVELS_5MIN)
    for level in levels_m:
        cm = None if level is None else round(level * 100)
        out += (0xFFFF if cm is None or not 0 <= cm < 0xFFFF else cm).to_bytes(2, "big")
    return bytes(out)
