"""Who answers the station's `cmd/#` messages: the command desk, a handler given by a test, or nobody.

The brain talks to all three the same way (`CommandSide`), so it needs no test of which it has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from gateway.announcer import PlayReport
from gateway.commands.port import NoticeFn


class CommandSide(Protocol):
    """What the brain calls on its thread (`gateway.commands.desk.CommandDesk` is the real one)."""

    def handle(self, topic: str, payload: bytes) -> object: ...

    def tick(self, now: float) -> None: ...

    def on_playback(self, report: PlayReport) -> None: ...

    def close(self) -> None: ...


class HandlerCommands:
    """A plain callable `(topic, payload)` answers commands; nothing to do on ticks or playbacks."""

    def __init__(self, handler: Callable[[str, bytes], None]) -> None:
        self._handler = handler

    def handle(self, topic: str, payload: bytes) -> None:
        self._handler(topic, payload)

    def tick(self, now: float) -> None:
        pass

    def on_playback(self, report: PlayReport) -> None:
        pass

    def close(self) -> None:
        pass


class RefuseCommands(HandlerCommands):
    """A station with no county keys installed: every command is refused with a notice."""

    def __init__(self, notice: NoticeFn) -> None:
        super().__init__(self._refuse)
        self._notice = notice

    def _refuse(self, topic: str, payload: bytes) -> None:
        name = topic.rsplit("/cmd/", 1)[-1]
        self._notice("command_rejected", f"command {name!r} rejected: this station accepts no commands (no county keys installed)",
                     source=name, details={"topic": topic, "bytes": len(payload)})
