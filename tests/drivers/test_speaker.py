"""The real loudspeaker driver with real espeak-ng, sox and aplay (no sound card needed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from drivers.base import BadFrame, DeviceUnavailable, Speaker, Utterance
from drivers.relay import GpioRelay
from drivers.speaker import AlsaSpeaker
from drivers.tts import EspeakTts

pytestmark = pytest.mark.timeout(60)

WARNING = "这里不是游泳区域,水深危险,请马上上岸离开"


def sox_stat(wav: Path) -> dict[str, float]:
    sox = shutil.which("sox")
    assert sox, "sox is missing: `make test` installs it"
    out = subprocess.run([sox, str(wav), "-n", "stat"], capture_output=True, text=True, check=True).stderr
    stats = {}
    for line in out.splitlines():
        m = re.match(r"^(.+?):\s+(-?[\d.]+)$", line.strip())
        if m:
            stats[m.group(1).strip()] = float(m.group(2))
    return stats


@pytest.fixture
def tts(tmp_path: Path) -> EspeakTts:
    return EspeakTts("loudspeaker", tmp_path / "tts", max_files=3)


def test_espeak_speaks_the_drowning_warning_in_mandarin(tts: EspeakTts) -> None:
    wav = tts.wav_for(WARNING, "cmn")
    stats = sox_stat(wav)
    assert 4.0 < stats["Length (seconds)"] < 12.0  # about 6.4 s at 150 words per minute
    assert stats["RMS     amplitude"] > 0.02  # speech, not silence


def test_speech_is_cached_by_voice_and_text(tts: EspeakTts) -> None:
    first = tts.wav_for(WARNING, "cmn")
    made = first.stat().st_ino
    assert tts.wav_for(WARNING, "cmn") == first and first.stat().st_ino == made  # not synthesised again
    assert tts.wav_for(WARNING, "yue") != first
    assert tts.wav_for("水深危险", "cmn") != first


def test_cache_keeps_at_most_max_files(tts: EspeakTts) -> None:
    for i in range(5):
        tts.wav_for(f"第{i}号通知", "cmn")
    assert len(list(tts.cache_dir.glob("tts-*.wav"))) == 3
    assert not list(tts.cache_dir.glob(".tts-*"))  # no half-written files left


def test_text_starting_with_a_dash_is_spoken_not_taken_as_an_option(tts: EspeakTts) -> None:
    wav = tts.wav_for("-5 度,注意防冻", "cmn")
    assert sox_stat(wav)["Length (seconds)"] > 0.5


def test_unknown_voice_is_a_bad_utterance(tts: EspeakTts) -> None:
    with pytest.raises(BadFrame, match="voice 'xx-nonexistent'"):
        tts.wav_for("hello", "xx-nonexistent")


def test_plays_text_through_aplay_null_and_warms_up_the_amplifier(tts: EspeakTts, pin_factory) -> None:
    relay = GpioRelay("loudspeaker amplifier", 27, active_high=False, pin_factory=pin_factory)
    amp_pin = pin_factory.pin(27)
    speaker = AlsaSpeaker("loudspeaker", tts, device="null", amplifier=relay, warmup_s=0.2, hold_s=0)
    try:
        assert isinstance(speaker, Speaker)
        amp_pin.clear_states()
        result = speaker.play(Utterance(text=WARNING), threading.Event())
        assert result.completed
        assert result.ended - result.started >= 0.2  # at least the warm-up
        states = [s.state for s in amp_pin.states]
        assert states[-2:] == [False, True]  # low-triggered relay switched on, then off again
        assert not relay.is_on
    finally:
        speaker.close()


def test_amplifier_stays_on_between_repeats_then_goes_off(tts: EspeakTts, pin_factory) -> None:
    relay = GpioRelay("loudspeaker amplifier", 27, pin_factory=pin_factory)
    speaker = AlsaSpeaker("loudspeaker", tts, device="null", amplifier=relay, warmup_s=0.1, hold_s=0.5)
    try:
        speaker.play(Utterance(text="请注意"), threading.Event())
        assert relay.is_on  # held for the next repeat
        started = time.monotonic()
        speaker.play(Utterance(text="请注意"), threading.Event())
        assert relay.is_on
        deadline = started + 10
        while relay.is_on:
            assert time.monotonic() < deadline, "amplifier never switched off"
            time.sleep(0.05)
    finally:
        speaker.close()


def test_plays_a_wav_clip(tts: EspeakTts, tmp_path: Path) -> None:
    clip = tmp_path / "clips" / "siren.wav"
    clip.parent.mkdir()
    subprocess.run(["sox", "-n", "-r", "16000", str(clip), "synth", "1.0", "sine", "880"], check=True)
    speaker = AlsaSpeaker("loudspeaker", tts, device="null", clip_dir=clip.parent)
    try:
        assert speaker.play(Utterance(clip="siren.wav"), threading.Event()).completed
        assert speaker.play(Utterance(clip=str(clip)), threading.Event()).completed
    finally:
        speaker.close()


def test_missing_or_broken_clip_is_a_bad_utterance(tts: EspeakTts, tmp_path: Path) -> None:
    speaker = AlsaSpeaker("loudspeaker", tts, device="null")
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("not audio")
    with pytest.raises(BadFrame, match="cannot be read"):
        speaker.play(Utterance(clip=str(tmp_path / "absent.wav")), threading.Event())
    with pytest.raises(BadFrame, match="not a WAV file"):
        speaker.play(Utterance(clip=str(not_wav)), threading.Event())


def test_cancel_stops_playback_mid_way(tts: EspeakTts, paced_alsa_device: str) -> None:
    """On a device that plays in real time, setting `cancel` stops aplay long before the end."""
    speaker = AlsaSpeaker("loudspeaker", tts, device=paced_alsa_device)
    wav_seconds = sox_stat(tts.wav_for(WARNING, "cmn"))["Length (seconds)"]
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    result = speaker.play(Utterance(text=WARNING), cancel)
    assert not result.completed
    assert result.ended - result.started < wav_seconds / 2


def test_paced_device_plays_to_the_end_when_not_cancelled(tts: EspeakTts, paced_alsa_device: str) -> None:
    speaker = AlsaSpeaker("loudspeaker", tts, device=paced_alsa_device)
    result = speaker.play(Utterance(text="请注意安全"), threading.Event())
    assert result.completed


def test_already_cancelled_plays_nothing(tts: EspeakTts) -> None:
    cancel = threading.Event()
    cancel.set()
    result = AlsaSpeaker("loudspeaker", tts, device="null").play(Utterance(text="请注意"), cancel)
    assert not result.completed


@pytest.mark.parametrize("device", ["hw:99", "no-such-device"])
def test_a_missing_audio_device_names_the_device(tts: EspeakTts, device: str) -> None:
    speaker = AlsaSpeaker("loudspeaker", tts, device=device)
    with pytest.raises(DeviceUnavailable) as err:
        speaker.play(Utterance(text="请注意"), threading.Event())
    assert err.value.device == "loudspeaker"
    assert f"ALSA device {device!r}" in str(err.value)
    assert "audio open error" in str(err.value)


def test_a_play_that_hangs_is_stopped_and_reported(tts: EspeakTts, paced_alsa_device: str) -> None:
    speaker = AlsaSpeaker("loudspeaker", tts, device=paced_alsa_device, max_play_s=0.5)
    with pytest.raises(DeviceUnavailable, match="still playing after 0.5 s"):
        speaker.play(Utterance(text=WARNING), threading.Event())


def test_prepare_synthesises_texts_ahead_and_reports_what_it_could_not(tts: EspeakTts) -> None:
    speaker = AlsaSpeaker("loudspeaker", tts, device="null")
    try:
        problems = speaker.prepare([Utterance(text=WARNING), Utterance(clip="siren.wav"), Utterance(text="hello", voice="xx-nonexistent")])
    finally:
        speaker.close()
    assert len(list(tts.cache_dir.glob("tts-*.wav"))) == 1  # the warning, ready; a clip needs nothing
    assert len(problems) == 1 and "hello" in problems[0] and "xx-nonexistent" in problems[0]
