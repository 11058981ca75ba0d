"""The fault campaign (issue 8): crashes, power cuts, outages, full disks and bad input.

Each scenario is a function that runs real parts and returns its figures, so `make test` runs it
short and `make soak` (bench/soak.py) runs it long; the tests assert completeness and order,
never speed.
"""
