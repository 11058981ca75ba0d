"""The canary plan's rules, with time passed in: who first, who next, when to stop."""

from __future__ import annotations

from county.update.plan import Limits, Progress, Target, make_plan, next_step

T0 = 1_000_000.0
LIMITS = Limits(canary_wait_s=600, timeout_s=300, parallel=2, max_failures=1)


def fleet(n: int, version: str = "1.0") -> list[Target]:
    return [Target(f"c/t/v/s{i}", True, version) for i in range(n)]


def test_offline_and_unknown_stations_are_skipped_never_planned() -> None:
    plan = make_plan([*fleet(3), Target("c/t/v/down", False, "1.0"), Target("c/t/v/never", None, "")], canary=2, to_version="2.0")
    assert plan.canary == ("c/t/v/s0", "c/t/v/s1") and plan.rest == ("c/t/v/s2",)
    assert [t.station for t in plan.skipped] == ["c/t/v/down", "c/t/v/never"]


def test_the_canary_prefers_stations_that_really_install_something() -> None:
    targets = [Target("c/t/v/a", True, "2.0"), Target("c/t/v/b", True, "2.0"), Target("c/t/v/c", True, "1.0"), Target("c/t/v/d", True, "1.0")]
    plan = make_plan(targets, canary=2, to_version="2.0")
    assert plan.canary == ("c/t/v/c", "c/t/v/d")
    assert plan.rest == ("c/t/v/a", "c/t/v/b")


def test_canary_first_then_the_rest_at_most_parallel_at_a_time() -> None:
    plan = make_plan(fleet(6), canary=2, to_version="2.0")
    assert next_step(plan, {}, T0, LIMITS).start == plan.canary
    sent = {s: Progress("downloading", T0) for s in plan.canary}
    assert next_step(plan, sent, T0 + 10, LIMITS).start == ()  # nobody else while the canary is under way
    one_done = {**sent, plan.canary[0]: Progress("updated", T0)}
    assert next_step(plan, one_done, T0 + 20, LIMITS).start == ()
    canary_done = {s: Progress("updated", T0) for s in plan.canary}
    step = next_step(plan, canary_done, T0 + 30, LIMITS)
    assert step.start == plan.rest[:2] and not step.done
    busy = {**canary_done, **{s: Progress("restarting", T0 + 30) for s in plan.rest[:2]}}
    assert next_step(plan, busy, T0 + 40, LIMITS).start == ()
    freed = {**busy, plan.rest[0]: Progress("updated", T0 + 30)}
    assert next_step(plan, freed, T0 + 50, LIMITS).start == (plan.rest[2],)
    everyone = {s: Progress("updated", T0) for s in plan.order}
    assert next_step(plan, everyone, T0 + 60, LIMITS).done


def test_a_canary_that_rolls_back_stops_everything_else() -> None:
    plan = make_plan(fleet(5), canary=2, to_version="2.0")
    progress = {plan.canary[0]: Progress("rolled_back", T0), plan.canary[1]: Progress("downloading", T0)}
    step = next_step(plan, progress, T0 + 5, LIMITS)
    assert step.halted_by == plan.canary[0] and step.canary_failed and step.start == () and not step.done  # the other canary finishes
    progress[plan.canary[1]] = Progress("updated", T0)
    step = next_step(plan, progress, T0 + 6, LIMITS)
    assert step.done and step.start == () and step.halted_by == plan.canary[0]


def test_a_silent_canary_times_out_at_its_wait_not_before() -> None:
    plan = make_plan(fleet(4), canary=1, to_version="2.0")
    progress = {plan.canary[0]: Progress("restarting", T0)}
    assert next_step(plan, progress, T0 + 599, LIMITS).timed_out == ()
    step = next_step(plan, progress, T0 + 600, LIMITS)
    assert step.timed_out == plan.canary and step.canary_failed and step.done and step.start == ()


def test_in_the_second_wave_a_failure_stops_new_sends_and_waits_for_those_under_way() -> None:
    plan = make_plan(fleet(8), canary=1, to_version="2.0")
    progress = {plan.canary[0]: Progress("updated", T0), plan.rest[0]: Progress("failed", T0 + 1), plan.rest[1]: Progress("sent", T0 + 1)}
    step = next_step(plan, progress, T0 + 2, LIMITS)
    assert step.halted_by == plan.rest[0] and not step.canary_failed and step.start == () and not step.done
    assert next_step(plan, progress, T0 + 1 + 300, LIMITS).timed_out == (plan.rest[1],)  # the rest's own timeout
    progress[plan.rest[1]] = Progress("updated", T0 + 1)
    assert next_step(plan, progress, T0 + 3, LIMITS).done


def test_more_failures_allowed_when_asked() -> None:
    plan = make_plan(fleet(5), canary=1, to_version="2.0")
    progress = {plan.canary[0]: Progress("updated", T0), plan.rest[0]: Progress("rolled_back", T0)}
    step = next_step(plan, progress, T0, Limits(parallel=2, max_failures=3))
    assert step.halted_by is None and step.start == plan.rest[1:3]


def test_no_canary_and_nobody_online() -> None:
    plan = make_plan(fleet(3), canary=0, to_version="2.0")
    assert next_step(plan, {}, T0, LIMITS).start == plan.rest[:2]
    nobody = make_plan([Target("c/t/v/x", False, "1.0")], canary=2, to_version="2.0")
    assert nobody.order == () and next_step(nobody, {}, T0, LIMITS).done
