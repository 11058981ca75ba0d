"""The people directory and the cases from the command line, as a county administrator types them: Chinese by default,
English with --lang en, a bad CSV row named by its line and field, nothing half-imported."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from county.cases.db import LoopDb
from county.cli import app
from county.people import People
from tests.county.loop.alarms import store_alarm
from tests.county.loop.conftest import add_account, make_cases

STATION = "410421/xiaoqi/zhuwa/test-01"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), prog_name="countyctl", env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_dispatch_directory_import_names_the_bad_line_and_field_and_imports_nothing(db_url: str, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("name,phone,role,scope,email\n王网格,13800000001,网格员,410421/xiaoqi/zhuwa,wang@v.example\n"
                      "李值班,13800000003,乡镇值班,410421/xiaoqi,\n朱村长,1380000000x,村干部,410421/xiaoqi/zhuwa,\n", encoding="utf-8")
    code, out = cli("people", "import", str(roster), "--db", db_url)
    assert code == 2 and "第 4 行 phone" in out
    code, out = cli("people", "import", str(roster), "--db", db_url, "--lang", "en")
    assert code == 2 and "line 4, field phone" in out
    db = LoopDb(db_url)
    try:
        assert People(db).list() == []  # all or nothing
    finally:
        db.close()
    roster.write_text(roster.read_text(encoding="utf-8").replace("1380000000x", "13800000002"), encoding="utf-8")
    code, out = cli("people", "import", str(roster), "--db", db_url)
    assert code == 0 and "已导入 3 人" in out
    bad_role = tmp_path / "bad.csv"
    bad_role.write_text("name,phone,role,scope\n张三,13900000000,队长,410421/xiaoqi\n", encoding="utf-8")
    code, out = cli("people", "import", str(bad_role), "--db", db_url, "--lang", "en")
    assert code == 2 and "line 2, field role" in out and "grid_worker" in out
    code, out = cli("people", "list", "--db", db_url)
    assert code == 0 and "网格员" in out and "王网格" in out and "乡镇值班" in out
    code, out = cli("people", "list", "--db", db_url, "--lang", "en", "--scope", "410421/xiaoqi/zhuwa")
    assert "grid worker" in out and "王网格" in out and "李值班" not in out


def test_dispatch_directory_chinese_headers_in_gb18030_from_a_spreadsheet(db_url: str, tmp_path: Path) -> None:
    roster = tmp_path / "名单.csv"
    roster.write_bytes("姓名,电话,角色,范围\n王网格,13800000001,网格员,410421/xiaoqi/zhuwa\n".encode("gb18030"))
    assert cli("people", "import", str(roster), "--db", db_url)[0] == 0
    code, out = cli("people", "add", "李值班", "13800000003", "--role", "town_duty", "--scope", "410421/xiaoqi", "--db", db_url)
    assert code == 0 and "已添加 李值班（乡镇值班）" in out
    code, out = cli("people", "add", "重复", "13800000003", "--role", "town_duty", "--scope", "410421/xiaoqi", "--db", db_url)
    assert code == 2 and "已登记" in out
    code, out = cli("people", "add", "某人", "13800000009", "--role", "town_duty", "--scope", "410421", "--account", "nobody", "--db", db_url)
    assert code == 2 and "网页账号 'nobody' 不存在" in out
    assert cli("people", "disable", "13800000003", "--db", db_url)[0] == 0
    code, out = cli("people", "disable", "13800009999", "--db", db_url, "--lang", "en")
    assert code == 2 and "no one with phone" in out


def test_case_commands_take_a_case_through_its_steps_as_named_accounts(db_url: str, tmp_path: Path) -> None:
    cases = make_cases(db_url)
    add_account(cases, "wang", "410421/xiaoqi/zhuwa")
    add_account(cases, "dt", "410421/dongtang")
    cases.db.close()
    store_alarm(db_url, STATION, "ev-1", 1)
    code, out = cli("cases", "open", STATION, "ev-1", "--db", db_url, "--note", "值班员开案")
    assert code == 0 and "案件 #1" in out and "王网格" in out
    assert cli("cases", "open", STATION, "ev-1", "--db", db_url)[1].count("已在案件 #1") == 1
    code, out = cli("cases", "list", "--db", db_url, "--as", "dt")
    assert code == 0 and STATION not in out  # another township's account sees nothing of it
    code, out = cli("cases", "step", "1", "accept", "--db", db_url, "--as", "dt", "--lang", "en")
    assert code == 2 and "no case #1" in out
    assert cli("cases", "step", "1", "accept", "--db", db_url, "--as", "wang")[0] == 0
    assert cli("cases", "step", "1", "arrive", "--db", db_url, "--as", "wang")[0] == 0
    code, out = cli("cases", "step", "1", "handle", "--db", db_url, "--as", "wang")
    assert code == 2 and "处置反馈须写明处置情况" in out
    assert cli("cases", "step", "1", "handle", "--db", db_url, "--as", "wang", "--note", "已设警示带", "--photo", "p1")[0] == 0
    code, out = cli("cases", "step", "1", "verify", "--db", db_url, "--as", "wang")
    assert code == 2 and "派件方" in out
    assert cli("cases", "step", "1", "verify", "--db", db_url)[0] == 0
    code, out = cli("cases", "step", "1", "close", "--db", db_url, "--result", "resolved")
    assert code == 0 and "已结案" in out
    code, out = cli("cases", "show", "1", "--db", db_url)
    assert code == 0 and all(word in out for word in ("签收", "到场", "处置反馈", "验收", "结案", "已设警示带 [p1]", "wang"))
    code, out = cli("cases", "show", "1", "--db", db_url, "--lang", "en")
    assert "accept" in out and "closed" in out
    code, out = cli("cases", "list", "--db", db_url, "--as", "nobody")
    assert code == 2 and "nobody" in out


def test_case_commands_refuse_a_bad_loop_file_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "loop.yaml"
    bad.write_text("deadlines:\n  - {severity: danger, accept_min: -1, handle_min: 10}\nladdr: []\n", encoding="utf-8")
    code, out = cli("cases", "tick", "--config", str(bad), "--db", f"sqlite:///{tmp_path / 'c.db'}", "--lang", "en")
    assert code == 2 and "deadlines.0.accept_min" in out and "laddr" in out
