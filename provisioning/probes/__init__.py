"""Self-test probes, one module per capability; each returns CheckResult rows and never raises.

A probe builds the real driver from the station file (gateway.devices), exercises it a few
times and turns every failure into a row with a next step: on site, one broken sensor must not
hide the results of the others.
"""

from __future__ import annotations

from collections.abc import Callable

Say = Callable[[str], None]
"""Progress callback: a probe says what it is doing now (shown beside the progress bar)."""


def quiet(_: str) -> None:
    """A progress callback that shows nothing."""
