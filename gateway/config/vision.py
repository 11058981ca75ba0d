"""Camera and on-device detection settings of the station file.

Relative paths (model, labels, video file) are resolved against the current working directory,
like every other path of the station file (outbox, record folders, password files): the
installed service runs with a fixed `WorkingDirectory`, and `stationctl replay` is run from the
project root, where the example configs' `../shared/models/...` paths point at the shared models.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from gateway.config.base import ConfigModel
from gateway.config.fire_model import BackboneFireModel, ImagenetFireModel, LearnedFireModel
from gateway.config.person_watch import DwellStep, LostInWaterConfig, WarningRepeatConfig
from gateway.config.regions import RegionsConfig

CAMERA_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"
HOUR_RANGE = r"^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$"
# Each person head's recommended score threshold, from its model card (chosen on held-back photos; tests check the
# cards say the same), keyed by whether the COCO SSD's own person score is kept beside it.
COCO_MIN_SCORE = 0.5
SWIMMER_MIN_SCORE = {True: 0.5, False: 0.45}  # edge_models/models/SWIMMER_HEAD.md
CENTRE_MIN_SCORE = {True: 0.3, False: 0.2}  # edge_models/models/SWIMMER_CENTRE.md

# ------------------------------------------------------------------------------------ drivers


class CaptureSettings(ConfigModel):
    """How a camera driver notices a dead source and reopens it."""

    stall_s: float = Field(default=5.0, gt=0, description="No new frame for this long counts as a stall: the source is reopened.")
    reopen_backoff_s: float = Field(default=1.0, gt=0, description="First delay before reopening a failed source; doubles each failure.")
    reopen_backoff_max_s: float = Field(default=30.0, gt=0, description="Cap of the reopening delay.")

    @model_validator(mode="after")
    def _backoff(self) -> "CaptureSettings":
        if self.reopen_backoff_max_s < self.reopen_backoff_s:
            raise ValueError("reopen_backoff_max_s must not be below reopen_backoff_s")
        return self


class FileCamera(CaptureSettings):
    """A camera read from a video file or still image (tests, replay, training)."""

    type: Literal["file"] = Field(description="Driver type: a video file or image, looped.")
    path: str = Field(description="Path of the video or image (relative to the working directory).")
    loop: bool = Field(default=True, description="Start again at the end of the file.")
    fps: float | None = Field(default=None, gt=0, description="Pace frames at this rate (None: the file's own; 10 for images).")


class V4l2Camera(CaptureSettings):
    """A USB or CSI camera through Video4Linux."""

    type: Literal["v4l2"] = Field(description="Driver type: a V4L2 device.")
    device: int | str = Field(description="Device index (0 for /dev/video0) or device path (/dev/video0, /dev/v4l/by-id/...).")
    width: int | None = Field(default=None, ge=16, description="Requested frame width in pixels (None: the driver's default).")
    height: int | None = Field(default=None, ge=16, description="Requested frame height in pixels (None: the driver's default).")
    fps: float | None = Field(default=None, gt=0, description="Requested frame rate (None: the driver's default).")
    fourcc: str | None = Field(
        default=None, pattern=r"^[A-Z0-9]{4}$", description="Pixel format, e.g. MJPG (less USB bandwidth) or YUYV."
    )


class RtspCamera(CaptureSettings):
    """An IP camera's RTSP stream, read with OpenCV's FFmpeg backend (use the sub-stream)."""

    type: Literal["rtsp"] = Field(description="Driver type: an RTSP URL.")
    url: str = Field(pattern=r"^rtsps?://", description="Stream URL, e.g. rtsp://user:pass@192.168.1.64:554/Streaming/Channels/102.")
    transport: Literal["tcp", "udp"] = Field(default="tcp", description="RTP transport; tcp survives lossy links better.")
    timeout_s: float = Field(default=5.0, gt=0, description="Give up opening or reading the stream after this long.")


CameraDriver = Annotated[Union[FileCamera, V4l2Camera, RtspCamera], Field(discriminator="type")]

# ------------------------------------------------------------------------------------- models


class ModelConfig(ConfigModel):
    """A TFLite model file and how to run it; input size, dtype and quantization come from the model."""

    path: Path = Field(description="The .tflite file (relative to the working directory).")
    labels: Path | None = Field(default=None, description="Label file: one label per line (a first line `???` is skipped) or `id label` pairs.")
    threads: int = Field(default=2, ge=1, le=8, description="CPU threads of the interpreter.")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Expected sha256 of the model; a mismatch refuses to load it.")
    input_mean: float = Field(default=127.5, description="Float-input models only: subtracted from each 0..255 pixel.")
    input_std: float = Field(default=127.5, gt=0, description="Float-input models only: each pixel is divided by this after the mean.")


class TrackerConfig(ConfigModel):
    """How detections are tied into identities across frames."""

    iou_threshold: float = Field(default=0.3, gt=0, le=1, description="Minimum box overlap to match a detection to a track.")
    max_distance: float = Field(default=1.0, gt=0, description="Fallback match: centre distance, in box heights, below which boxes still match.")
    max_age_s: float = Field(default=2.0, gt=0, description="Keep a track this long after its last detection.")
    min_hits: int = Field(default=2, ge=1, description="Detections needed before a track is reported.")


class DetectionConfig(ConfigModel):
    """Person detection on this camera."""

    model: ModelConfig = Field(description="The SSD-style detector (boxes, classes, scores, count outputs).")
    person_labels: list[str] = Field(default_factory=lambda: ["person"], min_length=1, description="Labels that count as a person.")
    min_score: float | None = Field(
        default=None, ge=0, le=1,
        description="Detections below this score are ignored everywhere. None: the head's own, from its model card (coco 0.5; "
        "swimmer 0.5, alone 0.45; centre 0.3, alone 0.2): the heads' scores are not on one scale, so switching `head` "
        "without a threshold of its own keeps the right one.",
    )
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="Identity tracking settings.")
    regions: RegionsConfig = Field(default_factory=RegionsConfig, description="Whole frame, zone crops or tiles at native resolution.")
    head: Literal["coco", "swimmer", "centre"] = Field(
        default="coco",
        description="coco: the model's own person class; swimmer: a head trained on swimmer photos scores the same SSD's anchors "
        "(the model must be the shared COCO SSD MobileNet-V1; see edge_models/models/SWIMMER_HEAD.md); centre: the swimmer "
        "centre net finds people instead of the SSD (edge_models/models/SWIMMER_CENTRE.md).",
    )
    centre_path: Path | None = Field(default=None, description="head: centre only: the centre net .tflite; None: the one shipped with the gateway.")
    centre_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Expected sha256 of the centre net; a mismatch refuses to load it."
    )
    centre_with_coco: bool = Field(
        default=True,
        description="head: centre only: the model's (COCO SSD) person boxes at 0.5 are kept too, for people walking on the bank "
        "that the centre net, trained on people in water, hardly sees (a second invoke per region).",
    )
    swimmer_head_path: Path | None = Field(default=None, description="head: swimmer only: the head .tflite; None: the head shipped with the gateway.")
    swimmer_head_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Expected sha256 of the swimmer head; a mismatch refuses to load it."
    )
    far_head_path: Path | None = Field(
        default=None, description="head: swimmer (or centre with centre_with_coco) and regions.far_band only: the far band's head .tflite; "
        "None: the one shipped with the gateway."
    )
    far_head_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Expected sha256 of the far band's head; a mismatch refuses to load it."
    )
    swimmer_with_coco: bool = Field(
        default=True, description="head: swimmer only: an anchor scores the better of the head and the COCO person score (people on the bank stay found)."
    )

    def threshold(self) -> float:
        """`min_score`, or the head's recommended threshold (its model card's) when none is set."""
        if self.min_score is not None:
            return self.min_score
        if self.head == "centre":
            return CENTRE_MIN_SCORE[self.centre_with_coco]
        return SWIMMER_MIN_SCORE[self.swimmer_with_coco] if self.head == "swimmer" else COCO_MIN_SCORE


class MotionConfig(ConfigModel):
    """Motion gating: run the models only when the picture changed, plus a forced frame now and then."""

    enabled: bool = Field(default=True, description="False analyses every frame.")
    pixel_threshold: int = Field(default=20, ge=1, le=255, description="Grey-level change for a pixel to count as changed.")
    min_changed: float = Field(default=0.003, gt=0, le=1, description="Fraction of changed pixels that makes a frame worth analysing.")
    force_every_s: float = Field(default=2.0, gt=0, description="Analyse a frame at least this often even when nothing moves.")
    width: int = Field(default=160, ge=32, le=1280, description="Width of the grey thumbnail compared between frames.")

# -------------------------------------------------------------------------------------- zones


class ArmedSchedule(ConfigModel):
    """When a zone is watched, in the camera's local time."""

    hours: list[str] = Field(
        default_factory=lambda: ["00:00-24:00"],
        min_length=1,
        description="Daily windows HH:MM-HH:MM (end 24:00 allowed; a window may pass midnight, e.g. 20:00-06:00).",
    )
    months: list[int] = Field(
        default_factory=lambda: list(range(1, 13)), min_length=1, description="Months (1-12) when the zone is armed, e.g. [6, 7, 8, 9] for the swimming season."
    )

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        for item in v:
            if not re.match(HOUR_RANGE, item):
                raise ValueError(f"{item!r} is not HH:MM-HH:MM")
        return v

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int]) -> list[int]:
        if any(m < 1 or m > 12 for m in v):
            raise ValueError("months are 1 to 12")
        return v


