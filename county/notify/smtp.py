"""E-mail over SMTP (smtplib): STARTTLS when configured, a login when configured, one message per person."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from county.cases.config import Smtp
from county.notify.webhook import DeliveryFailed


def send_mail(conf: Smtp, to: str, subject: str, body: str, now: float) -> str:
    """Send once; returns a short receipt, raises DeliveryFailed on any SMTP or network error."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = conf.sender, to, subject
    msg["Date"] = formatdate(now, localtime=False)
    msg["Message-ID"] = make_msgid(domain=conf.sender.rpartition("@")[2] or None)
    msg.set_content(body)
    try:
        with smtplib.SMTP(conf.host, conf.port, timeout=conf.timeout_s) as client:
            if conf.starttls:
                client.starttls(context=ssl.create_default_context(cafile=str(conf.ca_file) if conf.ca_file else None))
            if conf.username:
                password = conf.password_file.read_text(encoding="utf-8").strip() if conf.password_file else ""
                client.login(conf.username, password)
            refused = client.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"邮件未送出：{exc}", f"mail not sent: {exc}") from None
    if refused:
        raise DeliveryFailed(f"邮件被拒收：{refused}", f"recipient refused: {refused}")
    return f"SMTP accepted for {to}"
