"""Village station gateway: decide, keep and relay (rules, outbox, MQTT uplink)."""

from foundation.version import __version__

__all__ = ["__version__"]
