"""Cameras on the station: `frame_processor` turns frames into alarm signals (shared with
`stationctl replay`), `camera_watch` runs one processor per camera in its own thread.
"""
