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
from provisioning.i18n import LANG_OPTION, language, pick
from provisioning.station_file import StationFile
from provisioning.ui import handled, make_console

DEFAULT_DEST = Path("/var/lib/station-gateway/models")
CHUNK = 1 << 16
NOTHING = ("本次未安装任何文件", "nothing was installed")


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def _open(src: str, timeout_s: float, lang: str) -> tuple[BinaryIO, int | None]:
    """A readable stream of the source and its size when known."""
    if is_url(src):
        try:
            resp = urllib.request.urlopen(src, timeout=timeout_s)  # noqa: S310 - http(s) only, checked above
        except (urllib.error.URLError, OSError, ValueError) as exc:
            why = getattr(exc, "reason", exc)
            raise ProvisioningError(pick(lang, (f"无法下载 {src}：{why}", f"cannot download {src}: {why}")),
                                    pick(lang, ("检查网址和本站的网络，或把文件拷到本机后给出它的路径",
                                                "check the URL and the station's network, or copy the file over and give its path"))) from exc
        length = resp.headers.get("Content-Length")
        return resp, int(length) if length and length.isdigit() else None
    path = Path(src[len("file://"):] if src.startswith("file://") else src)
    try:
        return path.open("rb"), path.stat().st_size
    except OSError as exc:
        why = exc.strerror or exc
        raise ProvisioningError(pick(lang, (f"无法读取 {path}：{why}", f"cannot read {path}: {why}")),
                                pick(lang, ("请给出 .tflite 文件的路径或 http(s) 网址", "give the path of the .tflite file or an http(s) URL")), 2) from exc


