"""A paho client set up from the station's broker settings: credentials and TLS in one place.

The uplink, `stationctl check` and anything else that speaks to the county broker as this
station build their client here, so a TLS or password change is made once.
"""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config import BrokerConfig


def make_client(cfg: BrokerConfig, client_id: str) -> mqtt.Client:
    """MQTT 3.1.1, clean session, the configured login and TLS; raises OSError/ssl.SSLError on bad files."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True)
    if cfg.username:
        c.username_pw_set(cfg.username, cfg.password())
    if cfg.tls is not None:
        t = cfg.tls
        c.tls_set(
            ca_certs=str(t.ca_file),
            certfile=str(t.cert_file) if t.cert_file else None,
            keyfile=str(t.key_file) if t.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    c.connect_timeout = cfg.connect_timeout_s
    return c
