"""The duty officer's case pages in a real browser: opening a case for an alarm that opened none, merging a station's
alarms into it, the list's order and filters when a case runs late, English on request, and the bounded upload."""

from __future__ import annotations

import time

import httpx2 as httpx

from county.accounts import Operator
from tests.stations import wait_for
from tests.web.loop.conftest import DUTY, LIUZHUANG, LoopCounty, desk

BRIDGE = "410421/xiaoqi/zhuwa/bridge-03"
WANG = Operator("wang", "410421/xiaoqi/zhuwa", "网格员 王芳")
WARNING_TWICE = [{"at_s": 0, "level_m": 0.5}, {"at_s": 1.0, "level_m": 1.5}, {"at_s": 2.0, "level_m": 0.5}, {"at_s": 3.0, "level_m": 1.5},
                 {"at_s": 4.0, "level_m": 0.5}]


def test_case_page_opens_a_case_for_a_warning_and_merges_the_next_one(loop_county: LoopCounty, browser) -> None:  # noqa: ANN001
    c = loop_county
    c.start_station(BRIDGE, WARNING_TWICE)
    assert wait_for(lambda: len(c.alarms(BRIDGE)) >= 2, timeout=40), c.alarms(BRIDGE)
    (first, sev1), (second, sev2) = c.alarms(BRIDGE)[:2]
    assert (sev1, sev2) == ("warning", "warning")
    assert not [x for x in c.cases.list(DUTY) if x.station == BRIDGE]  # a warning opens no case by itself
    page = desk(browser, c, "duty")
    try:
        page.goto(f"/cases/open?station={BRIDGE}&event_id={first}")
        assert "警告" in page.text_content("#case-open")
        page.fill('#open-form input[name="note"]', "巡查发现水位偏高,请网格员到场查看")
        page.click("#open-case")
        page.wait_for_selector('#case[data-state="dispatched"]')
        case_id = int(page.get_attribute("#case", "data-case-id"))
        assert "王芳" in page.text_content(".case-facts")  # dispatched to the village's grid worker
        page.fill('#merge-form input[name="event_ids"]', second)
        page.click("#merge")
        page.wait_for_selector(f'.case-alarm[data-event-id="{second}"]')
        assert page.query_selector(f'.case-alarm[data-event-id="{first}"]') is not None
        # opening the same alarm again is refused with the reason, not a second case
        page.goto(f"/cases/open?station={BRIDGE}&event_id={first}")
        assert f"#{case_id}" in page.text_content("#case-open")
        # a step the rule does not allow is refused on the page, in words
        csrf = page.evaluate("() => document.querySelector('input[name=csrf]').value")
        answer = page.request.post(f"/cases/{case_id}/act", form={"csrf": csrf, "action": "verify"})
        assert answer.status == 409 and "不能验收" in answer.text()
        # the grid worker feeds back (through the library, as the phone page does); the dispatcher sends it back (退回)
        for action, note in (("accept", ""), ("arrive", ""), ("handle", "已查看,无异常")):
            c.cases.step(WANG, case_id, action, time.time(), note)
        page.goto(f"/cases/{case_id}")
        page.fill('#send-back-form input[name="note"]', "照片不清楚,请补拍")
        page.click("#send-back")
        page.wait_for_selector('#case[data-state="dispatched"]')
        assert "照片不清楚,请补拍" in page.text_content('#case-steps li[data-action="send_back"]')
    finally:
        page.context.close()
    case = c.case(case_id)
    assert (case.opened_by, set(case.alarms)) == ("duty", {first, second})
    actions = [(e.operator, e.action) for e in c.cases.accounts.audit(BRIDGE, 20) if e.action.startswith("case_")]
    assert {("duty", "case_open"), ("duty", "case_merge"), ("duty", "case_send_back")} <= set(actions)


