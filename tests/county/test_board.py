"""The web view's state: presence, alarm lifecycles, commands and replies, scope (no broker needed)."""

from __future__ import annotations

import json

from county.web.board import LAST_SEEN_STEP_S, Board, alarm_key

A = "410421/xiaoqi/zhuwa/pond-01"
B = "410421/dongfeng/liuzhuang/ferry-02"


def status(station: str, online: bool, ts: str = "2026-11-21T08:00:00+00:00", name: str = "东塘") -> tuple[str, bytes]:
    return f"vs/v1/{station}/status", json.dumps({"kind": "status", "station": station, "seq": 1, "online": online, "name": name,
                                                   "ts": ts, "reason": "" if online else "connection lost", "capabilities": ["camera"]}).encode()


def alarm(station: str, seq: int, state: str, event_id: str = "al-1", severity: str = "danger", **extra: object) -> tuple[str, bytes]:
    doc = {"kind": "alarm", "station": station, "seq": seq, "event_id": event_id, "ts": f"2026-11-21T08:0{seq}:00+00:00",
           "alarm": "person_in_water_zone", "state": state, "severity": severity, "category": "safety", "source": "pond-cam/water",
           "summary": f"step {seq}", "raised_at": "2026-11-21T08:00:00+00:00", **extra}
    return f"vs/v1/{station}/event/person_in_water_zone", json.dumps(doc).encode()


def reply(station: str, command_id: str, outcome: str) -> tuple[str, bytes]:
    return f"vs/v1/{station}/reply/{command_id}", json.dumps({"kind": "reply", "station": station, "seq": 9, "command_id": command_id,
                                                              "command": "announce", "ok": True, "outcome": outcome}).encode()


def test_alarm_lifecycle_keeps_who_acked_and_when_it_cleared() -> None:
    board = Board()
    board.handle(*alarm(A, 1, "raised", snapshot={"topic": "t", "bytes": 10, "sha256": "ab" * 32}), retained=False, now=100)
    board.handle(*alarm(A, 2, "acked", acked_by="张三"), retained=False, now=101)
    changes = board.handle(*alarm(A, 3, "cleared", acked_by="张三"), retained=False, now=102)
    card = board.alarms[alarm_key(A, "al-1")]
    assert ("alarm", alarm_key(A, "al-1")) in changes
    assert (card.state, card.acked_by, card.snapshot_sha256) == ("cleared", "张三", "ab" * 32)
    assert card.acked_at is not None and card.cleared_at is not None and card.acked_at < card.cleared_at


def test_a_redelivered_old_step_does_not_reopen_an_alarm() -> None:
    board = Board()
    board.handle(*alarm(A, 1, "raised"), retained=False, now=100)
    board.handle(*alarm(A, 3, "cleared"), retained=False, now=101)
    rev = board.alarms[alarm_key(A, "al-1")].rev
    assert board.handle(*alarm(A, 1, "raised"), retained=False, now=102) == [] or board.alarms[alarm_key(A, "al-1")].state == "cleared"
    assert board.alarms[alarm_key(A, "al-1")].state == "cleared" and board.alarms[alarm_key(A, "al-1")].rev == rev
    # the acked step arriving late still fills in who acknowledged it
    board.handle(*alarm(A, 2, "acked", acked_by="李四"), retained=False, now=103)
    assert board.alarms[alarm_key(A, "al-1")].state == "cleared" and board.alarms[alarm_key(A, "al-1")].acked_by == "李四"


def test_presence_and_last_seen_are_pushed_only_when_they_matter() -> None:
    board = Board()
    assert ("station", A) in board.handle(*status(A, True), retained=True, now=1000)
    assert board.stations[A].online is True and board.stations[A].name == "东塘"
    topic = f"vs/v1/{A}/telemetry/gauge-1"
    health = json.dumps({"kind": "telemetry", "station": A, "seq": 2, "sensor": "gauge-1", "values": {"level_m": 0.4}}).encode()
    t0 = board.stations[A].last_seen  # the retained status's own time
    first = board.handle(topic, health, retained=False, now=t0 + 600)
    assert ("station", A) in first and board.stations[A].last_seen == t0 + 600  # last seen jumped
    assert board.handle(topic, health, retained=False, now=t0 + 600 + LAST_SEEN_STEP_S / 3) == []
    assert ("station", A) in board.handle(topic, health, retained=False, now=t0 + 600 + LAST_SEEN_STEP_S + 1)
    assert ("station", A) in board.handle(*status(A, False), retained=False, now=t0 + 700)
    assert board.stations[A].online is False and board.stations[A].reason == "connection lost"


