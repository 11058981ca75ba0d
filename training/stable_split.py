"""A name's stable place in [0, 1), for splits that come out the same on every run and machine.

Why hash instead of a seeded shuffle: a photo (or texture, or scene) added later must not move the
others between train and validation, and the split must not depend on file order.
"""

from __future__ import annotations

import hashlib


def fraction(key: str) -> float:
    """The first 32 bits of `key`'s sha256 as a fraction: compare it with a share to split on."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
