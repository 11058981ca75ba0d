"""The people directory: who answers for which village, township or county, and how to reach them.

A person has a name, a phone, a role (网格员 grid worker, 村干部 village cadre, 乡镇值班 township
duty, 县值班长 county duty leader), a scope (the same station-path prefixes as web accounts:
county, township, village or station) and optionally a linked web account and an e-mail address.
Cases are dispatched to the enabled people whose scope covers the station, in role order
(`responsible`). The phone is the person's key: importing a roster again updates it in place.
CSV files from a spreadsheet may come as UTF-8 (with or without BOM) or GB18030 (Excel on a
Chinese Windows), with English or Chinese headers.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from county.accounts import AccountError, in_scope, normalise_scope
from county.cases.db import LoopDb
from county.i18n import Refused

ROLES: dict[str, tuple[str, str]] = {  # key -> (zh, en), in dispatch order
    "grid_worker": ("网格员", "grid worker"),
    "village_cadre": ("村干部", "village cadre"),
    "town_duty": ("乡镇值班", "township duty"),
    "county_duty": ("县值班长", "county duty leader"),
}
ROLE_ORDER = {key: i for i, key in enumerate(ROLES)}
NAME_MAX = 32
PHONE = re.compile(r"^\+?[0-9][0-9 -]{3,18}[0-9]$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$")
HEADERS = {  # CSV header (English or Chinese) -> field
    "name": "name", "姓名": "name", "phone": "phone", "电话": "phone", "手机": "phone", "role": "role", "角色": "role",
    "scope": "scope", "范围": "scope", "辖区": "scope", "account": "account", "账号": "account", "email": "email", "邮箱": "email",
}
REQUIRED = ("name", "phone", "role", "scope")

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS people (
        phone TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, scope TEXT NOT NULL, account TEXT, email TEXT,
        enabled {bool} NOT NULL, updated_at {ts} NOT NULL)""",
]
_COLS = "phone, name, role, scope, account, email, enabled"


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    phone: str
    role: str
    scope: str
    account: str | None = None
    email: str | None = None
    enabled: bool = True

    def role_text(self, lang: str) -> str:
        zh, en = ROLES[self.role]
        return en if lang == "en" else zh


def role_key(value: str) -> str:
    """`grid_worker` or `网格员` (and the English label) give `grid_worker`; anything else is refused."""
    value = value.strip()
    for key, (zh, en) in ROLES.items():
        if value in (key, zh, en):
            return key
    choices = "、".join(zh for zh, _ in ROLES.values())
    raise Refused(f"角色 {value!r} 不认识，可用：{choices}", f"unknown role {value!r}; use one of {', '.join(ROLES)}")


def check_person(name: str, phone: str, role: str, scope: str, account: str = "", email: str = "") -> Person:
    """A person from what an administrator typed; Refused names the field that is wrong."""
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX or not name.isprintable():
        raise Refused(f"姓名须为 1-{NAME_MAX} 个可打印字符", f"name must be 1-{NAME_MAX} printable characters")
    phone = phone.strip()
    if not PHONE.match(phone):
        raise Refused(f"电话 {phone!r} 不是电话号码（数字，可带 + 和 -）", f"phone {phone!r} is not a phone number (digits, + and - allowed)")
    try:
        path = normalise_scope(scope.strip())
    except AccountError as exc:
        raise Refused(f"范围 {scope!r} 无效：{exc.zh}", f"scope {scope!r}: {exc.en}") from None
    if not path:
        raise Refused("范围不能为空：至少写到县（如 410421）", "scope must not be empty: at least the county (e.g. 410421)")
    email = email.strip()
    if email and not EMAIL.match(email):
        raise Refused(f"邮箱 {email!r} 格式不对", f"email {email!r} is not an e-mail address")
    return Person(name, phone, role_key(role), path, account.strip() or None, email or None)


