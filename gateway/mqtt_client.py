"""A paho client set up from the station's broker settings: credentials and TLS in one place.

The uplink, `stationctl check` and anything else that speaks to the county broker as this
station build their client here, so a TLS or password change is made once.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.config import BrokerConfig


def make_client(cfg: BrokerConfig, client_id: str) -> mqtt.Client:
    """MQTT 3.1.1, clean session, the configured login and TLS; raises OSError/ssl.SSLError on bad files."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True)
    t = cfg.tls
    set_login(c, cfg.username, cfg.password, t.ca_file if t else None, t.cert_file if t else None, t.key_file if t else None)
    c.connect_timeout = cfg.connect_timeout_s
    return c


def set_login(c: mqtt.Client, username: str | None, password: Callable[[], str | None], ca_file: Path | None,
              cert_file: Path | None, key_file: Path | None) -> None:
    """User name and password (read only when there is a user), and TLS that verifies the broker (client certificate optional).

    Stations and the county tools (`countyctl send`, `serve`) set their connections up here alike.
    """
    if username:
        c.username_pw_set(username, password())
    if ca_file is not None:
        c.tls_set(
            ca_certs=str(ca_file),
            certfile=str(cert_file) if cert_file else None,
            keyfile=str(key_file) if key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
