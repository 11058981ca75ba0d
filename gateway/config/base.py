"""The base of every config model: strict, immutable, documented.

`extra="forbid"` turns a typo in the station file into an error naming the field instead of a
silently ignored setting; every field carries a description so the exported JSON Schema is the
reference a technician reads.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    """Strict, frozen base for every part of the station file."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
