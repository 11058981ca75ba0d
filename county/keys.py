"""`countyctl keygen`: the county's Ed25519 signing key, and loading it safely for `send`.

The private key is written owner-only (0600) from the moment it exists (created with that mode,
never chmod-ed after the fact), and `send` refuses a key file that others can read, as ssh does.
The public key is printed and written beside it (`<key>.pub`, base64 of the raw 32 bytes), with
the snippet to paste into station files. Several county keys may be installed on a station at
once, which is how a key is rotated: add the new one, switch `send` to it, remove the old one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from county.i18n import LANG_OPTION, EnglishFirst, language, pick
from wire.signing import KeyInvalid, key_id, load_private_key, private_to_pem, public_to_base64


class KeyFileError(EnglishFirst, OSError):
    """A key file that must not be used (missing, readable by others, not a key); `str()` is the English text, for logs."""


def _write_private(path: Path, data: bytes, force: bool) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the key exists: never overwrite a key by accident
    finally:
        tmp.unlink(missing_ok=True)


def generate(path: Path, force: bool = False) -> tuple[str, str]:
    """Write a new private key to `path` (0600) and its public key to `<path>.pub`; (base64 public key, key id)."""
    if path.exists() and not force:
        raise KeyFileError(f"{path} exists; refusing to overwrite a key (use --force to replace it)",
                           f"{path} 已存在，不会覆盖已有密钥（确需替换请加 --force）")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    _write_private(path, private_to_pem(key), force)
    public = key.public_key()
    b64 = public_to_base64(public)
    Path(f"{path}.pub").write_text(b64 + "\n", encoding="ascii")
    return b64, key_id(public)


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The county key from a file that only its owner can read."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}",
                               f"{path} 其他用户也能读取（权限 {stat.S_IMODE(mode):o}）；请运行：chmod 600 {path}")
        return load_private_key(path.read_bytes())
    except OSError as exc:
        if isinstance(exc, KeyFileError):
            raise
        raise KeyFileError(f"cannot read the key {path}: {exc.strerror or exc}", f"无法读取密钥 {path}：{exc.strerror or exc}") from None
    except KeyInvalid as exc:
        raise KeyFileError(f"{path}: {exc}", f"{path} 不是可用的县级私钥：{exc}") from None


def keygen(
    path: Path = typer.Argument(..., help="Where to write the private key (the public key goes to PATH.pub)."),
    name: str = typer.Option("county", help="Label of the key in station files (e.g. county-2026)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing key file."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Make a county signing key (Ed25519): private key 0600, public key printed and in PATH.pub (Chinese unless --lang en)."""
    lg = language(lang)
    try:
        b64, kid = generate(path, force)
    except KeyFileError as exc:
        typer.echo(pick(lg, ("生成密钥：", "keygen: ")) + exc.text(lg), err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(pick(lg, (f"生成密钥：无法写入 {path}：{exc.strerror or exc}", f"keygen: {exc}")), err=True)
        raise typer.Exit(1) from None
    typer.echo(pick(lg, (f"私钥：{path}（权限 600；只留在县里这台机器上）", f"private key: {path} (mode 600; keep it on the county machine only)")),
               err=True)
    typer.echo(pick(lg, (f"公钥：{path}.pub  密钥 ID {kid}", f"public key:  {path}.pub  id {kid}")), err=True)
    typer.echo(pick(lg, (f"下一步：把下面几行加到每个站点的配置文件并重启网关（也可把 {path}.pub 拷到站点，用 stationctl keys county 安装）：",
                         f"next: add these lines to each station file and restart its gateway (or copy {path}.pub to the station and "
                         "install it with stationctl keys county):")), err=True)
    typer.echo(f'commands:\n  keys:\n    - name: "{name}"\n      public_key: "{b64}"')