class ZoneConfig(ConfigModel):
    """A danger zone (water, ice, a weir): a polygon in normalized frame coordinates."""

    id: str = Field(pattern=CAMERA_ID, description="Zone id; the alarm source is {camera}/{zone}.")
    name: str = Field(default="", description="Human name (e.g. 'deep water by the dam').")
    polygon: list[tuple[float, float]] = Field(
        min_length=3, description="Corners [x, y] as fractions of the frame width and height (0..1), in drawing order."
    )
    armed: ArmedSchedule = Field(default_factory=ArmedSchedule, description="When the zone is watched.")
    min_score: float | None = Field(
        default=None, ge=0, le=1, description="A person box needs this score to count in this zone (None: the camera's detection threshold)."
    )
    min_box_area: float = Field(default=0.0005, ge=0, le=1, description="A person box needs this area (fraction of the frame) to count.")
    trigger_frames: int = Field(default=3, ge=1, description="N: analysed frames with someone in the zone, out of the last M, that raise the alarm.")
    window_frames: int = Field(default=5, ge=1, description="M: the window of analysed frames for trigger_frames.")
    clear_after_s: float = Field(default=10.0, ge=0, description="The alarm clears after the zone has been empty this long.")
    severity: Literal["warning", "danger", "critical"] = Field(default="danger", description="Severity of the alarm when raised (on entry).")
    escalate: list[DwellStep] = Field(
        default_factory=list,
        description="Severity steps by dwell, e.g. [{after_s: 60, severity: danger}] with severity warning: a warning on "
        "entry, danger after a minute in the water. Each step reached sends an update with a fresh snapshot.",
    )
    lost_in_water: LostInWaterConfig | None = Field(
        default=None, description="Raise possible_submersion when a person vanishes mid-zone (None: off)."
    )
    warning_repeat: WarningRepeatConfig | None = Field(
        default=None,
        description="Repeat the loudspeaker action of this zone's alarms while anyone is in it (None: the action plays "
        "as configured when the alarm is raised or escalates, once).",
    )
    min_update_s: float = Field(default=2.0, ge=0, description="At most one update for a changed count per this many seconds.")
    count_settle_s: float = Field(
        default=3.0, ge=0, le=600,
        description="A changed count of people is sent once it has held this long (people crossing the zone's edge, a "
        "missed detection): the county hears of someone going in or out, not of every flicker.",
    )

    @field_validator("polygon")
    @classmethod
    def _normalized(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if any(not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) for x, y in v):
            raise ValueError("polygon coordinates are fractions of the frame, 0 to 1")
        return v

    @model_validator(mode="after")
    def _window(self) -> "ZoneConfig":
        if self.trigger_frames > self.window_frames:
            raise ValueError("trigger_frames (N) must not exceed window_frames (M)")
        rank = {"warning": 1, "danger": 2, "critical": 3}
        previous_s, previous = 0.0, rank[self.severity]
        for step in self.escalate:
            if step.after_s <= previous_s or rank[step.severity] <= previous:
                raise ValueError("escalate: each step needs a longer after_s and a higher severity than the one before "
                                 f"(and than the zone's severity {self.severity!r})")
            previous_s, previous = step.after_s, rank[step.severity]
        return self