def test_replies_attach_to_commands_this_server_sent_and_no_others() -> None:
    board = Board()
    board.handle(*status(A, True), retained=True, now=1)
    board.sent("cmd-1", "batch-1", A, "announce", "广播", "王五", now=10, expires_at=310)
    assert board.handle(*reply(A, "cmd-1", "completed"), retained=False, now=12) == [("command", "cmd-1")]
    assert board.handle(*reply(A, "someone-elses", "completed"), retained=False, now=12) == []
    assert [r.outcome for r in board.commands["cmd-1"].replies] == ["completed"]


def test_views_are_limited_to_what_the_operator_sees() -> None:
    board = Board()
    for station in (A, B):
        board.handle(*status(station, True), retained=True, now=1)
        board.handle(*alarm(station, 1, "raised", event_id=f"al-{station.split('/')[1]}"), retained=False, now=2)
    xiaoqi = board.view(lambda s: s.startswith("410421/xiaoqi/"))
    assert [s["station"] for s in xiaoqi["stations"]] == [A]
    assert [a["event_id"] for a in xiaoqi["alarms"]] == ["al-xiaoqi"]
    assert board.record(("alarm", alarm_key(B, "al-dongfeng")))[0] == B  # the fan-out filters by this station


def test_malformed_and_foreign_messages_are_counted_not_applied() -> None:
    board = Board("vs/v1/410421/xiaoqi")
    assert board.handle(f"vs/v1/{A}/status", b"{not json", retained=False, now=1) == []
    assert board.handle(*status(B, True), retained=True, now=1) == []  # another township: outside the prefix
    _, payload = status("410421/xiaoqi/zhuwa/other-03", True)
    assert board.handle(f"vs/v1/{A}/status", payload, retained=True, now=1) == []  # the station does not match its topic
    assert board.handle(f"vs/v1/{A}/status", b"[" * 100_000, retained=False, now=1) == []  # too deep for the parser
    assert board.handle(f"vs/v1/{A}/status", b"[1, 2]", retained=False, now=1) == []  # JSON, but not an object
    assert board.malformed == 4 and board.stations == {}


def test_prune_forgets_alarms_that_ended_before_the_window() -> None:
    board = Board()
    board.handle(*alarm(A, 1, "raised", event_id="old"), retained=False, now=0)
    board.handle(*alarm(A, 2, "cleared", event_id="old"), retained=False, now=0)
    board.handle(*alarm(A, 1, "raised", event_id="open"), retained=False, now=0)
    cleared_at = board.alarms[alarm_key(A, "old")].cleared_at
    board.prune(now=cleared_at + 25 * 3600)
    assert set(board.alarms) == {alarm_key(A, "open")}


def test_catching_up_from_the_database_takes_only_newer_steps() -> None:
    board = Board()
    board.handle(*alarm(A, 2, "updated"), retained=False, now=100)
    row = ("al-1", A, "person_in_water_zone", "pond-cam/water", "safety", "danger", "{state}", "s", "2026-11-21T08:00:00+00:00",
           None, None, None, 0, None)
    older = tuple(v.format(state="raised") if v == "{state}" else v for v in row[:12]) + (1, None)
    newer = tuple(v.format(state="cleared") if v == "{state}" else v for v in row[:11]) + ("2026-11-21T08:09:00+00:00", 3, None)
    assert board.seed_alarms([older]) == [] and board.alarms[alarm_key(A, "al-1")].state == "updated"
    assert board.seed_alarms([newer]) == [("alarm", alarm_key(A, "al-1"))]
    assert board.alarms[alarm_key(A, "al-1")].state == "cleared" and board.alarms[alarm_key(A, "al-1")].cleared_at is not None


def test_a_page_is_sent_open_alarms_and_only_the_newest_ended_ones() -> None:
    from county.web.board import MAX_ENDED_VIEW

    board = Board()
    for i in range(MAX_ENDED_VIEW + 20):
        board.handle(*alarm(A, 1, "raised", event_id=f"e{i}"), retained=False, now=i)
        board.handle(*alarm(A, 2, "cleared", event_id=f"e{i}"), retained=False, now=i)
    board.handle(*alarm(A, 1, "raised", event_id="still-open"), retained=False, now=0)
    sent = board.view(lambda s: True)["alarms"]
    assert len(sent) == MAX_ENDED_VIEW + 1 and sent[0]["event_id"] == "still-open"