def fetch(src: str, dest: Path, progress: Progress, timeout_s: float = 30.0, lang: str = "zh") -> str:
    """Copy `src` into the file `dest`, showing progress; the sha256 of what was written.

    `dest` is the temporary file of an `atomic_replace`, which fsyncs it when it is accepted.
    """
    stream, size = _open(src, timeout_s, lang)
    digest = hashlib.sha256()
    task = progress.add_task(pick(lang, (f"正在获取 {Path(src).name}", f"fetching {Path(src).name}")), total=size)
    try:
        with stream, dest.open("wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                progress.advance(task, len(chunk))
    except OSError as exc:
        raise ProvisioningError(pick(lang, (f"{src} 传输中断：{exc}", f"the transfer of {src} broke off: {exc}")),
                                pick(lang, ("请重新安装（本次未安装任何文件）", "run the install again (nothing was installed)"))) from exc
    return digest.hexdigest()


@dataclass
class TrialRun:
    """What one run of the model on a test frame showed."""

    input_size: tuple[int, int]
    input_dtype: str
    outputs: list[tuple[int, ...]]
    invoke_ms: float
    detections: list[dict[str, object]] = field(default_factory=list)


def trial_run(model_path: Path, image: np.ndarray, labels: list[str] | None = None, threads: int = 2, lang: str = "zh") -> TrialRun:
    """Load the model with LiteRT and run it once; ProvisioningError if it cannot be used."""
    from edge_models.runtime import ModelError, TfliteModel

    try:
        model = TfliteModel(model_path, threads=threads)
        started = time.perf_counter()
        outputs = model.run(image)
        invoke_ms = (time.perf_counter() - started) * 1000
    except (ModelError, ValueError, RuntimeError) as exc:
        raise ProvisioningError(pick(lang, (f"模型无法运行：{exc}", f"the model does not run: {exc}")),
                                pick(lang, (f"请确认它是本运行时能用的 TFLite 模型；{NOTHING[0]}",
                                            f"check that it is a TFLite model for this runtime; {NOTHING[1]}"))) from exc
    trial = TrialRun(model.input_size, np.dtype(model.input.dtype).name, [o.shape for o in model.outputs], round(invoke_ms, 1))
    try:
        from edge_models.detector import SsdDetector

        detector = SsdDetector(model, labels or [])
        trial.detections = [{"label": d.label, "score": round(d.score, 3), "box": [round(v, 3) for v in d.box]}
                            for d in detector.decode(outputs, min_score=0.5)]
    except (ModelError, ValueError, IndexError):
        pass  # a classifier or another layout: it ran, which is what the install checks
    return trial


def test_frame(path: Path | None, lang: str = "zh") -> np.ndarray:
    """The frame to try the model on: the given image, or a synthetic one when none is given."""
    if path is None:
        rng = np.random.default_rng(0)
        return rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ProvisioningError(pick(lang, (f"无法读取测试图片 {path}", f"cannot read the test image {path}")),
                                pick(lang, ("用 --test-image 给出 JPEG 或 PNG 图片，或不加这一项", "give a JPEG or PNG with --test-image, or leave it out")), 2)
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
    lang: str | None = LANG_OPTION,
) -> None:
    """Install a detection model: verify its sha256, run it once with LiteRT, then move it into place."""
    console, lg = make_console(), language(lang)
    expected = sha256.strip().lower()
    with handled(console, config, lg):
        if cameras and config is None:
            raise ProvisioningError(pick(lg, ("--camera 需要同时给出 --config", "--camera needs --config")),
                                    pick(lg, ("用 --config FILE 给出站点文件", "give the station file with --config FILE")), 2)
        station_file = StationFile(config, lg) if config is not None else None
        if station_file is not None:
            for cam in cameras:
                station_file.item("cameras", cam)  # unknown ids are refused before anything is fetched
        if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
            raise ProvisioningError(pick(lg, (f"--sha256 {sha256!r} 不是 sha256 校验值（应为 64 位十六进制）",
                                              f"--sha256 {sha256!r} is not a sha256 (64 hex digits)")),
                                    pick(lg, ("按发布方给出的校验值原样复制", "copy the hash exactly as published")), 2)
        filename = name or Path(source.split("?")[0]).name or "model.tflite"
        image = test_frame(test_image, lg)
        label_list = None
        if labels is not None:
            from edge_models.runtime import ModelError, load_labels

            try:
                label_list = load_labels(labels)
            except ModelError as exc:
                raise ProvisioningError(str(exc), pick(lg, ("请给出随模型一起提供的标签文件，或不加 --labels",
                                                            "give the label file that came with the model, or leave --labels out")), 2) from exc
        dest.mkdir(parents=True, exist_ok=True)
        final = dest / filename
        with atomic_replace(final) as tmp:  # becomes `final` only if verified and tried; removed otherwise
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          console=console, transient=True) as progress:
                actual = fetch(source, tmp, progress, lang=lg)
            if actual != expected:
                raise ProvisioningError(
                    pick(lg, (f"{source} 的校验值 sha256 不符：实际 {actual}，应为 {expected}",
                              f"sha256 mismatch for {source}: got {actual}, expected {expected}")),
                    pick(lg, (f"文件已损坏或不是发布的那个文件：请重新获取，或向发布方要正确的文件和校验值；{NOTHING[0]}",
                              "the file is corrupt or not the published one: fetch it again or ask for the right file and hash; "
                              f"{NOTHING[1]}")), exit_code=2)
            size = tmp.stat().st_size
            console.print(pick(lg, (f"校验值 sha256 正确（{actual[:16]}...），{size} 字节；先试运行一次",
                                    f"sha256 ok ({actual[:16]}...), {size} bytes; trying it once")))
            trial = trial_run(tmp, image, label_list, lang=lg)
        if labels is not None:
            write_atomic(dest / labels.name, labels.read_bytes())
        if station_file is not None and cameras:
            for cam in cameras:
                use_model(station_file, cam, final, expected, dest / labels.name if labels is not None else None)
            station_file.save()
    size = f"{trial.input_size[0]}x{trial.input_size[1]} {trial.input_dtype}"
    console.print(pick(lg, (f"[green]已安装[/] {final}：输入 {size}，{len(trial.outputs)} 个输出，运行一次 {trial.invoke_ms} ms",
                            f"[green]installed[/] {final}: input {size}, {len(trial.outputs)} output(s), one run {trial.invoke_ms} ms")))
    if trial.detections:
        found = ", ".join(f"{d['label']} {d['score']}" for d in trial.detections)
        console.print(pick(lg, (f"测试画面上检测到：{found}", f"detections on the test frame: {found}")))
    if cameras:
        which = ", ".join(cameras)
        console.print(pick(lg, (f"[green]已更新[/] {config}：{which} 的人员检测改用 {final}",
                                f"[green]updated[/] {config}: person detection of {which} uses {final}")))
        console.print(pick(lg, (f"[bold]下一步：[/]设置危险区域（stationctl zone CAMERA --config {config} ...），然后重启网关",
                                f"[bold]next:[/] set the danger zones (stationctl zone CAMERA --config {config} ...) and restart the gateway")))
    else:
        console.print(pick(lg, (f"[bold]下一步：[/]把摄像头的检测模型指向 {final}（sha256 {expected}），例如加 "
                                "--config FILE --camera ID，然后重启网关",
                                f"[bold]next:[/] point the camera's detection model at {final} (sha256 {expected}), e.g. with "
                                "--config FILE --camera ID, and restart the gateway")))


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
