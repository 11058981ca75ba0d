"""County-side fixtures: a private PostgreSQL, database URLs of both kinds, small simulated fleets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from county.sim.fleet import LinkConfig, SelectorFleet
from county.sim.scenario import ScenarioParams
from county.sim.simulate import make_stations
from tests.county.pg import LocalPostgres
from tests.stations import wait_for

QUIET = ScenarioParams(telemetry_s=3600, health_s=3600, alarm_every_s=0)


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    pg = LocalPostgres().start()
    yield pg
    pg.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests on SQLite (a file) and PostgreSQL (a fresh database on the private server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'county.db'}"
    return request.getfixturevalue("postgres").database()


FleetFactory = Callable[..., SelectorFleet]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FleetFactory]:
    """Start a SelectorFleet of N stations against a port; stopped (with goodbyes) at teardown."""
    started: list[SelectorFleet] = []

    def make(port: int, n: int, params: ScenarioParams = QUIET, scenario: bool = True, first: int = 0, name: str = "fleet",
             backoff_max_s: float = 1.0) -> SelectorFleet:
        stations = make_stations(n, tmp_path / name, params, first=first)
        f = SelectorFleet(stations, LinkConfig("127.0.0.1", port, keepalive_s=5, backoff_initial_s=0.1, backoff_max_s=backoff_max_s,
                                               connect_timeout_s=3), ramp_s=0.2, scenario=scenario).start()
        started.append(f)
        assert wait_for(lambda: f.connected() == n, timeout=20), f"{f.connected()}/{n} connected"
        return f

    yield make
    for f in started:
        f.stop()
