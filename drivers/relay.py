"""A switched output on a GPIO pin, such as the PA amplifier's power relay.

Relay boards differ: many common modules switch on when their input is driven low, so
`active_high` is configurable. The output starts off, and is switched off again on close so a
stopped gateway never leaves the amplifier humming.
"""

from __future__ import annotations

from gpiozero import OutputDevice
from gpiozero.pins import Factory

from drivers.base import DeviceUnavailable
from drivers.gpio import make_gpio


class GpioRelay:
    """Implements drivers.base.Relay over a gpiozero OutputDevice."""

    def __init__(self, name: str, pin: int | str, active_high: bool = True, pin_factory: Factory | None = None) -> None:
        self.name = name
        self.pin = pin
        self._out: OutputDevice | None = make_gpio(
            name,
            f"relay GPIO pin {pin!r}",
            lambda: OutputDevice(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory),
        )

    def _device(self) -> OutputDevice:
        if self._out is None:
            raise DeviceUnavailable(self.name, "relay is closed")
        return self._out

    def on(self) -> None:
        self._device().on()

    def off(self) -> None:
        self._device().off()

    @property
    def is_on(self) -> bool:
        return bool(self._device().value)

    def close(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            out.off()
            out.close()
