"""Pure parsers of the frames UART ultrasonic distance sensors send; no I/O here.

Each parser takes the bytes received so far and returns `(distances_mm, bad, rest)`: the
distances of every valid frame in order, how many garbled frames or runs of stray bytes were
skipped, and the unfinished tail to prepend to the next chunk. Garbage never raises: a
half-connected wire, a wrong baud rate or a noisy cable only makes `bad` grow.
"""

from __future__ import annotations

BINARY_HEADER = 0xFF
BINARY_FRAME_LEN = 4
ASCII_START = ord("R")
ASCII_END = ord("\r")
ASCII_MAX_DIGITS = 4
ASCII_MIN_DIGITS = 3


def binary_frame(distance_mm: int) -> bytes:
    """The 4-byte frame of A02YYUW / DYP-A01 style sensors: 0xFF, high, low, sum checksum."""
    if not 0 <= distance_mm <= 0xFFFF:
        raise ValueError("distance_mm must fit 16 bits")
    high, low = distance_mm >> 8, distance_mm & 0xFF
    return bytes([BINARY_HEADER, high, low, (BINARY_HEADER + high + low) & 0xFF])


def parse_binary_frames(buffer: bytes) -> tuple[list[float], int, bytes]:
    """Find `0xFF hi lo sum` frames; on a bad checksum resync on the next 0xFF."""
    distances: list[float] = []
    bad = 0
    i, n = 0, len(buffer)
    while i < n:
        start = buffer.find(BINARY_HEADER, i)
        if start < 0:
            bad += 1  # a run of stray bytes with no header
            return distances, bad, b""
        if start > i:
            bad += 1
        if n - start < BINARY_FRAME_LEN:
            return distances, bad, bytes(buffer[start:])
        high, low, checksum = buffer[start + 1], buffer[start + 2], buffer[start + 3]
        if (BINARY_HEADER + high + low) & 0xFF == checksum:
            distances.append(float((high << 8) | low))
            i = start + BINARY_FRAME_LEN
        else:
            bad += 1
            i = start + 1
    return distances, bad, b""


def ascii_frame(value: int, digits: int = 4) -> bytes:
    """The `R####\\r` frame of MaxBotix sensors (value in the model's unit)."""
    return b"R" + str(value).zfill(digits).encode() + b"\r"


def parse_ascii_frames(buffer: bytes, unit_mm: float = 1.0) -> tuple[list[float], int, bytes]:
    """Find `R` + 3 or 4 digits + CR frames (MaxBotix); `unit_mm` converts the model's unit to mm."""
    distances: list[float] = []
    bad = 0
    i, n = 0, len(buffer)
    while i < n:
        start = buffer.find(ASCII_START, i)
        if start < 0:
            bad += 1
            return distances, bad, b""
        if start > i:
            bad += 1
        end = buffer.find(ASCII_END, start + 1, start + 2 + ASCII_MAX_DIGITS)
        if end < 0:
            tail = buffer[start + 1 :]
            if not tail or (len(tail) <= ASCII_MAX_DIGITS and tail.isdigit()):
                return distances, bad, bytes(buffer[start:])  # a frame still arriving
            bad += 1
            i = start + 1
            continue
        digits = buffer[start + 1 : end]
        if ASCII_MIN_DIGITS <= len(digits) <= ASCII_MAX_DIGITS and digits.isdigit():
            distances.append(int(digits) * unit_mm)
            i = end + 1
        else:
            bad += 1
            i = start + 1
    return distances, bad, b""