# --------------------------------------------------------------------------------- fire/smoke


class ClassicalFireSmokeConfig(ConfigModel):
    """The built-in colour + flicker + change detector (no model needed)."""

    fire: bool = Field(default=True, description="Look for flames.")
    smoke: bool = Field(default=True, description="Look for smoke.")
    fire_min_area: float = Field(default=0.002, gt=0, le=1, description="Smallest flame region, as a fraction of the frame.")
    fire_min_flicker: float = Field(default=6.0, gt=0, description="Brightness variation (grey levels) a flame region must show over recent frames.")
    smoke_min_area: float = Field(default=0.02, gt=0, le=1, description="Smallest smoke region, as a fraction of the frame.")
    smoke_min_changing: float = Field(default=0.3, gt=0, le=1, description="Fraction of a grey region that must be changing for it to count as smoke.")


class ClassifierFireModel(ConfigModel):
    """An operator-supplied whole-image classifier with fire and/or smoke classes."""

    type: Literal["classifier"] = Field(description="Model type: one label per image.")
    model: ModelConfig = Field(description="The classifier model and its labels.")
    fire_labels: list[str] = Field(default_factory=lambda: ["fire"], description="Labels meaning fire.")
    smoke_labels: list[str] = Field(default_factory=lambda: ["smoke"], description="Labels meaning smoke.")
    min_score: float = Field(default=0.6, ge=0, le=1, description="Probability at which a label counts.")


