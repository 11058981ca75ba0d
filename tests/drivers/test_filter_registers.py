"""The echo filter and the Modbus register decoding: pure functions, checked exactly and by property."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.client import ModbusSerialClient

from drivers.water_level.filter import MedianFilter
from drivers.water_level.registers import DATA_TYPES, decode_registers, encode_registers
from foundation.errors import BadFrame


def test_median_leaves_out_echoes_and_counts_them() -> None:
    f = MedianFilter(window=5, max_jump=100)
    for sample in (1500, 1502, 300, 1498, 1501):  # 300: an echo off reeds
        f.add(sample)
    assert f.value() == pytest.approx(1500.5)
    assert f.outliers == 1


def test_a_real_change_of_level_takes_over() -> None:
    f = MedianFilter(window=5, max_jump=50)
    for _ in range(5):
        f.add(2000)
    for _ in range(3):
        f.add(1200)  # the water rose 0.8 m at once (flash flood)
    assert f.value() == 1200


@given(st.lists(st.floats(0, 10000), min_size=1, max_size=40), st.integers(1, 9), st.floats(1, 500))
def test_filter_value_stays_within_the_window(samples: list[float], window: int, jump: float) -> None:
    f = MedianFilter(window, jump)
    for s in samples:
        f.add(s)
    recent = samples[-window:]
    value = f.value()
    assert value is not None and min(recent) <= value <= max(recent)


def test_decode_examples() -> None:
    assert decode_registers([1234], "uint16") == 1234
    assert decode_registers([0xFFFE], "int16") == -2
    assert decode_registers([0x0001, 0x0002], "uint32") == 65538
    assert decode_registers([0x0002, 0x0001], "uint32", "little") == 65538
    assert decode_registers([0x3FC0, 0x0000], "float32") == 1.5
    assert decode_registers([0x0000, 0x3FC0], "float32", "little") == 1.5


def test_decode_rejects_bad_input() -> None:
    with pytest.raises(BadFrame, match="needs 2"):
        decode_registers([1], "float32")
    with pytest.raises(BadFrame, match="finite"):
        decode_registers([0x7FC0, 0x0000], "float32")  # NaN
    with pytest.raises(BadFrame, match="16-bit"):
        decode_registers([70000], "uint16")


PYMODBUS_TYPES = {
    "uint16": ModbusSerialClient.DATATYPE.UINT16,
    "int16": ModbusSerialClient.DATATYPE.INT16,
    "uint32": ModbusSerialClient.DATATYPE.UINT32,
    "int32": ModbusSerialClient.DATATYPE.INT32,
    "float32": ModbusSerialClient.DATATYPE.FLOAT32,
}


@given(
    st.sampled_from(sorted(DATA_TYPES)),
    st.sampled_from(["big", "little"]),
    st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=2),
)
def test_decode_agrees_with_pymodbus(data_type: str, word_order: str, words: list[int]) -> None:
    regs = words[: DATA_TYPES[data_type][1]]
    try:
        ours = decode_registers(regs, data_type, word_order)
    except BadFrame:
        return  # NaN or infinity: refused on purpose
    theirs = ModbusSerialClient.convert_from_registers(regs, PYMODBUS_TYPES[data_type], word_order=word_order)
    assert ours == pytest.approx(float(theirs), nan_ok=False)
    assert encode_registers(ours, data_type, word_order) == regs or math.isclose(ours, 0.0)
