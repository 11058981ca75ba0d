"""How a county command reaches the broker: the same command-line options on every countyctl
command that connects (`send`, `serve`), turned into `county.send.BrokerOptions`."""

from __future__ import annotations

import typer

CA_OPTION = typer.Option(None, help="CA file: connect to the broker with TLS.")
CERT_OPTION = typer.Option(None, help="Client certificate (mutual TLS).")
CERT_KEY_OPTION = typer.Option(None, help="Client certificate's private key.")
USERNAME_OPTION = typer.Option(None, help="MQTT user name.")
PASSWORD_FILE_OPTION = typer.Option(None, help="File holding the MQTT password.")
PASSWORD_ENV_OPTION = typer.Option(None, help="Environment variable holding the MQTT password.")