def notice(station: str, seq: int, name: str = "command_rejected") -> tuple[str, bytes]:
    return f"vs/v1/{station}/event/{name}", json.dumps({"kind": "notice", "station": station, "seq": seq, "notice": name, "severity": "warning",
                                                        "summary": "unsigned command", "ts": "2026-11-21T08:00:00+00:00"}).encode()


def test_notices_are_kept_once_newest_first_within_scope_and_health_is_on_the_station() -> None:
    board = Board()
    assert board.handle(*notice(A, 5), retained=False, now=1) == [("station", A), ("notice", f"{A}#5")]
    assert board.handle(*notice(A, 5), retained=False, now=2) == []  # a redelivery
    board.handle(*notice(B, 7, "outbox_full"), retained=False, now=3)
    board.handle(*notice(A, 6, "device_offline"), retained=False, now=4)
    assert [n["notice"] for n in board.view(lambda s: True)["notices"]] == ["device_offline", "outbox_full", "command_rejected"]
    assert [n["station"] for n in board.view(lambda s: s == B)["notices"]] == [B]
    health = json.dumps({"kind": "health", "station": A, "seq": 8, "queue_depth": 250, "dropped_total": 3, "devices": {"gauge-1": "offline"},
                         "ts": "2026-11-21T08:05:00+00:00"}).encode()
    assert ("station", A) in board.handle(f"vs/v1/{A}/health", health, retained=False, now=5)
    assert board.stations[A].health["queue_depth"] == 250 and board.stations[A].health["devices"] == {"gauge-1": "offline"}


def test_a_station_cannot_touch_another_stations_alarm_by_reusing_its_event_id() -> None:
    board = Board()
    board.handle(*alarm(A, 1, "raised", event_id="shared"), retained=False, now=1)
    board.handle(*alarm(B, 5, "cleared", event_id="shared", severity="info", summary="all fine"), retained=False, now=2)
    mine = board.alarms[alarm_key(A, "shared")]
    assert (mine.station, mine.state, mine.severity) == (A, "raised", "danger")
    assert board.find_alarm("shared", lambda s: True) is mine  # without a station: the first one seen
    assert board.find_alarm("shared", lambda s: True, B).state == "cleared"
    assert board.find_alarm("shared", lambda s: s == B) is board.alarms[alarm_key(B, "shared")]


def test_a_reply_from_another_station_does_not_land_on_a_command() -> None:
    board = Board()
    board.sent("c-1", "batch", A, "ack", "ack", "duty", 1.0, 301.0)
    forged = {"kind": "reply", "station": B, "seq": 1, "command_id": "c-1", "outcome": "done", "ok": True, "ts": "2026-11-21T08:00:00+00:00"}
    assert ("command", "c-1") not in board.handle(f"vs/v1/{B}/reply/ack", json.dumps(forged).encode(), retained=False, now=2)
    assert board.commands["c-1"].replies == []
    real = {**forged, "station": A}
    assert ("command", "c-1") in board.handle(f"vs/v1/{A}/reply/ack", json.dumps(real).encode(), retained=False, now=3)
    assert [r.station for r in board.commands["c-1"].replies] == [A]


# ---------------------------------------------------------------------- issue 19 point 7: what the board shows of each alarm


def playback(station: str, seq: int, ref: str, plays: int, outcome: str = "completed") -> tuple[str, bytes]:
    return f"vs/v1/{station}/event/loudspeaker", json.dumps({
        "kind": "playback", "station": station, "seq": seq, "event_id": f"pb-{seq}", "ts": "2026-11-21T08:05:00+00:00",
        "key": "person_in_water_zone", "ref": ref, "what": "请离开水面", "priority": "warning", "outcome": outcome, "plays": plays,
        "started": "2026-11-21T08:04:50+00:00", "ended": f"2026-11-21T08:0{min(seq, 9)}:30+00:00"}).encode()


def snap(event_id: str, n: int) -> dict[str, object]:
    name = event_id if n == 1 else f"{event_id}-{n}"
    return {"topic": f"vs/v1/{A}/snapshot/{name}", "bytes": 100, "sha256": f"{n:02d}" * 32}


def test_board_shows_the_newest_snapshot_and_how_many_there_are() -> None:
    board = Board()
    board.handle(*alarm(A, 1, "raised", snapshot=snap("al-1", 1)), retained=False, now=100)
    board.handle(*alarm(A, 2, "updated", snapshot=snap("al-1", 2)), retained=False, now=101)
    board.handle(*alarm(A, 3, "updated", snapshot=snap("al-1", 3)), retained=False, now=102)
    board.handle(*alarm(A, 4, "acked", snapshot=snap("al-1", 3), acked_by="张三"), retained=False, now=103)  # later steps name the newest
    card = board.alarms[alarm_key(A, "al-1")]
    assert card.snapshot_count == 3 and [s["n"] for s in card.snapshots] == [1, 2, 3]
    assert card.snapshot_sha(3) == "03" * 32 and card.snapshot_sha(1) == card.snapshot_sha256 == "01" * 32  # the first stays served
    assert card.public()["snapshots"][-1] == {"n": 3, "sha256": "03" * 32}


