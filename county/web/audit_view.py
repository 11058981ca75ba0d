"""The audit page as a reviewer reads it: who, when (the county's zone, with the date), what in words, details as lines.

The audit table stores each detail as JSON (written with `ensure_ascii=False`); the page never
shows that JSON. Each entry becomes a sentence ("发送广播“今晚有暴雨”") and "label: value" lines
with the labels and the known values (priorities, case states, results) in the reader's language.
One announcement to many stations is one row (its batch), with each station's outcome. Filters:
account and day (in the county's zone). The scope rule is `Accounts.audit`'s: a township account
sees only entries whose target lies under it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from county.accounts import normalise_scope
from county.cases.rules import RESULTS, STATES
from county.i18n import Pair, pick
from county.store import Store
from county.times import epoch
from county.wording import PRIORITIES, Say, label

ACTIONS: dict[str, Pair] = {
    "ack": ("确认告警", "acknowledged an alarm"), "announce": ("发送广播", "announced"), "login": ("登录", "logged in"),
    "logout": ("退出", "logged out"), "login_failed": ("登录失败", "failed login"),
    "case_open": ("立案派件", "opened a case"), "case_merge": ("合并告警", "merged alarms"), "case_accept": ("签收", "accepted"),
    "case_arrive": ("到场", "arrived"), "case_handle": ("处置反馈", "handled"), "case_verify": ("验收", "verified"),
    "case_send_back": ("退回", "sent back"), "case_close": ("结案", "closed"), "case_escalate": ("督办升级", "escalated"),
    "operator_add": ("新增账号", "added an account"), "operator_passwd": ("修改密码", "changed a password"),
    "operator_disable": ("停用账号", "disabled an account"), "operator_enable": ("启用账号", "enabled an account"),
    "people_add": ("新增人员", "added a person"), "people_enable": ("启用人员", "enabled a person"),
    "people_disable": ("停用人员", "disabled a person"), "people_import": ("导入人员", "imported people"),
    "update": ("软件更新", "software update"),
}
FIELDS: dict[str, Pair] = {
    "text": ("广播内容", "text"), "priority": ("优先级", "priority"), "repeat": ("次数", "repeat"), "target": ("范围", "target"),
    "event_id": ("告警编号", "alarm"), "operator": ("确认人", "acknowledged as"), "case": ("案件", "case"), "alarm": ("告警编号", "alarm"),
    "alarms": ("告警编号", "alarms"), "to": ("新状态", "to"), "from": ("原状态", "from"), "note": ("说明", "note"),
    "photos": ("照片", "photos"), "result": ("结果", "result"), "why": ("原因", "why"), "level": ("升级到", "level"),
    "account": ("账号", "account"), "ip": ("地址", "address"), "phone": ("电话", "phone"), "name": ("姓名", "name"),
    "file": ("文件", "file"), "error": ("错误", "error"), "clip": ("音频", "clip"), "interval_s": ("间隔秒数", "interval (s)"),
    "expires_s": ("有效秒数", "valid for (s)"), "truncated": ("（过长，已截断）", "(too long, cut)"), "reason": ("原因", "reason"),
}
SKIPPED = {"batch", "error"}  # what ties rows together, and what is said beside each target's outcome
SENT_TO: Pair = ("派给", "sent to")  # `to` of an opening: people, not a state
VALUES: dict[str, dict[str, Pair]] = {
    "priority": PRIORITIES,
    "from": STATES, "to": STATES, "result": RESULTS,
    "level": {"village": ("村级", "village"), "town": ("乡镇级", "township"), "county": ("县级", "county")},
    "why": {"accept": ("未按时签收", "not accepted in time"), "handle": ("未按时处置", "not handled in time")},
}
OUTCOMES: dict[str, Pair] = {"sent": ("已发出", "sent"), "not_sent": ("未发出", "not sent"), "done": ("已执行", "done"),
                             "rejected": ("被拒绝", "rejected"), "played": ("已播放", "played"), "expired": ("已过期", "expired")}
AUDIT_SQL = "SELECT id, at, operator, action, target, command_id, outcome, detail FROM audit"


@dataclass
class AuditRow:
    """One line of the page: one action (an announcement's stations together)."""

    id: int
    at: float
    when: str
    who: str
    what: str
    targets: list[tuple[str, str, str]]  # (path, display name, outcome in words)
    lines: list[tuple[str, str]] = field(default_factory=list)
    action: str = ""


def query(store: Store, scope: str, limit: int, account: str = "", day: date | None = None, tz: Any = None) -> list[tuple[Any, ...]]:
    """Audit rows newest first, under `scope` (all when ""), of one account and one day (in `tz`) when given."""
    scope = normalise_scope(scope)
    where, params = [], []
    if scope:
        where.append("(target = ? OR substr(target, 1, ?) = ?)")  # substr, not LIKE: ids may hold `_`
        params += [scope, len(scope) + 1, scope + "/"]
    if account:
        where.append("operator = ?")
        params.append(account)
    if day is not None:
        start = datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
        where.append("at >= ? AND at < ?")
        params += [store.dialect.ts(start), store.dialect.ts(start + timedelta(days=1).total_seconds())]
    sql = f"{AUDIT_SQL} {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY at DESC, id DESC LIMIT ?"
    return store.query(sql, (*params, max(0, limit)))


def detail_of(raw: Any) -> dict[str, Any]:
    """The stored detail as a structure (a JSON text on SQLite, a document on PostgreSQL; anything else as one value)."""
    if isinstance(raw, dict):
        return raw
    try:
        doc = json.loads(raw) if isinstance(raw, str | bytes) else {}
    except ValueError:
        return {"text": str(raw)}
    return doc if isinstance(doc, dict) else {"text": str(doc)}


def readable(rows: list[tuple[Any, ...]], say: Say) -> list[AuditRow]:
    """The page's rows: entries of one batch (one announcement to several stations) together, newest first."""
    out: list[AuditRow] = []
    batches: dict[str, AuditRow] = {}
    for id_, at, operator, action, target, _command_id, outcome, raw in rows:
        detail = detail_of(raw)
        batch = detail.get("batch")
        error = detail.get("error") if isinstance(detail.get("error"), str) else ""
        said = label(OUTCOMES, str(outcome or ""), say.lang) if outcome else ""
        said += (f"（{error}）" if say.lang == "zh" else f" ({error})") if error else ""
        place = (str(target), say.place(str(target)) if target else "", said)
        if isinstance(batch, str) and batch in batches and batches[batch].action == action:
            batches[batch].targets.append(place)
            continue
        row = AuditRow(int(id_), epoch(at) or 0.0, say.at(epoch(at)), _who(str(operator), say), _what(str(action), detail, say),
                       [place] if target else [], _lines(detail, say), str(action))
        if isinstance(batch, str) and batch:
            batches[batch] = row
        out.append(row)
    return out


def _who(operator: str, say: Say) -> str:
    if operator.startswith("cli:"):
        return say.t(f"命令行（{operator[4:]}）", f"command line ({operator[4:]})")
    return say.actor(operator)


def _what(action: str, detail: Mapping[str, Any], say: Say) -> str:
    words = label(ACTIONS, action, say.lang)
    args = detail.get("args") if isinstance(detail.get("args"), dict) else {}
    text = args.get("text") if isinstance(args, dict) else None
    if action == "announce" and isinstance(text, str) and text:
        short = text if len(text) <= 40 else text[:39] + "…"
        return f"{words}“{short}”" if say.lang == "zh" else f'{words} "{short}"'
    if isinstance(detail.get("case"), int):
        return f"{words} #{detail['case']}" if say.lang == "zh" else f"{words} case #{detail['case']}"
    return words


def _lines(detail: Mapping[str, Any], say: Say) -> list[tuple[str, str]]:
    flat = {**{k: v for k, v in detail.items() if k != "args"}, **(detail["args"] if isinstance(detail.get("args"), dict) else {})}
    lines = []
    for key, value in flat.items():
        if key in SKIPPED or key == "case" or value is None or value == "" or value == []:
            continue
        words = SENT_TO if key == "to" and isinstance(value, list) else FIELDS.get(key)
        lines.append((pick(say.lang, words) if words else key, _value(key, value, say)))
    return lines


def _value(key: str, value: Any, say: Say) -> str:
    if isinstance(value, bool):
        return say.t("是", "yes") if value else say.t("否", "no")
    if isinstance(value, str):
        if key == "target":
            return say.place(value)
        return label(VALUES[key], value, say.lang) if key in VALUES else value
    if isinstance(value, list):
        return ("、" if say.lang == "zh" else ", ").join(_value(key, v, say) for v in value)
    if isinstance(value, dict):
        return ("；" if say.lang == "zh" else "; ").join(f"{pick(say.lang, FIELDS[k]) if k in FIELDS else k}: {_value(k, v, say)}"
                                                       for k, v in value.items())
    return str(value)
