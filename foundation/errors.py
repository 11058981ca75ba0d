"""The one error root of the project.

Every error the gateway raises on purpose derives from `GatewayError`, and each subclass also
inherits the builtin it resembles, so callers may catch either (`except ValueError` still
catches a `ConfigError`).
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error raised on purpose by the gateway, its drivers and its tools."""


class ConfigError(GatewayError, ValueError):
    """A station file that cannot be read or does not validate; `problems` lists each finding."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class DeviceUnavailable(GatewayError, OSError):
    """A device cannot be reached right now (unplugged, busy, timing out); the supervisor retries."""

    def __init__(self, device: str, reason: str) -> None:
        super().__init__(f"{device}: {reason}")
        self.device = device
        self.reason = reason


class BadFrame(GatewayError, ValueError):
    """Input from outside (a serial frame, a register value) that does not parse; it is skipped."""


class OutboxError(GatewayError, RuntimeError):
    """The durable queue cannot store a message (disk full, database unusable)."""
