"""One RS-485 Modbus RTU line shared by several devices: one pymodbus client, one lock.

RS-485 is half duplex and master-driven, so requests to devices on the same port must not
overlap: every request takes the port's lock, and each request carries its device's own short
timeout so a dead device holds the line only briefly. Retrying and backing off a dead device
are the device driver's business (see `drivers.water_level.modbus`); the bus only classifies
each failure:

- `NoResponse`: nothing came back in time (absent or unpowered device, wrong slave id);
- `GarbledResponse`: bytes came back but no valid frame (CRC error, wrong baud rate or parity,
  two devices answering);
- `ExceptionReply`: the device answered with a Modbus exception (wrong register address);
- `PortUnavailable`: the serial port itself cannot be opened or vanished; the client is closed
  and the next request opens the URL again (re-resolving `hwgrep://`).

All four are DeviceUnavailable, naming the device that asked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pymodbus import ModbusException
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from foundation.errors import ConfigError, DeviceUnavailable

EXCEPTION_CODES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


class NoResponse(DeviceUnavailable):
    """The device did not answer within its timeout."""


class GarbledResponse(DeviceUnavailable):
    """Bytes came back but did not make a valid frame (CRC, baud rate, parity)."""


class ExceptionReply(DeviceUnavailable):
    """The device answered with a Modbus exception code."""


class PortUnavailable(DeviceUnavailable):
    """The serial port cannot be opened or went away."""


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """Line settings every device on one port must agree on."""

    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8


class ModbusBus:
    """A Modbus RTU master on one serial URL; thread-safe, one request on the line at a time."""

    def __init__(self, url: str, settings: SerialSettings = SerialSettings()) -> None:
        self.url = url
        self.settings = settings
        self._lock = threading.Lock()
        self._rx_bytes = 0
        self._client = ModbusSerialClient(
            url,
            baudrate=settings.baudrate,
            parity=settings.parity,
            stopbits=settings.stopbits,
            bytesize=settings.bytesize,
            timeout=1.0,
            retries=0,  # the device driver retries and counts
            trace_packet=self._trace,
        )
        self._users = 0

    def read_registers(
        self, device: str, slave_id: int, register_type: str, address: int, count: int, timeout_s: float
    ) -> list[int]:
        """Read `count` holding or input registers from `slave_id`; raises one of the four errors above."""
        what = f"{register_type} register {address} of slave {slave_id} on {self.url}"
        with self._lock:
            # pymodbus reads its per-request timeout from comm_params; the lock makes this per device.
            self._client.comm_params.timeout_connect = timeout_s
            self._rx_bytes = 0
            if not self._client.connect():
                raise PortUnavailable(device, f"cannot open serial port {self.url!r}")
            read = (
                self._client.read_holding_registers
                if register_type == "holding"
                else self._client.read_input_registers
            )
            try:
                response = read(address, count=count, device_id=slave_id)
            except ConnectionException as exc:
                self._client.close()
                raise PortUnavailable(device, f"serial port {self.url!r} failed: {exc}") from exc
            except ModbusIOException as exc:
                if self._rx_bytes:
                    raise GarbledResponse(
                        device, f"garbled reply to {what} ({self._rx_bytes} bytes, bad CRC or framing): check baud rate and parity"
                    ) from exc
                raise NoResponse(device, f"no reply from {what} within {timeout_s:g} s") from exc
            except ModbusException as exc:
                raise GarbledResponse(device, f"bad reply to {what}: {exc}") from exc
            except OSError as exc:
                self._client.close()
                raise PortUnavailable(device, f"serial port {self.url!r} failed: {exc}") from exc
        if response.isError():
            code = getattr(response, "exception_code", 0)
            name = EXCEPTION_CODES.get(code, "unknown exception")
            if code == 11:
                raise NoResponse(device, f"{what}: gateway says the target failed to respond")
            raise ExceptionReply(device, f"{what}: device answered exception {code} ({name})")
        registers = list(response.registers)
        if len(registers) != count:
            raise GarbledResponse(device, f"{what}: asked for {count} registers, got {len(registers)}")
        return registers

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """Note how many bytes came back, so a timeout with bytes counts as garbled, not silent."""
        if not sending:
            self._rx_bytes = max(self._rx_bytes, len(data))
        return data

    def acquire(self) -> "ModbusBus":
        with self._lock:
            self._users += 1
        return self

    def release(self) -> None:
        """One user fewer; the port is closed when the last one leaves."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users == 0:
                self._client.close()


class ModbusBusPool:
    """One ModbusBus per port URL, so devices sharing an RS-485 line share its client and lock.

    The station makes one pool and passes it to every Modbus driver it builds; a test or a
    single-sensor tool may let each driver make its own.
    """

    def __init__(self) -> None:
        self._buses: dict[str, tuple[ModbusBus, str]] = {}
        self._lock = threading.Lock()

    def bus(self, url: str, settings: SerialSettings, device: str) -> ModbusBus:
        """The bus on `url`, made on first use; ConfigError when `device` wants other line settings."""
        with self._lock:
            if url in self._buses:
                bus, first = self._buses[url]
                if bus.settings != settings:
                    raise ConfigError(
                        f"{device}: serial settings {settings} differ from {bus.settings} used by {first} on the same port {url!r}"
                    )
                return bus.acquire()
            bus = ModbusBus(url, settings)
            self._buses[url] = (bus, device)
            return bus.acquire()
