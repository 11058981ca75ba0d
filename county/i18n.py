"""The county staff's language (the rule lives in `foundation.language`) and refusals said in both."""

from __future__ import annotations

import typer

from foundation.errors import GatewayError
from foundation.language import COLON, Pair, label, language, pick

__all__ = ["COLON", "LANG_OPTION", "EnglishFirst", "Pair", "Refused", "SaidInBoth", "label", "language", "pick"]

LANG_OPTION = typer.Option(None, "--lang", help="Language: zh (default) or en; default from LANG.")  # every countyctl command's


class SaidInBoth(GatewayError):
    """An error told in both languages: `text(lang)` for people, `str()` the English one, for logs."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en

    def text(self, lang: str) -> str:
        return pick(lang, (self.zh, self.en))


class EnglishFirst(SaidInBoth):
    """A SaidInBoth raised as (English, Chinese): the errors whose English came first; a missing Chinese shows the English."""

    def __init__(self, en: str, zh: str = "") -> None:
        super().__init__(zh or en, en)


class Refused(SaidInBoth, ValueError):
    """A request refused with a reason in both languages."""
