"""Text to a WAV with espeak-ng, cached on disk so a repeated warning costs no synthesis.

espeak-ng speaks into memory (`--stdout`) and Python writes the cache file: espeak-ng's own `-w`
truncates silently on a nearly full SD card (exit status 0, a valid header, half the warning),
which the cache would then replay for good. Python's write fails loudly instead, and the WAV in
memory still plays (`speech`). The file is keyed by a hash of everything that changes the sound
(voice, speed, amplitude, text), written with `write_atomic`, so a crash never leaves half a
file in the cache. The text is passed as one argument after `--`, never through a
shell. The cache keeps at most `max_files` WAVs, dropping the least recently used.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import subprocess
import wave
from pathlib import Path

from foundation.atomic_file import write_atomic
from foundation.errors import BadFrame, DeviceUnavailable

log = logging.getLogger(__name__)


class EspeakTts:
    """Synthesises speech with the `espeak-ng` command into a cache folder."""

    def __init__(
        self,
        name: str,
        cache_dir: Path,
        speed_wpm: int = 150,
        amplitude: int = 100,
        max_files: int = 200,
        timeout_s: float = 30.0,
    ) -> None:
        self.name = name
        self.cache_dir = Path(cache_dir)
        self._speed = speed_wpm
        self._amplitude = amplitude
        self._max_files = max_files
        self._timeout = timeout_s
        found = shutil.which("espeak-ng")
        if found is None:
            raise DeviceUnavailable(name, "speech engine espeak-ng is not installed (apt install espeak-ng)")
        self._espeak = found
        self.cache_failures = 0

    def key(self, text: str, voice: str) -> str:
        material = "\0".join([voice, str(self._speed), str(self._amplitude), text])
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]

    def wav_for(self, text: str, voice: str = "cmn") -> Path:
        """The cached WAV of `text` in `voice`, made now if missing.

        BadFrame if espeak-ng refuses the text or voice; DeviceUnavailable if the cache cannot
        be written (a full SD card): `prepare` reports that, where `speech` would play from memory.
        """
        return self.cached(text, voice) or self._store(self._path(text, voice), self.synthesise(text, voice))

    def speech(self, text: str, voice: str = "cmn") -> Path | bytes:
        """The cached WAV, or the WAV in memory when the cache cannot be written, so it still plays."""
        found = self.cached(text, voice)
        if found is not None:
            return found
        wav = self.synthesise(text, voice)
        try:
            return self._store(self._path(text, voice), wav)
        except DeviceUnavailable as exc:
            self.cache_failures += 1
            log.warning("%s; playing the speech from memory", exc.reason)
            return wav

    def cached(self, text: str, voice: str = "cmn") -> Path | None:
        """The cached WAV if there is one (marked as recently used)."""
        path = self._path(text, voice)
        try:
            os.utime(path)
        except OSError:  # not cached, or a read-only card: then it is simply not marked
            return path if path.exists() else None
        return path

    def synthesise(self, text: str, voice: str = "cmn") -> bytes:
        """The whole WAV of `text`, made in memory; BadFrame if espeak-ng cannot speak it."""
        if not text.strip():
            raise BadFrame("nothing to say: the text is empty")
        cmd = [self._espeak, "-v", voice, "-s", str(self._speed), "-a", str(self._amplitude), "--stdout", "--", text]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=self._timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise DeviceUnavailable(self.name, f"espeak-ng took longer than {self._timeout:g} s") from exc
        except OSError as exc:
            raise DeviceUnavailable(self.name, f"cannot run espeak-ng: {exc}") from exc
        wav = _with_sizes(done.stdout) if done.returncode == 0 else None
        if wav is None:
            why = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}, no sound"
            raise BadFrame(f"espeak-ng could not speak voice {voice!r}: {why}")
        return wav

    def _path(self, text: str, voice: str) -> Path:
        return self.cache_dir / f"tts-{self.key(text, voice)}.wav"

    def _store(self, path: Path, wav: bytes) -> Path:
        """Write `wav` to `path` whole or not at all; DeviceUnavailable if the disk refuses."""
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(path, wav)
        except OSError as exc:
            raise DeviceUnavailable(self.name, f"cannot write the speech cache {self.cache_dir}: {exc}") from exc
        self._prune()
        return path

    def _prune(self) -> None:
        wavs = sorted(self.cache_dir.glob("tts-*.wav"), key=lambda p: p.stat().st_mtime)
        for old in wavs[: max(0, len(wavs) - self._max_files)]:
            old.unlink(missing_ok=True)


def _with_sizes(stream: bytes) -> bytes | None:
    """espeak-ng's `--stdout` WAV with its chunk sizes filled in (a stream says "unknown");
    None if it holds no sound."""
    try:
        with wave.open(io.BytesIO(stream)) as r:
            params = r.getparams()
            frames = r.readframes(r.getnframes())
    except (wave.Error, EOFError):
        return None
    if not frames:
        return None
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setparams(params)
        w.writeframes(frames)
    return out.getvalue()
