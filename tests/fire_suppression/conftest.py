"""Fixtures of the false-alarm tests: the county key of tests/commands."""

from tests.commands.conftest import county_key, raw  # noqa: F401
