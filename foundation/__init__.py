"""The ground floor: errors, atomic files, backoff, the durable SQLite opener, the wall clock.

Every layer may import it; it imports nothing of the project's, so drivers and edge models can
stand on it without reaching up into the gateway.
"""
