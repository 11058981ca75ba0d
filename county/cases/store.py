"""Cases in the county database: `cases`, `case_alarms` (which alarms a case holds) and `case_steps`.

`case_alarms` is keyed by (station, event_id): an alarm belongs to at most one case, so two
ingest members that both see a danger alarm open one case between them (the second one's insert
finds the key taken and its transaction is rolled back). Updates of a case are conditional on
the state they were decided from (`save` returns False when another hand moved it first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from county.cases.db import LoopDb
from county.cases.model import Assignee, Case, CaseStep
from county.cases.rules import OPEN, CaseState
from county.times import epoch

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS cases (
        id {serial}, station TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, summary TEXT NOT NULL, state TEXT NOT NULL,
        level INTEGER NOT NULL, overdue {bool} NOT NULL, result TEXT, opened_by TEXT NOT NULL, opened_at {ts} NOT NULL,
        accept_due {ts} NOT NULL, handle_due {ts} NOT NULL, handled_by TEXT, assignees {json} NOT NULL, updated_at {ts} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS cases_by_state ON cases (state, station)",
    """CREATE TABLE IF NOT EXISTS case_alarms (
        station TEXT NOT NULL, event_id TEXT NOT NULL, case_id BIGINT NOT NULL, PRIMARY KEY (station, event_id))""",
    "CREATE INDEX IF NOT EXISTS case_alarms_by_case ON case_alarms (case_id)",
    """CREATE TABLE IF NOT EXISTS case_steps (
        id {serial}, case_id BIGINT NOT NULL, at {ts} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, from_state TEXT NOT NULL,
        to_state TEXT NOT NULL, note TEXT NOT NULL, photos {json} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS case_steps_by_case ON case_steps (case_id)",
    # the ingest's table, indexed for the loop's sweep (`Cases.sweep` reads the last hours of it every tick)
    "CREATE INDEX IF NOT EXISTS alarms_by_raised_at ON alarms (raised_at)",
]
_COLS = ("id, station, kind, severity, summary, state, level, overdue, result, opened_by, opened_at, accept_due, handle_due, handled_by, "
         "assignees, updated_at")


