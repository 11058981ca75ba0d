"""The closed loop's test parts: a real HTTP webhook receiver and a real SMTP server (aiosmtpd), both on free ports.

Nothing here is mocked: the sender talks HTTP and SMTP to these servers over loopback sockets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller

from county.accounts import Accounts
from county.cases.config import LoopConfig, load_config
from county.cases.db import LoopDb
from county.cases.service import Cases
from county.people import People, check_person
from gateway.localbroker import free_port

SECRET = b"test-webhook-secret-0123456789"


@dataclass
class Received:
    headers: dict[str, str]  # names in lower case (HTTP header names are case-insensitive)
    body: bytes
    path: str = "/"


class WebhookReceiver:
    """An HTTP server recording POSTs; `down()` answers 503 (as a gateway in maintenance), `up()` 200 again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Received] = []
        self.refused = 0
        self.healthy = True
        self.answer = b""  # the body of a 200 (a robot answers {"errcode": ...})
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    ok = receiver.healthy
                    answer = receiver.answer if ok else b""
                    if ok:
                        receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body, self.path))
                    else:
                        receiver.refused += 1
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def got(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class MailHandler:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, MailHandler]]:
    handler = MailHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def write_config(tmp: Path, webhook: WebhookReceiver | None = None, smtp_port: int | None = None, hook_format: str = "json",
                 **extra: Any) -> Path:
    """A loop file as a county would write it (YAML), with the webhook secret in its own file."""
    doc: dict[str, Any] = {"tick_s": 0.2, "retry": {"first_s": 0.1, "max_s": 0.4, "attempts": 30}, **extra}
    if webhook is not None:
        secret = tmp / "webhook.secret"
        secret.write_bytes(SECRET)
        doc["webhook"] = {"url": webhook.url, "secret_file": str(secret), "timeout_s": 2, "format": hook_format}
    if smtp_port is not None:
        doc["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "starttls": False, "sender": "alarms@county.example"}
    path = tmp / "loop.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def directory(db: LoopDb) -> People:
    """The roster of the test county: a grid worker and a cadre in zhuwa, township duty in xiaoqi and in dongtang, the county leader."""
    people = People(db)
    for args in (("王网格", "13800000001", "grid_worker", "410421/xiaoqi/zhuwa", "", "wang@village.example"),
                 ("朱村长", "13800000002", "village_cadre", "410421/xiaoqi/zhuwa", "", ""),
                 ("李值班", "13800000003", "town_duty", "410421/xiaoqi", "", "li@town.example"),
                 ("赵值班", "13800000004", "town_duty", "410421/dongtang", "", ""),
                 ("陈县长", "13800000005", "county_duty", "410421", "", "")):
        people.upsert(check_person(*args), 0.0)
    return people


def make_cases(url: str, config: LoopConfig | Path | None = None) -> Cases:
    conf = config if isinstance(config, LoopConfig) else load_config(config)
    db = LoopDb(url)
    directory(db)
    return Cases(db, conf)


def add_account(cases: Cases, name: str, scope: str) -> None:
    Accounts(cases.db.store, guard=cases.db.call).add(name, "password-123", scope, name)
