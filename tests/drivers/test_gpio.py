"""Fire/smoke inputs and the amplifier relay on gpiozero's mock pins (shipped code, not a mock library)."""

from __future__ import annotations

import pytest

from drivers.base import DeviceUnavailable, FireInput, Relay
from drivers.fire_input import GpioFireInput, Mcp3008GasInput
from drivers.relay import GpioRelay
from tests.drivers.conftest import SimulatedMcp3008

pytestmark = pytest.mark.timeout(60)


def test_flame_module_active_low_with_pull_up(pin_factory) -> None:
    flame = GpioFireInput("flame-east", 17, pull="up", active="low", pin_factory=pin_factory)
    pin = pin_factory.pin(17)
    try:
        assert isinstance(flame, FireInput)
        assert not flame.is_active()  # pulled up: idle
        pin.drive_low()
        assert flame.is_active()
        pin.drive_high()
        assert not flame.is_active()
    finally:
        flame.close()


def test_normally_closed_smoke_contact_is_active_when_it_opens(pin_factory) -> None:
    smoke = GpioFireInput("smoke-store", "GPIO22", pull="up", active="high", bounce_s=None, pin_factory=pin_factory)
    pin = pin_factory.pin(22)
    try:
        pin.drive_low()  # closed contact holds the line low: all quiet
        assert not smoke.is_active()
        pin.drive_high()  # contact opens (alarm, or a cut wire: fail-safe)
        assert smoke.is_active()
    finally:
        smoke.close()


def test_module_driven_line_without_pull(pin_factory) -> None:
    flame = GpioFireInput("flame-west", 5, pull="none", active="high", pin_factory=pin_factory)
    pin = pin_factory.pin(5)
    try:
        pin.drive_low()
        assert not flame.is_active()
        pin.drive_high()
        assert flame.is_active()
    finally:
        flame.close()


def test_a_short_pulse_between_polls_is_not_lost(pin_factory) -> None:
    flame = GpioFireInput("flame-east", 17, pull="up", active="low", bounce_s=None, pin_factory=pin_factory)
    pin = pin_factory.pin(17)
    try:
        pin.drive_low()
        pin.drive_high()  # flickered and went out before the next poll
        assert flame.is_active()
        assert not flame.is_active()  # latched once only
    finally:
        flame.close()


@pytest.mark.parametrize("pin", [99, "GPIO99", "BOARD1", "nonsense"])
def test_a_pin_that_does_not_exist_names_the_device(pin_factory, pin) -> None:
    with pytest.raises(DeviceUnavailable) as err:
        GpioFireInput("flame-east", pin, pin_factory=pin_factory)
    assert err.value.device == "flame-east"
    assert f"input GPIO pin {pin!r}" in str(err.value)


def test_a_pin_used_twice_names_the_second_device(pin_factory) -> None:
    first = GpioFireInput("flame-east", 17, pin_factory=pin_factory)
    try:
        with pytest.raises(DeviceUnavailable, match="smoke-store: input GPIO pin 17.*already in use"):
            GpioFireInput("smoke-store", 17, pin_factory=pin_factory)
    finally:
        first.close()


def test_a_pull_the_board_cannot_do_is_reported(pin_factory) -> None:
    with pytest.raises(DeviceUnavailable, match="flame-east: input GPIO pin 2.*fixed pull"):
        GpioFireInput("flame-east", 2, pull="down", active="high", pin_factory=pin_factory)


def test_gas_threshold_through_mcp3008_with_hysteresis(pin_factory) -> None:
    adc = SimulatedMcp3008(pin_factory)
    gas = Mcp3008GasInput("gas-store", channel=3, threshold=0.5, hysteresis=0.05, pin_factory=pin_factory)
    try:
        adc.volts[3] = 0.3 * 3.3
        assert not gas.is_active()
        adc.volts[3] = 0.6 * 3.3
        assert gas.is_active()
        assert gas.last_value == pytest.approx(0.6, abs=0.01)
        adc.volts[3] = 0.47 * 3.3  # below the threshold, within the hysteresis: stays active
        assert gas.is_active()
        adc.volts[3] = 0.40 * 3.3
        assert not gas.is_active()
        adc.volts[0] = 3.3  # another channel does not matter
        assert not gas.is_active()
    finally:
        gas.close()
        adc.close()


def test_relay_active_high_and_low(pin_factory) -> None:
    high = GpioRelay("amplifier", 27, active_high=True, pin_factory=pin_factory)
    low = GpioRelay("fan", 26, active_high=False, pin_factory=pin_factory)
    try:
        assert isinstance(high, Relay)
        assert pin_factory.pin(27).state is False and pin_factory.pin(26).state is True  # both off
        high.on()
        low.on()
        assert high.is_on and low.is_on
        assert pin_factory.pin(27).state is True and pin_factory.pin(26).state is False
        high.off()
        assert pin_factory.pin(27).state is False
    finally:
        high.close()
        low.close()
    assert pin_factory.pin(26).state is True  # low-triggered relay left off after close


def test_relay_on_a_missing_pin_names_the_device(pin_factory) -> None:
    with pytest.raises(DeviceUnavailable, match="loudspeaker amplifier: relay GPIO pin 40"):
        GpioRelay("loudspeaker amplifier", 40, pin_factory=pin_factory)
