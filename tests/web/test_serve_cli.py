"""`countyctl serve` refuses to start on a bad key, database or time zone, with one clear line."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from county.cli import app
from county.keys import generate


def test_serve_says_what_is_wrong_before_opening_the_port(tmp_path: Path) -> None:
    runner = CliRunner()
    key = tmp_path / "county.key"
    missing = runner.invoke(app, ["serve", "--key", str(key), "--db", f"sqlite:///{tmp_path / 'c.db'}"])
    assert missing.exit_code == 2 and "cannot read the key" in missing.output
    generate(key)
    os.chmod(key, 0o644)
    loose = runner.invoke(app, ["serve", "--key", str(key), "--db", f"sqlite:///{tmp_path / 'c.db'}"])
    assert loose.exit_code == 2 and "readable by others" in loose.output
    os.chmod(key, 0o600)
    db = runner.invoke(app, ["serve", "--key", str(key), "--db", "postgresql://nobody:secret@127.0.0.1:1/county"])
    assert db.exit_code == 2 and "cannot open the database" in db.output and "secret" not in db.output
    zone = runner.invoke(app, ["serve", "--key", str(key), "--db", f"sqlite:///{tmp_path / 'c.db'}", "--tz", "Mars/Olympus"])
    assert zone.exit_code == 2 and "unknown time zone" in zone.output
