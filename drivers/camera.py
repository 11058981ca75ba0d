"""Cameras through OpenCV: a V4L2 device, a video file or still image, or an IP camera's RTSP URL.

One grabber thread per camera reads continuously and keeps only the newest frame, so a slow
consumer (the detector) always analyses the present, never a queue of the past. A stall
watchdog in the same thread notices when no frame has come for `stall_s` (a dead RTSP server,
an unplugged USB camera, a stream that froze), releases the capture and reopens it with
exponential backoff (`foundation.backoff.Backoff`: `backoff_s` doubling up to `backoff_max_s`,
reset by a delivered frame); `state` and `stats()` report it. The driver never raises after
construction: `latest()` returns None while the source is down.

Why OpenCV (FFmpeg backend) rather than a GStreamer pipeline or PyAV: the pip wheel bundles
FFmpeg with RTSP, H.264/H.265 and V4L2 support on x86_64 and aarch64, it is already needed for
the images, and its open/read timeouts (`CAP_PROP_OPEN_TIMEOUT_MSEC`, `CAP_PROP_READ_TIMEOUT_MSEC`)
keep a dead stream from blocking the grabber forever.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from drivers.base import Frame
from foundation.backoff import Backoff

log = logging.getLogger(__name__)

OPENING, STREAMING, STALLED, REOPENING, ENDED, CLOSED = "opening", "streaming", "stalled", "reopening", "ended", "closed"


@dataclass(frozen=True)
class CaptureSource:
    """How to open one source. Build it with `file_source`, `v4l2_source` or `rtsp_source`."""

    target: str | int
    backend: int = cv2.CAP_ANY
    params: tuple[int, ...] = ()
    props: tuple[tuple[int, float], ...] = ()
    pace_fps: float | None = None
    loop: bool = False
    still: bool = False
    ffmpeg_options: str | None = None
    label: str = ""

    def describe(self) -> str:
        return self.label or str(self.target)


def file_source(path: str, fps: float | None = None, loop: bool = True) -> CaptureSource:
    """A video file (paced at `fps` or its own rate) or a still image (shown as a gently moving clip)."""
    from drivers.stills import is_still

    return CaptureSource(path, cv2.CAP_ANY, pace_fps=fps, loop=loop, still=is_still(path), label=f"file {path}")


def v4l2_source(
    device: int | str, width: int | None = None, height: int | None = None, fps: float | None = None, fourcc: str | None = None
) -> CaptureSource:
    """A V4L2 device by index or path, with the requested format (the driver may pick the nearest)."""
    props: list[tuple[int, float]] = []
    if fourcc:
        props.append((cv2.CAP_PROP_FOURCC, float(cv2.VideoWriter.fourcc(*fourcc))))
    if width:
        props.append((cv2.CAP_PROP_FRAME_WIDTH, float(width)))
    if height:
        props.append((cv2.CAP_PROP_FRAME_HEIGHT, float(height)))
    if fps:
        props.append((cv2.CAP_PROP_FPS, float(fps)))
    props.append((cv2.CAP_PROP_BUFFERSIZE, 1.0))
    return CaptureSource(device, cv2.CAP_V4L2, props=tuple(props), label=f"v4l2 {device}")


def rtsp_source(url: str, transport: str = "tcp", timeout_s: float = 5.0) -> CaptureSource:
    """An RTSP stream through FFmpeg, with open and read timeouts so a dead server cannot hang us."""
    ms = int(timeout_s * 1000)
    params = (cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms)
    safe = url.split("@")[-1] if "@" in url else url.split("://", 1)[-1]
    return CaptureSource(url, cv2.CAP_FFMPEG, params=params, ffmpeg_options=f"rtsp_transport;{transport}", label=f"rtsp://{safe}")


@dataclass
class CameraStats:
    """Counters of one camera since it was built."""

    frames: int = 0
    stalls: int = 0
    reopens: int = 0
    open_failures: int = 0
    last_error: str = ""
    last_frame_at: float | None = None
    started_at: float = 0.0
    times: list[float] = field(default_factory=list)


class OpenCvCamera:
    """The Camera protocol over `cv2.VideoCapture`, with a grabber thread and a stall watchdog."""

    def __init__(
        self,
        name: str,
        source: CaptureSource,
        stall_s: float = 5.0,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.source = source
        self.stall_s = stall_s
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._clock = clock
        self._backoff = Backoff(backoff_s, backoff_max_s, clock)  # a camera of its own station: no jitter needed
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._frame: Frame | None = None
        self._index = -1
        self._state = OPENING
        self._stats = CameraStats(started_at=clock())
        self._thread = threading.Thread(target=self._run, name=f"camera:{name}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ Camera protocol

    def latest(self, newer_than: int = -1, timeout: float = 1.0) -> Frame | None:
        """The newest frame if its index is above `newer_than`, waiting up to `timeout` for one."""
        deadline = self._clock() + timeout
        with self._cond:
            while self._frame is None or self._frame.index <= newer_than:
                left = deadline - self._clock()
                if left <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(left)
            return self._frame

    def fps(self) -> float:
        """Frames per second delivered over the last few seconds (0 while stalled)."""
        with self._cond:
            times = list(self._stats.times)
        now = self._clock()
        recent = [t for t in times if now - t <= 5.0]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def close(self) -> None:
        """Stop the grabber and release the device."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=10)
        self._state = CLOSED

    # ------------------------------------------------------------------ health

    @property
    def state(self) -> str:
        """opening, streaming, stalled, reopening, ended (a file without loop) or closed.

        A stream whose last frame is older than `stall_s` reads as stalled at once, even while the
        grabber is still blocked in a read that has not timed out yet.
        """
        last = self._stats.last_frame_at
        if self._state == STREAMING and last is not None and self._clock() - last > self.stall_s:
            return STALLED
        return self._state

    def stats(self) -> dict[str, object]:
        """Counters for health reports: frames, stalls, reopens, open failures, last error, age."""
        s = self._stats
        last = s.last_frame_at
        return {
            "state": self.state,
            "source": self.source.describe(),
            "frames": s.frames,
            "stalls": s.stalls,
            "reopens": s.reopens,
            "open_failures": s.open_failures,
            "last_error": s.last_error,
            "last_frame_age_s": None if last is None else round(self._clock() - last, 2),
            "fps": round(self.fps(), 2),
        }

    # ------------------------------------------------------------------ grabber

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            if not first:
                self._state = REOPENING
                self._stats.reopens += 1
                if self._stop.wait(self._backoff.failed()):
                    break
            first = False
            reader = self._open()
            if reader is None:
                continue
            try:
                outcome = self._pump(reader)
            finally:
                reader.release()
            if outcome == "delivered":
                self._backoff.succeeded()
            elif outcome == ENDED:
                self._state = ENDED
                return
        self._state = CLOSED

    def _open(self) -> "_Reader | None":
        src = self.source
        try:
            reader = _Reader.open(src)
        except (OSError, cv2.error) as exc:
            self._stats.open_failures += 1
            self._stats.last_error = f"cannot open {src.describe()}: {exc}"
            log.warning("camera %s: %s", self.name, self._stats.last_error)
            return None
        return reader

    def _pump(self, reader: "_Reader") -> str:
        """Read until the source stalls or ends; return 'delivered', 'stalled', 'ended' or 'stopped'."""
        period = 1.0 / reader.pace_fps if reader.pace_fps else 0.0
        next_due = self._clock()
        started = self._clock()
        delivered = False
        rewound = False
        self._state = STREAMING
        while not self._stop.is_set():
            if period:
                wait = next_due - self._clock()
                if wait > 0 and self._stop.wait(wait):
                    break
                next_due = max(next_due + period, self._clock() - period)
            image = reader.read()
            now = self._clock()
            if image is not None:
                delivered, rewound = True, False
                self._publish(image, now)
                continue
            if reader.finite and not reader.loop:
                return ENDED
            if reader.finite and not rewound and reader.rewind():
                rewound = True  # a file that fails right after a rewind is broken: fall through to the watchdog
                continue
            last = self._stats.last_frame_at if delivered else started
            if now - (last if last is not None else started) >= self.stall_s:
                self._stats.stalls += 1
                self._stats.last_error = f"no frame from {self.source.describe()} for {now - (last or started):.1f} s"
                self._state = STALLED
                log.warning("camera %s: %s; reopening", self.name, self._stats.last_error)
                return "delivered" if delivered else STALLED
            self._stop.wait(0.05)
        return "stopped"

    def _publish(self, image: np.ndarray, now: float) -> None:
        with self._cond:
            self._index += 1
            self._frame = Frame(image=image, ts=now, index=self._index)
            s = self._stats
            s.frames += 1
            s.last_frame_at = now
            s.times.append(now)
            if len(s.times) > 64:
                del s.times[:-64]
            self._cond.notify_all()


