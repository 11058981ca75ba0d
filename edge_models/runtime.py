"""TFLite models through the LiteRT interpreter: loading, input preparation, dequantized outputs.

Why LiteRT (`ai-edge-litert`): it is the maintained successor of `tflite-runtime`, ships wheels
for aarch64 (the Pi) and works with numpy 2; `tflite-runtime` is only a fallback import for old
images (it needs numpy<2 and is about 9 times slower on the uint8 SSD model). Everything the
caller needs to feed a model (input size, dtype, quantization) is read from the model itself.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from foundation.errors import GatewayError
from foundation.file_hash import sha256_file


class ModelError(GatewayError, ValueError):
    """A model or label file that cannot be used (missing, wrong checksum, unexpected tensors)."""


def interpreter_class() -> type:
    """The TFLite interpreter class: LiteRT first, tflite-runtime as a fallback."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - exercised only on images without LiteRT
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
        except ImportError as exc:
            raise ModelError("no TFLite runtime: install ai-edge-litert (or tflite-runtime)") from exc
    return Interpreter


def load_labels(path: str | os.PathLike[str]) -> list[str]:
    """Labels indexed by class id.

    Two layouts are understood: one label per line, where a first line `???` is the
    background class of the TF object-detection exports and is dropped (so the label of class
    id `i` is `lines[i + 1]`); or `id label` pairs on every line (Coral style).
    """
    try:
        lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the label file: {exc}") from exc
    lines = [ln for ln in lines if ln]
    if not lines:
        raise ModelError(f"{path}: the label file is empty")
    pairs = [re.match(r"^(\d+)[\s:]+(.+)$", ln) for ln in lines]
    if all(pairs):
        table = {int(m.group(1)): m.group(2).strip() for m in pairs if m}
        return [table.get(i, str(i)) for i in range(max(table) + 1)]
    if lines[0] == "???":
        lines = lines[1:]
    return lines


def shipped_file_sha256(path: Path) -> str | None:
    """The sha256 of a model shipped with the package (None when it is not installed)."""
    return sha256_file(path) if path.is_file() else None


def open_interpreter(path: Path, threads: int, sha256: str | None = None, keep_tensors: bool = False) -> Any:
    """A checked, allocated interpreter of one model file: ModelError when the file is missing, its sha256
    is not the expected one, or LiteRT cannot use it (every model the gateway loads goes through here)."""
    if not path.is_file():
        raise ModelError(f"{path}: model file not found (relative paths are resolved against {Path.cwd()})")
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256.lower():
            raise ModelError(f"{path}: sha256 is {actual}, the config expects {sha256}")
    try:
        options: dict[str, Any] = {"experimental_preserve_all_tensors": True} if keep_tensors else {}
        with warnings.catch_warnings():  # LiteRT warns that keeping tensors costs memory: measured, ~10 MB here
            warnings.simplefilter("ignore", UserWarning)
            interp = interpreter_class()(model_path=str(path), num_threads=threads, **options)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: not a usable TFLite model: {exc}") from exc
    return interp


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """What the model says about one tensor."""

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: Any
    scale: float
    zero_point: int


def dequantize(v: np.ndarray, info: TensorInfo) -> np.ndarray:
    """`v` as float32 when `info` says it is quantized, else `v` itself.

    Why the `out=` form: `(v.astype(float32) - zero) * scale` makes three passes and two
    temporaries; on the swimmer head's 300k feature values per frame that was 0.4 ms, a third of
    the pipeline's overhead over the raw invokes. Subtracting into a float32 buffer and scaling it
    in place costs about a seventh of that.
    """
    if not info.scale or not np.issubdtype(v.dtype, np.integer):
        return v
    out = np.empty(v.shape, np.float32)
    np.subtract(v, info.zero_point, out=out, dtype=np.float32)
    out *= np.float32(info.scale)
    return out


def _info(d: dict[str, Any]) -> TensorInfo:
    scale, zero = d.get("quantization", (0.0, 0))
    return TensorInfo(d["name"], int(d["index"]), tuple(int(x) for x in d["shape"]), d["dtype"], float(scale), int(zero))


class TfliteModel:
    """One loaded model with its interpreter (not thread-safe: one per camera loop)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        threads: int = 2,
        sha256: str | None = None,
        input_mean: float = 127.5,
        input_std: float = 127.5,
        keep_tensors: bool = False,
    ) -> None:
        self.path = Path(path)
        self._interp = open_interpreter(self.path, threads, sha256, keep_tensors)
        inputs = self._interp.get_input_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4:
            raise ModelError(f"{self.path}: expected one image input [1,H,W,C], got {[tuple(d['shape']) for d in inputs]}")
        self.input = _info(inputs[0])
        self.outputs = [_info(d) for d in self._interp.get_output_details()]
        self.threads = threads
        self.keep_tensors = keep_tensors
        self._named = {d["name"]: _info(d) for d in self._interp.get_tensor_details()} if keep_tensors else {}
        self._mean = input_mean
        self._std = input_std

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) the model expects."""
        return self.input.shape[2], self.input.shape[1]

    def prepare(self, bgr: np.ndarray) -> np.ndarray:
        """A BGR frame as the model's input tensor: resized, RGB, and in the model's dtype.

        uint8 models take plain 0..255 pixels (their input quantization maps them to what the
        network was trained on); int8 models the same shifted by -128; float models
        `(pixel - input_mean) / input_std` from the config.
        """
        w, h = self.input_size
        rgb = cv2.cvtColor(cv2.resize(bgr, (w, h), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        if self.input.dtype == np.uint8:
            x = rgb
        elif self.input.dtype == np.int8:
            x = (rgb.astype(np.int16) - 128).astype(np.int8)
        else:
            x = ((rgb.astype(np.float32) - self._mean) / self._std).astype(self.input.dtype)
        return x[np.newaxis, ...]

    def invoke(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run one prepared input; outputs are dequantized to float32 when quantized."""
        self._interp.set_tensor(self.input.index, tensor)
        self._interp.invoke()
        return [dequantize(self._interp.get_tensor(o.index), o) for o in self.outputs]

    def tensor(self, name: str) -> np.ndarray:
        """An intermediate tensor of the last invoke, dequantized (a model loaded with
        `keep_tensors=True`: how a head trained on the SSD's backbone reads its features without a
        second invoke; LiteRT keeps them at no measurable cost on this model)."""
        info = self._named.get(name)
        if info is None:
            raise ModelError(f"{self.path}: no tensor named {name!r} (load the model with keep_tensors=True)")
        return dequantize(self._interp.get_tensor(info.index), info)

    def run(self, bgr: np.ndarray) -> list[np.ndarray]:
        """Prepare and invoke in one call."""
        return self.invoke(self.prepare(bgr))
