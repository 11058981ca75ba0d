"""Fire and smoke inputs: a simulated schedule player, GPIO contacts and an analog gas threshold.

- `SimulatedFireInput` plays a schedule (demo, tests, training).
- `GpioFireInput` reads a digital flame sensor or a smoke detector's relay contact. Flame
  modules usually pull their output low on flame; a normally-open alarm contact to ground with a
  pull-up is active low, a normally-closed (fail-safe) one is active high. A short pulse between
  two polls is latched so it is not lost; debouncing over time is the rule's job.
- `Mcp3008GasInput` compares an analog gas sensor (MQ-2 and the like) read through an MCP3008
  with a threshold, with hysteresis so a reading hovering at the threshold does not chatter.

The GPIO drivers receive their pin factory; they never pick one themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from gpiozero import MCP3008, DigitalInputDevice
from gpiozero.pins import Factory

from drivers.base import DeviceUnavailable
from drivers.gpio import make_gpio


class SimulatedFireInput:
    """Active during the given (start_s, end_s) windows since start, optionally repeating."""

    def __init__(
        self,
        name: str,
        windows: Sequence[tuple[float, float]],
        clock: Callable[[], float],
        period_s: float | None = None,
    ) -> None:
        self.name = name
        self._windows = list(windows)
        self._clock = clock
        self._start = clock()
        self._period = period_s

    def is_active(self) -> bool:
        elapsed = self._clock() - self._start
        if self._period:
            elapsed %= self._period
        return any(start <= elapsed < end for start, end in self._windows)

    def close(self) -> None:
        """Nothing to release."""


class GpioFireInput:
    """A digital input: `pull` is the pin's resistor (up, down, none), `active` the alarm level."""

    def __init__(
        self,
        name: str,
        pin: int | str,
        pull: str = "up",
        active: str = "low",
        bounce_s: float | None = 0.05,
        pin_factory: Factory | None = None,
    ) -> None:
        if pull not in ("up", "down", "none") or active not in ("low", "high"):
            raise ValueError(f"{name}: pull must be up/down/none and active low/high")
        self.name = name
        self.pin = pin
        active_high = active == "high"
        if pull == "none":
            kwargs: dict[str, object] = {"pull_up": None, "active_state": active_high}
            self._invert = False
        else:
            # gpiozero ties the active level to the pull (pull-up means active low); a
            # normally-closed contact with a pull-up is active high, so invert it here.
            kwargs = {"pull_up": pull == "up"}
            self._invert = (pull == "up") == active_high
        self._pulse = threading.Event()
        self._input: DigitalInputDevice | None = make_gpio(
            name,
            f"input GPIO pin {pin!r}",
            lambda: DigitalInputDevice(pin, bounce_time=bounce_s, pin_factory=pin_factory, **kwargs),
        )
        if self._invert:
            self._input.when_deactivated = self._pulse.set
        else:
            self._input.when_activated = self._pulse.set

    def is_active(self) -> bool:
        """Active now, or went active (even briefly) since the last call."""
        if self._input is None:
            raise DeviceUnavailable(self.name, "input is closed")
        now = bool(self._input.is_active) != self._invert
        pulsed = self._pulse.is_set()
        self._pulse.clear()
        return now or pulsed

    def close(self) -> None:
        device, self._input = self._input, None
        if device is not None:
            device.close()


class Mcp3008GasInput:
    """Active when the channel's reading (0..1 of full scale) reaches `threshold`.

    Once active it stays active until the reading falls below `threshold - hysteresis`.
    """

    def __init__(
        self,
        name: str,
        channel: int,
        threshold: float,
        hysteresis: float = 0.02,
        spi_port: int = 0,
        spi_device: int = 0,
        pin_factory: Factory | None = None,
    ) -> None:
        if not 0 < threshold <= 1 or not 0 <= hysteresis < threshold:
            raise ValueError(f"{name}: need 0 < threshold <= 1 and 0 <= hysteresis < threshold")
        self.name = name
        self._threshold = threshold
        self._hysteresis = hysteresis
        self._active = False
        self.last_value: float | None = None
        self._adc: MCP3008 | None = make_gpio(
            name,
            f"MCP3008 channel {channel} on SPI {spi_port}.{spi_device}",
            lambda: MCP3008(channel=channel, port=spi_port, device=spi_device, pin_factory=pin_factory),
        )

    def is_active(self) -> bool:
        if self._adc is None:
            raise DeviceUnavailable(self.name, "ADC is closed")
        try:
            value = float(self._adc.value)
        except (OSError, RuntimeError) as exc:
            raise DeviceUnavailable(self.name, f"cannot read the MCP3008: {exc}") from exc
        self.last_value = value
        limit = self._threshold - self._hysteresis if self._active else self._threshold
        self._active = value >= limit
        return self._active

    def close(self) -> None:
        adc, self._adc = self._adc, None
        if adc is not None:
            adc.close()
