"""Photos from a phone: bounded in number and size, proven to be images by decoding, stored only re-encoded.

A phone's file is decoded with OpenCV (already a dependency; Pillow is not) and written back as
a JPEG of bounded size, so what the county stores and serves is always an image it made itself:
no script hidden in a "photo", no metadata (GPS, the phone's serial) carried along, and a 12 MP
picture shrinks to a few hundred KB that a weak link can bring back to the dispatcher.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import cv2
import numpy as np

from county.i18n import Refused

PHOTO_MAX_BYTES = 4 * 1024 * 1024  # one file as the phone sends it
PHOTOS_PER_STEP = 4
MAX_SIDE = 1600  # pixels of the longer side kept
JPEG_QUALITY = 80
MAX_PIXELS = 50_000_000  # decoded image; larger is refused (a "decompression bomb")
UPLOAD_MAX_BYTES = PHOTOS_PER_STEP * PHOTO_MAX_BYTES + 256 * 1024  # the upload route's body limit: photos plus the note and fields


class BadPhoto(Refused):
    """A photo refused for what it is (too large, not an image, too many): the phone's user must choose again."""


def too_many() -> BadPhoto:
    return BadPhoto(f"每次最多上传 {PHOTOS_PER_STEP} 张照片", f"at most {PHOTOS_PER_STEP} photos per step")


def to_jpeg(name: str, data: bytes) -> bytes:
    """The photo re-encoded as a bounded JPEG; Refused naming the file when it is too large or not an image."""
    if len(data) > PHOTO_MAX_BYTES:
        raise BadPhoto(f"照片 {name} 超过 {PHOTO_MAX_BYTES // (1024 * 1024)} MB", f"photo {name} is larger than {PHOTO_MAX_BYTES // (1024 * 1024)} MB")
    size = dimensions(data)
    if size is None:
        raise BadPhoto(f"文件 {name} 不是 JPEG 或 PNG 照片", f"file {name} is not a JPEG or PNG photo")
    if size[0] * size[1] > MAX_PIXELS:
        raise BadPhoto(f"照片 {name} 像素过多", f"photo {name} has too many pixels")
    image = None
    if data:
        try:
            image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        except cv2.error:
            image = None
    if image is None or image.size == 0:
        raise BadPhoto(f"文件 {name} 不是可识别的图片（请拍照或选择 JPEG/PNG 照片）", f"file {name} is not a readable image (take a photo or pick a JPEG/PNG)")
    height, width = image.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise BadPhoto(f"照片 {name} 无法转换", f"photo {name} could not be re-encoded")
    return encoded.tobytes()


def convert_all(files: Sequence[tuple[str, bytes]]) -> list[bytes]:
    """Every file of one step as a JPEG, or Refused for the first that is not fit (nothing is kept then)."""
    if len(files) > PHOTOS_PER_STEP:
        raise too_many()
    return [to_jpeg(name, data) for name, data in files]


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's or PNG's header, read before decoding so a tiny file claiming a huge image is refused."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and i + 9 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    return None
