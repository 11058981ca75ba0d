"""Reads stdin at a fixed byte rate and discards it: the sink of a real-time-paced ALSA device.

Used by the tests as `aplay -D "file:'|python alsa_pacer.py 44100',raw"`, so aplay blocks as
it would on a sound card (22.05 kHz, 16-bit mono = 44100 bytes/s).
"""

import sys
import time


def main() -> None:
    rate = int(sys.argv[1])
    start = time.monotonic()
    total = 0
    while chunk := sys.stdin.buffer.read(2048):
        total += len(chunk)
        ahead = start + total / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


if __name__ == "__main__":
    main()
