"""Results of the hardware self-test: one row per check, shown as a table or as JSON.

The same rows feed `stationctl check` (table, exit status, `--json`) and the commissioning
report, so what the technician saw on site is what the county archives. Both ways out mask
camera logins (`foundation.redact`): a failed camera's error quotes its stream URL.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from foundation.redact import redact, redact_doc

Status = Literal["pass", "warn", "fail", "skip"]
STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@dataclass
class CheckResult:
    """One check: what was checked, how it went, the values seen, and what to do when it failed."""

    check: str  # serial, water, fire, camera, speaker, broker
    target: str  # device id, port or broker address
    status: Status
    summary: str
    values: dict[str, Any] = field(default_factory=dict)
    hint: str = ""
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> file path (snapshots)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def overall_ok(results: list[CheckResult]) -> bool:
    """True when nothing failed (warnings and skipped checks do not fail a station)."""
    return not any(r.status == "fail" for r in results)


def counts(results: list[CheckResult]) -> dict[str, int]:
    out = {"pass": 0, "warn": 0, "fail": 0, "skip": 0}
    for r in results:
        out[r.status] += 1
    return out


def render_table(console: Console, results: list[CheckResult], title: str) -> None:
    table = Table(title=title, show_lines=False)
    table.add_column("check")
    table.add_column("target")
    table.add_column("result")
    table.add_column("details", overflow="fold")
    for r in results:
        details = r.summary
        if r.status in ("fail", "warn") and r.hint:
            details += f"\n[bold]next:[/] {r.hint}"
        for name, path in r.artifacts.items():
            details += f"\n{name}: {path}"
        table.add_row(redact(r.check), redact(r.target), f"[{STYLE[r.status]}]{r.status.upper()}[/]", redact(details))
    console.print(table)
    c = counts(results)
    verdict = "[green]all checks passed[/]" if overall_ok(results) else f"[bold red]{c['fail']} check(s) failed[/]"
    console.print(f"{verdict} ({c['pass']} pass, {c['warn']} warn, {c['fail']} fail, {c['skip']} skipped)")


def to_json(results: list[CheckResult], meta: dict[str, Any]) -> str:
    doc = {**meta, "ok": overall_ok(results), "counts": counts(results), "results": [r.to_dict() for r in results]}
    return json.dumps(redact_doc(json.loads(json.dumps(doc, default=str))), indent=2, ensure_ascii=False)
