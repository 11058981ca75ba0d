"""Operator accounts and the audit log of the county web view, in the ingest database.

An operator is scoped to a prefix of the station tree (the whole system, a county, a township,
a village or one station) and sees only what lies under it. Passwords are stored as argon2
hashes only. Repeated failures lock an account for a while (`lockout_seconds`, a pure rule);
the counters live in the `operators` table so a restart does not reset them. Every refused
login costs one argon2 verification, known name or not, so names cannot be probed by timing.
Password hashing never runs inside `guard` (the web view's database lock): only the reads and
writes around it do, so logins cannot stall the board. A web session is a row of
`operator_sessions` (its id only as a sha256): logging out, a new password or disabling the
account deletes it, so a copied cookie stops working at once.
The audit log records who did what to which station, and the station's answer once it arrives;
its text fields are capped, so no request can make one entry large.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from county.i18n import EnglishFirst
from county.store import Store
from county.times import epoch
from county.topics import normalise_prefix
from wire.command_args import printable_text
from wire.messages import PROTOCOL

MIN_PASSWORD = 8
MAX_NAME = 64  # an ack command carries the display name, and accepts at most 64 characters
LOCK_AFTER = 5  # failures in a row before the first lock
LOCK_FIRST_S = 60.0
LOCK_MAX_S = 900.0
AUDIT_TEXT_MAX = 256  # characters of an audit entry's operator, action, target, outcome and command id
AUDIT_DETAIL_MAX = 4096  # characters of its detail as JSON; longer details are cut and marked

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS operators (
        name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, scope TEXT NOT NULL, display_name TEXT NOT NULL,
        enabled {bool} NOT NULL, failed_count INTEGER NOT NULL, locked_until {ts}, created_at {ts} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audit (
        id {serial}, at {ts} NOT NULL, operator TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
        command_id TEXT, outcome TEXT NOT NULL, detail {json} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at)",
    "CREATE INDEX IF NOT EXISTS audit_by_command ON audit (command_id)",
    """CREATE TABLE IF NOT EXISTS operator_sessions (
        id TEXT PRIMARY KEY, operator TEXT NOT NULL, started_at {ts} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS operator_sessions_by_operator ON operator_sessions (operator)",
]

_OPERATOR_COLS = "name, scope, display_name, enabled, password_hash, failed_count, locked_until"


class AccountError(EnglishFirst, ValueError):
    """An account that cannot be made or changed as asked (the message says why, never the password; `text(lang)` for people)."""


@dataclass(frozen=True, slots=True)
class Operator:
    """A person allowed into the web view; `scope` is a station-path prefix without `vs/v1` ("" = everything)."""

    name: str
    scope: str
    display_name: str

    def sees(self, station: str) -> bool:
        """Whether a station (or township, village) path lies inside this operator's scope; `xiaoqi2` is not under `xiaoqi`."""
        return in_scope(self.scope, station)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    operator: str
    action: str
    target: str
    command_id: str | None
    outcome: str
    detail: dict[str, Any]


def in_scope(scope: str, path: str) -> bool:
    """Level-wise prefix test, so `410421/xiaoqi` covers `410421/xiaoqi/...` but not `410421/xiaoqi2/...`."""
    return scope == "" or path == scope or path.startswith(scope + "/")


def lockout_seconds(failures: int) -> float:
    """How long an account stays locked after `failures` in a row: 60 s at the 5th, doubling, at most 15 min."""
    if failures < LOCK_AFTER:
        return 0.0
    return min(LOCK_FIRST_S * 2 ** min(failures - LOCK_AFTER, 16), LOCK_MAX_S)


def normalise_scope(scope: str) -> str:
    """`vs/v1/410421/xiaoqi/`, `410421/xiaoqi` and `410421/xiaoqi/#` all give `410421/xiaoqi`; "" or `vs/v1` give ""."""
    try:
        prefix = normalise_prefix(scope)
    except ValueError as exc:
        raise AccountError(f"scope: {exc}", f"范围无效：{exc}") from None
    path = prefix[len(PROTOCOL):].lstrip("/")
    if any(c.isspace() or not c.isprintable() for c in path):
        raise AccountError(f"scope {scope!r} must not contain spaces or control characters", f"范围 {scope!r} 不能含空格或控制字符")
    return path


def _check_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_NAME or any(c.isspace() or not c.isprintable() for c in name):
        raise AccountError(f"operator name {name!r} must be 1-{MAX_NAME} printable characters without spaces",
                           f"账号名 {name!r} 应为 1-{MAX_NAME} 个可打印字符，不能有空格")
    return name


