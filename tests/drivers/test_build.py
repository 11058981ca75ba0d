"""Every hardware driver type of the example station file validates and builds through gateway.devices."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.fire_input import GpioFireInput, Mcp3008GasInput
from drivers.modbus_bus import ModbusBusPool
from drivers.speaker import AlsaSpeaker
from drivers.water_level.modbus import ModbusWaterLevel
from drivers.water_level.ultrasonic import UltrasonicWaterLevel
from foundation.errors import ConfigError
from gateway.config.station import load_config, parse_config
from gateway.devices import build_fire_input, build_speaker, build_water_sensor

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hardware-station.yaml"


def test_example_builds_every_driver(pin_factory) -> None:
    cfg = load_config(EXAMPLE)
    pool = ModbusBusPool()
    water = [build_water_sensor(s, modbus_buses=pool) for s in cfg.water_sensors]
    fire = [build_fire_input(f, pin_factory=pin_factory) for f in cfg.fire_inputs]
    assert cfg.loudspeaker is not None
    speaker = build_speaker(cfg.loudspeaker, pin_factory=pin_factory)
    try:
        assert [type(w) for w in water] == [UltrasonicWaterLevel, UltrasonicWaterLevel, ModbusWaterLevel, ModbusWaterLevel]
        assert water[2]._bus is water[3]._bus  # one client for the shared RS-485 port
        assert [type(f) for f in fire] == [GpioFireInput, GpioFireInput, Mcp3008GasInput]
        assert isinstance(speaker, AlsaSpeaker)
        assert pin_factory.pin(27).state is True  # low-triggered amplifier relay built and off
    finally:
        for d in [*water, *fire, speaker]:
            d.close()


BASE = """
station: {county: "410421", town: xiaoqi, village: zhuwa, id: t-01}
"""


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        ("water_sensors: [{id: w, rules: {warning_m: 1, danger_m: 2}, driver: {type: ultrasonic, port: loop://}}]", "mount_height_m"),
        ("water_sensors: [{id: w, rules: {warning_m: 1, danger_m: 2}, driver: {type: ultrasonic, port: loop://, mount_height_m: 3, baud: 9600}}]", "baud"),
        ("water_sensors: [{id: w, rules: {warning_m: 1, danger_m: 2}, driver: {type: ultrasonic, port: loop://, mount_height_m: 3, trigger_hex: zz}}]", "trigger_hex"),
        ("water_sensors: [{id: w, rules: {warning_m: 1, danger_m: 2}, driver: {type: modbus, port: loop://, slave_id: 300, address: 0}}]", "slave_id"),
        ("water_sensors: [{id: w, rules: {warning_m: 1, danger_m: 2}, driver: {type: modbus, port: loop://, slave_id: 1, address: 0, value_is: distance}}]", "mount_height_m"),
        ("fire_inputs: [{id: f, kind: fire, driver: {type: gpio, pin: 17, active: falling}}]", "active"),
        ("fire_inputs: [{id: f, kind: smoke, driver: {type: mcp3008, channel: 8, threshold: 0.5}}]", "channel"),
        ("loudspeaker: {driver: {type: alsa, amplifier: {pin: 27, warmup: 2}}}", "warmup"),
    ],
)
def test_bad_hardware_config_names_the_field(snippet: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + snippet)
    assert problem in str(err.value)
