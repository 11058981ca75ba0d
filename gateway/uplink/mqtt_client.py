"""A paho client set up from the station's broker settings: credentials and TLS in one place.

The uplink, `stationctl check` and anything else that speaks to the county broker as this
station build their client here, so a TLS or password change is made once.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from foundation.mqtt_login import set_login
from gateway.config.station import BrokerConfig


def make_client(cfg: BrokerConfig, client_id: str) -> mqtt.Client:
    """MQTT 3.1.1, clean session, the configured login and TLS; raises OSError/ssl.SSLError on bad files."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True)
    t = cfg.tls
    set_login(c, cfg.username, cfg.password, t.ca_file if t else None, t.cert_file if t else None, t.key_file if t else None)
    c.connect_timeout = cfg.connect_timeout_s
    return c
