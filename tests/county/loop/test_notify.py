"""Notifications: a durable queue and a sender thread; a receiver that is down gets it once it is up, every attempt logged;
a case's trouble never stops the ingest."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

from county.cases.config import load_config
from county.cases.db import LoopDb
from county.ingest import Ingest
from county.notify.queue import NotifyQueue
from county.notify.sender import Sender
from county.notify.webhook import SIGNATURE, TIMESTAMP, verify
from county.store import Store
from gateway.localbroker import LocalBroker
from tests.county.capture import Capture
from tests.county.loop.alarms import store_alarm
from tests.county.loop.conftest import SECRET, WebhookReceiver, make_cases, write_config
from tests.stations import wait_for
from wire.messages import Alarm, envelope_fields, to_payload

STATION = "410421/xiaoqi/zhuwa/test-01"


def test_notify_a_receiver_that_is_down_gets_it_after_retries_and_every_attempt_is_logged(db_url: str, tmp_path: Path,
                                                                                          webhook: WebhookReceiver) -> None:
    config = load_config(write_config(tmp_path, webhook))
    cases = make_cases(db_url, config)
    webhook.healthy = False  # the SMS gateway is down for maintenance
    store_alarm(db_url, STATION, "ev-1", 1, at=time.time())
    [case] = cases.sweep(time.time())
    sender = Sender(db_url, config, poll_s=0.05, rng=random.Random(7)).start()
    try:
        assert wait_for(lambda: webhook.refused >= 3, timeout=20)
        assert webhook.got() == []
        webhook.healthy = True
        assert wait_for(lambda: webhook.got(), timeout=20)
        time.sleep(0.3)
        assert len(webhook.got()) == 1  # delivered once, not once per failed attempt
        hook = webhook.got()[0]
        assert verify(SECRET, hook.headers[TIMESTAMP.lower()], hook.body, hook.headers[SIGNATURE.lower()])
        assert json.loads(hook.body)["case"]["id"] == case.id
        [(nid, channel, _, state, attempts, last_error)] = cases.queue.of_case(case.id)
        assert (channel, state) == ("webhook", "sent") and attempts >= 4 and "503" in last_error
        log = cases.queue.log(nid)
        assert [d.ok for d in log] == [False] * (len(log) - 1) + [True]
        assert "HTTP 503" in log[0].detail and log[-1].detail == "HTTP 200"
        gaps = [b.at - a.at for a, b in zip(log, log[1:])]
        assert all(g >= 0.04 for g in gaps)  # backed off (0.1 s doubling, jittered to at least half), not hammered
    finally:
        sender.stop()
        cases.db.close()


def test_notify_gives_up_after_the_configured_attempts_and_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'county.db'}"
    dead = WebhookReceiver()
    dead.stop()  # nothing listens there any more: connection refused
    config = load_config(write_config(tmp_path, dead, retry={"first_s": 0.01, "max_s": 0.02, "attempts": 3}))
    db = LoopDb(url)
    queue = NotifyQueue(db)
    nid = queue.enqueue(None, "webhook", dead.url, {"event": "test"}, time.time())
    sender = Sender(url, config, poll_s=0.02).start()
    try:
        assert wait_for(lambda: queue.counts().get("failed") == 1, timeout=20), queue.counts()
        log = queue.log(nid)
        assert len(log) == 3 and not any(d.ok for d in log) and "not delivered" in log[-1].detail
        assert sender.stats.given_up == 1
    finally:
        sender.stop()
        db.close()


def test_notify_two_senders_on_one_database_deliver_each_notification_once(tmp_path: Path, webhook: WebhookReceiver) -> None:
    url = f"sqlite:///{tmp_path / 'county.db'}"
    config = load_config(write_config(tmp_path, webhook))
    db = LoopDb(url)
    queue = NotifyQueue(db)
    for i in range(30):
        queue.enqueue(None, "webhook", webhook.url, {"event": "test", "n": i}, time.time())
    senders = [Sender(url, config, poll_s=0.02).start() for _ in range(2)]
    try:
        assert wait_for(lambda: queue.counts().get("sent") == 30, timeout=30), queue.counts()
        assert sorted(json.loads(r.body)["n"] for r in webhook.got()) == list(range(30))
    finally:
        for s in senders:
            s.stop()
        db.close()


def test_case_trouble_never_stops_the_ingest(broker: LocalBroker, tmp_path: Path) -> None:
    """The hook raises on every batch (a case bug, a database away): the ingest stores and acknowledges on, and counts it."""
    url = f"sqlite:///{tmp_path / 'county.db'}"
    store = Store(url)

    def broken(items: object) -> None:
        raise RuntimeError("case engine exploded")

    ingest = Ingest(store, "127.0.0.1", broker.port, client_id="ingest-hook", on_stored=broken).start()
    capture = Capture(broker.port, "none/#")
    try:
        assert ingest.connected.wait(10)
        time.sleep(0.3)
        for seq in range(3):
            alarm = Alarm(**envelope_fields(STATION, seq, time.time(), True, "b", f"ev-{seq}"), alarm="water_level", state="raised",
                          severity="danger", category="safety", source="gauge-1", raised_at=datetime.now(UTC))
            capture.publish(f"vs/v1/{STATION}/event/water_level", to_payload(alarm))
        assert wait_for(lambda: ingest.stats.stored == 3, timeout=15), ingest.stats
        assert ingest.stats.hook_errors >= 1 and ingest.stats.acked == 3
        assert store.query("SELECT COUNT(*) FROM alarms") == [(3,)]
    finally:
        capture.stop()
        ingest.stop()
        store.close()


def test_notify_a_wecom_robot_gets_a_text_that_mentions_the_responsible_phones(tmp_path: Path, webhook: WebhookReceiver) -> None:
    url = f"sqlite:///{tmp_path / 'county.db'}"
    config = load_config(write_config(tmp_path, webhook, hook_format="wecom"))
    cases = make_cases(url, config)
    store_alarm(url, STATION, "ev-1", 1, at=time.time())
    cases.sweep(time.time())
    webhook.answer = b'{"errcode":0,"errmsg":"ok"}'
    sender = Sender(url, config, poll_s=0.05).start()
    try:
        assert wait_for(lambda: webhook.got(), timeout=15)
        doc = json.loads(webhook.got()[0].body)
        assert doc["msgtype"] == "text" and doc["text"]["mentioned_mobile_list"] == ["13800000001", "13800000002"]
        assert "水位危险" in doc["text"]["content"] and "王网格" in doc["text"]["content"]
    finally:
        sender.stop()
        cases.db.close()


def test_notify_a_dingtalk_robot_request_is_signed_and_a_robot_refusal_is_retried(tmp_path: Path, webhook: WebhookReceiver) -> None:
    import base64
    import hashlib
    import hmac
    from urllib.parse import parse_qs, urlsplit

    url = f"sqlite:///{tmp_path / 'county.db'}"
    config = load_config(write_config(tmp_path, webhook, hook_format="dingtalk"))
    db = LoopDb(url)
    queue = NotifyQueue(db)
    nid = queue.enqueue(None, "webhook", webhook.url, {"text": "测试", "recipients": [{"phone": "13800000001"}]}, time.time())
    webhook.answer = b'{"errcode":310000,"errmsg":"sign not match"}'
    sender = Sender(url, config, poll_s=0.05).start()
    try:
        assert wait_for(lambda: len(queue.log(nid)) >= 2, timeout=15)
        assert "robot refused: 310000" in queue.log(nid)[0].detail
        webhook.answer = b'{"errcode":0,"errmsg":"ok"}'
        assert wait_for(lambda: queue.counts().get("sent") == 1, timeout=15)
        last = webhook.got()[-1]
        query = {k: v[0] for k, v in parse_qs(urlsplit(last.path).query).items()}
        expected = base64.b64encode(hmac.new(SECRET, f"{query['timestamp']}\n".encode() + SECRET, hashlib.sha256).digest()).decode()
        assert query["sign"] == expected
        doc = json.loads(last.body)
        assert doc["at"]["atMobiles"] == ["13800000001"] and doc["text"]["content"].endswith("@13800000001")
    finally:
        sender.stop()
        db.close()


def test_notify_a_json_webhook_without_a_secret_is_a_clear_config_error(tmp_path: Path) -> None:
    import pytest

    from county.i18n import Refused

    bad = tmp_path / "loop.yaml"
    bad.write_text("webhook: {url: 'https://gw.example/hook'}\n", encoding="utf-8")
    with pytest.raises(Refused, match="secret_file"):
        load_config(bad)


def test_notify_email_over_starttls_with_a_login(tmp_path: Path) -> None:
    """A county mail server that insists on STARTTLS before AUTH: the mail goes through encrypted and logged in."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from county.cases.config import LoopConfig, Smtp
    from gateway.localbroker import free_port
    from tests.county.loop.conftest import MailHandler
    from tests.county.loop.tls import make_certs

    ca, cert, key = make_certs(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server, session, envelope, mechanism, data) -> AuthResult:
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"mail-password")

    handler = MailHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), tls_context=server_tls, require_starttls=True,
                            authenticator=authenticate, auth_require_tls=True)
    controller.start()
    password = tmp_path / "smtp.pw"
    password.write_text("mail-password\n")
    url = f"sqlite:///{tmp_path / 'county.db'}"
    smtp = Smtp(host="127.0.0.1", port=controller.port, starttls=True, ca_file=ca, sender="alarms@county.example",
                username="alarms", password_file=password, timeout_s=5)
    db = LoopDb(url)
    queue = NotifyQueue(db)
    nid = queue.enqueue(None, "email", "wang@village.example", {"subject": "【测试】新案件 #1", "body": "王网格:请签收。"}, time.time())
    sender = Sender(url, LoopConfig(smtp=smtp), poll_s=0.05).start()
    try:
        assert wait_for(lambda: handler.messages, timeout=15), queue.log(nid)
        [mail] = handler.messages
        assert mail["To"] == "wang@village.example" and "新案件 #1" in str(mail["Subject"])
        assert logins == [(b"alarms", b"mail-password")]
        assert queue.log(nid)[-1].ok
    finally:
        sender.stop()
        controller.stop()
        db.close()


