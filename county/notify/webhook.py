"""The outgoing webhook: one JSON POST per notification, signed with HMAC-SHA256.

Headers: `X-VS-Timestamp` (Unix seconds), `X-VS-Signature: sha256=<hex>` over
`"{timestamp}." + body` with the county's secret, `X-VS-Delivery` (the notification id: a
receiver that sees one twice, after a retry whose answer was lost, ignores the copy). A receiver
checks the signature with `verify` (or its own three lines) and refuses stale timestamps.
With `format: wecom` or `dingtalk` the body is a group robot's text message instead (`notify.robots`).
Standard library only (urllib): the ingest host needs nothing more to notify.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from county.cases.config import Webhook
from county.i18n import Refused
from county.notify.robots import body_for, signed_url

SIGNATURE = "X-VS-Signature"
TIMESTAMP = "X-VS-Timestamp"
DELIVERY = "X-VS-Delivery"


class DeliveryFailed(Refused):
    """One delivery did not go through (the queue retries it)."""


def read_secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise Refused(f"无法读取 webhook 密钥 {path}：{exc.strerror}", f"cannot read the webhook secret {path}: {exc.strerror}") from None
    if len(secret) < 16:
        raise Refused(f"webhook 密钥 {path} 太短（至少 16 个字符）", f"the webhook secret in {path} is too short (at least 16 characters)")
    return secret


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver runs: constant-time comparison of the signature it got with the one it computes."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def post(hook: Webhook, secret: bytes, delivery_id: int, payload: dict[str, Any], now: float) -> str:
    """POST once; returns "HTTP <status>" on a 2xx, raises DeliveryFailed otherwise."""
    body = json.dumps(body_for(hook.format, payload), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    timestamp = str(int(now))
    headers = {**hook.headers, "Content-Type": "application/json; charset=utf-8", "User-Agent": "countyctl-notify/1",
               TIMESTAMP: timestamp, DELIVERY: str(delivery_id)}
    if secret and hook.format == "json":
        headers[SIGNATURE] = sign(secret, timestamp, body)
    url = signed_url(hook.url, secret, now) if secret and hook.format == "dingtalk" else hook.url
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=hook.timeout_s) as response:
            answer = response.read(4096)
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"接收方回答 HTTP {exc.code}", f"receiver answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"无法送达：{reason}", f"not delivered: {reason}") from None
    if hook.format != "json":
        robot_refusal(answer)
    return f"HTTP {status}"


def robot_refusal(answer: bytes) -> None:
    """A robot answers HTTP 200 with `{"errcode": N, "errmsg": ...}`; a non-zero code (bad key, rate limit) is a failure."""
    try:
        doc = json.loads(answer or b"{}")
    except ValueError:
        return
    code = doc.get("errcode", 0) if isinstance(doc, dict) else 0
    if code:
        raise DeliveryFailed(f"机器人拒收：{code} {doc.get('errmsg', '')}", f"robot refused: {code} {doc.get('errmsg', '')}")

