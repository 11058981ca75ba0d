"""`stationctl keys`: the station's TLS key and certificate request, its signed certificate,
and the county's command-signing public keys.

The station key never leaves the station: `keys create` writes it with mode 0600 (created with
that mode, never widened) next to a certificate signing request that the county's CA signs;
`keys cert` installs the signed certificate after checking it belongs to that key. `keys county`
installs the Ed25519 public keys whose signatures the gateway accepts on commands, and names
each by its key id so it can be compared with the county's by phone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.config.station import StationConfig, load_config
from provisioning.errors import ProvisioningError
from provisioning.i18n import LANG_OPTION, language, pick
from provisioning.station_file import StationFile
from provisioning.ui import handled, make_console

DEFAULT_DIR = Path("/etc/station-gateway/keys")
KEY_NAME, CSR_NAME, CERT_NAME = "station.key", "station.csr", "station.crt"


def client_id(cfg: StationConfig) -> str:
    """The MQTT client id the gateway uses, which is also the certificate's common name."""
    s = cfg.station
    return cfg.broker.client_id or f"vs-{s.county}-{s.town}-{s.id}"


def write_private(path: Path, data: bytes) -> None:
    """Write a secret created 0600 from the start (no window where others could read it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists():
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def make_key_and_csr(cfg: StationConfig) -> tuple[bytes, bytes]:
    """A new P-256 key (PKCS#8 PEM) and a CSR for it naming the station (PEM).

    P-256: every TLS stack a county broker may run (mosquitto on OpenSSL, EMQX, cloud brokers)
    accepts it for client certificates, and it is cheap on a Pi.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, client_id(cfg)),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, cfg.station.path),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"village stations {cfg.station.county}"),
    ])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def create(
    config: Path = typer.Option(..., "--config", "-c", help="Station file: names the station in the request."),
    key_dir: Path = typer.Option(DEFAULT_DIR, "--dir", help="Folder for station.key and station.csr."),
    force: bool = typer.Option(False, "--force", help="Replace an existing key (its certificate stops working)."),
    owner: str | None = typer.Option(None, "--owner", help="User the gateway runs as (install-service --user); it gets the key folder."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Create the station's private key (0600) and a certificate signing request for the county CA."""
    console, lg = make_console(), language(lang)
    with handled(console, config, lg):
        cfg = load_config(config)
        key_path, csr_path = key_dir / KEY_NAME, key_dir / CSR_NAME
        if key_path.exists() and not force:
            raise ProvisioningError(pick(lg, (f"{key_path} 已存在", f"{key_path} exists")),
                                    pick(lg, ("保留它（它的证书仍然有效）；或加 --force 生成新密钥，再把新的证书请求送去签发",
                                              "keep it (its certificate is valid), or add --force to make a new key "
                                              "and have the new request signed")), exit_code=2)
        key_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(key_dir, 0o700)
        key_pem, csr_pem = make_key_and_csr(cfg)
        write_private(key_path, key_pem)
        csr_path.write_bytes(csr_pem)
        if owner:
            for path in (key_dir, key_path, csr_path):
                try:
                    shutil.chown(path, user=owner)
                except LookupError as exc:
                    raise ProvisioningError(pick(lg, (f"本机没有用户 {owner!r}", f"no user {owner!r} on this system")),
                                            pick(lg, ("请给出服务运行所用的用户，或不加 --owner",
                                                      "give the user the service runs as, or leave --owner out")), 2) from exc
    who, station = owner or pick(lg, ("当前用户", "you")), f"{client_id(cfg)} ({cfg.station.path})"
    install = f"stationctl keys cert CERT --config {config} --dir {key_dir}"
    console.print(pick(lg, (f"[green]已写入[/] {key_path}（权限 0600，属主 {who}）和 {csr_path}，用于 {station}",
                            f"[green]wrote[/] {key_path} (mode 0600, owner {who}) and {csr_path} for {station}")))
    console.print(pick(lg, (f"[bold]下一步：[/]把 {csr_path} 发给县里签发；收到证书后用这条命令安装：{install}",
                            f"[bold]next:[/] send {csr_path} to the county; install the signed certificate with: {install}")))


def cert(
    certificate: Path = typer.Argument(..., help="The signed certificate (PEM) from the county."),
    config: Path = typer.Option(..., "--config", "-c", help="Station file; broker.tls is pointed at the key and certificate."),
    key_dir: Path = typer.Option(DEFAULT_DIR, "--dir", help="Folder holding station.key."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Install the county-signed certificate after checking it belongs to the station key."""
    console, lg = make_console(), language(lang)
    with handled(console, config, lg):
        key_path = key_dir / KEY_NAME
        try:
            crt = x509.load_pem_x509_certificate(certificate.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ProvisioningError(pick(lg, (f"无法读取证书或 {key_path}：{exc}", f"cannot read the certificate or {key_path}: {exc}")),
                                    pick(lg, ("请给出县里发来的 PEM 证书；还没有密钥时先运行 stationctl keys create",
                                              "give the PEM certificate the county sent; create the key first with stationctl keys create")), 2) from exc
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if crt.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
            raise ProvisioningError(pick(lg, (f"{certificate} 与 {key_path} 里的密钥不配套", f"{certificate} is not for the key in {key_path}")),
                                    pick(lg, ("请县里签发本站的 station.csr（重新生成的密钥需要新证书）",
                                              "ask the county to sign this station's station.csr (a key made again needs a new certificate)")), 2)
        station_file = StationFile(config, lg)
        tls = station_file.section("broker").get("tls")
        if tls is None:
            raise ProvisioningError(pick(lg, (f"{config} 里没有 broker.tls 部分", f"{config} has no broker.tls section")),
                                    pick(lg, ("先把 broker.tls.ca_file 设为县里的 CA 证书（stationctl init --tls-ca FILE），再运行本命令",
                                              "set broker.tls.ca_file to the county CA (stationctl init --tls-ca FILE), then run this again")), 2)
        dest = key_dir / CERT_NAME
        shutil.copyfile(certificate, dest)
        tls["cert_file"] = str(dest)
        tls["key_file"] = str(key_path)
        station_file.save()
    cn = crt.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name, until = cn[0].value if cn else pick(lg, ("无 CN", "no CN")), f"{crt.not_valid_after_utc:%Y-%m-%d}"
    console.print(pick(lg, (f"[green]已安装[/] {dest}（{name}，有效期至 {until}）；broker.tls 已改用它",
                            f"[green]installed[/] {dest} ({name}, valid until {until}); broker.tls now uses it")))
    console.print(pick(lg, (f"[bold]下一步：[/]检查与县里服务器的连接：stationctl check --config {config} --only broker",
                            f"[bold]next:[/] stationctl check --config {config} --only broker")))


def county(
    keys: list[Path] = typer.Argument(..., help="County public key files (Ed25519: PEM, or base64 of the 32 raw bytes)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Station file: its commands.keys lists the installed keys."),
    key_dir: Path = typer.Option(DEFAULT_DIR, "--dir", help="Folder; the keys go into its county/ sub-folder."),
    name: str | None = typer.Option(None, "--name", help="Name of the key (one key only; default: the file name)."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Install the county's command-signing public keys (and list them in the station file)."""
    from wire.signing import KeyInvalid, key_id, load_public_key

    console, lg = make_console(), language(lang)
    with handled(console, config, lg):
        if name and len(keys) != 1:
            raise ProvisioningError(pick(lg, ("--name 只能配一个密钥文件", "--name needs exactly one key file")),
                                    pick(lg, ("请逐个安装密钥，每个带上自己的 --name", "install the keys one by one, each with its --name")), 2)
        loaded = []
        for path in keys:
            try:
                key = load_public_key(path.read_bytes())
            except (OSError, KeyInvalid) as exc:
                raise ProvisioningError(f"{path}: {exc}", pick(lg, ("请向县里要它的公钥（countyctl keygen 会打印出来）",
                                                                   "ask the county for its public key (countyctl keygen prints it)")), 2) from exc
            loaded.append((name or path.stem, path, key_id(key)))
        dest_dir = key_dir / "county"
        dest_dir.mkdir(parents=True, exist_ok=True)
        installed = []
        for key_name, path, kid in loaded:
            dest = dest_dir / f"{key_name}.pub"
            shutil.copyfile(path, dest)
            os.chmod(dest, 0o644)
            installed.append((key_name, dest, kid))
            console.print(pick(lg, (f"[green]已安装[/] {dest}：密钥 ID [bold]{kid}[/]（请与县里的核对）",
                                    f"[green]installed[/] {dest}: key id [bold]{kid}[/] (compare it with the county's)")))
        if config is not None and "commands" not in StationConfig.model_fields:
            console.print(pick(lg, (f"[yellow]提示：[/]这个版本的网关没有 commands 部分；{config} 未改动",
                                    f"[yellow]note:[/] this gateway version has no commands section; {config} is unchanged")))
        elif config is not None:
            station_file = StationFile(config, lg)
            listed = station_file.section("commands").get("keys")
            if listed is None:
                station_file.doc["commands"]["keys"] = listed = []
            for key_name, dest, _ in installed:
                entry = {"name": key_name, "public_key_file": str(dest)}
                index = next((i for i, e in enumerate(listed) if isinstance(e, dict) and e.get("name") == key_name), None)
                if index is None:
                    listed.append(entry)
                else:
                    listed[index] = entry
            station_file.save()
            console.print(pick(lg, (f"[green]已更新[/] {config}：commands.keys 共 {len(listed)} 个密钥",
                                    f"[green]updated[/] {config}: commands.keys lists {len(listed)} key(s)")))
    console.print(pick(lg, ("[bold]下一步：[/]重启网关（systemctl restart station-gateway），之后就接受县里签名的指令",
                            "[bold]next:[/] restart the gateway (systemctl restart station-gateway); signed county commands are then accepted")))


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Station TLS key and certificate; county command keys.", no_args_is_help=True)
    group.command("create")(create)
    group.command("cert")(cert)
    group.command("county")(county)
    app.add_typer(group, name="keys")
