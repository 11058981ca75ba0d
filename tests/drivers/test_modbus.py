"""The Modbus RTU water-level driver against a real pymodbus server over socat pseudo-terminals."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import serial

from drivers.base import DeviceUnavailable
from drivers.link import LinkStatus
from drivers.modbus_bus import ModbusBusPool, SerialSettings
from drivers.water_level.modbus import ModbusWaterLevel
from drivers.water_level.registers import encode_registers
from foundation.errors import ConfigError
from tests.drivers.conftest import sim_device

pytestmark = pytest.mark.timeout(90)

SETTINGS = SerialSettings(baudrate=19200)


def transmitter(pool: ModbusBusPool, port: Path, name: str, **kw) -> ModbusWaterLevel:
    kw.setdefault("timeout_s", 0.5)
    kw.setdefault("retries", 1)
    kw.setdefault("backoff_initial_s", 0.05)
    kw.setdefault("backoff_max_s", 0.2)
    return ModbusWaterLevel(name, pool.bus(str(port), SETTINGS, name), **kw)


@pytest.fixture
def bus_line(socat, modbus_server):
    """A line with slave 1 (level 1234 mm in holding 0, a float32 distance in input 2-3) and
    slave 2 (int32 in holding 4-5)."""
    pair = socat()
    slave1 = sim_device(1, holding=[1234, 0, 0, 0], inputs=[0, 0, *encode_registers(2.75, "float32", "little")])
    slave2 = sim_device(2, holding=[0, 0, 0, 0, *encode_registers(-150, "int32")], inputs=[0])
    modbus_server(pair.b, [slave1, slave2], baudrate=SETTINGS.baudrate)
    return pair


def test_holding_register_scaled_to_metres(bus_line) -> None:
    pool = ModbusBusPool()
    drv = transmitter(pool, bus_line.a, "pond-pressure", slave_id=1, address=0)
    try:
        reading = drv.read()
        assert reading.level_m == pytest.approx(1.234)
        assert reading.raw["register_0"] == 1234
        assert drv.online
    finally:
        drv.close()


def test_input_float32_little_endian_distance(bus_line) -> None:
    pool = ModbusBusPool()
    drv = transmitter(
        pool, bus_line.a, "pond-radar", slave_id=1, address=2, register_type="input",
        data_type="float32", word_order="little", scale=1.0, value_is="distance", mount_height_m=4.0,
    )
    try:
        assert drv.read().level_m == pytest.approx(1.25)
    finally:
        drv.close()


def test_int32_with_scale_and_offset(bus_line) -> None:
    pool = ModbusBusPool()
    drv = transmitter(pool, bus_line.a, "gauge-2", slave_id=2, address=4, data_type="int32", scale=0.01, offset=2.0)
    try:
        assert drv.read().level_m == pytest.approx(0.5)
    finally:
        drv.close()


def test_absent_slave_times_out_and_the_present_one_still_reads(bus_line) -> None:
    pool = ModbusBusPool()
    present = transmitter(pool, bus_line.a, "pond-pressure", slave_id=1, address=0)
    absent = transmitter(pool, bus_line.a, "pond-dead", slave_id=9, address=0, backoff_initial_s=30, backoff_max_s=60)
    try:
        assert present.read().level_m == pytest.approx(1.234)
        with pytest.raises(DeviceUnavailable) as err:
            absent.read()
        assert err.value.device == "pond-dead"
        assert "no reply from holding register 0 of slave 9" in str(err.value)
        assert absent.timeouts == 2  # the first try and one retry
        assert present.read().level_m == pytest.approx(1.234)

        # Backed off: the dead slave costs no bus time until its delay is over.
        with pytest.raises(DeviceUnavailable, match="next attempt in"):
            absent.read()
        assert absent.timeouts == 2
        assert not absent.online and present.online
    finally:
        present.close()
        absent.close()


def test_threads_share_the_line_without_mixing_replies(bus_line) -> None:
    pool = ModbusBusPool()
    one = transmitter(pool, bus_line.a, "pond-pressure", slave_id=1, address=0)
    two = transmitter(pool, bus_line.a, "gauge-2", slave_id=2, address=4, data_type="int32", scale=0.01, offset=2.0)
    results: dict[str, list[float]] = {"one": [], "two": []}

    def poll(name: str, drv: ModbusWaterLevel) -> None:
        for _ in range(10):
            results[name].append(drv.read().level_m)

    threads = [threading.Thread(target=poll, args=("one", one)), threading.Thread(target=poll, args=("two", two))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert results["one"] == [pytest.approx(1.234)] * 10
        assert results["two"] == [pytest.approx(0.5)] * 10
    finally:
        one.close()
        two.close()


def test_exception_reply_names_the_register(bus_line) -> None:
    pool = ModbusBusPool()
    drv = transmitter(pool, bus_line.a, "pond-pressure", slave_id=1, address=300)
    try:
        with pytest.raises(DeviceUnavailable, match=r"exception 2 \(illegal data address\)") as err:
            drv.read()
        assert err.value.device == "pond-pressure"
        assert drv.exceptions == 1
    finally:
        drv.close()


def test_garbage_answers_are_counted_as_crc_errors(socat) -> None:
    """A device answering garbage (or at another baud rate): counted, retried, then a clear error."""
    pair = socat()
    stop = threading.Event()

    # Opened before the first request: pyserial empties the input buffer on open, which would
    # swallow a request sent while the peer was still opening (a timeout, not a garbled reply).
    port = serial.serial_for_url(str(pair.b), timeout=0.05)

    def garbage_slave() -> None:
        with port:
            request = b""
            while not stop.is_set():
                request += port.read(8 - len(request))
                if len(request) == 8:  # a whole read request: answer it once
                    port.write(b"\x01\x03\x02\x04\xd2\x00\x00")  # a reply with a wrong CRC
                    request = b""

    t = threading.Thread(target=garbage_slave, daemon=True)
    t.start()
    pool = ModbusBusPool()
    drv = transmitter(pool, pair.a, "pond-pressure", slave_id=1, address=0, retries=2, timeout_s=0.5)
    try:
        with pytest.raises(DeviceUnavailable, match="garbled reply.*check baud rate and parity") as err:
            drv.read()
        assert err.value.device == "pond-pressure"
        assert drv.crc_errors == 3
        assert drv.timeouts == 0
    finally:
        stop.set()
        t.join(timeout=5)
        drv.close()


def test_port_vanishes_and_comes_back(socat, modbus_server, tmp_path: Path) -> None:
    a, b = tmp_path / "rs485-a", tmp_path / "rs485-b"
    pair = socat(a, b)
    server = modbus_server(b, [sim_device(1, holding=[800], inputs=[0])], baudrate=SETTINGS.baudrate)
    changes: list[LinkStatus] = []
    pool = ModbusBusPool()
    drv = transmitter(pool, a, "pond-pressure", slave_id=1, address=0, on_change=changes.append)
    try:
        assert drv.read().level_m == pytest.approx(0.8)
        server.stop()
        pair.stop()
        with pytest.raises(DeviceUnavailable) as err:
            drv.read()
        assert err.value.device == "pond-pressure"
        assert not drv.online

        pair = socat(a, b)
        modbus_server(b, [sim_device(1, holding=[900], inputs=[0])], baudrate=SETTINGS.baudrate)
        deadline = time.monotonic() + 15
        while True:
            try:
                level = drv.read().level_m
                break
            except DeviceUnavailable:
                assert time.monotonic() < deadline, "the transmitter did not come back"
                time.sleep(0.1)
        assert level == pytest.approx(0.9)
        assert [c.online for c in changes][-3:] == [True, False, True]
        assert drv.status.reconnects == 1
    finally:
        drv.close()


def test_conflicting_line_settings_on_one_port_are_a_config_error(tmp_path: Path) -> None:
    pool = ModbusBusPool()
    pool.bus(str(tmp_path / "tty"), SerialSettings(9600), "pond-pressure")
    with pytest.raises(ConfigError, match="pond-radar.*pond-pressure"):
        pool.bus(str(tmp_path / "tty"), SerialSettings(19200), "pond-radar")