def _check_display_name(display_name: str, name: str) -> str:
    """The name shown on pages and put in ack commands: the same rule as the station applies to them."""
    value = display_name.strip() or name
    try:
        printable_text(value)
    except ValueError:
        raise AccountError(f"display name must be at most {MAX_NAME} printable characters", f"显示名最多 {MAX_NAME} 个可打印字符") from None
    if len(value) > MAX_NAME:
        raise AccountError(f"display name must be at most {MAX_NAME} printable characters", f"显示名最多 {MAX_NAME} 个可打印字符")
    return value


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must be at least {MIN_PASSWORD} characters", f"密码至少要 {MIN_PASSWORD} 个字符")


class Accounts:
    """Operators and audit entries in the store's database (SQLite or PostgreSQL), tables made on first use."""

    def __init__(self, store: Store, hasher: PasswordHasher | None = None, guard: Callable[..., Any] | None = None) -> None:
        """`guard(fn, *args)` runs each database call (the web view passes its lock's `call`); hashing runs outside it."""
        self._store = store
        self._hasher = hasher or PasswordHasher()
        self._db: Callable[..., Any] = guard or (lambda fn, *args: fn(*args))
        for statement in SCHEMA:
            self._db(store.execute, statement)
        # Refused logins verify against this, so they cost what a real verification costs.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    # ------------------------------------------------------------------ accounts

    def add(self, name: str, password: str, scope: str = "", display_name: str = "", now: float | None = None) -> Operator:
        """Create an enabled operator; AccountError if the name is taken or anything given is malformed."""
        _check_name(name)
        _check_password(password)
        op = Operator(name, normalise_scope(scope), _check_display_name(display_name, name))
        d = self._store.dialect
        added = self._db(
            self._store.execute,
            "INSERT INTO operators (name, password_hash, scope, display_name, enabled, failed_count, locked_until, created_at) "
            "VALUES (?, ?, ?, ?, ?, 0, NULL, ?) ON CONFLICT (name) DO NOTHING",
            (op.name, self._hasher.hash(password), op.scope, op.display_name, True, d.ts(time.time() if now is None else now)),
        )
        if added != 1:
            raise AccountError(f"operator {name!r} already exists", f"已有名为 {name!r} 的账号")
        return op

    def set_password(self, name: str, password: str) -> None:
        """Replace the password; also lifts a lock-out, since an administrator vouched for the person."""
        _check_password(password)
        changed = self._db(
            self._store.execute,
            "UPDATE operators SET password_hash = ?, failed_count = 0, locked_until = NULL WHERE name = ?",
            (self._hasher.hash(password), name),
        )
        if changed != 1:
            raise AccountError(f"no operator named {name!r}", f"没有 {name!r} 这个账号")
        self.end_sessions(name)

    def set_enabled(self, name: str, enabled: bool) -> None:
        if self._db(self._store.execute, "UPDATE operators SET enabled = ? WHERE name = ?", (enabled, name)) != 1:
            raise AccountError(f"no operator named {name!r}", f"没有 {name!r} 这个账号")
        if not enabled:
            self.end_sessions(name)

    def get(self, name: str) -> Operator | None:
        """The operator, or None when unknown or disabled (a web session should end then)."""
        row = self._row(name)
        return Operator(row[0], row[1], row[2]) if row is not None and row[3] else None

    def list(self) -> list[tuple[Operator, bool]]:
        """Every operator with whether it is enabled, by name (code point order, the same on both databases)."""
        rows = self._db(self._store.query, "SELECT name, scope, display_name, enabled FROM operators")
        return sorted(((Operator(r[0], r[1], r[2]), bool(r[3])) for r in rows), key=lambda pair: pair[0].name)

    def _row(self, name: str) -> tuple[Any, ...] | None:
        rows = self._db(self._store.query, f"SELECT {_OPERATOR_COLS} FROM operators WHERE name = ?", (name,))
        return rows[0] if rows else None

    # ------------------------------------------------------------------ web sessions

    def start_session(self, name: str, now: float) -> str:
        """A new session of `name`: its id, for the signed cookie (the database keeps only its sha256)."""
        sid = secrets.token_urlsafe(32)
        self._db(self._store.execute, "INSERT INTO operator_sessions (id, operator, started_at) VALUES (?, ?, ?)",
                 (_digest(sid), name, self._store.dialect.ts(now)))
        return sid

    def session(self, sid: str, now: float, max_age_s: float) -> Operator | None:
        """The operator of a live session younger than `max_age_s`, enabled; None when it ended or never was."""
        if not sid:
            return None
        rows = self._db(self._store.query, "SELECT operator, started_at FROM operator_sessions WHERE id = ?", (_digest(sid),))
        if not rows or (epoch(rows[0][1]) or 0.0) < now - max_age_s:
            return None
        return self.get(rows[0][0])

    def end_session(self, sid: str) -> None:
        self._db(self._store.execute, "DELETE FROM operator_sessions WHERE id = ?", (_digest(sid),))

    def end_sessions(self, name: str, older_than: float | None = None) -> int:
        """End every session of `name` (or, with `older_than`, those started before it); how many ended."""
        if older_than is None:
            return int(self._db(self._store.execute, "DELETE FROM operator_sessions WHERE operator = ?", (name,)))
        return int(self._db(self._store.execute, "DELETE FROM operator_sessions WHERE operator = ? AND started_at < ?",
                            (name, self._store.dialect.ts(older_than))))

    # ------------------------------------------------------------------ logging in

    def verify(self, name: str, password: str, now: float) -> Operator | None:
        """The operator if the password is right and the account enabled and not locked; None otherwise, whatever the reason."""
        row = self._row(name)
        if row is None or not row[3] or self._locked_for(row, now) > 0:
            self._burn(password)
            return None
        stored = row[4]
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            self._fail(name, now)
            return None
        new_hash = self._hasher.hash(password) if self._hasher.check_needs_rehash(stored) else stored
        if new_hash != stored or row[5] or row[6] is not None:
            self._db(self._store.execute, "UPDATE operators SET password_hash = ?, failed_count = 0, locked_until = NULL WHERE name = ?",
                                (new_hash, name))
        return Operator(row[0], row[1], row[2])

    def locked_for(self, name: str, now: float) -> float:
        """Seconds until a login may be tried again; 0 when not locked (or unknown)."""
        row = self._row(name)
        return 0.0 if row is None else self._locked_for(row, now)

    def _locked_for(self, row: tuple[Any, ...], now: float) -> float:
        until = epoch(row[6])
        return max(0.0, until - now) if until is not None else 0.0

    def _burn(self, password: str) -> None:
        """Spend one verification on a refused login, so its answer comes as late as a real one."""
        try:
            self._hasher.verify(self._dummy, password)
        except (VerificationError, InvalidHashError):
            pass

    def _fail(self, name: str, now: float) -> None:
        """Count a failure atomically (two browsers may fail at once) and lock when the rule says so."""
        rows = self._db(self._store.query, "UPDATE operators SET failed_count = failed_count + 1 WHERE name = ? RETURNING failed_count",
                        (name,))
        if rows and (lock := lockout_seconds(int(rows[0][0]))) > 0:
            self._db(self._store.execute, "UPDATE operators SET locked_until = ? WHERE name = ?", (self._store.dialect.ts(now + lock), name))

    # ------------------------------------------------------------------ audit

    def log(self, operator: str, action: str, target: str, now: float, detail: dict[str, Any] | None = None,
            command_id: str | None = None, outcome: str = "") -> int:
        """Record an action (never a password: callers put only what a reviewer needs in `detail`); returns its id.

        Every text is capped (`AUDIT_TEXT_MAX`, `AUDIT_DETAIL_MAX`): a login name is whatever a stranger typed.
        """
        text = json.dumps(detail or {}, ensure_ascii=False, separators=(",", ":"), default=str)
        if len(text) > AUDIT_DETAIL_MAX:
            text = json.dumps({"truncated": text[:AUDIT_DETAIL_MAX]}, ensure_ascii=False, separators=(",", ":"))
        rows = self._db(
            self._store.query,
            "INSERT INTO audit (at, operator, action, target, command_id, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?j) RETURNING id",
            (self._store.dialect.ts(now), _cap(operator), _cap(action), _cap(target), _cap(command_id) if command_id else command_id,
             _cap(outcome), text),
        )
        return int(rows[0][0])

    def set_outcome(self, station: str, command_id: str, outcome: str) -> None:
        """The station's reply arrived: record its outcome on its entry of that command (another station's reply changes nothing)."""
        self._db(self._store.execute, "UPDATE audit SET outcome = ? WHERE command_id = ? AND target = ?", (_cap(outcome), command_id, station))

    def audit(self, scope: str = "", limit: int = 200) -> builtins.list[AuditEntry]:
        """Newest first; only entries whose target lies inside `scope` (the rule of `Operator.sees`), all when scope is ""."""
        scope = normalise_scope(scope)
        cols = "SELECT id, at, operator, action, target, command_id, outcome, detail FROM audit"
        order = "ORDER BY at DESC, id DESC LIMIT ?"
        limit = max(0, limit)
        if scope:
            # substr, not LIKE: station ids may hold `_`, and SQLite's LIKE ignores case.
            rows = self._db(self._store.query, f"{cols} WHERE target = ? OR substr(target, 1, ?) = ? {order}",
                                     (scope, len(scope) + 1, scope + "/", limit))
        else:
            rows = self._db(self._store.query, f"{cols} {order}", (limit,))
        return [AuditEntry(int(r[0]), epoch(r[1]) or 0.0, r[2], r[3], r[4], r[5], r[6], json.loads(r[7]) if isinstance(r[7], str) else r[7])
                for r in rows]


def _cap(text: str) -> str:
    text = str(text)
    return text if len(text) <= AUDIT_TEXT_MAX else text[: AUDIT_TEXT_MAX - 1] + "…"


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "replace")).hexdigest()
