"""The reader's language: Chinese unless `--lang en` (or an English LANG) asks otherwise.

Texts sit next to the code that shows them as (zh, en) pairs; `pick` chooses one, so a command
never shows half its lines in one language. Technicians (`stationctl`) and county staff
(`countyctl`, the web pages) read Chinese first; both sides take the rule from here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

Pair = tuple[str, str]
COLON: Pair = ("：", ": ")  # between a label and its value: full-width in Chinese, no space after it


def language(wanted: str | None = None) -> str:
    """"zh" unless --lang or LANG asks for English."""
    value = (wanted or os.environ.get("LANG") or "zh").lower()
    return "en" if value.startswith("en") else "zh"


def pick(lang: str, pair: Pair) -> str:
    """The text of `pair` in `lang` ("zh" or "en")."""
    return pair[1] if lang == "en" else pair[0]


def label(table: Mapping[str, Pair], key: str, lang: str) -> str:
    """`key`'s words in `lang`; an unknown key as it is (never an empty cell)."""
    pair = table.get(key)
    return pick(lang, pair) if pair else key
