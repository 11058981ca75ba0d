"""Every command and subcommand of the three command-line tools answers `--help` (exit 0).

The command tree is walked from the click objects typer builds, so a command added later is
covered without touching this test. A help text is parsed as rich markup: a bracket such as
`[/STATION]` in it once crashed `countyctl ingest --help` with a MarkupError.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from county.cli import app as countyctl
from gateway.cli import app as station_gateway
from provisioning.cli import app as stationctl

APPS = {"station-gateway": station_gateway, "stationctl": stationctl, "countyctl": countyctl}


def command_paths(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under `group` (typer's own click command objects), the group itself first."""
    paths = [path]
    for name, sub in sorted((getattr(group, "commands", None) or {}).items()):
        paths += command_paths(sub, (*path, name))
    return paths


CASES = [(tool, path) for tool, app in APPS.items() for path in command_paths(typer.main.get_command(app))]


@pytest.mark.parametrize(("tool", "path"), CASES, ids=[" ".join((t, *p)) for t, p in CASES])
def test_every_help_works(tool: str, path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(APPS[tool], [*path, "--help"], prog_name=tool)
    assert result.exit_code == 0, f"{tool} {' '.join(path)} --help: {result.output}\n{result.exception!r}"
    assert "Usage" in result.output


def test_the_walk_finds_nested_commands() -> None:
    """The walk reaches subcommands of subgroups (countyctl operator add), so nothing hides behind a group."""
    assert ("countyctl", ("operator", "add")) in CASES
    assert len([c for c in CASES if c[0] == "countyctl"]) > 10
