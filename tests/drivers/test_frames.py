"""The pure frame parsers of UART ultrasonic sensors: exact cases and properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.water_level.frames import (
    ascii_frame,
    binary_frame,
    parse_ascii_frames,
    parse_binary_frames,
)


def test_binary_frame_layout_and_checksum() -> None:
    assert binary_frame(0x0A2B) == bytes([0xFF, 0x0A, 0x2B, (0xFF + 0x0A + 0x2B) & 0xFF])
    assert parse_binary_frames(binary_frame(1234) + binary_frame(1240)) == ([1234.0, 1240.0], 0, b"")


def test_binary_bad_checksum_is_counted_and_resynced() -> None:
    bad = bytes([0xFF, 0x04, 0xD2, 0x00])
    distances, bad_count, rest = parse_binary_frames(bad + binary_frame(1500))
    assert distances == [1500.0]
    assert bad_count >= 1
    assert rest == b""


def test_binary_partial_frame_is_kept_for_the_next_chunk() -> None:
    frame = binary_frame(2000)
    distances, bad, rest = parse_binary_frames(b"\x12\x34" + frame[:2])
    assert (distances, bad, rest) == ([], 1, frame[:2])
    assert parse_binary_frames(rest + frame[2:]) == ([2000.0], 0, b"")


def test_ascii_frames_in_each_unit() -> None:
    stream = ascii_frame(1234) + b"R0567\r"
    assert parse_ascii_frames(stream) == ([1234.0, 567.0], 0, b"")
    assert parse_ascii_frames(b"R123\r", unit_mm=10.0) == ([1230.0], 0, b"")
    assert parse_ascii_frames(b"R010\r", unit_mm=25.4) == ([254.0], 0, b"")


def test_ascii_garbage_and_partial() -> None:
    distances, bad, rest = parse_ascii_frames(b"xxR12a4\rR1000\rR20")
    assert distances == [1000.0]
    assert bad >= 2
    assert rest == b"R20"
    assert parse_ascii_frames(rest + b"00\r") == ([2000.0], 0, b"")


# --------------------------------------------------------------------------------- properties

non_header = st.binary(max_size=12).map(lambda b: bytes(x for x in b if x != 0xFF))
non_r = st.binary(max_size=12).map(lambda b: bytes(x for x in b if x != ord("R")))


@given(st.binary(max_size=512))
def test_binary_parser_never_crashes_on_random_bytes(data: bytes) -> None:
    distances, bad, rest = parse_binary_frames(data)
    assert all(0 <= d <= 0xFFFF for d in distances)
    assert bad >= 0
    assert len(rest) < 4 and (not rest or rest[0] == 0xFF)


@given(st.lists(st.tuples(non_header, st.integers(0, 0xFFFF)), max_size=20), non_header)
def test_binary_frames_embedded_in_garbage_are_all_found(parts: list[tuple[bytes, int]], tail: bytes) -> None:
    stream = b"".join(garbage + binary_frame(d) for garbage, d in parts) + tail
    distances, _, rest = parse_binary_frames(stream)
    assert distances == [float(d) for _, d in parts]
    assert rest == b""


@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=10))
def test_binary_parsing_in_chunks_finds_the_same_frames(data: bytes, cuts: list[int]) -> None:
    whole, _, _ = parse_binary_frames(data)
    found: list[float] = []
    rest, pos = b"", 0
    for cut in cuts + [len(data)]:
        chunk, pos = data[pos : pos + cut], pos + cut
        got, _, rest = parse_binary_frames(rest + chunk)
        found += got
    got, _, rest = parse_binary_frames(rest + data[pos:])
    assert found + got == whole


@given(st.binary(max_size=512), st.sampled_from([1.0, 10.0, 25.4]))
def test_ascii_parser_never_crashes_on_random_bytes(data: bytes, unit: float) -> None:
    distances, bad, rest = parse_ascii_frames(data, unit)
    assert all(0 <= d <= 9999 * unit for d in distances)
    assert bad >= 0
    assert len(rest) <= 5 and (not rest or rest[:1] == b"R")


@given(st.lists(st.tuples(non_r, st.integers(0, 9999)), max_size=20))
def test_ascii_frames_embedded_in_garbage_are_all_found(parts: list[tuple[bytes, int]]) -> None:
    stream = b"".join(garbage + ascii_frame(d) for garbage, d in parts)
    distances, _, _ = parse_ascii_frames(stream)
    assert distances == [float(d) for _, d in parts]
