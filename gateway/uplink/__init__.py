"""The way out: the durable SQLite outbox (`outbox`), what to send from it and when to delete
(`drain`), the paho client set-up (`mqtt_client`) and a station's session on it: Will, birth,
goodbye, in-flight window (`session`), and the uplink thread that drives them and hands
commands in (`mqtt`). The county simulator drives `drain` and `session` from its own loop.
"""
