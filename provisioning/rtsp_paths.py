"""The RTSP paths of the camera makes found in Chinese villages, main and sub stream of channel 1.

A technician knows a camera's address but rarely its stream path; `stationctl cameras probe`
tries these in order. Sources (public vendor notes and integrators' guides, checked 2026-12):

- Hikvision `/Streaming/Channels/{ch}01|02` ("{channel}0{stream type}"):
  https://www.zwplayer.com/articles/device/ip-camera-rtsp-url-guide.html ; older firmware and the
  EZVIZ (萤石, Hikvision's consumer brand) `/h264/ch{ch}/main|sub/av_stream`:
  http://39.103.169.235/p/08deed343fe3 (海康RTSP播放地址格式).
- Dahua (and Imou, Amcrest OEMs) `/cam/realmonitor?channel={ch}&subtype=0|1`:
  https://help.dayta.ai/knowledge-base/how-do-i-get-the-rtsp-stream-url-from-my-camera/
- Uniview (宇视) `/unicast/c{ch}/s0|s1/live` and `/media/video1|2`:
  https://wiki.zohead.com/技术/音视频/监控/宇视RTSP取流URL格式.md ; https://mofulls.pixnet.net/blog/post/351191279
- TP-Link (Tapo, VIGI) `/stream1|2`, Reolink `/h264Preview_{ch:02}_main|sub`: the RTSP_URL_GUIDE.md of
  github.com/AkashMLodiwiksz/Face-Identifying-Security-system-
- Huawei (华为 IPC) `/LiveMedia/ch{ch}/Media1|2`: public notes on 华为IPC的RTSP (主码流 Media1, 子码流 Media2),
  and the same URIs returned by Huawei cameras' ONVIF GetStreamUri in integrators' logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Stream = Literal["main", "sub"]


@dataclass(frozen=True)
class VendorPath:
    """One stream path of one make; `{ch}` is the channel number (1 on a camera, N on a recorder)."""

    vendor: str
    stream: Stream
    template: str

    def path(self, channel: int = 1) -> str:
        return self.template.format(ch=channel)


VENDOR_PATHS: tuple[VendorPath, ...] = (
    VendorPath("Hikvision", "main", "/Streaming/Channels/{ch}01"),
    VendorPath("Hikvision", "sub", "/Streaming/Channels/{ch}02"),
    VendorPath("Dahua/Imou", "main", "/cam/realmonitor?channel={ch}&subtype=0"),
    VendorPath("Dahua/Imou", "sub", "/cam/realmonitor?channel={ch}&subtype=1"),
    VendorPath("Uniview", "main", "/unicast/c{ch}/s0/live"),
    VendorPath("Uniview", "sub", "/unicast/c{ch}/s1/live"),
    VendorPath("TP-Link/Tapo", "main", "/stream1"),
    VendorPath("TP-Link/Tapo", "sub", "/stream2"),
    VendorPath("EZVIZ/Hikvision (old)", "main", "/h264/ch{ch}/main/av_stream"),
    VendorPath("EZVIZ/Hikvision (old)", "sub", "/h264/ch{ch}/sub/av_stream"),
    VendorPath("Huawei", "main", "/LiveMedia/ch{ch}/Media1"),
    VendorPath("Huawei", "sub", "/LiveMedia/ch{ch}/Media2"),
    VendorPath("Uniview (old)", "main", "/media/video1"),
    VendorPath("Uniview (old)", "sub", "/media/video2"),
    VendorPath("Reolink", "main", "/h264Preview_{ch:02d}_main"),
    VendorPath("Reolink", "sub", "/h264Preview_{ch:02d}_sub"),
)
