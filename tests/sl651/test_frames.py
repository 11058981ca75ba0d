"""SL 651-2014 frames: published worked examples byte for byte, two independent codecs checking each other.

Golden vectors (public worked examples of the HEX mode, each with its explanation of every field):
- TOYMOBAN: "SL651-2014全协议解析(HEX编码格式)", https://toymoban.com/news/detail-686475.html (also
  reposted at https://e-com-net.com/article/1736683930196697088.htm): 链路维持报 2F (two uplinks),
  测试报 30 (uplink and the centre's answer), 遥测站定时报 32 (uplink and the centre's answer).
- KEYIOT: "水文协议651解析", https://key-iot.com.cn/19285.html: a 32 timed report of an M21F RTU.
- SCJ: "遥测终端机SL651-2014报文打包", https://www.scj-water.com/index.php/tuiguang/211.html: a 33 added report.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from county.sl651.decode import Sl651DecodeError, crc16_modbus, decode
from county.sl651.listener import acknowledgement
from foundation.errors import BadFrame
from gateway.sl651 import elements as el
from gateway.sl651.frames import ESC, crc16, decode_down, encode_up

CST = timezone(timedelta(hours=8))

KEEPALIVE_TOYMOBAN_1 = "7E7E01001234567812342F0008020003591011155111036BCA"
KEEPALIVE_TOYMOBAN_2 = "7E7E00987654321012342F0008027E0822101110074703C3AE"
TEST_TOYMOBAN = "7E7E010012345678123430002B020003591011154947F1F1001234567848F0F0591011154920190000052619000005392300000127381211150320FA"
TEST_ACK_TOYMOBAN = "7E7E00123456780112343080080200035910111549471B75D4"
TIMED_TOYMOBAN = "7E7E05001122334403E832002B020034170718110016F1F1001122334448F0F01707181100201900004026190000403923000104903812109903A421"
TIMED_ACK_TOYMOBAN = "7E7E00112233440503E83280080200341707181100161BE5D4"
TIMED_KEYIOT = "7E7E010010100001A00032002B02000C200724172349F1F1001010000148F0F0200724172320190001302219000040392300000550381212680383" "97"
ADDED_SCJ = ("7E7E582023080309" "1A2033005802" "0001230803100137" "F1F1202308030948" "F0F02308031001" "392300003000"
             "2836000005000000" "2736000005000000" "361B001000" "3C1B003000" "C1550000000000000250" "0000" "452000000001"
             "38121204" "C9110051" "7A0800" "CA100057" "03" "2005")


def cst(*parts: int) -> float:
    return datetime(*parts, tzinfo=CST).timestamp()


def observation(station: str, stype: int, observed: float, rain_now: float, rain_total: float, level: float, volts: float,
                rain_id: int = 0x26) -> bytes:
    return (el.station(station, stype) + el.observed(observed, 8) + el.number(0x20, rain_now, 3, 1)
            + el.number(rain_id, rain_total, 3, 1) + el.river_level(level) + el.voltage(volts))


@pytest.mark.parametrize(("centre", "station", "serial", "sent", "golden"), [
    (1, "0012345678", 3, cst(2059, 10, 11, 15, 51, 11), KEEPALIVE_TOYMOBAN_1),
    (0, "9876543210", 0x7E08, cst(2022, 10, 11, 10, 7, 47), KEEPALIVE_TOYMOBAN_2),
])
def test_keepalive_frames_match_the_published_examples(centre: int, station: str, serial: int, sent: float, golden: str) -> None:
    assert encode_up(centre, station, "1234", 0x2F, serial, sent, 8).hex().upper() == golden
    frame = decode(bytes.fromhex(golden))
    assert (frame.upstream, frame.centre, frame.station, frame.function_name, frame.serial) == (True, centre, station, "keepalive", serial)


def test_test_report_30_matches_the_published_example() -> None:
    body = observation("0012345678", 0x48, cst(2059, 10, 11, 15, 49), 0.5, 0.5, 0.127, 11.15)
    assert encode_up(1, "0012345678", "1234", 0x30, 3, cst(2059, 10, 11, 15, 49, 47), 8, body).hex().upper() == TEST_TOYMOBAN
    frame = decode(bytes.fromhex(TEST_TOYMOBAN))
    assert frame.elements == {"station": "0012345678", "rain_now_mm": 0.5, "rain_total_mm": 0.5, "river_level_m": 0.127, "voltage_v": 11.15}
    assert (frame.station_type, frame.observed) == (0x48, "2059-10-11 15:49:00")


def test_timed_report_32_matches_the_published_examples() -> None:
    body = observation("0011223344", 0x48, cst(2017, 7, 18, 11, 0), 4.0, 4.0, 10.49, 10.99)
    assert encode_up(5, "0011223344", "03E8", 0x32, 0x34, cst(2017, 7, 18, 11, 0, 16), 8, body).hex().upper() == TIMED_TOYMOBAN
    body = observation("0010100001", 0x48, cst(2020, 7, 24, 17, 23), 13.0, 4.0, 0.55, 12.68, rain_id=0x22)
    assert encode_up(1, "0010100001", "A000", 0x32, 12, cst(2020, 7, 24, 17, 23, 49), 8, body).hex().upper() == TIMED_KEYIOT
    assert decode(bytes.fromhex(TIMED_KEYIOT)).elements["river_level_m"] == 0.55


def test_added_report_33_of_another_vendor_decodes() -> None:
    frame = decode(bytes.fromhex(ADDED_SCJ))
    assert (frame.function_name, frame.station, frame.observed) == ("added", "2023080309", "2023-08-03 10:01:00")
    assert frame.elements["river_level_m"] == 3.0 and frame.elements["status"] == 1 and frame.elements["voltage_v"] == 12.04


@pytest.mark.parametrize(("uplink", "answer"), [(TEST_TOYMOBAN, TEST_ACK_TOYMOBAN), (TIMED_TOYMOBAN, TIMED_ACK_TOYMOBAN)])
def test_the_reference_centre_answers_as_the_published_centre_did(uplink: str, answer: str) -> None:
    raw = bytes.fromhex(uplink)
    assert acknowledgement(decode(raw), raw).hex().upper() == answer
    down = decode_down(bytes.fromhex(answer))  # and the station reads the centre's answer
    assert (down.function, down.serial, down.end) == (raw[10], int.from_bytes(raw[14:16], "big"), ESC)
    assert down.station == decode(raw).station


def test_both_crc_implementations_agree_with_the_examples() -> None:
    for golden in (KEEPALIVE_TOYMOBAN_1, TEST_TOYMOBAN, TIMED_ACK_TOYMOBAN, TIMED_KEYIOT, ADDED_SCJ):
        raw = bytes.fromhex(golden)
        assert crc16(raw[:-2]) == crc16_modbus(raw[:-2]) == int.from_bytes(raw[-2:], "big")


def test_a_damaged_frame_is_refused_by_both_sides() -> None:
    raw = bytearray(bytes.fromhex(TIMED_ACK_TOYMOBAN))
    raw[18] ^= 0x01
    with pytest.raises(BadFrame):
        decode_down(bytes(raw))
    with pytest.raises(Sl651DecodeError):
        decode(bytes(raw))


def test_negative_levels_and_missing_hourly_values() -> None:
    assert el.river_level(-1.25).hex().upper() == "3923FF001250"
    assert el.levels_5min([1.5] + [None] * 11).hex().upper() == "F5C0" + "0096" + "FFFF" * 11


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    for raw in (data, b"\x7e\x7e" + data, b"\x7e\x7e" + data + crc16_modbus(b"\x7e\x7e" + data).to_bytes(2, "big")):
        try:
            decode(raw)
        except Sl651DecodeError:
            pass


@settings(max_examples=200, deadline=None)
@given(
    centre=st.integers(1, 255), station=st.from_regex(r"\A[0-9]{10}\Z"), password=st.from_regex(r"\A[0-9A-F]{4}\Z"),
    function=st.sampled_from([0x30, 0x32, 0x33, 0x37]), serial=st.integers(1, 0xFFFF),
    sent=st.integers(int(cst(2000, 1, 1)), int(cst(2099, 12, 31))), level=st.integers(-99999, 999999), volts=st.integers(0, 9999),
    bits=st.integers(0, 0xFFFFFFFF),
)
def test_encode_then_decode_round_trips(centre: int, station: str, password: str, function: int, serial: int, sent: int,
                                        level: int, volts: int, bits: int) -> None:
    body = el.station(station, 0x48) + el.observed(sent, 8) + el.river_level(level / 1000) + el.voltage(volts / 100) + el.status(bits)
    frame = decode(encode_up(centre, station, password, function, serial, sent, 8, body))
    assert (frame.centre, frame.station, frame.password, frame.function, frame.serial) == (centre, station, password, function, serial)
    assert frame.sent == datetime.fromtimestamp(sent, CST).strftime("%Y-%m-%d %H:%M:%S")
    assert frame.elements == {"station": station, "river_level_m": level / 1000, "voltage_v": volts / 100, "status": bits}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_the_station_side_reader(data: bytes) -> None:
    raw = b"\x7e\x7e" + data
    for frame in (raw, raw + crc16(raw).to_bytes(2, "big")):
        try:
            decode_down(frame)
        except BadFrame:
            pass
