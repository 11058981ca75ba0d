"""Builds drivers from their config: the registry keyed by the config's `type`.

The gateway never imports a concrete driver elsewhere; adding hardware means a config model in
`gateway.device_config` and a case here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.base import FireInput, Speaker, WaterLevelSensor
from gateway.config import FireInputConfig, LoudspeakerConfig, WaterSensorConfig
from gateway.device_config import SimulatedFireInput as SimFireCfg
from gateway.device_config import SimulatedSpeaker as SimSpeakerCfg
from gateway.device_config import SimulatedWaterLevel as SimWaterCfg


def build_water_sensor(cfg: WaterSensorConfig, clock: Callable[[], float] = time.monotonic) -> WaterLevelSensor:
    """The driver of one water-level sensor."""
    d = cfg.driver
    if isinstance(d, SimWaterCfg):
        from drivers.water_level.simulated import SimulatedWaterLevel

        return SimulatedWaterLevel(
            cfg.id,
            [(p.at_s, p.level_m) for p in d.scenario],
            clock=clock,
            loop=d.loop,
            noise_m=d.noise_m,
            silent_from_s=d.silent_from_s,
        )
    raise TypeError(f"no water-level driver for type {d.type!r}")


def build_fire_input(cfg: FireInputConfig, clock: Callable[[], float] = time.monotonic) -> FireInput:
    """The driver of one fire or smoke input."""
    d = cfg.driver
    if isinstance(d, SimFireCfg):
        from drivers.fire_input import SimulatedFireInput

        return SimulatedFireInput(cfg.id, [(w.start_s, w.end_s) for w in d.active], clock=clock, period_s=d.period_s)
    raise TypeError(f"no fire-input driver for type {d.type!r}")


def build_speaker(cfg: LoudspeakerConfig) -> Speaker:
    """The loudspeaker driver."""
    d = cfg.driver
    if isinstance(d, SimSpeakerCfg):
        from drivers.speaker import SimulatedSpeaker

        return SimulatedSpeaker(d.record_dir, seconds_per_char=d.seconds_per_char, clip_seconds=d.clip_seconds)
    raise TypeError(f"no speaker driver for type {d.type!r}")
