"""Hardware edge: one module per capability, each with a real and a simulated driver.

Drivers know hardware and nothing of MQTT or rules. They receive their transport (serial URL,
pin factory, capture source, output folder) from the caller and raise `DeviceUnavailable`.
"""