class DetectorFireModel(ConfigModel):
    """An operator-supplied SSD-style detector with fire and/or smoke classes."""

    type: Literal["detector"] = Field(description="Model type: boxes with labels.")
    model: ModelConfig = Field(description="The detector model and its labels.")
    fire_labels: list[str] = Field(default_factory=lambda: ["fire"], description="Labels meaning fire.")
    smoke_labels: list[str] = Field(default_factory=lambda: ["smoke"], description="Labels meaning smoke.")
    min_score: float = Field(default=0.5, ge=0, le=1, description="Score at which a box counts.")


FireModel = Annotated[Union[ClassifierFireModel, DetectorFireModel, LearnedFireModel, BackboneFireModel, ImagenetFireModel], Field(discriminator="type")]


def scored_kinds(model: ClassifierFireModel | DetectorFireModel | LearnedFireModel | BackboneFireModel | ImagenetFireModel) -> frozenset[str]:
    """What a fire/smoke model can report: an operator's model by its labels, a shipped one by its `fire`/`smoke` switches."""
    return frozenset(k for k in ("fire", "smoke") if getattr(model, f"{k}_labels", None) or getattr(model, k, False) is True)


class FireSmokeConfig(ConfigModel):
    """Fire and smoke seen by the camera; evidence from either detector counts."""

    classical: ClassicalFireSmokeConfig | None = Field(
        default_factory=ClassicalFireSmokeConfig, description="The built-in detector (null: off, model only)."
    )
    model: FireModel | None = Field(default=None, description="An operator-supplied fire/smoke model, chosen by `type`.")
    trigger_frames: int = Field(default=6, ge=1, description="N: analysed frames with evidence, out of the last M, that raise the alarm.")
    window_frames: int = Field(default=10, ge=1, description="M: the window of analysed frames.")
    clear_after_s: float = Field(default=60.0, ge=0, description="The alarm clears after this long without evidence.")
    severity: Literal["warning", "danger", "critical"] = Field(
        default="danger", description="Severity of a camera-only alarm; `corroborate` raises it to critical with a GPIO input."
    )
    classical_smoke_min_model_score: float | None = Field(
        default=None, gt=0, lt=1,
        description="With the classical smoke cue and a model that scores smoke: a frame's classical smoke counts only when the model's "
        "smoke score of that frame reaches this (lower than the model's own threshold: the model verifies the cue, which alone takes "
        "drifting cloud, fog and glare for smoke). None: either one suffices.",
    )

    @model_validator(mode="after")
    def _check(self) -> "FireSmokeConfig":
        if self.trigger_frames > self.window_frames:
            raise ValueError("trigger_frames (N) must not exceed window_frames (M)")
        if self.classical is None and self.model is None:
            raise ValueError("enable the classical detector or configure a model")
        if self.classical_smoke_min_model_score is not None and (
            self.classical is None or not self.classical.smoke or self.model is None or "smoke" not in scored_kinds(self.model)
        ):
            raise ValueError("classical_smoke_min_model_score needs the classical smoke cue (classical.smoke) and a model that scores smoke (model.smoke)")
        return self

