"""How a rollout is shown: a rich table for the operator, one JSON line per station for scripts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from rich.markup import escape
from rich.table import Table

from county.i18n import label, pick
from county.update import texts
from county.update.runner import StationRun


def state_text(run: StationRun, lang: str) -> str:
    """`下载中 45%`, `已回滚` ...: the state in the reader's language (the reason has its own column)."""
    said = label(texts.STATE, run.state, lang)
    if run.state == "downloading" and run.percent is not None:
        said += f" {run.percent}%"
    if run.phase == "canary" and run.state not in ("skipped",):
        said = pick(lang, ("[试点] ", "[canary] ")) + said
    return said


def reason_text(reason: str, lang: str) -> str:
    """The county's own reasons in the reader's language; a station's reason as it sent it."""
    if reason in texts.REASON:
        return pick(lang, texts.REASON[reason])
    match = re.fullmatch(r"no final reply within (\S+) s", reason)
    return pick(lang, texts.NO_REPLY).format(s=match.group(1)) if match else reason


def table(runs: Iterable[StationRun], lang: str, title: str) -> Table:
    """The live table: station, from -> to version, state, reason."""
    t = Table(*(pick(lang, c) for c in texts.COLUMNS), title=title, title_justify="left")
    for column in t.columns:
        column.overflow = "fold"  # a narrow terminal folds paths and reasons rather than cutting them
    for run in runs:
        style = texts.STATE_STYLE.get(run.state, "")
        state = escape(state_text(run, lang))
        t.add_row(escape(run.station), escape(f"{run.from_version or '?'} → {run.to_version}"),
                  f"[{style}]{state}[/]" if style else state, escape(reason_text(run.reason, lang)))
    return t


def json_line(run: StationRun) -> str:
    """One station's outcome for scripts (English state names, as on the wire)."""
    return json.dumps({"station": run.station, "phase": run.phase, "state": run.state, "from": run.from_version, "to": run.to_version,
                       "reason": run.reason, "command_id": run.command_id or None}, ensure_ascii=False, separators=(",", ":"))
