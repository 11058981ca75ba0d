"""A case as the county keeps it, and its steps (the history shown beside the station's own alarm lifecycle)."""

from __future__ import annotations

from dataclasses import dataclass, field

from county.cases.rules import CaseState


@dataclass(frozen=True, slots=True)
class Assignee:
    """A person dispatched to the case: copied at dispatch time, so the record stays true if the directory changes."""

    name: str
    phone: str
    role: str
    account: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    station: str
    kind: str
    severity: str
    summary: str
    state: str
    level: int
    overdue: bool
    result: str | None
    opened_by: str
    opened_at: float
    accept_due: float
    handle_due: float
    handled_by: str | None
    assignees: tuple[Assignee, ...]
    updated_at: float
    alarms: tuple[str, ...] = field(default=())  # event ids of the station's alarms in this case

    def rule_state(self) -> CaseState:
        return CaseState(self.state, self.level, self.accept_due, self.handle_due, self.overdue, self.handled_by, self.result)


@dataclass(frozen=True, slots=True)
class CaseStep:
    at: float
    actor: str
    action: str
    from_state: str
    to_state: str
    note: str
    photos: tuple[str, ...]
