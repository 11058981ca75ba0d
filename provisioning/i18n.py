"""The technician's language (the rule lives in `foundation.language`, shared with the county)."""

from foundation.language import Pair, language, pick

__all__ = ["Pair", "language", "pick"]
