"""Making gpiozero devices with errors that name the station's device, not just the pin.

Drivers receive their pin factory (house style: devices never pick pins themselves); None
means gpiozero's default, which honours `GPIOZERO_PIN_FACTORY` (e.g. `mock` on a bench).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from gpiozero import GPIOZeroError

from foundation.errors import DeviceUnavailable

T = TypeVar("T")


def make_gpio(name: str, what: str, make: Callable[[], T]) -> T:
    """Call `make()`; a gpiozero failure becomes DeviceUnavailable naming `name` and `what` (the pin)."""
    try:
        return make()
    except (GPIOZeroError, ValueError, OSError, RuntimeError) as exc:
        # gpiozero's own errors also derive from ValueError/AttributeError; OSError and
        # RuntimeError come from the lgpio/RPi.GPIO back ends on a board without the pin.
        raise DeviceUnavailable(name, f"{what}: {exc}") from exc
