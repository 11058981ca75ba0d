"""The sender thread: takes due notifications from the queue and delivers them, retrying with backoff.

It owns its own database connection, so a slow receiver or SMTP server never holds up the ingest
or a case step; a failure is logged in `notify_log` and retried after `foundation.backoff`'s
capped, jittered delay, until the configured number of attempts (then the row is `failed`, and
stays visible in `countyctl cases show`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from county.cases.config import LoopConfig
from county.cases.db import LoopDb
from county.notify.queue import Notification, NotifyQueue
from county.notify.smtp import send_mail
from county.notify.webhook import DeliveryFailed, post, read_secret
from foundation.backoff import backoff_delay

log = logging.getLogger(__name__)
ROUND_MAX = 200  # deliveries per round before the sender looks at its stop flag and the clock again


@dataclass
class SenderStats:
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    errors: int = 0  # the sender's own trouble (database away...): logged, then it carries on
    last_error: str = ""


class Sender:
    def __init__(self, url: str, config: LoopConfig, poll_s: float = 0.5, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self._url, self._config, self._poll_s, self._clock = url, config, poll_s, clock
        self._rng = rng or random.Random()
        timeouts = [c.timeout_s for c in (config.webhook, config.smtp) if c is not None]
        self._lease_s = 2 * max(timeouts, default=10.0) + 30.0  # longer than one delivery can take
        self._secret = read_secret(config.webhook.secret_file) if config.webhook and config.webhook.secret_file else b""  # bad: a start-up error
        self.stats = SenderStats()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._run, name="notify-sender", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        db: LoopDb | None = None
        while not self._stop.is_set():
            try:
                if db is None:
                    db = LoopDb(self._url)
                self.send_due(NotifyQueue(db))
            except Exception as exc:  # noqa: BLE001 - the database may be away; try again next round, never die
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("notify: %s", self.stats.last_error)
                if db is not None:
                    db.close()
                    db = None
            self._wake.wait(self._poll_s)
            self._wake.clear()
        if db is not None:
            db.close()

    def send_due(self, queue: NotifyQueue) -> int:
        """Deliver what is due now; how many went through."""
        sent = 0
        for _ in range(ROUND_MAX):
            if self._stop.is_set():
                break
            held = queue.claim(self._clock(), self._lease_s, limit=1)  # one at a time: a lease never outlives a slow batch
            if not held:
                break
            n = held[0]
            try:
                receipt = self._deliver(n)
            except DeliveryFailed as exc:
                self._failed(queue, n, exc.en)
                continue
            queue.delivered(n, self._clock(), receipt)
            self.stats.delivered += 1
            sent += 1
        return sent

    def _deliver(self, n: Notification) -> str:
        now = self._clock()
        if n.channel == "webhook":
            if self._config.webhook is None:
                raise DeliveryFailed("未配置 webhook", "no webhook configured")
            return post(self._config.webhook, self._secret, n.id, n.payload, now)
        if n.channel == "email":
            if self._config.smtp is None:
                raise DeliveryFailed("未配置 SMTP", "no SMTP server configured")
            return send_mail(self._config.smtp, n.recipient, str(n.payload["subject"]), str(n.payload["body"]), now)
        raise DeliveryFailed(f"未知渠道 {n.channel}", f"unknown channel {n.channel}")

    def _failed(self, queue: NotifyQueue, n: Notification, error: str) -> None:
        retry = self._config.retry
        self.stats.failed_attempts += 1
        self.stats.last_error = error
        now = self._clock()
        if n.attempts + 1 >= retry.attempts:
            self.stats.given_up += 1
            queue.failed(n, now, error, None)
            log.error("notify: gave up notification %d (%s %s) after %d attempts: %s", n.id, n.channel, n.recipient, n.attempts + 1, error)
            return
        queue.failed(n, now, error, now + backoff_delay(n.attempts, retry.first_s, retry.max_s, self._rng))
