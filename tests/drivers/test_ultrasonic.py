"""The UART ultrasonic driver against real pseudo-terminals (socat) and pyserial's loop://."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from drivers.base import DeviceUnavailable
from drivers.link import LinkStatus
from drivers.water_level.frames import ascii_frame, binary_frame
from drivers.water_level.ultrasonic import UltrasonicWaterLevel
from tests.drivers.conftest import StreamingSensor

pytestmark = pytest.mark.timeout(60)


def sensor(url: str, **kw) -> UltrasonicWaterLevel:
    kw.setdefault("mount_height_m", 3.0)
    kw.setdefault("timeout_s", 0.5)
    kw.setdefault("backoff_initial_s", 0.05)
    kw.setdefault("backoff_max_s", 0.2)
    return UltrasonicWaterLevel("bridge-gauge", url, **kw)


def test_level_is_mount_height_minus_distance(socat) -> None:
    pair = socat()
    drv = sensor(str(pair.a))
    try:
        drv.connect()  # opening a port flushes it: write only after
        with pair.writer() as w:
            w.write(b"".join(binary_frame(1250) for _ in range(3)))
            reading = drv.read()
        assert reading.level_m == pytest.approx(1.75)
        assert reading.raw["distance_mm"] == 1250
        assert reading.raw["frames_bad"] == 0
        assert drv.online and drv.status.online
    finally:
        drv.close()


def test_garbled_frames_are_counted_and_skipped(socat) -> None:
    pair = socat()
    drv = sensor(str(pair.a), window=3)
    try:
        drv.connect()  # opening a port flushes it: write only after
        with pair.writer() as w:
            bad_checksum = bytes([0xFF, 0x04, 0xB0, 0x00])
            w.write(b"\x13\x37" + bad_checksum + binary_frame(1200) + b"\xff\x01" + binary_frame(1210) + binary_frame(1190))
            reading = drv.read()
        assert reading.level_m == pytest.approx(3.0 - 1.2)
        assert reading.raw["frames_bad"] >= 2
        assert reading.raw["frames_ok"] == 3
    finally:
        drv.close()


def test_echo_off_reeds_is_filtered_out(socat) -> None:
    pair = socat()
    drv = sensor(str(pair.a), window=5, max_jump_m=0.1)
    try:
        drv.connect()  # opening a port flushes it: write only after
        with pair.writer() as w:
            w.write(b"".join(binary_frame(mm) for mm in (2000, 2002, 650, 1998, 2001)))
            reading = drv.read()
        assert reading.level_m == pytest.approx(1.0, abs=0.002)
        assert reading.raw["outliers"] == 1
    finally:
        drv.close()


def test_maxbotix_ascii_frames(socat) -> None:
    pair = socat()
    drv = sensor(str(pair.a), frame_format="ascii_cm", min_distance_m=0.2, max_distance_m=7.6)
    try:
        drv.connect()  # opening a port flushes it: write only after
        with pair.writer() as w:
            w.write(ascii_frame(150, 3) * 3)
            assert drv.read().level_m == pytest.approx(1.5)
    finally:
        drv.close()


def test_wrong_baud_rate_gives_a_clear_error(socat) -> None:
    """At the wrong speed a sensor's frames arrive as noise: no valid frame, the error says so."""
    pair = socat()
    drv = sensor(str(pair.a))
    noise = bytes(random.Random(7).choice([0x00, 0x80, 0xF8, 0x78, 0xE0, 0x1E]) for _ in range(300))
    try:
        drv.connect()  # opening a port flushes it: write only after
        with pair.writer() as w:
            w.write(noise)
            with pytest.raises(DeviceUnavailable) as err:
                drv.read()
        assert err.value.device == "bridge-gauge"
        assert "baud rate (9600)" in str(err.value)
        assert drv.frames_bad > 0
        assert not drv.online
    finally:
        drv.close()


