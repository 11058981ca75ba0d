"""Water level from an RS-485 Modbus RTU transmitter (pressure, radar or ultrasonic).

The value is read from one holding or input register (or a pair, for 32-bit types), turned into
metres with `scale` and `offset`, and, for transmitters that report the distance to the water,
subtracted from the mount height. Timeouts and garbled replies are counted and retried a few
times; after that the device is backed off so it does not keep the shared line busy, and the
other devices on the port go on being read.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.base import DeviceUnavailable, WaterReading
from drivers.link import LinkedDevice, LinkStatus, LinkTracker
from drivers.modbus_bus import ExceptionReply, GarbledResponse, ModbusBus, NoResponse
from drivers.water_level.registers import decode_registers, register_count
from foundation.errors import BadFrame


class ModbusWaterLevel(LinkedDevice):
    """A WaterLevelSensor reading one register of one slave on a (possibly shared) ModbusBus."""

    def __init__(
        self,
        name: str,
        bus: ModbusBus,
        *,
        slave_id: int,
        address: int,
        register_type: str = "holding",
        data_type: str = "uint16",
        word_order: str = "big",
        scale: float = 0.001,
        offset: float = 0.0,
        value_is: str = "level",
        mount_height_m: float | None = None,
        timeout_s: float = 0.3,
        retries: int = 1,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[LinkStatus], None] | None = None,
    ) -> None:
        if register_type not in ("holding", "input"):
            raise ValueError(f"{name}: register_type must be holding or input")
        if value_is == "distance" and mount_height_m is None:
            raise ValueError(f"{name}: a distance transmitter needs mount_height_m")
        self.name = name
        self._bus = bus
        self._slave = slave_id
        self._address = address
        self._register_type = register_type
        self._data_type = data_type
        self._count = register_count(data_type)
        self._word_order = word_order
        self._scale = scale
        self._offset = offset
        self._value_is = value_is
        self._mount = mount_height_m
        self._timeout = timeout_s
        self._retries = retries
        self._link = LinkTracker(name, backoff_initial_s, backoff_max_s, clock, on_change)
        self._closed = False
        self.reads_ok = 0
        self.timeouts = 0
        self.crc_errors = 0
        self.exceptions = 0

    def read(self) -> WaterReading:
        if self._closed:
            raise DeviceUnavailable(self.name, "driver is closed")
        self._link.check_ready()
        registers = self._read_with_retries()
        try:
            value = decode_registers(registers, self._data_type, self._word_order) * self._scale + self._offset
        except BadFrame as exc:
            self.exceptions += 1
            raise self._link.failed(f"slave {self._slave} register {self._address}: {exc}") from exc
        self._link.succeeded()
        self.reads_ok += 1
        level = value if self._value_is == "level" else float(self._mount or 0.0) - value
        return WaterReading(
            level_m=round(level, 4),
            raw={
                "value": value,
                "register_0": registers[0],
                "reads_ok": self.reads_ok,
                "timeouts": self.timeouts,
                "crc_errors": self.crc_errors,
                "exceptions": self.exceptions,
            },
        )

    def _read_with_retries(self) -> list[int]:
        attempt = 0
        while True:
            try:
                return self._bus.read_registers(
                    self.name, self._slave, self._register_type, self._address, self._count, self._timeout
                )
            except NoResponse as exc:
                self.timeouts += 1
                last: DeviceUnavailable = exc
            except GarbledResponse as exc:
                self.crc_errors += 1
                last = exc
            except DeviceUnavailable as exc:  # port gone or an exception reply: retrying now will not help
                if isinstance(exc, ExceptionReply):
                    self.exceptions += 1
                raise self._link.failed(exc.reason) from exc
            attempt += 1
            if attempt > self._retries:
                raise self._link.failed(last.reason) from last

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bus.release()
