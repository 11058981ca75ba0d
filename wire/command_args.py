"""The arguments of each county command, validated before anything runs.

Strict models (no type coercion, unknown fields refused): a genuine command from the county
with a bad argument is still refused with a clear reason, never half-run. Text that will be
spoken is bounded (the station's `text_max_chars` is checked by the dispatcher on top of the
hard cap here) and may not carry control characters; it is handed to the speech engine as one
argument, never through a shell. A clip is a bare name in the speaker's clip folder, never a path.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CLIP_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\.wav)?$"
ALARM_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


def printable_text(value: str) -> str:
    """Refuse control and format characters (newlines, escapes, bidi overrides): they are never needed.

    The county web view applies it to operators' display names too, which go into `ack` commands.
    """
    bad = [c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn")]
    if bad:
        raise ValueError(f"contains {len(bad)} control or unassigned character(s), e.g. U+{ord(bad[0]):04X}")
    if not value.strip():
        raise ValueError("is blank")
    return value


class Args(BaseModel):
    """Base of command arguments: strict and closed."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NoArgs(Args):
    """status, selftest, config/get take no arguments."""


class AnnounceArgs(Args):
    """Play a text or a clip on the loudspeaker."""

    text: str | None = Field(default=None, min_length=1, max_length=2000, description="Text to speak.")
    clip: str | None = Field(default=None, pattern=CLIP_NAME, description="Name of a clip in the speaker's clip folder.")
    priority: Literal["emergency", "warning", "announcement"] = Field(default="announcement", description="Queue priority.")
    repeat: int = Field(default=1, ge=1, le=10, description="How many times to play it.")
    interval_s: float = Field(default=2.0, ge=0, le=60, description="Pause between repeats.")
    expires_s: float = Field(default=300.0, gt=0, le=86400, description="Drop it if it cannot start within this time of arriving.")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else printable_text(value)

    @model_validator(mode="after")
    def _one_source(self) -> "AnnounceArgs":
        if (self.text is None) == (self.clip is None):
            raise ValueError("give exactly one of text or clip")
        return self


class SilenceArgs(Args):
    """Hold the loudspeaker for a while; 0 lifts a silence."""

    duration_s: float = Field(ge=0, le=86400, description="How long to stay silent, kept across gateway restarts; 0 ends a silence now.")
    force: bool = Field(default=False, description="Silence emergencies too (otherwise they still play).")


class AckArgs(Args):
    """An operator acknowledges an open alarm."""

    event_id: str = Field(pattern=ALARM_ID, description="The alarm's event_id.")
    operator: str = Field(min_length=1, max_length=64, description="Name of the operator who acknowledged it.")

    @field_validator("operator")
    @classmethod
    def _operator(cls, value: str) -> str:
        return printable_text(value)


class FalseAlarmArgs(Args):
    """The county judged a camera's fire/smoke alarm false: ignore that spot of that camera for a while."""

    event_id: str = Field(pattern=ALARM_ID, description="The alarm's event_id (open, or cleared recently).")
    hours: float = Field(default=24.0, gt=0, le=168, description="How long the spot stays suppressed (at most a week).")

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: Any) -> Any:
        # a whole number of hours arrives as a JSON integer; strict mode would refuse it as a float
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ConfigSetArgs(Args):
    """A JSON merge patch (RFC 7396) of the station file."""

    patch: dict[str, Any] = Field(min_length=1, description="Keys to set; null removes a key; lists are replaced whole.")


UPDATE_VERSION = r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$"
MAX_UPDATE_BYTES = 512 * 1024 * 1024


class UpdateArgs(Args):
    """Install new software (a bundle from `packaging/bundle.py build`) or a new detector model, kept only if it proves itself."""

    kind: Literal["software", "model"] = Field(description="software: a bundle tar.gz; model: a .tflite for the cameras' person detector.")
    version: str = Field(pattern=UPDATE_VERSION, description="The version the download holds (a bundle's VERSION; a name for a model).")
    url: str = Field(min_length=8, max_length=2000, description="Where to download it: http or https only (the county's server).")
    size: int = Field(ge=1, le=MAX_UPDATE_BYTES, description="Exact size of the download in bytes; more is never read.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the download itself (lowercase hex); a mismatch is refused as tampered.")
    deadline_s: int = Field(default=300, ge=30, le=3600, description="Seconds the new version has to reconnect and have every loop beat, else it is rolled back.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest or any(c.isspace() for c in value):
            raise ValueError("must be an http:// or https:// URL without spaces")
        return printable_text(value)


ARGS: dict[str, type[Args]] = {
    "announce": AnnounceArgs,
    "silence": SilenceArgs,
    "ack": AckArgs,
    "status": NoArgs,
    "selftest": NoArgs,
    "config/get": NoArgs,
    "config/set": ConfigSetArgs,
    "false_alarm": FalseAlarmArgs,
    "update": UpdateArgs,
}


def parse_args(name: str, args: dict[str, Any]) -> Args:
    """The validated arguments of a command; ValueError naming the first problem."""
    try:
        return ARGS[name].model_validate(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "args"
        raise ValueError(f"{where}: {first['msg']}") from None
