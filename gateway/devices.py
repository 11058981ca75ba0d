"""Builds drivers from their config: the registry keyed by the config's `type`.

The gateway never imports a concrete driver elsewhere; adding hardware means a config model in
`gateway.config.devices` and a case here. Transports are passed in, never picked by a driver:
`pin_factory` for GPIO (None: gpiozero's default, which honours GPIOZERO_PIN_FACTORY) and a
`ModbusBusPool` so Modbus sensors on one RS-485 port share one client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from drivers.base import FireInput, Relay, Speaker, WaterLevelSensor
from drivers.link import LinkStatus
from gateway.config.devices import AlsaSpeaker as AlsaSpeakerCfg
from gateway.config.devices import GpioFireInput as GpioFireCfg
from gateway.config.devices import Mcp3008FireInput as Mcp3008FireCfg
from gateway.config.devices import ModbusWaterLevel as ModbusWaterCfg
from gateway.config.devices import SimulatedFireInput as SimFireCfg
from gateway.config.devices import SimulatedSpeaker as SimSpeakerCfg
from gateway.config.devices import SimulatedWaterLevel as SimWaterCfg
from gateway.config.devices import UltrasonicWaterLevel as UltrasonicWaterCfg
from gateway.config.station import FireInputConfig, LoudspeakerConfig, WaterSensorConfig
from gateway.config.vision import CameraConfig, FileCamera, RtspCamera, V4l2Camera

if TYPE_CHECKING:
    from gpiozero.pins import Factory

    from drivers.camera import OpenCvCamera
    from drivers.modbus_bus import ModbusBusPool


def build_water_sensor(
    cfg: WaterSensorConfig,
    clock: Callable[[], float] = time.monotonic,
    modbus_buses: ModbusBusPool | None = None,
    on_change: Callable[[LinkStatus], None] | None = None,
) -> WaterLevelSensor:
    """The driver of one water-level sensor.

    `modbus_buses` should be one pool per station so Modbus sensors sharing a port share its
    client; `on_change` is called when a serial sensor goes offline or comes back online.
    """
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
    if isinstance(d, UltrasonicWaterCfg):
        from drivers.water_level.ultrasonic import UltrasonicWaterLevel

        return UltrasonicWaterLevel(
            cfg.id,
            d.port,
            mount_height_m=d.mount_height_m,
            frame_format=d.frame_format,
            baudrate=d.baudrate,
            trigger=d.trigger_bytes(),
            min_distance_m=d.min_distance_m,
            max_distance_m=d.max_distance_m,
            window=d.window,
            max_jump_m=d.max_jump_m,
            timeout_s=d.timeout_s,
            backoff_initial_s=d.backoff_initial_s,
            backoff_max_s=d.backoff_max_s,
            clock=clock,
            on_change=on_change,
        )
    if isinstance(d, ModbusWaterCfg):
        from drivers.modbus_bus import ModbusBusPool, SerialSettings
        from drivers.water_level.modbus import ModbusWaterLevel

        pool = modbus_buses if modbus_buses is not None else ModbusBusPool()
        settings = SerialSettings(baudrate=d.baudrate, parity=d.parity, stopbits=d.stopbits, bytesize=d.bytesize)
        return ModbusWaterLevel(
            cfg.id,
            pool.bus(d.port, settings, cfg.id),
            slave_id=d.slave_id,
            address=d.address,
            register_type=d.register_type,
            data_type=d.data_type,
            word_order=d.word_order,
            scale=d.scale,
            offset=d.offset,
            value_is=d.value_is,
            mount_height_m=d.mount_height_m,
            timeout_s=d.timeout_s,
            retries=d.retries,
            backoff_initial_s=d.backoff_initial_s,
            backoff_max_s=d.backoff_max_s,
            clock=clock,
            on_change=on_change,
        )
    raise TypeError(f"no water-level driver for type {d.type!r}")


def build_fire_input(
    cfg: FireInputConfig,
    clock: Callable[[], float] = time.monotonic,
    pin_factory: Factory | None = None,
) -> FireInput:
    """The driver of one fire or smoke input; GPIO drivers get `pin_factory`."""
    d = cfg.driver
    if isinstance(d, SimFireCfg):
        from drivers.fire_input import SimulatedFireInput

        return SimulatedFireInput(cfg.id, [(w.start_s, w.end_s) for w in d.active], clock=clock, period_s=d.period_s)
    if isinstance(d, GpioFireCfg):
        from drivers.fire_input import GpioFireInput

        return GpioFireInput(cfg.id, d.pin, pull=d.pull, active=d.active, bounce_s=d.bounce_s, pin_factory=pin_factory)
    if isinstance(d, Mcp3008FireCfg):
        from drivers.fire_input import Mcp3008GasInput

        return Mcp3008GasInput(
            cfg.id,
            d.channel,
            threshold=d.threshold,
            hysteresis=d.hysteresis,
            spi_port=d.spi_port,
            spi_device=d.spi_device,
            pin_factory=pin_factory,
        )
    raise TypeError(f"no fire-input driver for type {d.type!r}")


def build_speaker(cfg: LoudspeakerConfig, pin_factory: Factory | None = None, name: str = "loudspeaker") -> Speaker:
    """The loudspeaker driver; its amplifier relay, if any, gets `pin_factory`."""
    d = cfg.driver
    if isinstance(d, SimSpeakerCfg):
        from drivers.speaker import SimulatedSpeaker

        return SimulatedSpeaker(d.record_dir, seconds_per_char=d.seconds_per_char, clip_seconds=d.clip_seconds)
    if isinstance(d, AlsaSpeakerCfg):
        from drivers.relay import GpioRelay
        from drivers.speaker import AlsaSpeaker
        from drivers.tts import EspeakTts

        tts = EspeakTts(name, d.cache_dir, speed_wpm=d.speed_wpm, amplitude=d.amplitude, max_files=d.cache_max_files)
        amp = d.amplifier
        relay = GpioRelay(f"{name} amplifier", amp.pin, amp.active_high, pin_factory) if amp is not None else None
        return AlsaSpeaker(
            name,
            tts,
            device=d.device,
            amplifier=relay,
            warmup_s=amp.warmup_s if amp is not None else 0.0,
            hold_s=amp.hold_s if amp is not None else 0.0,
            clip_dir=d.clip_dir,
            max_play_s=d.max_play_s,
        )
    raise TypeError(f"no speaker driver for type {d.type!r}")


def build_warning_light(cfg: LoudspeakerConfig, pin_factory: Factory | None = None, name: str = "warning light") -> Relay | None:
    """The warning light/strobe relay beside the loudspeaker, if one is configured (it starts off)."""
    light = cfg.driver.warning_light
    if light is None:
        return None
    from drivers.relay import GpioRelay

    return GpioRelay(name, light.pin, light.active_high, pin_factory)


def build_camera(cfg: CameraConfig, clock: Callable[[], float] = time.monotonic) -> OpenCvCamera:
    """The driver of one camera, by its config `type` (file, v4l2, rtsp); it starts grabbing at once."""
    from drivers.camera import OpenCvCamera, file_source, rtsp_source, v4l2_source

    d = cfg.driver
    if isinstance(d, FileCamera):
        source = file_source(d.path, d.fps, d.loop)
    elif isinstance(d, V4l2Camera):
        source = v4l2_source(d.device, d.width, d.height, d.fps, d.fourcc)
    elif isinstance(d, RtspCamera):
        source = rtsp_source(d.url, d.transport, d.timeout_s)
    else:  # pragma: no cover - the config union is closed
        raise TypeError(f"no camera driver for type {d.type!r}")
    return OpenCvCamera(cfg.id, source, d.stall_s, d.reopen_backoff_s, d.reopen_backoff_max_s, clock=clock)
