"""Text to a WAV file with espeak-ng, cached so a repeated warning costs no synthesis.

The WAV is keyed by a hash of everything that changes the sound (voice, speed, amplitude,
text), written under a temporary name and renamed, so a crash never leaves half a file in the
cache. The text is passed as one argument after `--`, never through a shell. The cache keeps at
most `max_files` WAVs, dropping the least recently used.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from gateway.errors import BadFrame, DeviceUnavailable


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

    def key(self, text: str, voice: str) -> str:
        material = "\0".join([voice, str(self._speed), str(self._amplitude), text])
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]

    def wav_for(self, text: str, voice: str = "cmn") -> Path:
        """The cached WAV of `text` in `voice`, made now if missing; BadFrame if espeak-ng refuses it."""
        if not text.strip():
            raise BadFrame("nothing to say: the text is empty")
        path = self.cache_dir / f"tts-{self.key(text, voice)}.wav"
        if path.exists():
            os.utime(path)  # mark as recently used
            return path
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeviceUnavailable(self.name, f"cannot create the speech cache {self.cache_dir}: {exc}") from exc
        fd, tmp = tempfile.mkstemp(prefix=".tts-", suffix=".wav", dir=self.cache_dir)
        os.close(fd)
        cmd = [self._espeak, "-v", voice, "-s", str(self._speed), "-a", str(self._amplitude), "-w", tmp, "--", text]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self._timeout, check=False)
            if done.returncode != 0 or os.path.getsize(tmp) == 0:
                why = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
                raise BadFrame(f"espeak-ng could not speak voice {voice!r}: {why}")
            os.replace(tmp, path)
        except subprocess.TimeoutExpired as exc:
            raise DeviceUnavailable(self.name, f"espeak-ng took longer than {self._timeout:g} s") from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._prune()
        return path

    def _prune(self) -> None:
        wavs = sorted(self.cache_dir.glob("tts-*.wav"), key=lambda p: p.stat().st_mtime)
        for old in wavs[: max(0, len(wavs) - self._max_files)]:
            old.unlink(missing_ok=True)
