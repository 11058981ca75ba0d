"""SL 651-2014 HEX frames: the station's uplink frames, and reading the centre's downlink ones.

Uplink: 7E7E | centre | station (5 BCD) | password | function | 0 + length (12 bits) | STX 02 |
serial | send time | elements | ETX 03 (ETB 17 when more follows) | CRC-16/Modbus, big-endian.
A downlink frame swaps the addresses (station first) and has 8 in the length's top nibble.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymodbus.framer.rtu import FramerRTU

from foundation.errors import BadFrame
from gateway.sl651.elements import bcd, time_bcd

SOH = b"\x7e\x7e"
STX = 0x02
ETX = 0x03
ETB = 0x17
# Downlink end characters.
EOT = 0x04  # end, leave the link
ENQ = 0x05
ACK = 0x06
NAK = 0x15  # not accepted: send again
ESC = 0x1B  # end, stay online
HEADER = 14  # SOH..STX
MAX_BODY = 0xFFF

KEEPALIVE = 0x2F
TEST = 0x30
TIMED = 0x32
ADDED = 0x33
HOURLY = 0x34
QUERY = 0x37
CLOCK = 0x4A


def crc16(data: bytes) -> int:
    """CRC-16/Modbus of `data` as the frame sends it (high byte first); pymodbus's own table."""
    swapped = FramerRTU.compute_CRC(data)
    return (swapped >> 8) | ((swapped & 0xFF) << 8)


def encode_up(centre: int, station: str, password: str, function: int, serial: int, sent: float, utc_offset_h: float,
              elements: bytes = b"", end: int = ETX) -> bytes:
    """One complete uplink frame."""
    body = (serial & 0xFFFF).to_bytes(2, "big") + time_bcd(sent, utc_offset_h, seconds=True) + elements
    if len(body) > MAX_BODY:
        raise ValueError("frame body too long")
    head = SOH + bytes([centre]) + bcd(station) + bytes.fromhex(password) + bytes([function]) + len(body).to_bytes(2, "big") + bytes([STX])
    frame = head + body + bytes([end])
    return frame + crc16(frame).to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class Downlink:
    """A frame from a centre: what the station needs to answer or settle a report."""

    station: str
    centre: int
    password: str
    function: int
    serial: int
    sent_raw: bytes  # yyMMddHHmmss BCD as the centre sent it
    rest: bytes  # the body after serial and send time
    end: int


def frame_length(head: bytes) -> int:
    """Total length of the frame whose first HEADER bytes are `head`; BadFrame when they are not one."""
    if len(head) < HEADER or head[:2] != SOH or head[13] not in (STX, 0x16):
        raise BadFrame("not an SL651 HEX frame header")
    return HEADER + (int.from_bytes(head[11:13], "big") & 0xFFF) + 3


def decode_down(frame: bytes) -> Downlink:
    """Check and split one downlink frame (BadFrame when damaged or not downlink)."""
    if len(frame) < HEADER + 8 + 3 or frame_length(frame[:HEADER]) != len(frame):
        raise BadFrame("SL651 frame length does not match")
    if crc16(frame[:-2]) != int.from_bytes(frame[-2:], "big"):
        raise BadFrame("SL651 frame CRC mismatch")
    if frame[11] >> 4 != 8:
        raise BadFrame("not a downlink frame")
    body = frame[HEADER:-3]
    return Downlink(
        station=frame[2:7].hex(), centre=frame[7], password=frame[8:10].hex().upper(), function=frame[10],
        serial=int.from_bytes(body[:2], "big"), sent_raw=body[2:8], rest=body[8:], end=frame[-3],
    )
