"""How a danger zone follows the people in it: severity by dwell, lost in the water, the repeated warning.

Part of each zone of the station file (`ZoneConfig`), kept here so the camera settings stay readable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gateway.config.base import ConfigModel


class DwellStep(ConfigModel):
    """The alarm's severity once someone has been in the zone this long."""

    after_s: float = Field(gt=0, description="Seconds one person has been in the zone (the longest dwell counts).")
    severity: Literal["danger", "critical"] = Field(description="Severity from then on (never lowered while the alarm is up).")


class LostInWaterConfig(ConfigModel):
    """A person who vanishes in the water, away from its edges and not seen leaving: possible_submersion (critical)."""

    after_s: float = Field(
        default=10.0, gt=0, le=600,
        description="Seconds since the detector last found the person before the critical possible_submersion alarm is raised.",
    )
    edge_margin: float = Field(
        default=0.03, ge=0, le=0.5,
        description="A person last seen with their feet closer to the zone's edge than their own height plus this margin "
        "(fraction of the frame's larger side) walked out or left the picture there: not lost. Widen it where the bank "
        "is shallow or the picture is cut by trees.",
    )
    min_tracked_s: float = Field(
        default=2.0, ge=0, le=600,
        description="Only a person followed in the zone at least this long can be lost (a passing false detection cannot).",
    )
    rejoin_distance: float = Field(
        default=2.0, gt=0, le=20,
        description="A new track this close (in person heights) to where someone vanished is the same person found again.",
    )
    hold_s: float = Field(
        default=900.0, ge=60, le=86400,
        description="If nobody is seen again there, the alarm ends this long after it was raised (people on site have it by then).",
    )


class WarningRepeatConfig(ConfigModel):
    """The loudspeaker's warning for this zone repeated while anyone is in it, and stopped when it is empty.

    Each warning plays the matching loudspeaker action once (its `repeat` and `cooldown_s` give way to
    this schedule) and is reported on event/loudspeaker; a critical alarm plays as an emergency,
    through quiet hours.
    """

    interval_s: float = Field(
        default=15.0, ge=1, le=600, description="Seconds between the starts of two warnings (longer than the warning itself)."
    )
    cycles: int = Field(default=4, ge=1, le=100, description="Warnings in a row before a pause.")
    pause_s: float = Field(
        default=60.0, ge=1, le=3600, description="Seconds from the start of the last warning of a run to the next run."
    )

    @model_validator(mode="after")
    def _pause(self) -> "WarningRepeatConfig":
        if self.pause_s < self.interval_s:
            raise ValueError("pause_s must not be shorter than interval_s")
        return self
