"""`stationctl model install`: put a detection model on the station, verified and tried.

The file is fetched (local path or http/https URL) into a temporary file in the destination
folder while its sha256 is computed; a wrong hash, a broken download or a model LiteRT cannot
run removes the temporary file, and only a verified, working model is renamed into place
(`foundation.atomic_file.atomic_replace`: fsynced, renamed, folder fsynced). So a station never
runs on half a model, and an interrupted install or a power cut leaves the old one untouched.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from foundation.atomic_file import atomic_replace, write_atomic
from provisioning.errors import ProvisioningError
from provisioning.station_file import StationFile
from provisioning.ui import handled, make_console

DEFAULT_DEST = Path("/var/lib/station-gateway/models")
CHUNK = 1 << 16


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def _open(src: str, timeout_s: float) -> tuple[BinaryIO, int | None]:
    """A readable stream of the source and its size when known."""
    if is_url(src):
        try:
            resp = urllib.request.urlopen(src, timeout=timeout_s)  # noqa: S310 - http(s) only, checked above
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ProvisioningError(f"cannot download {src}: {getattr(exc, 'reason', exc)}",
                                    "check the URL and the station's network, or copy the file over and give its path") from exc
        length = resp.headers.get("Content-Length")
        return resp, int(length) if length and length.isdigit() else None
    path = Path(src[len("file://"):] if src.startswith("file://") else src)
    try:
        return path.open("rb"), path.stat().st_size
    except OSError as exc:
        raise ProvisioningError(f"cannot read {path}: {exc.strerror or exc}", "give the path of the .tflite file or an http(s) URL", 2) from exc


def fetch(src: str, dest: Path, progress: Progress, timeout_s: float = 30.0) -> str:
    """Copy `src` into the file `dest`, showing progress; the sha256 of what was written.

    `dest` is the temporary file of an `atomic_replace`, which fsyncs it when it is accepted.
    """
    stream, size = _open(src, timeout_s)
    digest = hashlib.sha256()
    task = progress.add_task(f"fetching {Path(src).name}", total=size)
    try:
        with stream, dest.open("wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                progress.advance(task, len(chunk))
    except OSError as exc:
        raise ProvisioningError(f"the transfer of {src} broke off: {exc}", "run the install again (nothing was installed)") from exc
    return digest.hexdigest()


@dataclass
class TrialRun:
    """What one run of the model on a test frame showed."""

    input_size: tuple[int, int]
    input_dtype: str
    outputs: list[tuple[int, ...]]
    invoke_ms: float
    detections: list[dict[str, object]] = field(default_factory=list)


def trial_run(model_path: Path, image: np.ndarray, labels: list[str] | None = None, threads: int = 2) -> TrialRun:
    """Load the model with LiteRT and run it once; ProvisioningError if it cannot be used."""
    from edge_models.runtime import ModelError, TfliteModel

    try:
        model = TfliteModel(model_path, threads=threads)
        started = time.perf_counter()
        outputs = model.run(image)
        invoke_ms = (time.perf_counter() - started) * 1000
    except (ModelError, ValueError, RuntimeError) as exc:
        raise ProvisioningError(f"the model does not run: {exc}", "check that it is a TFLite model for this runtime; nothing was installed") from exc
    trial = TrialRun(model.input_size, np.dtype(model.input.dtype).name, [o.shape for o in model.outputs], round(invoke_ms, 1))
    try:
        from edge_models.detector import SsdDetector

        detector = SsdDetector(model, labels or [])
        trial.detections = [{"label": d.label, "score": round(d.score, 3), "box": [round(v, 3) for v in d.box]}
                            for d in detector.decode(outputs, min_score=0.5)]
    except (ModelError, ValueError, IndexError):
        pass  # a classifier or another layout: it ran, which is what the install checks
    return trial


def test_frame(path: Path | None) -> np.ndarray:
    """The frame to try the model on: the given image, or a synthetic one when none is given."""
    if path is None:
        rng = np.random.default_rng(0)
        return rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ProvisioningError(f"cannot read the test image {path}", "give a JPEG or PNG with --test-image, or leave it out", 2)
    return image


def install(
    source: str = typer.Argument(..., help="Model file path or http(s) URL."),
    sha256: str = typer.Option(..., "--sha256", help="Expected sha256 (hex) of the model file, from whoever published it."),
    dest: Path = typer.Option(DEFAULT_DEST, "--dest", help="Folder to install into."),
    name: str | None = typer.Option(None, "--name", help="File name to install as (default: the source's)."),
    labels: Path | None = typer.Option(None, "--labels", help="Label file to install beside the model."),
    test_image: Path | None = typer.Option(None, "--test-image", help="Image to run the model on once (default: synthetic)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Station file to point the cameras' person detection at the model."),
    cameras: list[str] = typer.Option([], "--camera", help="Camera whose detection uses the model (repeatable; needs --config)."),
) -> None:
    """Install a detection model: verify its sha256, run it once with LiteRT, then move it into place."""
    console = make_console()
    expected = sha256.strip().lower()
    with handled(console, config):
        if cameras and config is None:
            raise ProvisioningError("--camera needs --config", "give the station file with --config FILE", 2)
        station_file = StationFile(config) if config is not None else None
        if station_file is not None:
            for cam in cameras:
                station_file.item("cameras", cam)  # unknown ids are refused before anything is fetched
        if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
            raise ProvisioningError(f"--sha256 {sha256!r} is not a sha256 (64 hex digits)", "copy the hash exactly as published", 2)
        filename = name or Path(source.split("?")[0]).name or "model.tflite"
        image = test_frame(test_image)
        label_list = None
        if labels is not None:
            from edge_models.runtime import ModelError, load_labels

            try:
                label_list = load_labels(labels)
            except ModelError as exc:
                raise ProvisioningError(str(exc), "give the label file that came with the model, or leave --labels out", 2) from exc
        dest.mkdir(parents=True, exist_ok=True)
        final = dest / filename
        with atomic_replace(final) as tmp:  # becomes `final` only if verified and tried; removed otherwise
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          console=console, transient=True) as progress:
                actual = fetch(source, tmp, progress)
            if actual != expected:
                raise ProvisioningError(
                    f"sha256 mismatch for {source}: got {actual}, expected {expected}",
                    "the file is corrupt or not the published one: fetch it again or ask for the right file and hash; "
                    "nothing was installed", exit_code=2)
            console.print(f"sha256 ok ({actual[:16]}...), {tmp.stat().st_size} bytes; trying it once")
            trial = trial_run(tmp, image, label_list)
        if labels is not None:
            write_atomic(dest / labels.name, labels.read_bytes())
        if station_file is not None and cameras:
            for cam in cameras:
                use_model(station_file, cam, final, expected, dest / labels.name if labels is not None else None)
            station_file.save()
    console.print(f"[green]installed[/] {final}: input {trial.input_size[0]}x{trial.input_size[1]} {trial.input_dtype}, "
                  f"{len(trial.outputs)} output(s), one run {trial.invoke_ms} ms")
    if trial.detections:
        found = ", ".join(f"{d['label']} {d['score']}" for d in trial.detections)
        console.print(f"detections on the test frame: {found}")
    if cameras:
        console.print(f"[green]updated[/] {config}: person detection of {', '.join(cameras)} uses {final}")
        console.print(f"[bold]next:[/] set the danger zones (stationctl zone CAMERA --config {config} ...) and restart the gateway")
    else:
        console.print(f"[bold]next:[/] point the camera's detection model at {final} (sha256 {expected}), e.g. with "
                      "--config FILE --camera ID, and restart the gateway")


def use_model(station_file: StationFile, camera: str, model: Path, sha256: str, labels: Path | None) -> None:
    """Point a camera's person detection at the model (other detection settings are kept)."""
    entry = station_file.item("cameras", camera)
    detection = entry.get("detection")
    if detection is None:
        entry["detection"] = detection = {}
    section = detection.get("model")
    if section is None:
        detection["model"] = section = {}
    section["path"] = str(model)
    section["sha256"] = sha256
    if labels is not None:
        section["labels"] = str(labels)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Detection models on the station.", no_args_is_help=True)
    group.command("install")(install)
    app.add_typer(group, name="model")
