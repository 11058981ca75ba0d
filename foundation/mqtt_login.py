"""The broker login, one way for stations and county tools: password from a file or the
environment (never from a shared file or a command line), TLS that verifies the broker.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt


def read_password(password_file: Path | None, password_env: str | None) -> str | None:
    """A broker password kept out of files that are shared and of command lines: from a file, else an environment variable."""
    if password_file is not None:
        return password_file.read_text(encoding="utf-8").strip()
    if password_env is not None:
        return os.environ.get(password_env)
    return None


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
