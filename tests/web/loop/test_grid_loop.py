"""The closed loop in a real browser: a real station's danger alarm opens a case, the webhook is told, the grid worker
takes it on a phone (签收, 到场, 处置反馈 with a photo), the duty officer verifies (验收) and closes (结案) on the case page.
And what must not happen: another township's case seen, a file that is not an image stored, a change without the token."""

from __future__ import annotations

import json
import time

import httpx2 as httpx

from tests.stations import wait_for
from tests.web.loop.conftest import DUTY, LIUZHUANG, PASSWORD, PHONE, ZHUWA, LoopCounty, desk, phone

PHOTO = "/work/shared/media/fire/fire-basket.jpg"  # a real JPEG (1160x770), as a phone camera would send one
HOSTILE_NOTE = "<script>window.__pwned = 1</script>水位已回落,已在岸边设置警示带"


def test_grid_worker_takes_a_real_alarms_case_on_the_phone_and_the_dispatcher_closes_it(loop_county: LoopCounty, browser) -> None:  # noqa: ANN001
    c = loop_county
    t0 = time.monotonic()
    c.start_station(ZHUWA)
    case = c.case_of(ZHUWA)
    opened_s = time.monotonic() - t0
    assert (case.kind, case.severity, case.state) == ("water_level", "danger", "dispatched")
    assert [a.account for a in case.assignees] == ["wang"]
    # the notification reached the county's webhook receiver
    assert wait_for(lambda: any(json.loads(r.body)["case"]["id"] == case.id for r in c.webhook.got()), timeout=15)
    # the dispatcher sees it on /cases, open and loud
    duty = desk(browser, c, "duty")
    try:
        duty.goto("/cases")
        row = f'tr.case[data-case-id="{case.id}"]'
        duty.wait_for_selector(row)
        assert "危险" in duty.text_content(f"{row} .sev") and "已派件" in duty.text_content(f"{row} .state")
        assert "水位" in duty.text_content(row)
        # dates in the county's zone: the opening time is shown with its date
        assert time.strftime("%Y-", time.gmtime()) in duty.text_content(row)
        # the grid worker, on a phone
        worker = phone(browser, c, "wang")
        try:
            card = f'#my-cases li[data-case-id="{case.id}"]'
            worker.wait_for_selector(card)
            list_bytes = len(worker.content().encode())
            assert list_bytes < 10_000 and worker.query_selector("script") is None  # small, nothing to download but the page
            worker.tap(f"{card} a")
            worker.wait_for_url(f"{c.base_url}/m/cases/{case.id}")
            case_bytes = len(worker.content().encode())
            assert case_bytes < 10_000
            worker.tap("#accept")
            worker.wait_for_selector('#case[data-state="accepted"]')
            assert "已签收" in worker.text_content("#case-state")
            worker.tap("#arrive")
            worker.wait_for_selector('#case[data-state="on_site"]')
            assert worker.get_attribute("#photos", "capture") == "environment" and worker.get_attribute("#photos", "accept") == "image/*"
            worker.fill("#note", HOSTILE_NOTE)
            worker.set_input_files("#photos", PHOTO)
            worker.tap("#handle")
            worker.wait_for_selector('#case[data-state="handled"]')
            worker.wait_for_function("() => { const i = document.querySelector('img.photo'); return i && i.complete && i.naturalWidth > 0 }")
            assert HOSTILE_NOTE in worker.text_content('#case-steps li[data-action="handle"] .note')  # shown as text
            assert worker.evaluate("() => window.__pwned") is None and worker.query_selector("#case-steps script") is None
            # the stored photo is a re-encoded JPEG, served with its type and nosniff
            src = worker.get_attribute("img.photo", "src")
            served = worker.request.get(src)
            assert served.status == 200 and served.headers["content-type"] == "image/jpeg"
            assert served.headers["x-content-type-options"] == "nosniff" and served.body()[:2] == b"\xff\xd8"
            assert served.body() != open(PHOTO, "rb").read()  # never the phone's bytes as they came
            width = worker.evaluate("() => document.querySelector('img.photo').getBoundingClientRect().width")
            assert width <= 390, "the photo fits the phone's screen"
        finally:
            worker.context.close()
        # the dispatcher verifies and closes
        duty.goto(f"/cases/{case.id}")
        duty.wait_for_function("() => { const i = document.querySelector('img.case-photo'); return i && i.complete && i.naturalWidth > 0 }")
        assert HOSTILE_NOTE in duty.text_content('#case-steps li[data-action="handle"] .note')
        assert duty.evaluate("() => window.__pwned") is None
        [event_id] = c.case(case.id).alarms
        assert duty.query_selector(f'.case-alarm[data-event-id="{event_id}"] li') is not None  # the station's own lifecycle beside it
        assert "水位" in duty.text_content(f'.case-alarm[data-event-id="{event_id}"] li')  # worded in Chinese from its fields
        duty.click("#verify")
        duty.wait_for_selector('#case[data-state="verified"]')
        duty.select_option("#close-result", "resolved")
        duty.click("#close")
        duty.wait_for_selector('#case[data-state="closed"]')
        assert "已解决" in duty.text_content("#case-result")
        assert duty.query_selector("#close") is None  # nothing left to do
    finally:
        duty.context.close()
    closed = c.case(case.id)
    assert (closed.state, closed.result, closed.handled_by) == ("closed", "resolved", "wang")
    audit = [(e.operator, e.action) for e in reversed(c.cases.accounts.audit("410421/xiaoqi/zhuwa", 100)) if e.action.startswith("case_")]
    assert audit == [("system", "case_open"), ("wang", "case_accept"), ("wang", "case_arrive"), ("wang", "case_handle"),
                     ("duty", "case_verify"), ("duty", "case_close")]
    print(f"station started -> case opened: {opened_s:.1f} s; phone pages: my cases {list_bytes} B, a case {case_bytes} B")