def test_board_counts_repeated_updates_and_keeps_the_latest() -> None:
    board = Board()
    board.handle(*alarm(A, 1, "raised"), retained=False, now=100)
    for seq in range(2, 9):
        board.handle(*alarm(A, seq, "updated"), retained=False, now=100 + seq)
    board.handle(*alarm(A, 5, "updated"), retained=False, now=120)  # a redelivery is not another update
    card = board.alarms[alarm_key(A, "al-1")]
    assert card.updates == 7 and card.summary == "step 8"
    assert card.updated_at == card.public()["updated_at"] and card.updated_at is not None


def test_board_counts_the_loudspeaker_plays_of_an_alarm_once_each() -> None:
    board = Board()
    board.handle(*alarm(A, 1, "raised"), retained=False, now=100)
    assert board.handle(*playback(A, 2, "al-1", 1), retained=False, now=101) == [("alarm", alarm_key(A, "al-1"))]
    board.handle(*playback(A, 3, "al-1", 2), retained=False, now=102)
    assert board.handle(*playback(A, 3, "al-1", 2), retained=False, now=103) == []  # redelivered: not counted again
    assert board.handle(*playback(A, 4, "al-1", 0, "silenced"), retained=False, now=104) == []  # nothing was heard
    assert board.handle(*playback(A, 5, "someone-else", 1), retained=False, now=105) == []  # another alarm's, unknown here
    assert not [c for c in board.handle(*playback(B, 6, "al-1", 1), retained=False, now=106) if c[0] == "alarm"]  # B cannot add to A's
    card = board.alarms[alarm_key(A, "al-1")]
    assert card.plays == 3 and card.played_at is not None and "_play_seqs" not in card.public()


def test_board_seeded_from_the_database_knows_the_newest_snapshot_updates_and_plays() -> None:
    body = json.dumps({"details": {"count": 2}, "snapshot": snap("al-1", 4)})
    row = ("al-1", A, "person_in_water_zone", "pond-cam/water", "safety", "danger", "updated", "s", "2026-11-21T08:00:00+00:00",
           None, None, None, 9, "01" * 32, body, 12, 1763712190.0, 3, 1763712200.0)
    board = Board()
    assert board.seed_alarms([row]) == [("alarm", alarm_key(A, "al-1"))]
    card = board.alarms[alarm_key(A, "al-1")]
    assert (card.snapshot_count, card.snapshot_sha(4), card.snapshot_sha(1)) == (4, "04" * 32, "01" * 32)
    assert (card.updates, card.plays, card.details) == (12, 3, {"count": 2})


def test_board_catches_up_on_plays_and_updates_counted_while_it_was_away() -> None:
    """The server lost the broker for a while: the ingest counted more updates and plays than the board saw live.
    A reseed with the same last step still brings the counts up (never down)."""
    board = Board()
    board.handle(*alarm(A, 9, "updated"), retained=False, now=100)
    card = board.alarms[alarm_key(A, "al-1")]
    base = ("al-1", A, "person_in_water_zone", "pond-cam/water", "safety", "danger", "updated", "s", "2026-11-21T08:00:00+00:00",
            None, None, None, 9, None, None)
    rev = card.rev
    assert board.seed_alarms([(*base, 7, 1763712190.0, 4, 1763712200.0)]) == [("alarm", alarm_key(A, "al-1"))]
    assert (card.updates, card.plays, card.played_at) == (7, 4, 1763712200.0) and card.rev > rev
    assert board.seed_alarms([(*base, 3, 1763712000.0, 1, 1763712000.0)]) == []  # fewer: the board's own count stays
    assert (card.updates, card.plays) == (7, 4)


def test_board_marks_a_case_overdue_when_escalated_or_past_its_deadline() -> None:
    from county.web.board_extras import marks

    now = 10_000.0
    rows = [(A, "e1", 1, "dispatched", 0, False, now - 1, now + 3600),  # not accepted in time, not swept yet
            (A, "e2", 2, "accepted", 1, True, now - 900, now + 3600),  # escalated earlier
            (A, "e3", 3, "dispatched", 0, False, now + 60, now + 3600),  # still has time
            (A, "e4", 4, "closed", 1, True, now - 900, now - 60)]  # closed: nothing is late any more
    assert [(m.event_id, m.overdue) for m in marks(rows, now)] == [("e1", True), ("e2", True), ("e3", False), ("e4", False)]
    assert marks(rows, now)[0].public("zh")["case_state_label"] == "已派件" and marks(rows, now)[1].public("en")["accepted"] is True


