"""Group-robot bodies: the same notification shaped for a WeChat Work (企业微信) or DingTalk (钉钉) group robot.

Both robots take a POST of `{"msgtype": "text", ...}` at the URL the group's settings give
(WeChat Work: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...`; DingTalk:
`https://oapi.dingtalk.com/robot/send?access_token=...`), and both can @ people by mobile number,
so the responsible people's phones ring in the group. A DingTalk robot with 加签 (signing) wants
`timestamp` (ms) and `sign` = base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")) in the query.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from typing import Any


def body_for(fmt: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON to POST: the notification itself (`json`) or a robot's text message naming the recipients' phones."""
    if fmt == "json":
        return payload
    phones = [r["phone"] for r in payload.get("recipients", [])]
    text = str(payload.get("text", ""))
    if fmt == "wecom":
        return {"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": phones}}
    if fmt == "dingtalk":
        mentions = "".join(f" @{p}" for p in phones)  # DingTalk shows the @ only when the number is also in the text
        return {"msgtype": "text", "text": {"content": text + mentions}, "at": {"atMobiles": phones, "isAtAll": False}}
    raise ValueError(f"unknown webhook format {fmt!r}")


def dingtalk_sign(secret: bytes, timestamp_ms: int) -> str:
    digest = hmac.new(secret, f"{timestamp_ms}\n".encode() + secret, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: bytes, now: float) -> str:
    """The DingTalk URL with `timestamp` and `sign` appended."""
    ms = int(now * 1000)
    query = urllib.parse.urlencode({"timestamp": ms, "sign": dingtalk_sign(secret, ms)})
    return f"{url}{'&' if '?' in url else '?'}{query}"
