"""Driver plugins of the station file, each chosen by its `type`.

A new driver adds one model here (with a unique `type` literal) and one case in
`gateway.devices`; nothing else in the gateway changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from gateway.config.base import ConfigModel


class ScenarioPoint(ConfigModel):
    """One point of a simulated water-level scenario; levels between points are interpolated."""

    at_s: float = Field(ge=0, description="Seconds since the scenario started.")
    level_m: float = Field(description="Water level above the datum at that moment, in metres.")


class SimulatedWaterLevel(ConfigModel):
    """A water-level sensor that plays a scenario (for the demo, tests and training)."""

    type: Literal["simulated"] = Field(description="Driver type: a scenario player.")
    scenario: list[ScenarioPoint] = Field(
        min_length=1, description="Levels over time, in increasing `at_s` order."
    )
    loop: bool = Field(default=True, description="Start the scenario again after its last point.")
    noise_m: float = Field(default=0.0, ge=0, description="Uniform noise added to each reading, in metres.")
    silent_from_s: float | None = Field(
        default=None, ge=0, description="From this many seconds on the sensor stops answering (tests a dead sensor)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> "SimulatedWaterLevel":
        times = [p.at_s for p in self.scenario]
        if times != sorted(times):
            raise ValueError("scenario points must be in increasing at_s order")
        return self


SERIAL_PORT_DESCRIPTION = (
    "pyserial URL of the port: /dev/ttyUSB0, /dev/serial/by-id/..., hwgrep://VID:PID (found again after a "
    "re-plug under another name), rfc2217://host:port (network serial server) or loop:// (bench test)."
)


def _backoff_field(initial: bool) -> Any:
    if initial:
        return Field(default=1.0, gt=0, description="Delay before the first retry after a failure.")
    return Field(default=60.0, gt=0, description="Cap of the retry delay, which doubles after each failure.")


def _check_backoff(initial_s: float, max_s: float) -> None:
    if max_s < initial_s:
        raise ValueError("backoff_max_s must not be below backoff_initial_s")


class UltrasonicWaterLevel(ConfigModel):
    """A UART ultrasonic distance sensor looking down at the water (A02YYUW, DYP-A01, MaxBotix)."""

    type: Literal["ultrasonic"] = Field(description="Driver type: UART ultrasonic distance sensor.")
    port: str = Field(min_length=1, description=SERIAL_PORT_DESCRIPTION)
    baudrate: int = Field(default=9600, ge=300, le=921600, description="Serial speed; 9600 for A02YYUW/DYP and MaxBotix.")
    frame_format: Literal["binary", "ascii_mm", "ascii_cm", "ascii_in"] = Field(
        default="binary",
        description="binary: 4-byte frame 0xFF,high,low,checksum in mm (A02YYUW, DYP-A01); ascii_mm/ascii_cm/ascii_in: "
        "MaxBotix 'R####<CR>' in millimetres (HRXL), centimetres (XL) or inches (LV).",
    )
    trigger_hex: str | None = Field(
        default=None,
        pattern=r"^([0-9A-Fa-f]{2})( ?[0-9A-Fa-f]{2})*$",
        description="Bytes written before each read, in hex (e.g. '55'), for sensors in controlled-output mode; "
        "None for sensors that stream by themselves.",
    )
    mount_height_m: float = Field(
        gt=0, description="Height of the sensor face above the station datum; level = mount_height_m - distance."
    )
    min_distance_m: float = Field(default=0.03, ge=0, description="Shorter distances are the blind zone and are discarded.")
    max_distance_m: float = Field(default=4.5, gt=0, description="Longer distances (no echo) are discarded.")
    window: int = Field(default=5, ge=1, le=51, description="Median filter over this many of the latest frames.")
    max_jump_m: float = Field(
        default=0.10, gt=0, description="Frames farther than this from the median are echoes (reeds, waves) and left out."
    )
    timeout_s: float = Field(default=1.0, gt=0, le=30, description="A read with no valid frame for this long fails (sensor offline).")
    backoff_initial_s: float = _backoff_field(initial=True)
    backoff_max_s: float = _backoff_field(initial=False)

    @model_validator(mode="after")
    def _range(self) -> "UltrasonicWaterLevel":
        _check_backoff(self.backoff_initial_s, self.backoff_max_s)
        if self.max_distance_m <= self.min_distance_m:
            raise ValueError("max_distance_m must be above min_distance_m")
        return self

    def trigger_bytes(self) -> bytes | None:
        return bytes.fromhex(self.trigger_hex) if self.trigger_hex else None


class ModbusWaterLevel(ConfigModel):
    """A level (or distance) transmitter on an RS-485 Modbus RTU line; several may share one port."""

    type: Literal["modbus"] = Field(description="Driver type: Modbus RTU register.")
    port: str = Field(min_length=1, description=SERIAL_PORT_DESCRIPTION + " Devices on one port share it.")
    baudrate: int = Field(default=9600, ge=300, le=921600, description="Line speed; all devices on a port must agree.")
    parity: Literal["N", "E", "O"] = Field(default="N", description="Parity: N (none), E (even) or O (odd).")
    stopbits: Literal[1, 2] = Field(default=1, description="Stop bits.")
    bytesize: Literal[7, 8] = Field(default=8, description="Data bits.")
    slave_id: int = Field(ge=1, le=247, description="Modbus slave (unit) id of the transmitter.")
    address: int = Field(
        ge=0, le=65535, description="Zero-based register address (holding register 40001 of a manual is address 0)."
    )
    register_type: Literal["holding", "input"] = Field(
        default="holding", description="holding (function 3) or input (function 4) registers."
    )
    data_type: Literal["uint16", "int16", "uint32", "int32", "float32"] = Field(
        default="uint16", description="How the register(s) encode the value; 32-bit types use two registers."
    )
    word_order: Literal["big", "little"] = Field(
        default="big", description="For 32-bit types: big = high word in the first register, little = in the second."
    )
    scale: float = Field(default=0.001, description="Metres per raw unit (0.001 for mm, 0.01 for cm, 1 for m).")
    offset: float = Field(default=0.0, description="Metres added after scaling (datum correction).")
    value_is: Literal["level", "distance"] = Field(
        default="level",
        description="level: the value is the water level; distance: it is the distance down to the water "
        "(radar, ultrasonic), and level = mount_height_m - value.",
    )
    mount_height_m: float | None = Field(
        default=None, gt=0, description="Height of the transmitter above the datum; required when value_is is distance."
    )
    timeout_s: float = Field(
        default=0.3, gt=0, le=10, description="Wait this long for a reply; keep it short so a dead device does not stall the line."
    )
    retries: int = Field(default=1, ge=0, le=5, description="Retries after a timeout or garbled reply before the read fails.")
    backoff_initial_s: float = _backoff_field(initial=True)
    backoff_max_s: float = _backoff_field(initial=False)

    @model_validator(mode="after")
    def _distance_needs_mount(self) -> "ModbusWaterLevel":
        _check_backoff(self.backoff_initial_s, self.backoff_max_s)
        if self.value_is == "distance" and self.mount_height_m is None:
            raise ValueError("value_is: distance needs mount_height_m")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        return self


WaterLevelDriver = Annotated[
    Union[SimulatedWaterLevel, UltrasonicWaterLevel, ModbusWaterLevel], Field(discriminator="type")
]


class ActiveWindow(ConfigModel):
    """A window during which a simulated input is active, in seconds since start."""

    start_s: float = Field(ge=0, description="Seconds since start when the input turns active.")
    end_s: float = Field(gt=0, description="Seconds since start when it turns inactive again.")

    @model_validator(mode="after")
    def _ordered(self) -> "ActiveWindow":
        if self.end_s <= self.start_s:
            raise ValueError("end_s must be after start_s")
        return self


class SimulatedFireInput(ConfigModel):
    """A fire or smoke input that trips and clears on a schedule."""

    type: Literal["simulated"] = Field(description="Driver type: a schedule player.")
    active: list[ActiveWindow] = Field(default_factory=list, description="When the input is active.")
    period_s: float | None = Field(
        default=None, gt=0, description="Repeat the schedule every this many seconds (None: play once)."
    )


GpioPin = Union[int, str]  # a BCM number (17) or any pin name gpiozero knows ('GPIO17', 'BOARD11', 'J8:11')


class GpioFireInput(ConfigModel):
    """A digital flame sensor or a smoke detector's relay contact on a GPIO pin."""

    type: Literal["gpio"] = Field(description="Driver type: digital input through gpiozero.")
    pin: GpioPin = Field(description="GPIO pin: a BCM number (17) or a gpiozero name ('GPIO17', 'BOARD11').")
    pull: Literal["up", "down", "none"] = Field(
        default="up", description="The pin's resistor: up (contact to ground), down, or none (the module drives the line)."
    )
    active: Literal["low", "high"] = Field(
        default="low",
        description="Level meaning fire/smoke: low for flame modules and normally-open contacts to ground, "
        "high for normally-closed (fail-safe) contacts with a pull-up.",
    )
    bounce_s: float | None = Field(
        default=0.05, gt=0, le=5, description="Contact bounce time ignored after an edge; None for none."
    )

    @model_validator(mode="after")
    def _pin(self) -> "GpioFireInput":
        if isinstance(self.pin, int) and self.pin < 0:
            raise ValueError("pin must not be negative")
        return self