def test_grid_township_account_never_sees_another_townships_case(loop_county: LoopCounty, browser) -> None:  # noqa: ANN001
    c = loop_county
    if LIUZHUANG not in c.stations:
        c.start_station(LIUZHUANG)
    theirs = c.case_of(LIUZHUANG)
    page = desk(browser, c, "xiaoqi")
    try:
        for url in (f"/cases/{theirs.id}", f"/m/cases/{theirs.id}"):
            assert page.goto(url).status == 404, url
        page.goto("/cases?state=all")
        assert page.query_selector(f'tr.case[data-case-id="{theirs.id}"]') is None
        page.goto("/m/?all=1")
        assert page.query_selector(f'li[data-case-id="{theirs.id}"]') is None
        # a step on it is refused as "not found" too, and changes nothing
        csrf = page.evaluate("() => document.querySelector('input[name=csrf]').value")
        answer = page.request.post(f"/m/cases/{theirs.id}/accept", form={"csrf": csrf})
        assert answer.status == 404 and c.case(theirs.id).state == "dispatched"
    finally:
        page.context.close()
    # and the other way: dongfeng's grid worker neither opens zhuwa's case nor gets its photos
    other = phone(browser, c, "zhao")
    try:
        assert other.query_selector(f'#my-cases li[data-case-id="{theirs.id}"]') is not None  # their own case is there
        if ZHUWA in c.stations:  # the first test's case, with its photo
            mine = c.case_of(ZHUWA)
            assert other.goto(f"/m/cases/{mine.id}").status == 404
            assert other.query_selector(f'#my-cases li[data-case-id="{mine.id}"]') is None
            _, steps, _ = c.cases.show(DUTY, mine.id)
            photos = [p for s in steps for p in s.photos]
            assert photos
            for photo_id in photos:
                assert other.request.get(f"/cases/photos/{photo_id}").status == 404
    finally:
        other.context.close()


