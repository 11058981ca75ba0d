"""Real peers for the driver tests: socat pseudo-terminals, a pymodbus RTU server, gpiozero's
mock pins with a simulated MCP3008, and a real-time-paced ALSA device for aplay."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockSPIDevice

HERE = Path(__file__).resolve().parent


def _need(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is missing: `make test` installs it (Makefile DEB_PKGS)"
    return path


# ------------------------------------------------------------------------------------- serial


class SocatPair:
    """Two linked pseudo-terminals at `a` and `b`; stop() makes both vanish like an unplugged adapter."""

    def __init__(self, a: Path, b: Path) -> None:
        self.a, self.b = Path(a), Path(b)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "SocatPair":
        for link in (self.a, self.b):
            if link.is_symlink() or link.exists():
                link.unlink()
        self.proc = subprocess.Popen(
            [_need("socat"), f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not (self.a.exists() and self.b.exists()):
            assert self.proc.poll() is None, "socat exited at start"
            assert time.monotonic() < deadline, "socat did not create its pseudo-terminals"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        for link in (self.a, self.b):
            if link.is_symlink():
                link.unlink()

    def writer(self) -> serial.SerialBase:
        """The far end (the sensor's side), opened with pyserial."""
        return serial.serial_for_url(str(self.b), timeout=0.1)


@pytest.fixture
def socat(tmp_path: Path) -> Iterator[callable]:
    """Factory: socat(a=None, b=None) starts a linked pair (default links in tmp_path)."""
    pairs: list[SocatPair] = []

    def make(a: Path | None = None, b: Path | None = None) -> SocatPair:
        n = len(pairs)
        pair = SocatPair(a or tmp_path / f"ttyA{n}", b or tmp_path / f"ttyB{n}").start()
        pairs.append(pair)
        return pair

    yield make
    for pair in pairs:
        pair.stop()


class StreamingSensor:
    """Writes frames into a port at a steady rate, like a free-running UART sensor."""

    def __init__(self, path: Path, frame: bytes, period_s: float = 0.05) -> None:
        self._port = serial.serial_for_url(str(path), timeout=0.1)
        self.frame = frame
        self._period = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self._port.write(self.frame)
            except (serial.SerialException, OSError):
                return  # the port vanished under us

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass


# ------------------------------------------------------------------------------------- modbus


class ModbusSlaves:
    """A real pymodbus RTU server on a serial port, answering for the given SimDevices only."""

    def __init__(self, port: Path, devices: list, baudrate: int = 9600) -> None:
        self._port = str(port)
        self._devices = devices
        self._baudrate = baudrate
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "pymodbus server did not start"
        if self._error:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        from pymodbus.exceptions import NoSuchIdException
        from pymodbus.server import ModbusSerialServer
        from pymodbus.simulator.simcore import SimCore

        class SilentForUnknownIds(SimCore):
            """pymodbus 3.16's SimCore raises KeyError for an id it does not hold, so the server
            answers "device failure" even with ignore_missing_devices; a real RS-485 bus stays
            silent. Raising NoSuchIdException restores that."""

            async def async_getValues(self, device_id, func_code, address, count=1):  # noqa: N802
                if device_id not in self.devices:
                    raise NoSuchIdException(f"no device {device_id}")
                return await super().async_getValues(device_id, func_code, address, count)

        self._server = ModbusSerialServer(
            self._devices, port=self._port, baudrate=self._baudrate, ignore_missing_devices=True
        )
        self._server.context = SilentForUnknownIds(self._devices)
        await self._server.serve_forever(background=True)

    def stop(self) -> None:
        if self._server is not None and self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
            try:
                fut.result(timeout=10)
            except Exception:  # noqa: BLE001 - the port may already be gone
                pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def sim_device(slave_id: int, holding: list[int], inputs: list[int]):
    """A slave with its own holding and input registers, starting at address 0."""
    from pymodbus.simulator import DataType, SimData, SimDevice

    bits = [SimData(0, values=False, datatype=DataType.BITS)]
    return SimDevice(
        id=slave_id,
        simdata=(
            bits,
            list(bits),
            [SimData(0, values=holding, datatype=DataType.REGISTERS)],
            [SimData(0, values=inputs, datatype=DataType.REGISTERS)],
        ),
    )


@pytest.fixture
def modbus_server() -> Iterator[callable]:
    """Factory: modbus_server(port, devices) starts a pymodbus RTU server; all stopped afterwards."""
    servers: list[ModbusSlaves] = []

    def make(port: Path, devices: list, baudrate: int = 9600) -> ModbusSlaves:
        server = ModbusSlaves(port, devices, baudrate)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


# --------------------------------------------------------------------------------------- gpio


@pytest.fixture
def pin_factory() -> Iterator[MockFactory]:
    """gpiozero's mock pins. Also the global default: gpiozero 2.0's software SPI bus (used by
    the MCP3008 on a mock board) ignores the pin_factory argument and asks Device.pin_factory."""
    factory = MockFactory()
    previous = Device.pin_factory
    Device.pin_factory = factory
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "falling back to software SPI" on a mock board
        yield factory
    factory.reset()
    Device.pin_factory = previous


class SimulatedMcp3008(MockSPIDevice):
    """The slave side of an MCP3008 on gpiozero's mock SPI pins: `volts[ch]` sets each channel.

    Protocol: a start bit, the single/differential bit, three channel bits; then the chip shifts
    out a null bit and 10 result bits, MSB first.
    """

    def __init__(self, factory: MockFactory, vref: float = 3.3) -> None:
        super().__init__(11, 10, 9, 8, pin_factory=factory)  # SCLK, MOSI, MISO, CE0 of SPI0
        self.vref = vref
        self.volts = [0.0] * 8
        self._state = "idle"

    def on_start(self) -> None:
        super().on_start()
        self._state = "idle"

    def on_bit(self) -> None:
        if self._state == "idle":
            if self.rx_buf[-1]:
                self._state, self.rx_buf = "mode", []
        elif self._state == "mode":
            self._state, self.rx_buf = "channel", []
        elif self._state == "channel" and len(self.rx_buf) == 3:
            volts = min(max(self.volts[self.rx_word()], 0.0), self.vref)
            self.tx_word(min(1023, int(volts / self.vref * 1024)), 12)
            self._state = "result"
        elif self._state == "result" and not self.tx_buf:
            self._state, self.rx_buf = "idle", []


# -------------------------------------------------------------------------------------- audio


@pytest.fixture
def paced_alsa_device() -> str:
    """An ALSA device that takes real time to play, without a sound card.

    `aplay -D null` discards samples as fast as it can, so nothing is ever "mid-play". ALSA's
    file plugin piped into a reader that consumes at the WAV's byte rate plays in real time.
    """
    _need("aplay")
    return f"file:'|{sys.executable} {HERE / 'alsa_pacer.py'} 44100',raw"
