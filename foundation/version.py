"""The software version, one place for the station, the county tools and the contract document."""

__version__ = "0.1.0"
