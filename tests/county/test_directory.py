"""The county directory file: names of townships, villages and stations, merged with the stations' own, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from county.cases.config import load_config
from county.cli import app
from county.directory import Directory, DirectoryError, load_directory, parse_directory
from county.i18n import Refused
from county.keys import generate
from tests.conftest import ROOT

POND = "410421/xiaoqi/zhuwa/pond-01"
GOOD = """\ufeffpath,中文名,English name
# the county, a township, a village and one station
410421,示范县,Shifan County
410421/xiaoqi,小旗乡,Xiaoqi Township
410421/xiaoqi/zhuwa,竹洼村
"410421/xiaoqi/zhuwa/pond-01","竹洼塘, 东岸",Zhuwa pond
"""


def test_the_directory_names_every_level_and_english_falls_back_to_chinese(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text(GOOD, encoding="utf-8")
    names = load_directory(path)
    assert len(names) == 4
    assert names.labels(POND, "zh") == {"county": "示范县", "town": "小旗乡", "village": "竹洼村", "station": "竹洼塘, 东岸"}
    assert names.labels(POND, "en") == {"county": "Shifan County", "town": "Xiaoqi Township", "village": "竹洼村", "station": "Zhuwa pond"}
    assert names.display(POND, "zh") == "小旗乡 竹洼村 竹洼塘, 东岸"
    assert names.display("410421/xiaoqi", "zh") == "小旗乡" and names.display("410421", "zh") == "示范县"
    assert names.name("410421/xiaoqi/", "zh") == "小旗乡" and names.name("410421/dongfeng", "zh") is None


def test_the_directory_wins_over_the_birth_message_which_wins_over_the_code() -> None:
    names = parse_directory("410421/xiaoqi,小旗乡,Xiaoqi\n")
    birth = {"name": "漫水桥", "town_name": "小起乡(站点写的)", "village_name": "竹洼"}
    assert names.labels("410421/xiaoqi/zhuwa/bridge-01", "zh", birth) == \
        {"county": "410421", "town": "小旗乡", "village": "竹洼", "station": "漫水桥"}
    assert Directory().labels("410421/dongfeng/liuzhuang/ferry-02", "zh", {"name": " "}) == \
        {"county": "410421", "town": "dongfeng", "village": "liuzhuang", "station": "ferry-02"}
    assert Directory().labels("410421/dongfeng", "en") == {"county": "410421", "town": "dongfeng", "village": "", "station": ""}
    assert Directory().display("410421/dongfeng/liuzhuang/ferry-02", "zh") == "410421/dongfeng/liuzhuang/ferry-02"  # no name anywhere
    assert names.display("410421/xiaoqi/zhuwa/bridge-01", "zh") == "小旗乡 zhuwa bridge-01"


@pytest.mark.parametrize(("text", "line", "words"), [
    ("410421,县\n410421/x y,乡\n", 2, "path '410421/x y' is not valid"),
    ("410421,县\n\n410421/a/b/c/d,站\n", 3, "is not valid"),
    ("410421,县,County,extra\n", 1, "found 4 column(s)"),
    ("410421/a,\n", 1, "the Chinese name is missing"),
    ("410421/a,甲\n410421/b,乙\n410421/a,丙\n", 3, "410421/a is already on line 1"),
    ("410421/a,名\x07字\n", 1, "printable"),
    ("410421/a," + "长" * 61 + "\n", 1, "at most 60"),
])
def test_a_bad_line_is_refused_naming_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(DirectoryError) as err:
        parse_directory(text, "names.csv")
    assert f"names.csv line {line}" in str(err.value) and words in str(err.value)
    assert f"第 {line} 行" in err.value.zh


def test_the_example_directory_loads_with_its_comments_and_header() -> None:
    names = load_directory(ROOT / "examples/county-directory.csv")
    assert len(names) == 8 and names.display("410421/dongfeng/liuzhuang/ferry-02", "zh") == "东风乡 刘庄村 刘庄渡口"


def test_a_missing_or_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="cannot read the directory file"):
        load_directory(tmp_path / "nothing.csv")
    (tmp_path / "gbk.csv").write_bytes("410421,示范县\n".encode("gbk"))
    with pytest.raises(DirectoryError, match="is not UTF-8"):
        load_directory(tmp_path / "gbk.csv")


def test_the_loop_file_names_its_directory_beside_it_and_notifications_use_it(tmp_path: Path) -> None:
    (tmp_path / "names.csv").write_text(GOOD, encoding="utf-8")
    (tmp_path / "loop.yaml").write_text("tz: Asia/Shanghai\ndirectory: names.csv\n", encoding="utf-8")
    config = load_config(tmp_path / "loop.yaml")
    assert config.names.display(POND, "zh") == "小旗乡 竹洼村 竹洼塘, 东岸"
    (tmp_path / "broken.yaml").write_text("directory: missing.csv\n", encoding="utf-8")
    with pytest.raises(Refused, match="cannot read the directory file"):
        load_config(tmp_path / "broken.yaml")


def test_serve_refuses_a_bad_directory_or_two_time_zones_before_opening_the_port(tmp_path: Path) -> None:
    runner = CliRunner()
    key = tmp_path / "county.key"
    generate(key)
    db = f"sqlite:///{tmp_path / 'c.db'}"
    (tmp_path / "names.csv").write_text("410421,县\n410421/x y,乡\n", encoding="utf-8")
    bad = runner.invoke(app, ["serve", "--key", str(key), "--db", db, "--directory", str(tmp_path / "names.csv")])
    assert bad.exit_code == 2 and "第 2 行" in bad.output and "line 2" in bad.output
    (tmp_path / "loop.yaml").write_text("tz: Asia/Urumqi\n", encoding="utf-8")
    two = runner.invoke(app, ["serve", "--key", str(key), "--db", db, "--cases", str(tmp_path / "loop.yaml"), "--tz", "Asia/Shanghai"])
    assert two.exit_code == 2 and "one time zone" in two.output
