"""The outbox's promise that a sequence number is never reused, kept in a file beside its database.

`<db>.seq` holds a number R such that every seq ever allocated is below R. After a database that
had to be moved aside (corrupt) or could not be read, numbering resumes at R: the county sees a
jump, never a seq reused. It is renewed once per block of seqs, so its cost is one tiny fsync
per block.
"""

from __future__ import annotations

import os
from pathlib import Path

from foundation.errors import OutboxError

FILE_WIDTH = 24  # padded, so it can be rewritten in place on a full disk


class SeqReservation:
    """The reservation file of one outbox: `read` at opening, `reserve` before a block runs out."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int:
        """The reserved bound, or 0 when the file is missing or unreadable."""
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return 0

    def reserve(self, upto: int, what: str) -> None:
        """Durably promise that no seq below `upto` will ever be reused.

        A new file renamed over the old one; when that cannot be written (a full disk), the number
        is rewritten in place: the file is padded to a fixed width, so the overwrite needs no new
        space, and a write within one sector is atomic on power loss. OutboxError (naming `what`)
        if both fail.
        """
        text = str(upto).ljust(FILE_WIDTH)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(tmp, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self._in_place(text, exc, what)

    def _in_place(self, text: str, cause: OSError, what: str) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.pwrite(fd, text.encode(), 0)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutboxError(f"{what}: cannot reserve sequence numbers: {cause}; in place: {exc}") from exc
