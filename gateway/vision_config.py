"""Camera and on-device detection settings of the station file."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from gateway.config_base import ConfigModel


class FileCamera(ConfigModel):
    """A camera read from a video file or still image (tests, replay, training)."""

    type: Literal["file"] = Field(description="Driver type: a video file or image, looped.")
    path: str = Field(description="Path of the video or image.")
    loop: bool = Field(default=True, description="Start again at the end of the file.")
    fps: float | None = Field(default=None, gt=0, description="Pace frames at this rate (None: the file's own).")


CameraDriver = Annotated[Union[FileCamera], Field(discriminator="type")]


class CameraConfig(ConfigModel):
    """One camera and what to detect on it."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="Camera id, used in topics and events.")
    name: str = Field(default="", description="Human name shown to operators.")
    driver: CameraDriver = Field(description="Where frames come from.")
