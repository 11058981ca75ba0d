"""A real RTSP server for the camera tests: GStreamer's RTSP server streaming a video file.

Run by the system Python (`/usr/bin/python3`, which has `gi` and GstRtspServer from Debian):
    /usr/bin/python3 rtsp_server.py PORT FILE
It prints `READY rtsp://127.0.0.1:PORT/live` once it listens and serves until killed.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, path = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( filesrc location={path} ! decodebin ! videoconvert ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 pt=96 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on port {port}", flush=True)
        sys.exit(1)
    print(f"READY rtsp://127.0.0.1:{port}/live", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