def test_board_reads_the_cases_of_its_alarms_once_per_interval_and_per_scope(tmp_path) -> None:  # noqa: ANN001
    from county.cases.db import LoopDb
    from county.cases.rules import CaseState
    from county.cases.store import CaseStore
    from county.store import Store
    from county.web.board_extras import CASES_CACHE_S, BoardCases

    url = f"sqlite:///{tmp_path / 'county.db'}"
    Store(url).close()  # the ingest's tables first, as a county has them
    db = LoopDb(url)
    try:
        cases = CaseStore(db)
        now = 1_000_000.0
        first = cases.insert(A, "person_in_water_zone", "danger", "s", "system", now, CaseState("dispatched", 0, now + 600, now + 3600), [])
        cases.link(A, "al-1", first)
        board = BoardCases(db)
        everyone = board.view(lambda s: True, "zh", now)
        assert everyone == {alarm_key(A, "al-1"): {"case_id": first, "case_state": "dispatched", "case_state_label": "已派件", "case_level": 0,
                                                   "overdue": False, "accepted": False}}
        second = cases.insert(B, "fire", "critical", "s", "system", now, CaseState("accepted", 0, now - 10, now + 5), [])
        cases.link(B, "f-1", second)
        assert set(board.view(lambda s: True, "zh", now + 1)) == {alarm_key(A, "al-1")}  # cached: one query serves everyone a while
        later = board.view(lambda s: True, "en", now + CASES_CACHE_S + 6)
        assert later[alarm_key(B, "f-1")]["overdue"] is True and later[alarm_key(B, "f-1")]["case_state_label"] == "accepted"
        assert set(board.view(lambda s: s.startswith("410421/xiaoqi/"), "zh", now + CASES_CACHE_S + 6)) == {alarm_key(A, "al-1")}
    finally:
        db.close()


def test_board_started_from_the_database_counts_updates_and_plays_and_knows_the_newest_snapshot(db_url: str) -> None:
    """What the ingest stored (SQLite and PostgreSQL) is what a restarted server's board shows."""
    import time as _time
    from datetime import datetime, timezone

    from county.store import Incoming, Store
    from county.web.data import alarm_rows
    from wire.messages import Alarm, Playback, SnapshotRef, Topics, to_payload

    now = _time.time()
    at = datetime.fromtimestamp(now - 60, timezone.utc)
    topics = Topics(*A.split("/"))

    def env(seq: int) -> dict[str, object]:
        return {"station": A, "seq": seq, "event_id": f"e{seq}", "ts": at, "clock_synced": True, "boot_id": "b"}

    def step(seq: int, state: str, n: int) -> Incoming:
        snap = SnapshotRef(topic=topics.snapshot("al-1" if n == 1 else f"al-1-{n}"), bytes=10, sha256=f"{n:02d}" * 32)
        msg = Alarm(**{**env(seq), "event_id": "al-1"}, alarm="person_in_water_zone", state=state, severity="danger", category="safety",
                    source="cam/pond", summary=state, details={"count": seq}, raised_at=at, snapshot=snap)
        return Incoming(topics.event("person_in_water_zone"), msg, to_payload(msg).decode(), now - 60)

    def play(seq: int, plays: int, ref: str = "al-1") -> Incoming:
        msg = Playback(**env(seq), key="person_in_water_zone", ref=ref, what="请离开", priority="warning", outcome="completed", plays=plays,
                       started=at, ended=at)
        return Incoming(topics.event("loudspeaker"), msg, to_payload(msg).decode(), now - 60)

    store = Store(db_url)
    try:
        store.write([step(1, "raised", 1), step(2, "updated", 1), step(3, "updated", 2), step(4, "updated", 2), play(5, 2), play(6, 1),
                     play(7, 1, ref="other")])
        board = Board()
        board.seed_alarms(alarm_rows(store, now))
    finally:
        store.close()
    card = board.alarms[alarm_key(A, "al-1")]
    assert (card.updates, card.plays, card.snapshot_count, card.snapshot_sha(2), card.details) == (3, 3, 2, "02" * 32, {"count": 4})
    assert card.updated_at == card.played_at == at.timestamp()
