"""The county staff's language: Chinese unless `--lang en` (or an English LANG) asks otherwise.

Texts sit next to the code that shows them as (zh, en) pairs; `pick` chooses one, so a command
never shows half its lines in one language. (The same rule as the technician's `stationctl`.)
"""

from __future__ import annotations

import os

from foundation.errors import GatewayError

Pair = tuple[str, str]


def language(wanted: str | None = None) -> str:
    """"zh" unless --lang or LANG asks for English (the county's default is Chinese)."""
    value = (wanted or os.environ.get("LANG") or "zh").lower()
    return "en" if value.startswith("en") else "zh"


def pick(lang: str, pair: Pair) -> str:
    """The text of `pair` in `lang` ("zh" or "en")."""
    return pair[1] if lang == "en" else pair[0]


class Refused(GatewayError, ValueError):
    """A request refused with a reason in both languages (`str()` is the English one, for logs)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en

    def text(self, lang: str) -> str:
        return pick(lang, (self.zh, self.en))