class People:
    """The directory in the county database (SQLite or PostgreSQL); its table is made on first use."""

    def __init__(self, db: LoopDb) -> None:
        self._db = db
        db.ensure(SCHEMA)

    def add(self, person: Person, now: float) -> Person:
        """A new person; refused when the phone is already in the directory or the linked account does not exist."""
        with self._db.transaction():
            self._check_account(person)
            n = self._db.execute(f"INSERT INTO people ({_COLS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (phone) DO NOTHING",
                                 (*_row(person), self._db.ts(now)))
            if n != 1:
                raise Refused(f"电话 {person.phone} 已登记", f"phone {person.phone} is already in the directory")
        return person

    def upsert(self, person: Person, now: float) -> None:
        self._check_account(person)
        self._db.execute(
            f"INSERT INTO people ({_COLS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (phone) DO UPDATE SET "
            "name = excluded.name, role = excluded.role, scope = excluded.scope, account = excluded.account, email = excluded.email, "
            "enabled = excluded.enabled, updated_at = excluded.updated_at", (*_row(person), self._db.ts(now)))

    def set_enabled(self, phone: str, enabled: bool, now: float) -> None:
        n = self._db.execute("UPDATE people SET enabled = ?, updated_at = ? WHERE phone = ?", (enabled, self._db.ts(now), phone.strip()))
        if n != 1:
            raise Refused(f"没有电话为 {phone} 的人员", f"no one with phone {phone} in the directory")

    def list(self, scope: str = "", include_disabled: bool = True) -> list[Person]:
        """People inside `scope` (theirs lies under it), in role order then name."""
        rows = self._db.query(f"SELECT {_COLS} FROM people")
        found = [Person(r[1], r[0], r[2], r[3], r[4], r[5], bool(r[6])) for r in rows]
        found = [p for p in found if in_scope(scope, p.scope) and (include_disabled or p.enabled)]
        return sorted(found, key=lambda p: (ROLE_ORDER.get(p.role, 99), p.scope, p.name))

    def roles_of(self, account: str) -> set[str]:
        """The roles of the enabled people linked to a web account (where its login should land)."""
        return {r[0] for r in self._db.query("SELECT role, enabled FROM people WHERE account = ?", (account,)) if r[1]}

    def responsible(self, station: str, roles: tuple[str, ...] | list[str]) -> list[Person]:
        """Enabled people of these roles whose scope covers `station`, nearest scope first within role order."""
        found = [p for p in self.list() if p.enabled and p.role in roles and in_scope(p.scope, station)]
        return sorted(found, key=lambda p: (ROLE_ORDER.get(p.role, 99), -p.scope.count("/"), p.name))

    def import_csv(self, text: str, now: float) -> int:
        """Add or update every row (keyed by phone), all or nothing; Refused names the first bad line and field."""
        people = parse_csv(text)
        with self._db.transaction():
            for line, person in people:
                try:
                    self.upsert(person, now)
                except Refused as exc:
                    raise Refused(f"第 {line} 行 account：{exc.zh}", f"line {line}, field account: {exc.en}") from None
        return len(people)

    def _check_account(self, person: Person) -> None:
        if person.account and not self._db.query("SELECT 1 FROM operators WHERE name = ?", (person.account,)):
            raise Refused(f"网页账号 {person.account!r} 不存在（先用 countyctl operator add 建立）",
                          f"web account {person.account!r} does not exist (create it with countyctl operator add)")


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030 (a spreadsheet saved on a Chinese Windows)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def parse_csv(text: str) -> list[tuple[int, Person]]:
    """(line number, person) of each data row; Refused names the line and the field of the first problem."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise Refused("文件是空的：第一行应是表头 name,phone,role,scope[,account,email]",
                      "the file is empty: the first line must be the header name,phone,role,scope[,account,email]")
    fields = [HEADERS.get(h.strip().lower()) for h in header]
    unknown = [h for h, f in zip(header, fields) if f is None]
    missing = [f for f in REQUIRED if f not in fields]
    if unknown or missing:
        raise Refused(f"第 1 行 表头：不认识 {unknown}，缺少 {missing}（应为 name,phone,role,scope[,account,email]）",
                      f"line 1, header: unknown {unknown}, missing {missing} (expected name,phone,role,scope[,account,email])")
    out: list[tuple[int, Person]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(fields):
            raise Refused(f"第 {line} 行：有 {len(row)} 列，表头有 {len(fields)} 列", f"line {line}: {len(row)} columns, the header has {len(fields)}")
        values: dict[str, Any] = {f: cell for f, cell in zip(fields, row) if f}
        for field in ("name", "phone", "role", "scope", "account", "email"):
            try:
                _check_field(field, values)
            except Refused as exc:
                raise Refused(f"第 {line} 行 {field}：{exc.zh}", f"line {line}, field {field}: {exc.en}") from None
        person = check_person(**values)
        if person.phone in seen:
            raise Refused(f"第 {line} 行 phone：与第 {seen[person.phone]} 行重复", f"line {line}, field phone: same as line {seen[person.phone]}")
        seen[person.phone] = line
        out.append((line, person))
    return out


def _check_field(field: str, values: dict[str, Any]) -> None:
    """Check one field alone, so a bad row is reported with the field that is wrong."""
    sample = {"name": "x", "phone": "10000", "role": "grid_worker", "scope": "0", "account": "", "email": ""}
    sample[field] = values.get(field, "")
    check_person(**sample)


def _row(p: Person) -> tuple[Any, ...]:
    return (p.phone, p.name, p.role, p.scope, p.account, p.email, p.enabled)
