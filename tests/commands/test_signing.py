"""Canonical form and Ed25519 signatures: stable bytes, tamper evidence, keys in both notations."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wire.signing import (
    DOMAIN,
    KeyInvalid,
    canonical_json,
    key_id,
    load_private_key,
    load_public_key,
    private_to_pem,
    public_to_base64,
    sign,
    signature_valid,
    signed_bytes,
)


def test_canonical_json_is_sorted_compact_utf8_and_order_independent() -> None:
    a = {"b": 1, "a": {"z": [1, 2.5, "水位"], "y": None}, "c": True}
    b = {"c": True, "a": {"y": None, "z": [1, 2.5, "水位"]}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"y":null,"z":[1,2.5,"水位"]},"b":1,"c":true}'.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "\ud800"])
def test_canonical_json_refuses_what_json_cannot_carry_exactly(bad: object) -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": bad})


def test_signed_bytes_cover_everything_but_the_signature_behind_a_domain_tag() -> None:
    doc = {"id": "c1", "args": {"text": "hi"}, "sig": "whatever"}
    assert signed_bytes(doc) == DOMAIN + b'{"args":{"text":"hi"},"id":"c1"}'


def test_signature_round_trip_and_any_change_breaks_it() -> None:
    key = Ed25519PrivateKey.generate()
    doc = {"id": "c1", "name": "announce", "args": {"text": "请远离河道", "repeat": 2}}
    sig = sign(key, doc)
    assert signature_valid(key.public_key(), doc, sig)
    assert signature_valid(key.public_key(), {**doc, "sig": sig}, sig)  # the sig field itself is not signed
    assert not signature_valid(key.public_key(), {**doc, "args": {"text": "请远离河道", "repeat": 3}}, sig)
    assert not signature_valid(key.public_key(), {**doc, "extra": 1}, sig)
    assert not signature_valid(Ed25519PrivateKey.generate().public_key(), doc, sig)
    assert not signature_valid(key.public_key(), doc, "not base64!")
    assert not signature_valid(key.public_key(), doc, base64.b64encode(b"short").decode())
    # the last character before '==' carries 4 padding bits: another letter can decode to the same bytes
    variants = [sig[:-3] + c + "==" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" if c != sig[-3]]
    same_bytes = [v for v in variants if base64.b64decode(v) == base64.b64decode(sig)]
    assert same_bytes and not any(signature_valid(key.public_key(), doc, v) for v in same_bytes)


def test_public_key_loads_from_base64_and_pem_with_the_same_id() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_id(load_public_key(public_to_base64(key))) == key_id(load_public_key(pem)) == key_id(key)
    assert len(key_id(key)) == 16


@pytest.mark.parametrize("text", ["", "not base64", base64.b64encode(b"x" * 31).decode(), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"])
def test_bad_public_keys_are_refused_clearly(text: str) -> None:
    with pytest.raises(KeyInvalid):
        load_public_key(text)


def test_an_rsa_key_is_not_an_ed25519_key() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(KeyInvalid, match="not an Ed25519"):
        load_public_key(pem)


def test_private_key_pem_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    assert key_id(load_private_key(private_to_pem(key)).public_key()) == key_id(key.public_key())
    with pytest.raises(KeyInvalid):
        load_private_key(b"garbage")
