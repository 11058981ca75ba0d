"""The sha256 of a file or an open stream, read in blocks: models, bundles and downloads are pinned by it."""

from __future__ import annotations

import hashlib
import os
from typing import IO

BLOCK = 1 << 20


def sha256_stream(f: IO[bytes]) -> str:
    """Hex sha256 of what is left to read in `f`."""
    digest = hashlib.sha256()
    for block in iter(lambda: f.read(BLOCK), b""):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file."""
    with open(path, "rb") as f:
        return sha256_stream(f)
