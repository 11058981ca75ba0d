"""The loudspeaker side of the station: its announcer, a county silence kept across restarts, speech prepared at start.

The silence is written next to the outbox (`gateway.silence_file`) so a watchdog restart or a
power blip does not start a silenced false alarm looping over the village again. Every
configured spoken warning is synthesised at start-up, so it still plays if the SD card fills
later. Finished announcements come back to the brain as `PlaybackDone` and go out on
`event/loudspeaker`. A warning light (strobe relay), if configured, is switched by the announcer;
one that cannot be opened is reported and the loudspeaker works on without it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from drivers.base import Speaker, Utterance
from foundation.clock import WallClock
from foundation.errors import GatewayError
from gateway.announcer import Announcer, PlayReport, QuietWindow
from gateway.config.station import LoudspeakerConfig, OutboxConfig
from gateway.devices import build_speaker, build_warning_light
from gateway.events import Inbox, PlaybackDone
from gateway.publisher import Publisher, iso
from gateway.silence_file import SavedSilence, SilenceFile, remaining_after_restart
from gateway.uplink.outbox import ALARM
from wire.messages import Playback

log = logging.getLogger(__name__)


def silence_file_of(outbox: OutboxConfig) -> SilenceFile:
    """The silence lives beside the outbox (same durable folder): `<outbox stem>-silence.json`."""
    return SilenceFile(outbox.path.with_name(f"{outbox.path.stem}-silence.json"))


class Loudspeaker:
    """The station's announcer and what surrounds it; built only for a station with a loudspeaker."""

    def __init__(self, cfg: LoudspeakerConfig, silence_file: SilenceFile, publisher: Publisher, inbox: Inbox,
                 clock: Callable[[], float], wall: WallClock, beat: Callable[..., None]) -> None:
        self.cfg = cfg
        self._silence_file = silence_file
        self._publisher = publisher
        self._clock = clock
        self._wall = wall
        self.speaker: Speaker = build_speaker(cfg)
        self._light_error = ""
        try:
            light = build_warning_light(cfg)
        except GatewayError as exc:  # no such pin, GPIO busy: warn the county, keep the loudspeaker
            light, self._light_error = None, str(exc)
        quiet = cfg.quiet_hours
        self.announcer = Announcer(
            self.speaker,
            report=lambda r: inbox.put(PlaybackDone(r)),
            quiet=QuietWindow.parse(quiet.start, quiet.end) if quiet else None,
            clock=clock,
            local_minute=self._local_minute,
            beat=beat,
            warning_light=light,
        )

    def _local_minute(self) -> int | None:
        """Local minute of the day for quiet hours; None while the clock is not trusted (1970 at boot)."""
        if not self._wall.synced():
            return None
        t = datetime.fromtimestamp(self._wall.now())
        return t.hour * 60 + t.minute

    def start(self) -> None:
        """Resume a silence that outlived the last run, start playing, prepare the speech in the background."""
        self._restore_silence()
        if self._light_error:
            self._publisher.notice("device_offline", f"warning light unavailable: {self._light_error}; warnings play without it",
                                   source="warning_light", details={"error": self._light_error})
        self.announcer.start()
        threading.Thread(target=self._prepare_speech, name="speech-cache", daemon=True).start()

    def stop(self) -> None:
        """Cut the current play; what is still queued is reported pre-empted (gateway stopping)."""
        self.announcer.stop()

    def silence(self, duration_s: float, emergencies: bool) -> None:
        """Hold the loudspeaker for `duration_s` (0 lifts the silence), kept across restarts."""
        self.announcer.silence(self._clock() + duration_s, emergencies_too=emergencies)
        if duration_s > 0:
            error = self._silence_file.save(SavedSilence(set_at=self._wall.now(), duration_s=duration_s, emergencies=emergencies))
        else:
            error = self._silence_file.clear()
        if error:
            self._publisher.notice("silence_not_kept", f"{error}; a restart now would end the silence early", source="loudspeaker")

    def publish_playback(self, r: PlayReport) -> None:
        log.info("loudspeaker %s: %s (%s)", r.outcome, r.what, r.priority)
        self._publisher.publish(
            self._publisher.topics.event("loudspeaker"), ALARM,
            lambda env: Playback(
                **env, key=r.key, ref=r.ref, what=r.what, priority=r.priority, outcome=r.outcome, plays=r.plays,
                started=iso(r.started) if r.started else None, ended=iso(r.ended) if r.ended else None, error=r.error,
            ),
        )

    def _restore_silence(self) -> None:
        """Re-apply a county silence that was still running when the gateway last stopped."""
        saved, error = self._silence_file.load()
        if error:
            self._publisher.notice("silence_dropped", error, source="loudspeaker")
            self._silence_file.clear()
        if saved is None:
            return
        left = remaining_after_restart(saved, self._wall.now())
        if left <= 0:
            self._silence_file.clear()
            return
        self.announcer.silence(self._clock() + left, emergencies_too=saved.emergencies)
        self._publisher.notice("silence_resumed", f"the county's silence goes on after the restart for {left:.0f} s more "
                               f"({'emergencies too' if saved.emergencies else 'emergencies still played'})", severity="info",
                               source="loudspeaker", details={"remaining_s": round(left, 1), "emergencies": saved.emergencies})

    def _prepare_speech(self) -> None:
        """Synthesise every configured warning at start-up, so it plays even if the SD card fills up later."""
        prepare = getattr(self.speaker, "prepare", None)
        if prepare is None:
            return
        texts = [Utterance(text=a.text) for a in self.cfg.actions if a.text is not None]
        try:
            problems = prepare(texts)
        except Exception as exc:  # noqa: BLE001 - a start-up nicety must never stop the station
            problems = [f"{type(exc).__name__}: {exc}"]
        if problems:
            self._publisher.notice("speech_unprepared", f"{len(problems)} configured warning(s) could not be synthesised in advance; they are "
                                   "tried again when needed: " + "; ".join(problems), source="loudspeaker", details={"problems": problems})
