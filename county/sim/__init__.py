"""Simulation for demos, tests and benchmarks: fleets of simulated stations, scenarios, the
terminal and web demos. The county product (`county.*` outside this package) never imports it.
"""