class CaseStore:
    def __init__(self, db: LoopDb) -> None:
        self._db = db
        db.ensure(SCHEMA)

    def insert(self, station: str, kind: str, severity: str, summary: str, opened_by: str, now: float, state: CaseState,
               assignees: Sequence[Assignee]) -> int:
        ts = self._db.ts
        rows = self._db.query(
            "INSERT INTO cases (station, kind, severity, summary, state, level, overdue, result, opened_by, opened_at, accept_due, "
            "handle_due, handled_by, assignees, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, NULL, ?j, ?) RETURNING id",
            (station, kind, severity, summary[:500], state.state, state.level, state.overdue, opened_by, ts(now), ts(state.accept_due),
             ts(state.handle_due), _assignees_json(assignees), ts(now)))
        return int(rows[0][0])

    def link(self, station: str, event_id: str, case_id: int) -> bool:
        """Put an alarm in a case; False when it is already in one."""
        return self._db.execute("INSERT INTO case_alarms (station, event_id, case_id) VALUES (?, ?, ?) ON CONFLICT (station, event_id) "
                                "DO NOTHING", (station, event_id, case_id)) == 1

    def relink(self, station: str, event_id: str, case_id: int) -> None:
        self._db.execute("UPDATE case_alarms SET case_id = ? WHERE station = ? AND event_id = ?", (case_id, station, event_id))

    def case_of(self, station: str, event_id: str) -> int | None:
        rows = self._db.query("SELECT case_id FROM case_alarms WHERE station = ? AND event_id = ?", (station, event_id))
        return int(rows[0][0]) if rows else None

    def save(self, case: Case, before: CaseState, after: CaseState, now: float, assignees: Sequence[Assignee] | None = None) -> bool:
        """Write `after` if the case is still as `before` (state, rung, overdue); False when someone else moved it first."""
        ts = self._db.ts
        extra, params = ("", ()) if assignees is None else (", assignees = ?j", (_assignees_json(assignees),))
        n = self._db.execute(
            f"UPDATE cases SET state = ?, level = ?, overdue = ?, result = ?, accept_due = ?, handle_due = ?, handled_by = ?, updated_at = ?"
            f"{extra} WHERE id = ? AND state = ? AND level = ? AND overdue = ?",
            (after.state, after.level, after.overdue, after.result, ts(after.accept_due), ts(after.handle_due), after.handled_by, ts(now),
             *params, case.id, before.state, before.level, before.overdue))
        return n == 1

    def add_step(self, case_id: int, now: float, actor: str, action: str, before: str, after: str, note: str = "",
                 photos: Sequence[str] = ()) -> None:
        self._db.execute("INSERT INTO case_steps (case_id, at, actor, action, from_state, to_state, note, photos) VALUES (?, ?, ?, ?, ?, ?, ?, ?j)",
                         (case_id, self._db.ts(now), actor, action, before, after, note, json.dumps(list(photos), ensure_ascii=False)))

    def get(self, case_id: int) -> Case | None:
        rows = self._db.query(f"SELECT {_COLS} FROM cases WHERE id = ?", (case_id,))
        return self._case(rows[0]) if rows else None

    def list(self, open_only: bool = False, station: str | None = None, limit: int = 200, scope: str = "") -> list[Case]:
        """Newest first; `scope`: only stations under it (the rule of `Operator.sees`; substr, not LIKE: ids may hold `_`)."""
        where, params = _under(scope)
        if open_only:
            where.append(f"state IN ({', '.join('?' * len(OPEN))})")
            params += list(OPEN)
        if station is not None:
            where.append("station = ?")
            params.append(station)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.query(f"SELECT {_COLS} FROM cases{clause} ORDER BY id DESC LIMIT ?", (*params, max(0, limit)))
        return [self._case(r, with_alarms=False) for r in rows]

    def stamp(self, scope: str = "") -> str:
        """What changes whenever a case under `scope` is opened or moves (count, newest id, last change): cheap to poll."""
        where, params = _under(scope)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        count, newest, changed = self._db.query(f"SELECT COUNT(*), MAX(id), MAX(updated_at) FROM cases{clause}", params)[0]
        return f"{count}-{newest or 0}-{changed or ''}"

    def steps(self, case_id: int) -> list[CaseStep]:
        rows = self._db.query("SELECT at, actor, action, from_state, to_state, note, photos FROM case_steps WHERE case_id = ? ORDER BY id",
                              (case_id,))
        return [CaseStep(epoch(r[0]) or 0.0, r[1], r[2], r[3], r[4], r[5], tuple(_json(r[6]))) for r in rows]

    def _case(self, r: tuple[Any, ...], with_alarms: bool = True) -> Case:
        alarms: tuple[str, ...] = ()
        if with_alarms:
            alarms = tuple(a[0] for a in self._db.query("SELECT event_id FROM case_alarms WHERE case_id = ? ORDER BY event_id", (r[0],)))
        people = tuple(Assignee(**a) for a in _json(r[14]))
        return Case(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), bool(r[7]), r[8], r[9], epoch(r[10]) or 0.0, epoch(r[11]) or 0.0,
                    epoch(r[12]) or 0.0, r[13], people, epoch(r[15]) or 0.0, alarms)


def _assignees_json(assignees: Sequence[Assignee]) -> str:
    return json.dumps([asdict(a) for a in assignees], ensure_ascii=False)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _under(scope: str) -> tuple[list[str], list[object]]:
    """The WHERE part that keeps stations under `scope` (the rule of `Operator.sees`; substr, not LIKE: ids may hold `_`)."""
    if not scope:
        return [], []
    return ["(station = ? OR substr(station, 1, ?) = ?)"], [scope, len(scope) + 1, scope + "/"]
