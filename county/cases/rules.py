"""The case's state machine and its escalation rule: pure, time passed in.

    dispatched --accept(签收)--> accepted --arrive(到场)--> on_site --handle(处置反馈)--> handled
    handled --verify(验收)--> verified --close(结案, resolved)--> closed
    handled --send_back(退回)--> dispatched
    any open state --close(false_alarm 误报 | duplicate 重复)--> closed

Whoever fed back (handled) may not verify, send back or close their own work: that is the
dispatcher's part. Escalation (督办): a case not accepted by its accept deadline, or accepted but
not handled by its handle deadline, moves one rung up the ladder with fresh deadlines and stays
marked overdue; at the top rung it is only marked overdue.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from county.i18n import Pair, Refused

STATES: dict[str, Pair] = {
    "dispatched": ("已派件", "dispatched"), "accepted": ("已签收", "accepted"), "on_site": ("已到场", "on site"),
    "handled": ("已处置", "handled"), "verified": ("已验收", "verified"), "closed": ("已结案", "closed"),
}
ACTIONS: dict[str, Pair] = {
    "accept": ("签收", "accept"), "arrive": ("到场", "arrive"), "handle": ("处置反馈", "handle"), "verify": ("验收", "verify"),
    "send_back": ("退回", "send back"), "close": ("结案", "close"),
}
RESULTS: dict[str, Pair] = {"resolved": ("已解决", "resolved"), "false_alarm": ("误报", "false alarm"), "duplicate": ("重复", "duplicate")}
OPEN = ("dispatched", "accepted", "on_site", "handled", "verified")
MOVES = {"accept": ("dispatched", "accepted"), "arrive": ("accepted", "on_site"), "handle": ("on_site", "handled"),
         "verify": ("handled", "verified"), "send_back": ("handled", "dispatched")}
DISPATCHER_ONLY = ("verify", "send_back", "close")
NOTE_MAX = 2000
PHOTOS_MAX = 10
PHOTO_ID_MAX = 64


@dataclass(frozen=True, slots=True)
class CaseState:
    state: str
    level: int  # rung of the ladder, 0 = first
    accept_due: float
    handle_due: float
    overdue: bool = False
    handled_by: str | None = None
    result: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    actor: str
    note: str = ""
    photos: tuple[str, ...] = ()
    result: str | None = None


def apply(case: CaseState, step: Step, now: float, accept_s: float, handle_s: float) -> CaseState:
    """The case after `step`, or Refused saying why not. `accept_s`/`handle_s`: fresh deadlines when sent back."""
    if step.action not in ACTIONS:
        raise Refused(f"不认识的操作 {step.action!r}", f"unknown action {step.action!r}; use one of {', '.join(ACTIONS)}")
    zh_action = ACTIONS[step.action][0]
    if case.state == "closed":
        raise Refused(f"案件已结案，不能再{zh_action}", f"the case is closed; it cannot {step.action}")
    _check_text(step)
    if step.action in DISPATCHER_ONLY and case.handled_by is not None and step.actor == case.handled_by:
        raise Refused("验收、退回和结案须由派件方完成，不能由处置人自己完成", "verify, send back and close are the dispatcher's: not the person who handled it")
    if step.action == "close":
        return _close(case, step)
    before, after = MOVES[step.action]
    if case.state != before:
        raise Refused(f"案件{STATES[case.state][0]}，不能{zh_action}（须先{STATES[before][0]}）",
                      f"the case is {STATES[case.state][1]}; {step.action} needs it {STATES[before][1]}")
    if step.action == "handle":
        if not step.note.strip():
            raise Refused("处置反馈须写明处置情况", "handling needs a note saying what was done")
        return replace(case, state=after, handled_by=step.actor)
    if step.action == "send_back":
        if not step.note.strip():
            raise Refused("退回须写明原因", "sending back needs a note saying why")
        return replace(case, state=after, handled_by=None, accept_due=now + accept_s, handle_due=now + handle_s)
    return replace(case, state=after)


def _close(case: CaseState, step: Step) -> CaseState:
    if step.result not in RESULTS:
        raise Refused(f"结案须给出结果：{'、'.join(f'{k}（{v[0]}）' for k, v in RESULTS.items())}",
                      f"closing needs a result: {', '.join(RESULTS)}")
    if step.result == "resolved" and case.state != "verified":
        raise Refused("须先验收才能以“已解决”结案（误报、重复可直接结案）",
                      "a case is closed as resolved only once verified (false_alarm and duplicate may close at once)")
    return replace(case, state="closed", result=step.result)


def _check_text(step: Step) -> None:
    if len(step.note) > NOTE_MAX or any(not (c.isprintable() or c in "\n\t") for c in step.note):
        raise Refused(f"说明最多 {NOTE_MAX} 个可打印字符", f"the note must be at most {NOTE_MAX} printable characters")
    if len(step.photos) > PHOTOS_MAX or any(not p or len(p) > PHOTO_ID_MAX or not p.isprintable() or " " in p for p in step.photos):
        raise Refused(f"照片最多 {PHOTOS_MAX} 张，编号须为 1-{PHOTO_ID_MAX} 个字符", f"at most {PHOTOS_MAX} photos, ids of 1-{PHOTO_ID_MAX} characters")


def is_late(case: CaseState, now: float) -> str | None:
    """"not_accepted" or "not_handled" when a deadline has passed; None otherwise."""
    if case.state == "dispatched" and now >= case.accept_due:
        return "not_accepted"
    if case.state in ("accepted", "on_site") and now >= case.handle_due:
        return "not_handled"
    return None


def escalate(case: CaseState, now: float, rungs: int, accept_s: float, handle_s: float) -> tuple[CaseState, str] | None:
    """(the case one rung up with fresh deadlines, why), or (marked overdue at the top, why), or None when nothing is due."""
    why = is_late(case, now)
    if why is None:
        return None
    if case.level + 1 >= rungs:
        return None if case.overdue else (replace(case, overdue=True), why)
    accept_due = now + accept_s if case.state == "dispatched" else case.accept_due
    return replace(case, level=case.level + 1, overdue=True, accept_due=accept_due, handle_due=now + handle_s), why
