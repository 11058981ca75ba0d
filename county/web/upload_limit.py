"""The body limit per route: the small one for everything, a larger bounded one for the phone's photo upload.

`middleware.BodyLimit` keeps every form and JSON request of the view under 64 KiB; the grid
worker's feedback carries up to `PHOTOS_PER_STEP` photos, so its route alone gets
`UPLOAD_MAX_BYTES` (still refused with 413 as soon as it is exceeded, before it is held whole).
"""

from __future__ import annotations

import re
from typing import Any

from county.web.middleware import BodyLimit
from county.web.photos import UPLOAD_MAX_BYTES

UPLOAD_PATHS = re.compile(r"^/m/cases/\d{1,18}/handle$")


class BodyLimits:
    def __init__(self, app: Any) -> None:
        self.small, self.upload = BodyLimit(app), BodyLimit(app, UPLOAD_MAX_BYTES)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        wide = scope["type"] == "http" and scope.get("method") == "POST" and UPLOAD_PATHS.match(scope.get("path", ""))
        await (self.upload if wide else self.small)(scope, receive, send)
