"""Public-address output: a simulated speaker that records what it would play, and the real one.

`AlsaSpeaker` powers the amplifier through its relay, waits for it to warm up, and plays a WAV
with `aplay` on the configured ALSA device (text is first spoken into a cached WAV by
espeak-ng, or played from memory when the SD card is too full to cache it). Both honour `cancel` so an emergency can pre-empt what is playing: the real one
stops `aplay` at once. The priority queue, quiet hours and cool-downs are the announcer's
business, not the speaker's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from drivers.base import BadFrame, DeviceUnavailable, PlayResult, Relay, Utterance
from drivers.tts import EspeakTts


class SimulatedSpeaker:
    """Takes as long as the real speech would, and appends each play to `plays.jsonl`."""

    def __init__(
        self,
        record_dir: Path,
        seconds_per_char: float = 0.25,
        clip_seconds: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.record_dir = Path(record_dir)
        self.record_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.record_dir / "plays.jsonl"
        self._per_char = seconds_per_char
        self._clip_seconds = clip_seconds
        self._clock = clock
        self._lock = threading.Lock()

    def duration(self, utterance: Utterance) -> float:
        if utterance.text is not None:
            return max(0.5, len(utterance.text) * self._per_char)
        return self._clip_seconds

    def play(self, utterance: Utterance, cancel: threading.Event) -> PlayResult:
        started = self._clock()
        completed = not cancel.wait(self.duration(utterance))
        ended = self._clock()
        record = {
            "what": utterance.describe(),
            "text": utterance.text,
            "clip": utterance.clip,
            "start": started,
            "end": ended,
            "completed": completed,
        }
        with self._lock, self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return PlayResult(completed=completed, started=started, ended=ended)

    def close(self) -> None:
        """Nothing to release."""


class AlsaSpeaker:
    """Implements drivers.base.Speaker with aplay, espeak-ng and an optional amplifier relay.

    The amplifier is switched on before sound and warmed up for `warmup_s` (an amplifier that
    has just been powered clips or pops the first syllable); it stays on `hold_s` after a play so
    the repeats of one warning do not cycle the relay, then is switched off. A play never blocks
    longer than `max_play_s`, so a wedged audio device cannot hang the announcer.

    Raises DeviceUnavailable (naming the ALSA device) when sound cannot be played, and BadFrame
    when this utterance cannot be: a missing or non-WAV clip, a voice espeak-ng does not have.
    """

    def __init__(
        self,
        name: str,
        tts: EspeakTts,
        device: str = "default",
        amplifier: Relay | None = None,
        warmup_s: float = 1.0,
        hold_s: float = 10.0,
        clip_dir: Path | None = None,
        stop_grace_s: float = 0.5,
        max_play_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        found = shutil.which("aplay")
        if found is None:
            raise DeviceUnavailable(name, "aplay is not installed (apt install alsa-utils)")
        self.name = name
        self.device = device
        self._aplay = found
        self._tts = tts
        self._amp = amplifier
        self._warmup = warmup_s
        self._hold = hold_s
        self._clip_dir = Path(clip_dir) if clip_dir is not None else None
        self._grace = stop_grace_s
        self._max_play = max_play_s
        self._clock = clock
        self._play_lock = threading.Lock()
        self._amp_lock = threading.Lock()
        self._amp_on = False
        self._amp_timer: threading.Timer | None = None
        self._amp_generation = 0

    def play(self, utterance: Utterance, cancel: threading.Event) -> PlayResult:
        started = self._clock()
        wav = self._wav(utterance)
        completed = False
        with self._play_lock:
            if not cancel.is_set():
                try:
                    completed = self._power_up(cancel) and self._run_aplay(wav, cancel)
                finally:
                    self._power_down_later()
        return PlayResult(completed=completed, started=started, ended=self._clock())

    def prepare(self, utterances: Iterable[Utterance]) -> list[str]:
        """Synthesise the texts that will be needed (the configured warnings) now, while the disk has room.

        A warning already in the cache plays even when the SD card is full later; one that is not
        cannot be written then. Returns one line per text that could not be prepared.
        """
        problems = []
        for u in utterances:
            if u.text is None:
                continue
            try:
                self._tts.wav_for(u.text, u.voice)
            except (BadFrame, DeviceUnavailable) as exc:
                problems.append(f"{u.describe()[:40]}: {exc}")
        return problems

    def close(self) -> None:
        with self._amp_lock:
            if self._amp_timer is not None:
                self._amp_timer.cancel()
                self._amp_timer = None
            if self._amp is not None:
                self._amp.off()
                self._amp.close()
                self._amp = None
            self._amp_on = False

    # ------------------------------------------------------------------------------- internals

    def _wav(self, utterance: Utterance) -> Path | bytes:
        if utterance.text is not None:
            return self._tts.speech(utterance.text, utterance.voice)  # from memory on a full card
        clip = Path(str(utterance.clip))
        if not clip.is_absolute() and self._clip_dir is not None:
            clip = self._clip_dir / clip
        try:
            with clip.open("rb") as f:
                header = f.read(12)
        except OSError as exc:
            raise BadFrame(f"clip {clip}: cannot be read: {exc}") from exc
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise BadFrame(f"clip {clip}: not a WAV file")
        return clip

    def _power_up(self, cancel: threading.Event) -> bool:
        """Switch the amplifier on (and wait its warm-up if it was off); False if cancelled meanwhile."""
        if self._amp is None:
            return True
        with self._amp_lock:
            if self._amp_timer is not None:
                self._amp_timer.cancel()
                self._amp_timer = None
            self._amp_generation += 1
            was_on = self._amp_on
            self._amp.on()
            self._amp_on = True
        return was_on or not cancel.wait(self._warmup)

    def _power_down_later(self) -> None:
        if self._amp is None:
            return
        with self._amp_lock:
            if self._amp_timer is not None:
                self._amp_timer.cancel()
            if self._hold <= 0:
                self._switch_off_locked()
                return
            self._amp_generation += 1
            timer = threading.Timer(self._hold, self._switch_off, args=(self._amp_generation,))
            timer.daemon = True
            self._amp_timer = timer
            timer.start()

    def _switch_off(self, generation: int) -> None:
        with self._amp_lock:
            if generation == self._amp_generation:  # not overtaken by a new play meanwhile
                self._switch_off_locked()

    def _switch_off_locked(self) -> None:
        self._amp_timer = None
        if self._amp is not None:
            self._amp.off()
        self._amp_on = False

    def _run_aplay(self, wav: Path | bytes, cancel: threading.Event) -> bool:
        """Play `wav` (a file, or a WAV in memory fed through stdin); True when it played to the
        end, False when `cancel` stopped it."""
        in_memory = isinstance(wav, bytes)
        cmd = [self._aplay, "-q", "-D", self.device, "-" if in_memory else str(wav)]
        # stderr goes to a file, not a pipe: a child of aplay (an ALSA pipe plugin) may hold a
        # pipe open after aplay is gone, and reading it to the end would delay a pre-emption.
        with tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.PIPE if in_memory else subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
                )
            except OSError as exc:
                raise DeviceUnavailable(self.name, f"cannot start aplay: {exc}") from exc
            if in_memory:
                threading.Thread(target=_feed, args=(proc, wav), name=f"{self.name}-feed", daemon=True).start()
            deadline = time.monotonic() + self._max_play
            while proc.poll() is None:
                if cancel.wait(0.02):
                    self._stop(proc)
                    return False
                if time.monotonic() > deadline:  # a wedged USB audio device can block aplay forever
                    self._stop(proc)
                    raise DeviceUnavailable(
                        self.name, f"ALSA device {self.device!r}: still playing after {self._max_play:g} s (stuck?); stopped"
                    )
            if proc.returncode != 0:
                err.seek(0)
                lines = [line.strip() for line in err.read().decode(errors="replace").splitlines() if line.strip()]
                why = "; ".join(lines)[-400:] if lines else f"aplay exit status {proc.returncode}"
                raise DeviceUnavailable(self.name, f"ALSA device {self.device!r}: {why}")
        return True

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM lets aplay drop its buffer; SIGKILL if it has not gone after the grace time."""
        proc.terminate()
        try:
            proc.wait(timeout=self._grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _feed(proc: subprocess.Popen[bytes], wav: bytes) -> None:
    """Write a WAV held in memory into aplay's stdin; aplay stopped early (a pre-emption) is fine."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(wav)
    except OSError:  # BrokenPipeError when aplay was stopped mid-way
        pass
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