# ------------------------------------------------------------------------------------ camera


class SnapshotConfig(ConfigModel):
    """The JPEG evidence attached to each alarm."""

    max_bytes: int = Field(default=150_000, ge=4_000, le=2_000_000, description="Upper bound of the JPEG; quality, then scale, are lowered to fit (at most 2 MB: the brokers refuse messages over 2 MiB).")
    quality: int = Field(default=85, ge=10, le=100, description="First JPEG quality tried.")
    min_quality: int = Field(default=40, ge=5, le=100, description="Below this quality the image is scaled down instead.")
    max_width: int = Field(default=1280, ge=64, description="Wider frames are scaled down first.")
    max_per_alarm: int = Field(
        default=3, ge=1, le=10,
        description="Snapshots sent for one alarm: the raise, then one per escalation (longer in the water, someone lost) up to this.",
    )


class CameraConfig(ConfigModel):
    """One camera and what to detect on it."""

    id: str = Field(pattern=CAMERA_ID, description="Camera id, used in topics and events.")
    name: str = Field(default="", description="Human name shown to operators.")
    driver: CameraDriver = Field(description="Where frames come from, chosen by `type`.")
    timezone: str | None = Field(default=None, description="IANA zone of the zone schedules (e.g. Asia/Shanghai); None: the system's local time.")
    detection: DetectionConfig | None = Field(default=None, description="Person detection (needed by zones; None: off).")
    zones: list[ZoneConfig] = Field(default_factory=list, description="Danger zones watched for people.")
    fire_smoke: FireSmokeConfig | None = Field(default=None, description="Fire and smoke watch (None: off).")
    motion: MotionConfig = Field(default_factory=MotionConfig, description="Motion gating of the models.")
    snapshot: SnapshotConfig = Field(default_factory=SnapshotConfig, description="Alarm snapshots.")
    stale_after_s: float = Field(default=30.0, gt=0, description="No frame for this long raises a camera_stale health alarm.")
    max_fps: float = Field(default=10.0, gt=0, description="Analyse at most this many frames a second (the grabber keeps only the newest).")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _check(self) -> "CameraConfig":
        if self.zones and self.detection is None:
            raise ValueError("zones need `detection` (a person detector)")
        ids = [z.id for z in self.zones]
        if len(ids) != len(set(ids)):
            raise ValueError("zone ids must be unique within a camera")
        return self

    def tzinfo(self) -> ZoneInfo | None:
        """The zone schedules' time zone (None: local time of the system)."""
        return ZoneInfo(self.timezone) if self.timezone else None

