"""What the phone page does with a phone's file, on real images: bounded, re-encoded, and refused in words when unfit."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from county.web.photos import MAX_SIDE, PHOTO_MAX_BYTES, BadPhoto, convert_all, dimensions, to_jpeg

JPEG = "/work/shared/media/fire/fire-basket.jpg"
PNG = "/work/shared/media/people/basketball1.png"


def test_grid_photo_a_real_jpeg_and_png_come_back_as_bounded_jpegs() -> None:
    for path in (JPEG, PNG):
        data = open(path, "rb").read()
        out = to_jpeg("p", data)
        image = cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_COLOR)
        assert out[:2] == b"\xff\xd8" and image is not None and max(image.shape[:2]) <= MAX_SIDE


def test_grid_photo_a_phone_sized_picture_is_shrunk_and_its_metadata_dropped() -> None:
    big = cv2.resize(cv2.imread(JPEG), (4000, 3000), interpolation=cv2.INTER_CUBIC)  # a 12 MP phone picture
    ok, encoded = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 85])
    raw = encoded.tobytes()
    app1 = b"Exif\x00\x00" + b"GPS 34.05N 113.82E serial=PHONE-123"
    with_exif = raw[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + raw[2:]
    assert ok and len(with_exif) <= PHOTO_MAX_BYTES
    out = to_jpeg("phone.jpg", with_exif)
    assert dimensions(out) == (MAX_SIDE, MAX_SIDE * 3 // 4)
    assert b"GPS" not in out and b"PHONE-123" not in out


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.parametrize(("data", "words"), [
    (b"", "不是 JPEG 或 PNG"),
    (b"<html><script>alert(1)</script></html>", "不是 JPEG 或 PNG"),
    (b"GIF89a" + b"\x00" * 100, "不是 JPEG 或 PNG"),
    (_png_header(100_000, 100_000) + b"\x00" * 100, "像素过多"),  # 12 bytes claiming 10^10 pixels: refused before decoding
    (b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 200, "不是 JPEG 或 PNG"),  # a JPEG's start without a frame
    (_png_header(640, 480) + b"\x00" * 200, "不是可识别的图片"),  # a sane PNG header, no image data
    (b"\xff\xd8" + b"\x00" * (PHOTO_MAX_BYTES + 1), "超过 4 MB"),
])
def test_grid_photo_unfit_files_are_refused_in_words(data: bytes, words: str) -> None:
    with pytest.raises(BadPhoto) as refused:
        to_jpeg("现场.jpg", data)
    assert words in refused.value.zh and "现场.jpg" in refused.value.zh and refused.value.en


def test_grid_photo_more_than_four_at_once_are_refused() -> None:
    data = open(JPEG, "rb").read()
    assert len(convert_all([("a", data)] * 4)) == 4
    with pytest.raises(BadPhoto, match="at most 4 photos"):
        convert_all([("a", data)] * 5)
