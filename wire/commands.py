"""The wire form of a county command (`cmd/{name}`) and the names and outcomes both sides use.

    {"v": 1, "id": "...", "station": "county/town/village/station", "name": "announce",
     "issued_at": 1767225600, "expires_at": 1767225900, "key_id": "...", "args": {...},
     "sig": "base64 Ed25519 signature of the canonical form of everything else"}
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

COMMAND_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_COMMAND_ID = re.compile(COMMAND_ID)
COMMAND_NAMES = ("announce", "silence", "ack", "status", "selftest", "config/get", "config/set", "false_alarm", "update")
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_TIME = 2**40  # far beyond any real date; keeps arithmetic on issue and expiry times sane


class SignedCommand(BaseModel):
    """A county command as it travels on `cmd/{name}`."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    v: Literal[1] = Field(description="Version of the command format.")
    id: str = Field(pattern=COMMAND_ID, description="Unique id chosen by the county; the reply goes to reply/{id}.")
    station: str = Field(max_length=300, description="Path county/town/village/station of the one station meant to run it.")
    name: Literal["announce", "silence", "ack", "status", "selftest", "config/get", "config/set", "false_alarm", "update"] = Field(description="Command name, same as the topic's.")
    issued_at: int = Field(ge=0, le=MAX_TIME, description="Unix time (s) when the county issued it.")
    expires_at: int = Field(ge=0, le=MAX_TIME, description="Unix time (s) after which it must not run.")
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$", description="Id of the county key that signed it.")
    args: dict[str, Any] = Field(description="Arguments of the command.")
    sig: str = Field(max_length=200, description="Base64 Ed25519 signature of the canonical form of every other field.")


def is_command_id(value: str) -> bool:
    """Whether `value` is usable as a command id (and so as a reply topic level)."""
    return _COMMAND_ID.fullmatch(value) is not None


INTERIM_OUTCOMES = frozenset({"restarting", "downloading"})  # a final reply follows on the same topic