class _Reader:
    """An opened source: a VideoCapture, or the frames of a still image."""

    def __init__(self, cap: cv2.VideoCapture | None, stills: list[np.ndarray] | None, src: CaptureSource, fps: float | None) -> None:
        self._cap = cap
        self._stills = stills
        self._i = 0
        self.loop = src.loop
        self.finite = stills is not None or isinstance(src.target, str) and not str(src.target).startswith(("rtsp://", "rtsps://", "/dev/"))
        self.pace_fps = fps

    @classmethod
    def open(cls, src: CaptureSource) -> "_Reader":
        if src.still:
            from drivers.stills import still_clip

            image = cv2.imread(str(src.target), cv2.IMREAD_COLOR)
            if image is None:
                raise OSError(f"{src.target} is not a readable image")
            return cls(None, list(still_clip(image, frames=30)), src, src.pace_fps or 10.0)
        if isinstance(src.target, str) and src.backend == cv2.CAP_ANY and not Path(src.target).is_file():
            raise OSError(f"{src.target} not found")
        if src.ffmpeg_options is not None:
            # Read by OpenCV's FFmpeg backend at open time; every RTSP camera sets its own before opening.
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = src.ffmpeg_options
        cap = cv2.VideoCapture(src.target, src.backend, list(src.params)) if src.params else cv2.VideoCapture(src.target, src.backend)
        if not cap.isOpened():
            cap.release()
            raise OSError("OpenCV could not open it")
        for prop, value in src.props:
            cap.set(prop, value)
        fps = src.pace_fps
        reader_cls = cls(cap, None, src, None)
        if reader_cls.finite:
            fps = fps or (float(cap.get(cv2.CAP_PROP_FPS)) or 10.0)
        reader_cls.pace_fps = fps
        return reader_cls

    def read(self) -> np.ndarray | None:
        if self._stills is not None:
            if self._i >= len(self._stills):
                return None
            image = self._stills[self._i]
            self._i += 1
            return image
        assert self._cap is not None
        ok, image = self._cap.read()
        return image if ok and image is not None else None

    def rewind(self) -> bool:
        if self._stills is not None:
            self._i = 0
            return True
        assert self._cap is not None
        return bool(self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
