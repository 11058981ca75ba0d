"""The commissioning report as one self-contained HTML page (pictures embedded).

Why jinja2 with autoescape: the page shows text from the field (device names, error messages,
the station file) and must never let it become markup; and a template keeps the layout out of
the code. Pictures are embedded as data URIs so the archived page needs no other file.
"""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from provisioning.report_text import texts


def data_uri(path: Path) -> str | None:
    """A file as a data: URI, or None when it is missing."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def said(row: dict[str, Any], key: str, lang: str) -> str:
    """A result row's `summary` or `hint` in `lang`: its `_zh` text on a Chinese page, English when it has none
    (a row of the file audit, or a report.json written before rows carried Chinese)."""
    return str((lang != "en" and row.get(f"{key}_zh")) or row.get(key) or "")


def render_html(doc: dict[str, Any], base: Path, lang: str = "zh") -> str:
    """The report page of `doc` in `lang` (zh or en); relative picture paths are read from `base`."""
    env = Environment(loader=PackageLoader("provisioning", "templates"), autoescape=select_autoescape(["html", "j2"]))
    env.filters["embed"] = lambda rel: data_uri(base / rel) if rel else None
    env.globals["said"] = lambda row, key: said(row, key, lang)
    return env.get_template("report.html.j2").render(r=doc, t=texts(lang))