def test_case_loop_runs_inside_the_ingest_process_when_given_its_config(broker: LocalBroker, tmp_path: Path,
                                                                        webhook: WebhookReceiver) -> None:
    """`county.ingest.run(..., cases=config)`: what `countyctl ingest --cases FILE` runs; the loop's line joins the ingest's."""
    import threading

    from county.ingest import run

    url = f"sqlite:///{tmp_path / 'county.db'}"
    config = load_config(write_config(tmp_path, webhook))
    make_cases(url, config).db.close()
    lines: list[str] = []

    def publish_later() -> None:
        time.sleep(1.5)
        capture = Capture(broker.port, "none/#")
        alarm = Alarm(**envelope_fields(STATION, 1, time.time(), True, "b", "ev-1"), alarm="water_level", state="raised",
                      severity="danger", category="safety", source="gauge-1", raised_at=datetime.now(UTC))
        capture.publish(f"vs/v1/{STATION}/event/water_level", to_payload(alarm))
        capture.stop()

    threading.Thread(target=publish_later, daemon=True).start()
    stats = run(url, "127.0.0.1", broker.port, "vs/v1", "ingest-run", "ingest", 60, 5.0, 1.0, lines.append, cases=config)
    assert stats.stored == 1
    assert wait_for(lambda: webhook.got(), timeout=5)
    assert any(line.startswith("cases: opened 1") for line in lines), lines
