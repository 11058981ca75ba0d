"""GStreamer's RTSP server playing a camera of one make: its vendor paths, main and sub stream.

Run by the system Python (it has `gi` and GstRtspServer from Debian):
    /usr/bin/python3 rtsp_vendor_server.py PORT USER PASSWORD PATH=WxH@FPS [PATH=WxH@FPS ...]
USER "-" serves without a login; otherwise every path asks for HTTP-basic credentials. The query
of a path (Dahua's `?channel=1&subtype=0`) is not part of a mount point, so it is left off here.
Prints `READY` once it listens and serves until killed.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, user, password, *streams = sys.argv[1:]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    if user != "-":
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
    mounts = server.get_mount_points()
    for spec in streams:
        path, _, form = spec.partition("=")
        size, _, fps = form.partition("@")
        width, height = size.split("x")
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},framerate={fps}/1 ! "
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=5 ! rtph264pay name=pay0 pt=96 )"
        )
        factory.set_shared(True)
        if user != "-":
            perms = GstRtspServer.RTSPPermissions()
            perms.add_permission_for_role("viewer", "media.factory.access", True)
            perms.add_permission_for_role("viewer", "media.factory.construct", True)
            factory.set_permissions(perms)
        mounts.add_factory(path.split("?")[0], factory)
    if server.attach(None) == 0:
        print(f"ERROR cannot listen on port {port}", flush=True)
        sys.exit(1)
    print("READY", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
