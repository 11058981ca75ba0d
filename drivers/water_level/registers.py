"""Pure decoding of Modbus register values into numbers; no I/O here.

Level transmitters disagree on how a 32-bit value spans two 16-bit registers: `word_order`
"big" puts the high word in the first register (the Modbus convention), "little" puts it in
the second (many meters and some radar sensors).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

from foundation.errors import BadFrame

DATA_TYPES: dict[str, tuple[str, int]] = {
    "uint16": (">H", 1),
    "int16": (">h", 1),
    "uint32": (">I", 2),
    "int32": (">i", 2),
    "float32": (">f", 2),
}


def register_count(data_type: str) -> int:
    """How many 16-bit registers a value of `data_type` occupies."""
    return DATA_TYPES[data_type][1]


def decode_registers(registers: Sequence[int], data_type: str, word_order: str = "big") -> float:
    """The number held in `registers`; BadFrame for a wrong count, a non-16-bit word or a NaN."""
    fmt, count = DATA_TYPES[data_type]
    if len(registers) != count:
        raise BadFrame(f"{data_type} needs {count} register(s), got {len(registers)}")
    if any(not 0 <= r <= 0xFFFF for r in registers):
        raise BadFrame(f"register values out of 16-bit range: {list(registers)}")
    words = list(registers) if word_order == "big" else list(reversed(registers))
    value = struct.unpack(fmt, b"".join(w.to_bytes(2, "big") for w in words))[0]
    if not math.isfinite(value):
        raise BadFrame(f"{data_type} value is not a finite number (registers {list(registers)})")
    return float(value)


def encode_registers(value: float, data_type: str, word_order: str = "big") -> list[int]:
    """The registers a device would hold for `value` (used by simulators and tests)."""
    fmt, _ = DATA_TYPES[data_type]
    packed = struct.pack(fmt, int(value) if data_type != "float32" else value)
    words = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]
    return words if word_order == "big" else list(reversed(words))
