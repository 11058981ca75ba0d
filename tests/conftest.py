"""Shared fixtures: a real mosquitto on a free port; paths to the shared models and media."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.localbroker import LocalBroker

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODELS = SHARED / "models"
MEDIA = SHARED / "media"


@pytest.fixture
def broker(tmp_path: Path):
    """A running mosquitto on 127.0.0.1:free-port; tests may stop() and start() it."""
    b = LocalBroker(workdir=tmp_path / "broker")
    b.start()
    yield b
    b.stop()
