"""Results of the hardware self-test: one row per check, shown as a table or as JSON.

The same rows feed `stationctl check` (table, exit status, `--json`) and the commissioning
report, so what the technician saw on site is what the county archives. Both ways out mask
camera logins (`foundation.redact`): a failed camera's error quotes its stream URL.

A row carries its texts in both languages (`foundation.language`): `summary` and `hint` in
English, as JSON readers have always had them, and `summary_zh` / `hint_zh` beside them. Probes
build rows with `CheckResult.of` from (zh, en) pairs; a row made with English only (the file
audit's) shows its English in either language. What a device or a driver said (an error) is
quoted as it came in both.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from foundation.redact import redact, redact_doc
from provisioning.i18n import COLON, Pair, label, pick

Status = Literal["pass", "warn", "fail", "skip"]
STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
STATUS_WORDS: dict[str, Pair] = {"pass": ("通过", "PASS"), "warn": ("警告", "WARN"), "fail": ("失败", "FAIL"), "skip": ("跳过", "SKIP")}
CHECK_NAMES: dict[str, Pair] = {"config": ("配置", "config"), "serial": ("串口", "serial"), "water": ("水位", "water"),
                                "fire": ("火情/烟雾", "fire"), "camera": ("摄像头", "camera"), "speaker": ("广播喇叭", "speaker"),
                                "broker": ("MQTT 服务器", "broker")}
ARTIFACT_NAMES: dict[str, Pair] = {"snapshot": ("快照", "snapshot")}
TARGET_NAMES: dict[str, Pair] = {"station file": ("站点文件", "station file"), "loudspeaker": ("广播喇叭", "loudspeaker")}  # other targets are ids
HEADERS: dict[str, tuple[str, ...]] = {"zh": ("检查项", "对象", "结果", "详情"), "en": ("check", "target", "result", "details")}
NEXT: Pair = ("下一步", "next")
NO_HINT: Pair = ("", "")


@dataclass
class CheckResult:
    """One check: what was checked, how it went, the values seen, and what to do when it failed."""

    check: str  # serial, water, fire, camera, speaker, broker
    target: str  # device id, port or broker address
    status: Status
    summary: str  # English
    values: dict[str, Any] = field(default_factory=dict)
    hint: str = ""  # English
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> file path (snapshots)
    duration_s: float = 0.0
    summary_zh: str = ""  # "" when the row has no Chinese: shown in English then
    hint_zh: str = ""

    @classmethod
    def of(cls, check: str, target: str, status: Status, summary: Pair, values: dict[str, Any] | None = None,
           hint: Pair = NO_HINT, **more: Any) -> CheckResult:
        """A row whose summary and hint are (zh, en) pairs."""
        return cls(check, target, status, summary[1], values if values is not None else {}, hint[1],
                   summary_zh=summary[0], hint_zh=hint[0], **more)

    def text(self, lang: str) -> str:
        """The summary in `lang` (English when the row has no Chinese)."""
        return self.summary_zh if lang != "en" and self.summary_zh else self.summary

    def next_step(self, lang: str) -> str:
        """The hint in `lang` (English when the row has no Chinese)."""
        return self.hint_zh if lang != "en" and self.hint_zh else self.hint

    def to_dict(self) -> dict[str, Any]:
        """The row for JSON, each Chinese text right after its English one."""
        d = asdict(self)
        order = ("check", "target", "status", "summary", "summary_zh", "hint", "hint_zh")
        return {**{k: d[k] for k in order}, **{k: v for k, v in d.items() if k not in order}}


def overall_ok(results: list[CheckResult]) -> bool:
    """True when nothing failed (warnings and skipped checks do not fail a station)."""
    return not any(r.status == "fail" for r in results)


def counts(results: list[CheckResult]) -> dict[str, int]:
    out = {"pass": 0, "warn": 0, "fail": 0, "skip": 0}
    for r in results:
        out[r.status] += 1
    return out


def verdict(results: list[CheckResult], lang: str) -> str:
    """The line under the table: passed or how many failed, and the counts."""
    c = counts(results)
    if overall_ok(results):
        head = pick(lang, ("[green]全部检查通过[/]", "[green]all checks passed[/]"))
    else:
        head = pick(lang, (f"[bold red]{c['fail']} 项检查失败[/]", f"[bold red]{c['fail']} check(s) failed[/]"))
    tally = pick(lang, (f"（通过 {c['pass']} 项，警告 {c['warn']} 项，失败 {c['fail']} 项，跳过 {c['skip']} 项）",
                        f" ({c['pass']} pass, {c['warn']} warn, {c['fail']} fail, {c['skip']} skipped)"))
    return head + tally


def render_table(console: Console, results: list[CheckResult], title: str, lang: str) -> None:
    """The rows as a table in `lang` ("zh" or "en"), then the verdict."""
    table = Table(title=title, show_lines=False)
    for i, name in enumerate(HEADERS["en" if lang == "en" else "zh"]):
        table.add_column(name, overflow="fold" if i == 3 else "ellipsis")
    for r in results:
        details = r.text(lang)
        hint = r.next_step(lang)
        if r.status in ("fail", "warn") and hint:
            details += f"\n[bold]{pick(lang, NEXT)}{pick(lang, COLON)}[/]{hint}"
        for name, path in r.artifacts.items():
            details += f"\n{label(ARTIFACT_NAMES, name, lang)}{pick(lang, COLON)}{path}"
        check = label(CHECK_NAMES, r.check, lang)
        status = pick(lang, STATUS_WORDS[r.status])
        target = label(TARGET_NAMES, r.target, lang)
        table.add_row(redact(check), redact(target), f"[{STYLE[r.status]}]{status}[/]", redact(details))
    console.print(table)
    console.print(verdict(results, lang))


def to_json(results: list[CheckResult], meta: dict[str, Any]) -> str:
    doc = {**meta, "ok": overall_ok(results), "counts": counts(results), "results": [r.to_dict() for r in results]}
    return json.dumps(redact_doc(json.loads(json.dumps(doc, default=str))), indent=2, ensure_ascii=False)
