"""Who a case goes to at its rung, and what they are told: queued notifications, one transaction with the step.

At a rung, the case goes to the enabled people of the rung's roles whose scope covers the
station (the directory's `responsible`, in role order). The webhook gets one JSON document per
event with every recipient in it (an SMS or voice gateway fans it out); e-mail goes to each
recipient that has an address. Texts are Chinese first, the structured fields carry the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from county.cases.config import LoopConfig
from county.cases.model import Assignee, Case
from county.notify.queue import NotifyQueue
from county.people import ROLES, People
from county.wording import KINDS as KIND_WORDS
from county.wording import SEVERITIES as SEVERITY_WORDS

KINDS = {k: zh for k, (zh, _) in KIND_WORDS.items()}
SEVERITIES = {k: zh for k, (zh, _) in SEVERITY_WORDS.items()}
LEVELS = {"village": ("村级", "village"), "town": ("乡镇级", "township"), "county": ("县级", "county")}
EVENTS = {"case_dispatched": ("新案件", "new case"), "case_escalated": ("督办（已超时升级）", "escalated (overdue)"),
          "case_sent_back": ("案件退回重办", "case sent back")}


def assignees_for(people: People, config: LoopConfig, station: str, level: int) -> list[Assignee]:
    rung = config.ladder[min(level, len(config.ladder) - 1)]
    return [Assignee(p.name, p.phone, p.role, p.account, p.email) for p in people.responsible(station, rung.roles)]


def notify(queue: NotifyQueue, config: LoopConfig, case: Case, event: str, now: float, why: str = "") -> int:
    """Queue this event's notifications (inside the caller's transaction); how many were queued.

    People read the place's name (the directory's, else the code) and the due time in the county's zone with its date.
    """
    zone = ZoneInfo(config.tz)
    due = case.accept_due if case.state == "dispatched" else case.handle_due
    due_text = datetime.fromtimestamp(due, zone).strftime("%Y-%m-%d %H:%M")
    place = config.names.display(case.station, "zh")
    what = "签收" if case.state == "dispatched" else "处置并反馈"
    level_zh, level_en = LEVELS[config.ladder[min(case.level, len(config.ladder) - 1)].level]
    kind, severity = KINDS.get(case.kind, case.kind), SEVERITIES.get(case.severity, case.severity)
    names = "、".join(a.name for a in case.assignees) or "（该站无负责人，请值班员派件）"
    text = (f"【{config.county_name}】{EVENTS[event][0]} #{case.id}：{place} {kind}{severity}。{case.summary} "
            f"已派{level_zh}：{names}。请于 {due_text} 前{what}。")
    link = f"{config.public_url.rstrip('/')}/cases/{case.id}" if config.public_url else ""
    if link:
        text += f" {link}"
    payload: dict[str, Any] = {
        "event": event, "text": text, "at": _iso(now),
        "text_en": f"{EVENTS[event][1]} #{case.id}: {config.names.display(case.station, 'en')} {case.kind} {case.severity}; {level_en} level; due {_iso(due)}",
        "case": {"id": case.id, "station": case.station, "station_name": place, "kind": case.kind, "kind_zh": kind, "severity": case.severity,
                 "severity_zh": severity, "summary": case.summary, "state": case.state, "level": level_en, "overdue": case.overdue,
                 "accept_due": _iso(case.accept_due), "handle_due": _iso(case.handle_due), "why": why, "url": link},
        "recipients": [{"name": a.name, "phone": a.phone, "role": a.role, "role_zh": ROLES[a.role][0]} for a in case.assignees],
    }
    queued = 0
    if config.webhook is not None:
        queue.enqueue(case.id, "webhook", config.webhook.url, payload, now)
        queued += 1
    if config.smtp is not None:
        subject = f"【{config.county_name}】{EVENTS[event][0]} #{case.id} {place} {kind}{severity}"
        for a in case.assignees:
            if a.email:
                queue.enqueue(case.id, "email", a.email, {"subject": subject, "body": f"{a.name}:\n\n{text}\n"}, now)
                queued += 1
    return queued


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")