def test_case_page_shows_late_cases_first_and_loud_and_filters_them(loop_county: LoopCounty, browser) -> None:  # noqa: ANN001
    c = loop_county
    if LIUZHUANG not in c.stations:
        c.start_station(LIUZHUANG)
    late = c.case_of(LIUZHUANG)
    assert late.state == "dispatched"
    c.cases.tick(time.time() + 3 * 3600)  # hours later nobody has accepted: escalated, marked overdue (督办)
    assert c.case(late.id).overdue
    page = desk(browser, c, "duty")
    try:
        page.goto("/cases")
        first_row = page.query_selector("tr.case")
        assert first_row.get_attribute("data-case-id") == str(late.id) and first_row.get_attribute("data-overdue") == "1"
        assert "超时" in first_row.text_content()
        page.goto("/cases?overdue=1")
        assert [r.get_attribute("data-overdue") for r in page.query_selector_all("tr.case")] and \
            all(r.get_attribute("data-overdue") == "1" for r in page.query_selector_all("tr.case"))
        page.select_option('select[name="town"]', "410421/xiaoqi")
        page.click("#case-filters button")
        page.wait_for_url("**town=410421%2Fxiaoqi**")
        assert page.query_selector(f'tr.case[data-case-id="{late.id}"]') is None
        # English on request, kept for the session
        page.goto("/cases?lang=en")
        assert "Cases" in page.text_content("#cases h2")
        page.goto(f"/cases/{late.id}")
        assert "dispatched" in page.text_content("#case-state") and "overdue" in page.text_content("#case-state")
        page.goto("/cases?lang=zh")
        assert "案件" in page.text_content("#cases h2")
    finally:
        page.context.close()


def test_case_page_upload_route_alone_takes_photos_sized_bodies(loop_county: LoopCounty, browser) -> None:  # noqa: ANN001
    c = loop_county
    if LIUZHUANG not in c.stations:
        c.start_station(LIUZHUANG)
    case = c.case_of(LIUZHUANG)
    with httpx.Client(base_url=c.base_url) as client:
        big = b"x" * (17 * 1024 * 1024)
        assert client.post(f"/m/cases/{case.id}/handle", content=big, headers={"content-type": "multipart/form-data; boundary=x"}).status_code == 413
        assert client.post(f"/cases/{case.id}/act", content=b"x" * (100 * 1024),
                           headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413


def test_case_page_list_shows_a_new_case_without_a_reload_and_only_in_scope(loop_county: LoopCounty, browser) -> None:  # noqa: ANN001
    """A dispatcher keeps /cases open: a real station's danger alarm opens a case and the list shows it by itself
    (the page polls /cases/stamp and swaps its table in); a township account's stamp does not move for another township."""
    c = loop_county
    ferry = "410421/dongfeng/liuzhuang/ferry-09"
    page = desk(browser, c, "duty")
    other = desk(browser, c, "xiaoqi")
    try:
        page.goto("/cases")
        assert page.is_hidden("#cases-live")
        other_before = other.request.get("/cases/stamp").json()["stamp"]
        c.start_station(ferry)
        case = c.case_of(ferry)
        page.evaluate("() => window.__casesPoll()")  # the 2 s timer's tick, called at once
        page.wait_for_selector(f'tr.case[data-case-id="{case.id}"]', timeout=10_000)
        assert page.is_visible("#cases-live")
        page.wait_for_selector("#danger-banner:not([hidden])", timeout=10_000)  # the new danger is announced on this page too
        assert page.url.endswith("/cases")  # swapped in place, not reloaded elsewhere
        assert other.request.get("/cases/stamp").json()["stamp"] == other_before  # dongfeng's case is not xiaoqi's business
        assert other.request.get("/cases/stamp").headers["cache-control"] == "no-store"
        anonymous = browser.new_context(base_url=c.base_url)
        try:
            assert anonymous.request.get("/cases/stamp").status == 401
        finally:
            anonymous.close()
    finally:
        page.context.close()
        other.context.close()
