"""Device loops: a failing device is retried less and less often, within a cap; a crashed loop is reported and runs again."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading

from gateway.device_loops import FIRE_RETRY_MAX_S, WATER_RETRY_MAX_S, Loops, next_wait
from gateway.events import Event, LoopCrashed
from tests.conftest import ROOT


def test_a_device_that_answers_is_read_at_its_poll_interval_and_a_failing_one_ever_less_often_up_to_the_cap() -> None:
    assert next_wait(1.0, 0, WATER_RETRY_MAX_S) == 1.0
    waits = [next_wait(1.0, n, WATER_RETRY_MAX_S) for n in range(1, 10)]
    assert waits[:4] == [2.0, 4.0, 8.0, 16.0]  # twice the poll interval after the first failure, doubling
    assert waits[4:] == [30.0] * 5  # never longer than the cap
    fire = [next_wait(0.2, n, FIRE_RETRY_MAX_S) for n in range(1, 10)]
    assert fire == sorted(fire) and fire[0] == 0.4 and max(fire) == FIRE_RETRY_MAX_S  # a fire input is retried at least every 5 s


def test_a_loop_that_crashes_is_reported_and_started_again() -> None:
    inbox: queue.Queue[Event] = queue.Queue()
    stop = threading.Event()
    runs: list[int] = []

    def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("driver exploded")

    loops = Loops(inbox, stop)
    loops.spawn("water:gauge-1", flaky)
    loops.join(10)
    assert len(runs) == 2  # run again after the crash, then it ended normally
    assert inbox.get_nowait() == LoopCrashed("water:gauge-1", "RuntimeError: driver exploded")
    assert inbox.empty()


def test_the_command_desk_does_not_depend_on_the_station() -> None:
    code = "import sys, gateway.commands.desk; print('gateway.station' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    assert out == "False"
