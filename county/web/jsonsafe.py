"""JSON the browsers can always parse: a number that is not finite goes out as null.

Python's json writes NaN and Infinity as bare words that are not JSON; one station sending
`"cpu_temp_c": NaN` would otherwise blank the board of every operator who sees it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import JSONResponse


def finite(value: Any) -> Any:
    """`value` with every non-finite float (however deep in dicts, lists and tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(doc: Any) -> str:
    """Compact JSON (non-ASCII kept); never NaN or Infinity. The common case costs one pass of the encoder."""
    try:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(finite(doc), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class SafeJSONResponse(JSONResponse):
    """A JSONResponse whose body is always valid JSON."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
