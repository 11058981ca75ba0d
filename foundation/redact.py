"""Credentials out of anything a person or an archive reads: `rtsp://admin:pw@cam` -> `rtsp://***@cam`.

Camera URLs carry their login (`rtsp://user:password@host/...`), and they travel into reports,
logs, replies and error messages. One function masks them everywhere, so what `stationctl check`
prints, what the commissioning report archives and what the gateway says agree. The whole user
part goes (the user name is half the login), up to the last `@` of the address as RTSP clients
read it, so a password holding `@` or `/` is masked whole; a URL with an `@` in its path loses
its host too, which errs on the safe side.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"
_CREDENTIALS = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s\"'<>]*@")


def redact(text: str, known: Iterable[str] = ()) -> str:
    """`text` with the user part of every URL in it masked.

    `known`: URLs whose login must go even where the pattern cannot see it whole (a password
    with a space in it, written inside quotes in a YAML file).
    """
    for url in known:
        scheme, sep, rest = url.partition("://")
        if sep and "@" in rest:
            text = text.replace(f"{scheme}://{rest.rsplit('@', 1)[0]}@", f"{scheme}://{MASK}@")
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def redact_doc(doc: Any, known: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like document (dicts, lists, strings) with every string passed through `redact`."""
    known = tuple(known)
    if isinstance(doc, str):
        return redact(doc, known)
    if isinstance(doc, dict):
        return {k: redact_doc(v, known) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [redact_doc(v, known) for v in doc]
    return doc


def restore_masked(new: Any, old: Any) -> Any:
    """`new` with every string that is just the masked form of the string at the same place in `old`
    put back to `old`'s: a document that went out redacted (config/get) and comes back edited
    (config/set) keeps the logins it could not see, while a login typed anew is taken as given."""
    if isinstance(new, str) and isinstance(old, str):
        return old if MASK in new and new != old and new == redact(old) else new
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: restore_masked(v, old[k]) if k in old else v for k, v in new.items()}
    if isinstance(new, list) and isinstance(old, list):
        return [restore_masked(v, old[i]) if i < len(old) else v for i, v in enumerate(new)]
    return new
