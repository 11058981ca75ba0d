"""Operator accounts and the audit log, on SQLite and PostgreSQL: hashes, lock-out, scopes, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from county.accounts import AccountError, Accounts, Operator, lockout_seconds
from county.cli import app
from county.store import Store
from foundation.errors import GatewayError

T0 = 1_780_000_000.0
PASSWORD = "correct horse"


def cheap() -> PasswordHasher:
    """Argon2 with small costs: the tests are about the rules, not the hashing time."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class CountingHasher(PasswordHasher):
    """Counts verifications, to show that refused logins still pay for one."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 - argon2's own parameter name
        self.verifications += 1
        return super().verify(hash, password)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store, cheap())


# ---------------------------------------------------------------------- passwords


def test_only_an_argon2_hash_is_stored_and_only_the_right_password_logs_in(accounts: Accounts, store: Store) -> None:
    accounts.add("zhang", PASSWORD, "410421/xiaoqi", "张三", now=T0)
    (stored,) = store.query("SELECT password_hash FROM operators WHERE name = ?", ("zhang",))[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.verify("zhang", PASSWORD, T0) == Operator("zhang", "410421/xiaoqi", "张三")
    assert accounts.verify("zhang", "correct horsE", T0) is None
    assert accounts.verify("nobody", PASSWORD, T0) is None


def test_display_name_defaults_to_the_login_name(accounts: Accounts) -> None:
    assert accounts.add("li", PASSWORD).display_name == "li"
    assert accounts.get("li") == Operator("li", "", "li")


@pytest.mark.parametrize(("name", "password", "scope", "why"), [
    ("wang", "short77", "", "at least 8"),
    ("wang wu", PASSWORD, "", "without spaces"),
    ("", PASSWORD, "", "1-64"),
    ("x" * 65, PASSWORD, "", "1-64"),
    ("wang", PASSWORD, "410421/+/zhuwa", "wildcards"),
    ("wang", PASSWORD, "410421/xiaoqi/zhuwa/pond-01/extra", "deeper than a station"),
    ("wang", PASSWORD, "410421/xiao qi", "spaces"),
])
def test_malformed_accounts_are_refused_with_a_reason(accounts: Accounts, name: str, password: str, scope: str, why: str) -> None:
    with pytest.raises(AccountError, match=why) as caught:
        accounts.add(name, password, scope)
    assert password not in str(caught.value)
    assert isinstance(caught.value, GatewayError) and isinstance(caught.value, ValueError)
    assert accounts.list() == []


def test_a_name_can_be_taken_once(accounts: Accounts) -> None:
    accounts.add("zhang", PASSWORD, "410421/xiaoqi")
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("zhang", "another password", "410421")
    assert accounts.verify("zhang", PASSWORD, T0) == Operator("zhang", "410421/xiaoqi", "zhang")


def test_set_password_replaces_the_old_one(accounts: Accounts) -> None:
    accounts.add("zhang", PASSWORD)
    accounts.set_password("zhang", "new password 2")
    assert accounts.verify("zhang", PASSWORD, T0) is None
    assert accounts.verify("zhang", "new password 2", T0) is not None
    with pytest.raises(AccountError, match="at least 8"):
        accounts.set_password("zhang", "short")
    with pytest.raises(AccountError, match="no operator"):
        accounts.set_password("nobody", "new password 2")


def test_an_old_hash_is_upgraded_at_the_next_login(store: Store) -> None:
    Accounts(store, cheap()).add("zhang", PASSWORD)
    stronger = Accounts(store, PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    assert stronger.verify("zhang", PASSWORD, T0) is not None
    (stored,) = store.query("SELECT password_hash FROM operators WHERE name = ?", ("zhang",))[0]
    assert "m=2048,t=2,p=1" in stored
    assert stronger.verify("zhang", PASSWORD, T0) is not None


def test_refused_logins_cost_a_verification_whether_or_not_the_name_exists(store: Store) -> None:
    hasher = CountingHasher()
    accounts = Accounts(store, hasher)
    accounts.add("zhang", PASSWORD)
    accounts.add("off", PASSWORD)
    accounts.set_enabled("off", False)
    for name in ("nobody", "zhang", "off"):
        before = hasher.verifications
        assert accounts.verify(name, "wrong password", T0) is None
        assert hasher.verifications == before + 1, name


# ---------------------------------------------------------------------- lock-out


def test_lockout_rule_starts_at_five_failures_doubles_and_stops_at_fifteen_minutes() -> None:
    assert [lockout_seconds(n) for n in range(1, 12)] == [0, 0, 0, 0, 60, 120, 240, 480, 900, 900, 900]


def test_five_failures_lock_even_the_right_password_until_the_lock_ends(accounts: Accounts) -> None:
    accounts.add("zhang", PASSWORD)
    for i in range(4):
        assert accounts.verify("zhang", "wrong password", T0 + i) is None
    assert accounts.locked_for("zhang", T0 + 4) == 0
    assert accounts.verify("zhang", "wrong password", T0 + 4) is None  # the 5th
    assert accounts.locked_for("zhang", T0 + 4) == pytest.approx(60)
    assert accounts.verify("zhang", PASSWORD, T0 + 30) is None  # right, but locked
    assert accounts.locked_for("zhang", T0 + 30) == pytest.approx(34)
    assert accounts.verify("zhang", PASSWORD, T0 + 65) == Operator("zhang", "", "zhang")
    assert accounts.locked_for("zhang", T0 + 65) == 0
    # success reset the count: four more failures do not lock again
    for i in range(4):
        assert accounts.verify("zhang", "wrong password", T0 + 70 + i) is None
    assert accounts.locked_for("zhang", T0 + 74) == 0
    assert accounts.verify("zhang", PASSWORD, T0 + 75) is not None


def test_each_further_failure_doubles_the_lock_and_it_survives_a_restart(db_url: str, accounts: Accounts) -> None:
    accounts.add("zhang", PASSWORD)
    t = T0
    for _ in range(5):
        accounts.verify("zhang", "wrong password", t)
    t += 61
    accounts.verify("zhang", "wrong password", t)  # 6th in a row, after the first lock
    restarted = Store(db_url)
    try:
        again = Accounts(restarted, cheap())
        assert again.locked_for("zhang", t) == pytest.approx(120)
        assert again.verify("zhang", PASSWORD, t + 119) is None
        assert again.verify("zhang", PASSWORD, t + 121) is not None
    finally:
        restarted.close()


def test_a_new_password_lifts_a_lock(accounts: Accounts) -> None:
    accounts.add("zhang", PASSWORD)
    for _ in range(5):
        accounts.verify("zhang", "wrong password", T0)
    accounts.set_password("zhang", "new password 2")
    assert accounts.verify("zhang", "new password 2", T0 + 1) is not None


# ---------------------------------------------------------------------- enabled, listing


def test_a_disabled_operator_cannot_log_in_until_enabled(accounts: Accounts) -> None:
    accounts.add("zhang", PASSWORD, "410421")
    accounts.add("an", PASSWORD)
    accounts.set_enabled("zhang", False)
    assert accounts.verify("zhang", PASSWORD, T0) is None
    assert accounts.get("zhang") is None
    assert accounts.list() == [(Operator("an", "", "an"), True), (Operator("zhang", "410421", "zhang"), False)]
    accounts.set_enabled("zhang", True)
    assert accounts.verify("zhang", PASSWORD, T0) == Operator("zhang", "410421", "zhang")
    with pytest.raises(AccountError, match="no operator"):
        accounts.set_enabled("nobody", False)


# ---------------------------------------------------------------------- scopes


@pytest.mark.parametrize(("given", "stored"), [
    ("vs/v1/410421/xiaoqi/", "410421/xiaoqi"),
    ("410421/xiaoqi", "410421/xiaoqi"),
    ("vs/v1/410421/xiaoqi/#", "410421/xiaoqi"),
    ("/410421/", "410421"),
    ("vs/v1", ""),
    ("", ""),
    ("410421/xiaoqi/zhuwa/bridge-01", "410421/xiaoqi/zhuwa/bridge-01"),
])
def test_scopes_are_stored_without_the_protocol_prefix(accounts: Accounts, given: str, stored: str) -> None:
    assert accounts.add("zhang", PASSWORD, given).scope == stored
    assert accounts.get("zhang") == Operator("zhang", stored, "zhang")


def test_a_township_operator_sees_its_own_stations_only() -> None:
    town = Operator("zhang", "410421/xiaoqi", "张三")
    assert town.sees("410421/xiaoqi/zhuwa/bridge-01")
    assert town.sees("410421/xiaoqi")
    assert not town.sees("410421/dazhuang/zhuwa/bridge-01")
    assert not town.sees("410421/xiaoqi2/zhuwa/bridge-01")
    assert not town.sees("410421")
    everything = Operator("admin", "", "admin")
    assert everything.sees("410421/xiaoqi2/zhuwa/bridge-01") and everything.sees("999999/a/b/c")
    station = Operator("guard", "410421/xiaoqi/zhuwa/bridge-01", "guard")
    assert station.sees("410421/xiaoqi/zhuwa/bridge-01") and not station.sees("410421/xiaoqi/zhuwa/bridge-010")


# ---------------------------------------------------------------------- audit


def test_audit_is_newest_first_and_filtered_by_scope(accounts: Accounts) -> None:
    own = accounts.log("zhang", "ack", "410421/xiaoqi/zhuwa/bridge-01", T0 + 1, {"event_id": "a-1"}, command_id="c-1")
    town = accounts.log("zhang", "announce", "410421/xiaoqi", T0 + 2, {"text": "注意"}, command_id="c-2")
    lookalike = accounts.log("wang", "ack", "410421/xiaoqi2/zhuwa/bridge-01", T0 + 3)
    other = accounts.log("wang", "silence", "410421/dazhuang/li/pond_01", T0 + 4)
    assert [e.id for e in accounts.audit()] == [other, lookalike, town, own]
    assert [e.id for e in accounts.audit("410421/xiaoqi")] == [town, own]
    assert [e.id for e in accounts.audit("vs/v1/410421/xiaoqi/")] == [town, own]
    assert [e.id for e in accounts.audit("410421/dazhuang/li/pond_01")] == [other]
    assert [e.id for e in accounts.audit("410421/dazhuang/li/pond-01")] == []  # `_` is not a wildcard
    assert [e.id for e in accounts.audit(limit=2)] == [other, lookalike]
    first = accounts.audit("410421/xiaoqi/zhuwa")[0]
    assert (first.operator, first.action, first.target, first.command_id, first.outcome, first.detail) == \
        ("zhang", "ack", "410421/xiaoqi/zhuwa/bridge-01", "c-1", "", {"event_id": "a-1"})
    assert first.at == pytest.approx(T0 + 1)


def test_set_outcome_marks_every_entry_of_that_command_only(accounts: Accounts) -> None:
    accounts.log("zhang", "ack", "410421/xiaoqi/zhuwa/bridge-01", T0, command_id="c-1", outcome="sent")
    accounts.log("zhang", "ack-retry", "410421/xiaoqi/zhuwa/bridge-01", T0 + 1, command_id="c-1", outcome="sent")
    accounts.log("zhang", "announce", "410421/xiaoqi/zhuwa/bridge-01", T0 + 2, command_id="c-2", outcome="sent")
    accounts.set_outcome("410421/xiaoqi/zhuwa/bridge-01", "c-1", "done")
    assert [(e.command_id, e.outcome) for e in accounts.audit()] == [("c-2", "sent"), ("c-1", "done"), ("c-1", "done")]


# ---------------------------------------------------------------------- CLI


def test_cli_adds_lists_and_refuses_duplicates_and_short_passwords(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'county.db'}"
    runner = CliRunner()
    added = runner.invoke(app, ["operator", "add", "zhang", "--scope", "vs/v1/410421/xiaoqi/", "--display-name", "张三",
                                "--password-stdin", "--db", db, "--lang", "en"], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "zhang" in added.output and "410421/xiaoqi" in added.output and PASSWORD not in added.output
    admin = runner.invoke(app, ["operator", "add", "admin", "--password-stdin", "--db", db, "--lang", "en"], input=PASSWORD + "\n")
    assert admin.exit_code == 0 and "whole county" in admin.output

    store = Store(db)
    try:
        assert Accounts(store, cheap()).verify("zhang", PASSWORD, T0) == Operator("zhang", "410421/xiaoqi", "张三")
    finally:
        store.close()

    dup = runner.invoke(app, ["operator", "add", "zhang", "--password-stdin", "--db", db, "--lang", "en"], input="other password\n")
    assert dup.exit_code == 2 and "already exists" in dup.output
    short = runner.invoke(app, ["operator", "add", "li", "--password-stdin", "--db", db, "--lang", "en"], input="short\n")
    assert short.exit_code == 2 and "at least 8" in short.output and "short\n" not in short.output

    assert runner.invoke(app, ["operator", "disable", "zhang", "--db", db]).exit_code == 0
    listed = runner.invoke(app, ["operator", "list", "--db", db, "--lang", "en"])
    assert listed.exit_code == 0
    rows = {line.split("│")[1].strip(): line for line in listed.output.splitlines() if line.count("│") >= 4}
    assert set(rows) == {"admin", "zhang"}  # not li
    assert "张三" in rows["zhang"] and "no" in rows["zhang"].split("│")[4]
    assert "yes" in rows["admin"].split("│")[4]
    assert runner.invoke(app, ["operator", "enable", "nobody", "--db", db]).exit_code == 2


def test_cli_speaks_chinese_unless_asked_for_english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an administrator reads: results, refusals, the list and the audit, Chinese by default and English with --lang en."""
    monkeypatch.delenv("LANG", raising=False)
    db = f"sqlite:///{tmp_path / 'county.db'}"
    runner = CliRunner()
    added = runner.invoke(app, ["operator", "add", "wang", "--display-name", "王五", "--password-stdin", "--db", db], input=PASSWORD + "\n")
    assert added.exit_code == 0 and "已添加账号 wang（王五），范围：全县" in added.stdout
    added_en = runner.invoke(app, ["operator", "add", "li", "--scope", "410421/xiaoqi", "--password-stdin", "--db", db, "--lang", "en"],
                             input=PASSWORD + "\n")
    assert added_en.exit_code == 0 and "added operator li (li), scope: 410421/xiaoqi" in added_en.stdout
    dup = runner.invoke(app, ["operator", "add", "wang", "--password-stdin", "--db", db], input=PASSWORD + "\n")
    assert dup.exit_code == 2 and "账号：已有名为 'wang' 的账号" in dup.stderr
    short = runner.invoke(app, ["operator", "passwd", "wang", "--password-stdin", "--db", db], input="short\n")
    assert short.exit_code == 2 and "密码至少要 8 个字符" in short.stderr
    missing = runner.invoke(app, ["operator", "enable", "nobody", "--db", db])
    assert missing.exit_code == 2 and "账号：没有 'nobody' 这个账号" in missing.stderr
    missing_en = runner.invoke(app, ["operator", "enable", "nobody", "--db", db, "--lang", "en"])
    assert missing_en.exit_code == 2 and "operator: no operator named 'nobody'" in missing_en.stderr

    assert "已修改 wang 的密码" in runner.invoke(app, ["operator", "passwd", "wang", "--password-stdin", "--db", db], input="new password 3\n").stdout
    assert "password of wang changed" in runner.invoke(app, ["operator", "passwd", "wang", "--password-stdin", "--db", db, "--lang", "en"],
                                                       input="new password 4\n").stdout
    prompted = runner.invoke(app, ["operator", "passwd", "wang", "--db", db], input="new password 5\nother words\nnew password 5\nnew password 5\n")
    assert prompted.exit_code == 0 and "再输入一次密码" in prompted.output and "两次输入的密码不一致" in prompted.output
    assert "new password 5" not in prompted.output
    assert "账号 li 已停用" in runner.invoke(app, ["operator", "disable", "li", "--db", db]).stdout
    assert "operator li enabled" in runner.invoke(app, ["operator", "enable", "li", "--db", db, "--lang", "en"]).stdout
    assert "账号 li 已停用" in runner.invoke(app, ["operator", "disable", "li", "--db", db]).stdout

    listed = runner.invoke(app, ["operator", "list", "--db", db], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    assert all(word in listed.stdout for word in ("账号", "显示名", "范围", "启用"))
    rows = {line.split("│")[1].strip(): line.split("│") for line in listed.stdout.splitlines() if line.count("│") >= 4}
    assert "全县" in rows["wang"][3] and "是" in rows["wang"][4] and "否" in rows["li"][4]
    listed_en = runner.invoke(app, ["operator", "list", "--db", db, "--lang", "en"], env={"COLUMNS": "200"})
    assert "display name" in listed_en.stdout and "whole county" in listed_en.stdout

    store = Store(db)
    try:
        Accounts(store, cheap()).log("wang", "announce", "410421/xiaoqi/zhuwa/bridge-01", T0, command_id="c-7", outcome="done")
    finally:
        store.close()
    audit = runner.invoke(app, ["operator", "audit", "--db", db], env={"COLUMNS": "250"})
    assert audit.exit_code == 0
    assert all(word in audit.stdout for word in ("时间", "操作人", "操作", "对象", "指令编号", "结果", "详情"))
    assert "新增账号" in audit.stdout and "修改密码" in audit.stdout and "停用账号" in audit.stdout
    broadcast = next(line for line in audit.stdout.splitlines() if "c-7" in line)
    assert "发送广播" in broadcast and "已执行" in broadcast and "bridge-01" in broadcast
    audit_en = runner.invoke(app, ["operator", "audit", "--db", db, "--lang", "en"], env={"COLUMNS": "250"})
    assert "operator_add" in audit_en.stdout and "command" in audit_en.stdout
    assert "announce" in next(line for line in audit_en.stdout.splitlines() if "c-7" in line)
    zone = runner.invoke(app, ["operator", "audit", "--db", db, "--tz", "Mars/Olympus"])
    assert zone.exit_code == 2 and "没有 'Mars/Olympus' 这个时区" in zone.stderr


def test_cli_passwd_and_audit(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'county.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["operator", "add", "zhang", "--password-stdin", "--db", db], input=PASSWORD + "\n").exit_code == 0
    changed = runner.invoke(app, ["operator", "passwd", "zhang", "--password-stdin", "--db", db], input="new password 2\n")
    assert changed.exit_code == 0 and "new password 2" not in changed.output
    store = Store(db)
    try:
        accounts = Accounts(store, cheap())
        assert accounts.verify("zhang", "new password 2", T0) is not None
        accounts.log("zhang", "ack", "410421/xiaoqi/zhuwa/bridge-01", T0, command_id="c-1", outcome="done")
        accounts.log("zhang", "ack", "410421/dazhuang/li/pond-01", T0 + 1, command_id="c-2")
    finally:
        store.close()
    shown = runner.invoke(app, ["operator", "audit", "--scope", "410421/xiaoqi", "--db", db, "--lang", "en"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert "bridge-01" in shown.output and "c-1" in shown.output and "pond-01" not in shown.output
    bad = runner.invoke(app, ["operator", "audit", "--scope", "410421/+", "--db", db])
    assert bad.exit_code == 2
    everything = runner.invoke(app, ["operator", "audit", "--db", db, "--lang", "en"], env={"COLUMNS": "200"})
    assert "operator_add" in everything.output and "operator_passwd" in everything.output and "cli:" in everything.output


def test_cli_audit_writes_times_in_the_countys_zone(tmp_path: Path) -> None:
    """The audit on the command line reads as on the pages: the county's clock, whatever the server's zone is."""
    db = f"sqlite:///{tmp_path / 'county.db'}"
    store = Store(db)
    try:
        Accounts(store, cheap()).log("zhang", "ack", "410421/xiaoqi/zhuwa/bridge-01", 1767225600.0, command_id="c-9")  # 2026-01-01 00:00 UTC
    finally:
        store.close()
    runner = CliRunner()
    shanghai = runner.invoke(app, ["operator", "audit", "--db", db], env={"COLUMNS": "200", "TZ": "UTC"})
    assert shanghai.exit_code == 0 and "2026-01-01 08:00:00" in shanghai.output
    utc = runner.invoke(app, ["operator", "audit", "--db", db, "--tz", "UTC"], env={"COLUMNS": "200"})
    assert "2026-01-01 00:00:00" in utc.output
    assert runner.invoke(app, ["operator", "audit", "--db", db, "--tz", "Mars/Olympus"]).exit_code == 2
