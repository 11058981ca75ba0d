"""`countyctl serve`: run the county web view with uvicorn.

The session-signing secret comes from a file (so logins survive a restart of the server) or is
made fresh for the run, with a warning that every operator must then log in again after a
restart. The county signing key is checked before the port opens, so a wrong key is a clear
error at the console, not a failed acknowledgement at 3 a.m.
"""

from __future__ import annotations

import logging
import secrets
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from county.broker_cli import CA_OPTION, CERT_KEY_OPTION, CERT_OPTION, PASSWORD_ENV_OPTION, PASSWORD_FILE_OPTION, USERNAME_OPTION
from county.directory import Directory, DirectoryError, load_directory
from county.keys import KeyFileError, load_signing_key
from county.send import BrokerOptions
from county.topics import parse_broker

if TYPE_CHECKING:
    from county.cases.config import LoopConfig

log = logging.getLogger(__name__)


def read_secret(path: Path | None) -> str:
    """The session secret from PATH (made, owner-only, when missing); a fresh one without a path."""
    if path is None:
        log.warning("serve: no --secret-file; operators must log in again whenever the server restarts")
        return secrets.token_urlsafe(32)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n", encoding="ascii")
    text = path.read_text(encoding="ascii").strip()
    if len(text) < 32:
        raise typer.BadParameter(f"{path} holds fewer than 32 characters; delete it to have a new secret made", param_hint="--secret-file")
    return text


def check_database(db: str) -> None:
    """Open the database once before the port opens, so a wrong URL is one clear line, not a traceback."""
    from county.store import Store

    try:
        Store(db).close()
    except Exception as exc:  # noqa: BLE001 - sqlite3, psycopg and URL errors alike: say which database and why
        typer.echo(f"serve: cannot open the database {db.split('@')[-1]}: {type(exc).__name__}: {exc}".strip(), err=True)
        raise typer.Exit(2) from None


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {name!r} (e.g. Asia/Shanghai)", param_hint="--tz") from None


def one_zone(tz: str | None, loop_cfg: LoopConfig | None) -> str:
    """The server's one time zone: --tz, else the loop file's; both given and different is a start-up error, not two clocks."""
    from_file = loop_cfg.tz if loop_cfg is not None and "tz" in loop_cfg.model_fields_set else None
    if tz and from_file and ZoneInfo(from_file) != zone(tz):
        raise typer.BadParameter(f"{tz} differs from the loop file's tz {from_file}; give the county one time zone", param_hint="--tz")
    return tz or from_file or "Asia/Shanghai"


def place_names(path: Path | None, loop_cfg: LoopConfig | None) -> Directory:
    """--directory, else the loop file's directory, else none (codes and the stations' own names are shown)."""
    if path is None:
        return loop_cfg.names if loop_cfg is not None else Directory()
    try:
        return load_directory(path)
    except DirectoryError as exc:
        typer.echo(f"serve: {exc.text('zh')}\nserve: {exc.en}", err=True)
        raise typer.Exit(2) from None


def serve(
    db: str = typer.Option("sqlite:///county.db", help="The ingest database: sqlite:///FILE or postgresql://USER@HOST:PORT/DB."),
    broker: str = typer.Option("127.0.0.1:1883", help="Broker HOST:PORT."),
    key: Path = typer.Option(..., "--key", "-k", help="County private key that signs acknowledgements and announcements."),
    prefix: str = typer.Option("vs/v1", help="What to show: vs/v1, vs/v1/COUNTY or vs/v1/COUNTY/TOWN."),
    listen: str = typer.Option("127.0.0.1:8080", help="HOST:PORT the web server listens on (put it behind a TLS proxy)."),
    secret_file: Path | None = typer.Option(None, help="File with the session-signing secret (made when missing)."),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Send the session cookie over HTTPS only."),
    tz: str | None = typer.Option(None, help="The county's one time zone, for every time shown (pages, charts, audit, notifications); default: the loop file's tz, else Asia/Shanghai."),
    ttl: float = typer.Option(300.0, help="Seconds a command sent from the page stays valid."),
    ca: Path | None = CA_OPTION,
    cert: Path | None = CERT_OPTION,
    cert_key: Path | None = CERT_KEY_OPTION,
    username: str | None = USERNAME_OPTION,
    password_file: Path | None = PASSWORD_FILE_OPTION,
    password_env: str | None = PASSWORD_ENV_OPTION,
    tiles: str | None = typer.Option(None, "--tiles", help="Map tile URL with {z}/{x}/{y} (the county's own tile server, or 天地图 with its tk key); fetched by this server, never by the browsers."),
    tiles_attribution: str = typer.Option("", "--tiles-attribution", help="Attribution of the tiles shown on the map (e.g. 天地图 GS(2024)0650号)."),
    outline: Path | None = typer.Option(None, "--outline", help="GeoJSON file (WGS 84 degrees) of the county's outline, drawn under the stations (the map without tiles)."),
    leaflet_dir: Path = typer.Option(Path("/usr/share/javascript/leaflet"), "--leaflet-dir", help="Leaflet's folder (Debian's libjs-leaflet)."),
    cases: Path | None = typer.Option(None, "--cases", help="The county's loop file (the same as `countyctl ingest --cases`): deadlines used when a case is sent back."),
    directory: Path | None = typer.Option(None, "--directory", help="County directory file (CSV: path,中文名,English name): names of townships, villages, stations; default: the loop file's."),
) -> None:
    """Serve the county web view: live stations and alarms, evidence, acknowledge and announce, cases."""
    import uvicorn  # the web stack loads only for this command (the other countyctl commands stay light)

    from county.web.app import ServeSettings, create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        load_signing_key(key)
    except KeyFileError as exc:
        typer.echo(f"serve: {exc}", err=True)
        raise typer.Exit(2) from None
    check_database(db)
    loop_cfg = None
    if cases is not None:
        from county.cases.config import load_config
        from county.i18n import Refused

        try:
            loop_cfg = load_config(cases)
        except Refused as exc:
            typer.echo(f"serve: {exc.text('zh')}", err=True)
            raise typer.Exit(2) from None
    host, port = parse_broker(broker)
    web_host, web_port = parse_broker(listen, 8080)
    settings = ServeSettings(db=db, broker=BrokerOptions(host, port, ca, cert, cert_key, username, password_file, password_env),
                             key_file=key, prefix=prefix, secret=read_secret(secret_file), secure_cookies=secure_cookies,
                             command_ttl_s=ttl, tz=zone(one_zone(tz, loop_cfg)), cases=loop_cfg, directory=place_names(directory, loop_cfg))
    from county.web.map_page import MapConfigError, map_settings

    try:
        settings.map = map_settings(tiles, tiles_attribution, outline, leaflet_dir)
    except MapConfigError as exc:
        typer.echo(f"serve: {exc.text('zh')}\nserve: {exc.en}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"serve: http://{web_host}:{web_port}/ over {db} and {host}:{port} ({prefix})", err=True)
    uvicorn.run(create_app(settings), host=web_host, port=web_port, log_level="warning", proxy_headers=True)