class Mcp3008FireInput(ConfigModel):
    """An analog gas/smoke sensor (MQ-2 and the like) read through an MCP3008 ADC on SPI."""

    type: Literal["mcp3008"] = Field(description="Driver type: MCP3008 channel compared with a threshold.")
    channel: int = Field(ge=0, le=7, description="MCP3008 input channel.")
    threshold: float = Field(gt=0, le=1, description="Active at or above this reading, as a fraction of full scale (0..1].")
    hysteresis: float = Field(
        default=0.02, ge=0, lt=1, description="Once active, stays active until the reading falls below threshold - hysteresis."
    )
    spi_port: int = Field(default=0, ge=0, le=1, description="SPI bus (0 on a Raspberry Pi header).")
    spi_device: int = Field(default=0, ge=0, le=1, description="SPI chip select: 0 (CE0) or 1 (CE1).")

    @model_validator(mode="after")
    def _hysteresis(self) -> "Mcp3008FireInput":
        if self.hysteresis >= self.threshold:
            raise ValueError("hysteresis must be below threshold")
        return self


FireInputDriver = Annotated[
    Union[SimulatedFireInput, GpioFireInput, Mcp3008FireInput], Field(discriminator="type")
]


class WarningLight(ConfigModel):
    """A warning light or strobe on a relay, switched on with a zone's repeated warning and off when the zone is empty."""

    pin: GpioPin = Field(description="GPIO pin of the relay: a BCM number (22) or a gpiozero name ('GPIO22').")
    active_high: bool = Field(default=True, description="True if the relay closes on a high output; False for low-triggered boards.")


