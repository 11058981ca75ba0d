"""`stationctl keys`: station key and CSR, the county-signed certificate used for mutual TLS
against a real mosquitto, and the county's command keys."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from gateway.config.station import load_config
from gateway.localbroker import LocalBroker
from tests.provisioning.conftest import sim_station, stationctl
from tests.stations import write_station
from wire.signing import key_id


class CountyCa:
    """The county's certificate authority, as the test plays it."""

    def __init__(self, folder: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "county test CA")])
        self.cert = self._sign(x509.CertificateBuilder().subject_name(self.name).public_key(self.key.public_key())
                               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
        self.ca_file = folder / "county-ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def _sign(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        now = dt.datetime.now(dt.timezone.utc)
        return (builder.issuer_name(self.name).serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=365)).sign(self.key, hashes.SHA256()))

    def sign_csr(self, csr_pem: bytes) -> bytes:
        csr = x509.load_pem_x509_csr(csr_pem)
        assert csr.is_signature_valid
        cert = self._sign(x509.CertificateBuilder().subject_name(csr.subject).public_key(csr.public_key()))
        return cert.public_bytes(serialization.Encoding.PEM)

    def server_files(self, folder: Path) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._sign(x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                          .public_key(key.public_key())
                          .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False))
        cert_file, key_file = folder / "broker.crt", folder / "broker.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return cert_file, key_file


def test_station_key_csr_and_certificate_give_mutual_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    ca = CountyCa(tmp_path)
    server_cert, server_key = ca.server_files(tmp_path)
    broker = LocalBroker(workdir=tmp_path / "broker", extra_config=(
        f"cafile {ca.ca_file}\ncertfile {server_cert}\nkeyfile {server_key}\nrequire_certificate true\n"))
    doc = sim_station(tmp_path, broker.port)
    doc["broker"]["tls"] = {"ca_file": str(ca.ca_file)}
    config = write_station(tmp_path / "station.yaml", doc)
    keys = tmp_path / "keys"

    created = stationctl("keys", "create", "--config", config, "--dir", keys)
    assert created.exit_code == 0, created.output
    assert "已写入" in created.output and "权限 0600" in created.output and "发给县里" in created.output
    key_file, csr_file = keys / "station.key", keys / "station.csr"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    csr = x509.load_pem_x509_csr(csr_file.read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "vs-410421-xiaoqi-test-01"
    again = stationctl("keys", "create", "--config", config, "--dir", keys, "--lang", "en")
    assert again.exit_code == 2 and "exists" in again.output and "--force" in again.output  # never replaced silently

    # the county signs the request; the technician installs the certificate
    signed = tmp_path / "from-county.crt"
    signed.write_bytes(ca.sign_csr(csr_file.read_bytes()))
    installed = stationctl("keys", "cert", signed, "--config", config, "--dir", keys, "--lang", "en")
    assert installed.exit_code == 0, installed.output
    assert "installed" in installed.output and "broker.tls now uses it" in installed.output
    tls = load_config(config).broker.tls
    assert tls is not None and tls.cert_file == keys / "station.crt" and tls.key_file == key_file

    with broker:
        result = stationctl("check", "--config", config, "--only", "broker", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["results"]
    assert row["status"] == "pass" and row["values"]["tls"] is True

    # a certificate for another key is refused
    other = ec.generate_private_key(ec.SECP256R1())
    stranger = x509.CertificateSigningRequestBuilder().subject_name(csr.subject).sign(other, hashes.SHA256())
    wrong = tmp_path / "wrong.crt"
    wrong.write_bytes(ca.sign_csr(stranger.public_bytes(serialization.Encoding.PEM)))
    refused = stationctl("keys", "cert", wrong, "--config", config, "--dir", keys, "--lang", "en")
    assert refused.exit_code == 2 and "not for the key" in refused.output
    refused_zh = stationctl("keys", "cert", wrong, "--config", config, "--dir", keys)
    assert refused_zh.exit_code == 2 and "不配套" in refused_zh.output


def test_county_keys_are_installed_and_listed_in_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANG", raising=False)
    config = write_station(tmp_path / "station.yaml", sim_station(tmp_path, 1883))
    k1, k2 = ed25519.Ed25519PrivateKey.generate().public_key(), ed25519.Ed25519PrivateKey.generate().public_key()
    pem = tmp_path / "county-2026.pem"
    pem.write_bytes(k1.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    raw = tmp_path / "county-2027.b64"
    raw.write_text(base64.b64encode(k2.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode() + "\n")
    keys = tmp_path / "keys"

    result = stationctl("keys", "county", pem, raw, "--config", config, "--dir", keys)
    assert result.exit_code == 0, result.output
    assert key_id(k1) in result.output and key_id(k2) in result.output
    assert "密钥 ID" in result.output and "commands.keys 共 2 个密钥" in result.output and "key id" not in result.output
    cfg = load_config(config)
    assert [k.name for k in cfg.commands.keys] == ["county-2026", "county-2027"]
    assert [key_id(k.load()) for k in cfg.commands.keys] == [key_id(k1), key_id(k2)]
    assert (keys / "county" / "county-2026.pub").read_bytes() == pem.read_bytes()

    again = stationctl("keys", "county", pem, "--config", config, "--dir", keys, "--lang", "en")  # installing again replaces, not duplicates
    assert again.exit_code == 0 and len(load_config(config).commands.keys) == 2
    assert f"key id {key_id(k1)}" in again.output and "lists 2 key(s)" in again.output

    rsa_file = tmp_path / "rsa.pem"
    rsa_file.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    bad = stationctl("keys", "county", rsa_file, "--config", config, "--dir", keys, "--lang", "en")
    assert bad.exit_code == 2 and "Ed25519" in bad.output and "countyctl keygen" in bad.output
