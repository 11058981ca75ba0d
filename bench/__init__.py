"""Benchmarks run by `make bench`; each module prints its figures and returns them as a dict."""