def test_silent_sensor_times_out_and_is_backed_off(socat) -> None:
    pair = socat()
    drv = sensor(str(pair.a), timeout_s=0.2, backoff_initial_s=30, backoff_max_s=60)
    try:
        with pytest.raises(DeviceUnavailable, match="no data within 0.2 s"):
            drv.read()
        with pytest.raises(DeviceUnavailable, match="next attempt in"):
            drv.read()  # backed off: no second wait on a dead sensor
        assert drv.status.failures == 1 and drv.status.retry_in_s > 20
    finally:
        drv.close()


def test_out_of_range_readings_are_not_a_level(socat) -> None:
    pair = socat()
    drv = sensor(str(pair.a), timeout_s=0.2, min_distance_m=0.25)
    try:
        drv.connect()  # opening a port flushes it: write only after
        with pair.writer() as w:
            w.write(binary_frame(100) * 3)  # inside the blind zone
            with pytest.raises(DeviceUnavailable, match="blind zone"):
                drv.read()
        assert drv.out_of_range == 3
    finally:
        drv.close()


def test_missing_port_names_the_device_and_the_url(tmp_path: Path) -> None:
    drv = sensor(str(tmp_path / "ttyUSB-none"))
    with pytest.raises(DeviceUnavailable) as err:
        drv.read()
    assert err.value.device == "bridge-gauge"
    assert "ttyUSB-none" in str(err.value)


def test_trigger_is_sent_before_reading_over_loop_url() -> None:
    """loop:// echoes what is written: a trigger that is itself a frame comes back as the reading."""
    drv = sensor("loop://", trigger=binary_frame(800))
    try:
        for _ in range(3):
            reading = drv.read()
        assert reading.level_m == pytest.approx(2.2)
        assert reading.raw["frames_ok"] == 3
    finally:
        drv.close()


def wait_for(predicate, timeout: float = 10.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except DeviceUnavailable:
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every)


def test_unplug_and_replug_reports_offline_then_online(socat, tmp_path: Path) -> None:
    changes: list[LinkStatus] = []
    a, b = tmp_path / "usb-a", tmp_path / "usb-b"
    pair = socat(a, b)
    stream = StreamingSensor(pair.b, binary_frame(1000))
    drv = sensor(str(a), on_change=changes.append)
    try:
        assert wait_for(drv.read).level_m == pytest.approx(2.0)
        pair.stop()  # unplugged: the port vanishes
        stream.stop()
        with pytest.raises(DeviceUnavailable) as err:
            for _ in range(3):
                drv.read()
        assert err.value.device == "bridge-gauge"
        assert not drv.online
        assert [c.online for c in changes][-2:] == [True, False]

        pair = socat(a, b)  # plugged in again
        stream = StreamingSensor(pair.b, binary_frame(1500))
        assert wait_for(drv.read).level_m == pytest.approx(1.5)
        assert drv.online
        assert [c.online for c in changes][-3:] == [True, False, True]
        assert drv.status.reconnects == 1
    finally:
        stream.stop()
        drv.close()


def test_hwgrep_url_finds_the_adapter_under_its_new_name(socat) -> None:
    """hwgrep:// is resolved again on each reconnect, so a new /dev name is found.

    pyserial lists ports by globbing /dev/ttyUSB* and the like, so the pseudo-terminals are
    linked there (the tests run as root, as `make test` on the station image does).
    """
    assert os.access("/dev", os.W_OK), "this test links pseudo-terminals into /dev and needs root"
    tag = f"ttyUSBvsgwtest{os.getpid()}x"
    first = socat(Path(f"/dev/{tag}0"), Path(f"/dev/{tag}0peer"))
    stream = StreamingSensor(first.b, binary_frame(700))
    drv = sensor(f"hwgrep://{tag}[0-9]$")
    try:
        assert wait_for(drv.read).level_m == pytest.approx(2.3)
        first.stop()
        stream.stop()
        with pytest.raises(DeviceUnavailable):
            for _ in range(3):
                drv.read()

        second = socat(Path(f"/dev/{tag}1"), Path(f"/dev/{tag}1peer"))  # re-plugged, new name
        stream = StreamingSensor(second.b, binary_frame(900))
        assert wait_for(drv.read).level_m == pytest.approx(2.1)
        assert drv.status.reconnects == 1
    finally:
        stream.stop()
        drv.close()
