"""The way out: the durable SQLite outbox (`outbox`), the paho client set-up (`mqtt_client`) and
the uplink that drains the outbox to the broker and hands commands in (`mqtt`).
"""
