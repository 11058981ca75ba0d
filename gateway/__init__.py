"""Village station gateway: decide, keep and relay (rules, outbox, MQTT uplink)."""

__version__ = "0.1.0"