def test_grid_a_file_that_is_not_an_image_is_refused_with_a_clear_message(loop_county: LoopCounty, browser, tmp_path) -> None:  # noqa: ANN001
    c = loop_county
    if LIUZHUANG not in c.stations:
        c.start_station(LIUZHUANG)
    case = c.case_of(LIUZHUANG)
    worker = phone(browser, c, "zhao")
    try:
        worker.goto(f"/m/cases/{case.id}")
        if case.state == "dispatched":
            worker.tap("#accept")
            worker.wait_for_selector('#case[data-state="accepted"]')
        worker.tap("#arrive")
        worker.wait_for_selector('#case[data-state="on_site"]')
        fake = tmp_path / "现场.jpg"
        fake.write_text("<html><script>alert(1)</script></html>", encoding="utf-8")  # named like a photo, is not one
        worker.fill("#note", "已到场查看")
        worker.set_input_files("#photos", str(fake))
        with worker.expect_navigation() as nav:
            worker.tap("#handle")
        assert nav.value.status == 400
        assert "不是 JPEG 或 PNG 照片" in worker.text_content("#case-error")
        assert c.case(case.id).state == "on_site"  # nothing happened: no step, no photo
        _, steps, _ = c.cases.show(DUTY, case.id)
        assert [s.action for s in steps] == ["open", "accept", "arrive"]
        # five photos where four are allowed: refused as clearly
        worker.goto(f"/m/cases/{case.id}")
        worker.fill("#note", "已到场查看")
        worker.set_input_files("#photos", [PHOTO] * 5)
        with worker.expect_navigation() as nav:
            worker.tap("#handle")
        assert nav.value.status == 400 and "最多上传 4 张" in worker.text_content("#case-error")
        assert c.case(case.id).state == "on_site"
    finally:
        worker.context.close()


def test_case_page_changes_without_the_csrf_token_are_refused(loop_county: LoopCounty, browser) -> None:  # noqa: ANN001
    c = loop_county
    if LIUZHUANG not in c.stations:
        c.start_station(LIUZHUANG)
    case = c.case_of(LIUZHUANG)
    before = c.case(case.id)
    duty = desk(browser, c, "duty")
    try:
        for url, form in ((f"/cases/{case.id}/act", {"action": "close", "result": "false_alarm"}),
                          (f"/cases/{case.id}/act", {"action": "close", "result": "false_alarm", "csrf": "forged"}),
                          (f"/m/cases/{case.id}/accept", {}),
                          (f"/cases/{case.id}/merge", {"event_ids": "x"})):
            answer = duty.request.post(url, form=form)
            assert answer.status == 403, (url, form)
            assert "页面已过期" in answer.text()
        answer = duty.request.post(f"/m/cases/{case.id}/handle", multipart={"note": "x", "photos": {"name": "a.jpg", "mimeType": "image/jpeg",
                                                                                                    "buffer": open(PHOTO, "rb").read()}})
        assert answer.status == 403
        # and from outside the browser (no session at all): to the login page, nothing done
        outside = httpx.post(f"{c.base_url}/cases/{case.id}/act", data={"action": "close", "result": "false_alarm"}, follow_redirects=False)
        assert outside.status_code == 303 and outside.headers["location"] == "/login"
    finally:
        duty.context.close()
    after = c.case(case.id)
    assert (after.state, after.result, after.updated_at) == (before.state, before.result, before.updated_at)


def test_grid_worker_logging_in_on_the_desk_login_lands_on_my_cases(loop_county: LoopCounty, browser) -> None:  # noqa: ANN001
    """A grid worker who opens the county's address and logs in on /login gets "my cases", not the wall board;
    a duty officer still gets the board."""
    c = loop_county
    context = browser.new_context(base_url=c.base_url, locale="zh-CN", timezone_id="Asia/Shanghai", **PHONE)
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("#username", "wang")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(c.base_url + "/m/")
    finally:
        context.close()
    duty = desk(browser, c, "duty")  # waits for the board's URL
    duty.context.close()