class SimulatedSpeaker(ConfigModel):
    """A loudspeaker that records what it would play (clip or text, start, end) to a folder."""

    type: Literal["simulated"] = Field(description="Driver type: records plays as JSON lines.")
    record_dir: Path = Field(description="Folder where `plays.jsonl` is written.")
    seconds_per_char: float = Field(
        default=0.25, gt=0, description="Simulated speaking time per character of text."
    )
    clip_seconds: float = Field(default=3.0, gt=0, description="Simulated length of any clip.")
    warning_light: WarningLight | None = Field(default=None, description="Warning light/strobe relay (None: none).")


class AmplifierRelay(ConfigModel):
    """The relay that powers the PA amplifier, switched on before sound."""

    pin: GpioPin = Field(description="GPIO pin of the relay: a BCM number (27) or a gpiozero name ('GPIO27').")
    active_high: bool = Field(default=True, description="True if the relay closes on a high output; False for low-triggered boards.")
    warmup_s: float = Field(default=1.0, ge=0, le=10, description="Wait this long after switching the amplifier on before sound.")
    hold_s: float = Field(
        default=10.0, ge=0, le=600, description="Keep the amplifier on this long after a play, so repeats do not cycle the relay."
    )


class AlsaSpeaker(ConfigModel):
    """The real loudspeaker: aplay on an ALSA device, espeak-ng for text, an optional amplifier relay."""

    type: Literal["alsa"] = Field(description="Driver type: ALSA playback with espeak-ng speech.")
    device: str = Field(
        default="default", min_length=1, description="ALSA device given to aplay -D (default, plughw:1,0, hw:CARD=Device)."
    )
    cache_dir: Path = Field(
        default=Path("/var/cache/station-gateway/tts"), description="Folder where spoken texts are cached as WAV files."
    )
    cache_max_files: int = Field(default=200, ge=1, description="Keep at most this many cached WAVs (least recently used go).")
    clip_dir: Path | None = Field(default=None, description="Folder for clip names that are not absolute paths.")
    speed_wpm: int = Field(default=150, ge=80, le=450, description="Speaking speed of espeak-ng, words per minute.")
    amplitude: int = Field(default=100, ge=0, le=200, description="espeak-ng amplitude (loudness of the synthesised voice).")
    amplifier: AmplifierRelay | None = Field(default=None, description="Amplifier power relay (None: always powered).")
    warning_light: WarningLight | None = Field(default=None, description="Warning light/strobe relay (None: none).")
    max_play_s: float = Field(
        default=300.0, gt=0, le=600, description="Stop a play that runs longer than this (a wedged audio device) and report it."
    )


SpeakerDriver = Annotated[Union[SimulatedSpeaker, AlsaSpeaker], Field(discriminator="type")]
