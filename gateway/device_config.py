"""Driver plugins of the station file, each chosen by its `type`.

A new driver adds one model here (with a unique `type` literal) and one case in
`gateway.devices`; nothing else in the gateway changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from gateway.config_base import ConfigModel


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


WaterLevelDriver = Annotated[Union[SimulatedWaterLevel], Field(discriminator="type")]


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


FireInputDriver = Annotated[Union[SimulatedFireInput], Field(discriminator="type")]


class SimulatedSpeaker(ConfigModel):
    """A loudspeaker that records what it would play (clip or text, start, end) to a folder."""

    type: Literal["simulated"] = Field(description="Driver type: records plays as JSON lines.")
    record_dir: Path = Field(description="Folder where `plays.jsonl` is written.")
    seconds_per_char: float = Field(
        default=0.25, gt=0, description="Simulated speaking time per character of text."
    )
    clip_seconds: float = Field(default=3.0, gt=0, description="Simulated length of any clip.")


SpeakerDriver = Annotated[Union[SimulatedSpeaker], Field(discriminator="type")]
