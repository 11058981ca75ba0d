"""Checks of `init --interactive` answers as they are typed: a bad answer is explained and asked again.

Each check raises `typer.BadParameter` with the rule said in words (Chinese, or English with
`--lang en`), which typer prints before asking again, so one typo never costs the technician
the twenty answers before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError

from gateway.config.station import DEVICE_ID, LEVEL_ID
from provisioning.i18n import COLON, pick
from provisioning.init_spec import parse_broker, scalar

LEVEL_RULE = ("只能用英文字母、数字、- 和 _，以字母或数字开头，最多 64 个字符，不能有汉字或空格（例如 xiaoqi 或 410421101）；"
              "中文名称请填在“站点名称”里",
              "letters, digits, - and _ only, starting with a letter or digit, at most 64 characters, no Chinese characters "
              "or spaces (e.g. xiaoqi or 410421101); put the Chinese name in the station name")
DEVICE_RULE = ("只能用小写英文字母、数字、- 和 _，以字母或数字开头，最多 32 个字符（例如 gauge-1）",
               "lower-case letters, digits, - and _ only, starting with a letter or digit, at most 32 characters (e.g. gauge-1)")


def level(lang: str, what: str) -> Callable[[str], str]:
    """A topic level (county, town, village, station id): the LEVEL_ID rule, said in words."""

    def check(value: str) -> str:
        value = value.strip()
        if not re.match(LEVEL_ID, value):
            raise typer.BadParameter(f"{value!r}: {what} " + pick(lang, LEVEL_RULE))
        return value

    return check


def device_id(lang: str, taken: set[str]) -> Callable[[str], str]:
    """A device id: the DEVICE_ID rule, and not used twice in one station."""

    def check(value: str) -> str:
        value = value.strip()
        if not re.match(DEVICE_ID, value):
            raise typer.BadParameter(f"{value!r}{pick(lang, COLON)}{pick(lang, DEVICE_RULE)}")
        if value in taken:
            raise typer.BadParameter(pick(lang, (f"{value} 已被另一台设备使用", f"{value} is already used by another device")))
        return value

    return check


def broker(lang: str) -> Callable[[str], tuple[str, int]]:
    def check(value: str) -> tuple[str, int]:
        try:
            host, port = parse_broker(value.strip())
        except Exception:  # noqa: BLE001 - parse_broker's ProvisioningError, re-asked here
            host, port = "", 0
        if not host or not 0 < port < 65536:
            raise typer.BadParameter(pick(lang, ("写成 主机:端口，例如 mqtt.county.example:8883", "write HOST:PORT, e.g. mqtt.county.example:8883")))
        return host, port

    return check


def number(lang: str, low: float | None = None, high: float | None = None, low_says: str = "", high_says: str = "") -> Callable[[str], float]:
    """A number in metres; `low` < value < `high` when given, with what each bound means."""

    def check(value: str) -> float:
        try:
            x = float(value.strip().replace(",", "."))
        except ValueError:
            raise typer.BadParameter(pick(lang, (f"{value!r} 不是数字（单位：米，例如 1.8）", f"{value!r} is not a number (metres, e.g. 1.8)"))) from None
        if low is not None and x <= low:
            raise typer.BadParameter(pick(lang, (f"必须大于 {low:g}（{low_says}）", f"must be above {low:g} ({low_says})")))
        if high is not None and x >= high:
            raise typer.BadParameter(pick(lang, (f"必须小于 {high:g}（{high_says}）", f"must be below {high:g} ({high_says})")))
        return x

    return check


def field_value(name: str, info: Any, lang: str) -> Callable[[str], str]:
    """A driver field, checked against the config model's own type and limits as it is typed."""
    adapter = TypeAdapter(Annotated[info.annotation, info]) if info is not None else None

    def check(value: str) -> str:
        if adapter is None or (not value.strip() and not info.is_required()):
            return value
        try:
            adapter.validate_python(scalar(name, value))
        except ValidationError as exc:
            raise typer.BadParameter(f"{name}: {exc.errors()[0]['msg']}") from None
        return value

    return check
