"""The provisioning tool's error: what went wrong and what the technician should do next.

A technician on a ladder cannot read a traceback; every failure of `stationctl` carries a
`hint` (the next step) and the exit code the command ends with.
"""

from __future__ import annotations

from foundation.errors import GatewayError


class ProvisioningError(GatewayError, RuntimeError):
    """A provisioning step that cannot go on; `hint` names the next step, `exit_code` the exit status."""

    def __init__(self, message: str, hint: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.exit_code = exit_code
