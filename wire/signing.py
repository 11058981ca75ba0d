"""Canonical form of a county command and its Ed25519 signature.

The signature covers every field of the command document except `sig`, serialised as canonical
JSON: keys sorted, no whitespace, UTF-8 (not \\u escapes), no NaN or Infinity, prefixed by a
domain tag so a signature over a command can never be mistaken for one over anything else.
Both sides canonicalise the values they parsed (the signer its own dict, the station what it
received), so the bytes on the wire need not be canonical themselves. Numbers are written as
Python's `json` writes them (shortest round-trip); a signer in another language should keep
arguments to strings, integers and booleans, or write floats the same way.

Keys are raw 32-byte Ed25519 keys, written as base64 or PEM; a key's id is the first 16 hex
digits of the SHA-256 of its raw public bytes, so a command names the key that signed it and a
station holding several county keys (during a rotation) knows which one to try.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from foundation.errors import GatewayError

DOMAIN = b"vs/v1 county command\n"
SIGNATURE_FIELD = "sig"


class KeyInvalid(GatewayError, ValueError):
    """A key that cannot be read or is not an Ed25519 key."""


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value: sorted keys, no whitespace, UTF-8, finite numbers only.

    Raises ValueError for values JSON cannot carry exactly (NaN, a string with a lone surrogate).
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")  # a lone surrogate fails here: UnicodeEncodeError is a ValueError


def signed_bytes(command: Mapping[str, Any]) -> bytes:
    """What is signed: the domain tag and the canonical JSON of every field but `sig`."""
    body = {k: v for k, v in command.items() if k != SIGNATURE_FIELD}
    return DOMAIN + canonical_json(body)


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """Short, stable name of a public key (first 16 hex digits of the SHA-256 of its raw bytes)."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def public_to_base64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public(key)).decode("ascii")


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from base64 of its 32 raw bytes, or from a PEM SubjectPublicKeyInfo."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    data = data.strip()
    if data.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise KeyInvalid(f"not a PEM public key: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise KeyInvalid(f"a {type(key).__name__}, not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyInvalid(f"not base64: {exc}") from exc
    if len(raw) != 32:
        raise KeyInvalid(f"an Ed25519 public key is 32 bytes, this is {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from an unencrypted PKCS#8 PEM."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyInvalid(f"not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyInvalid(f"a {type(key).__name__}, not an Ed25519 private key")
    return key


def private_to_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def sign(key: Ed25519PrivateKey, command: Mapping[str, Any]) -> str:
    """Base64 signature of a command document (its `sig` field, if any, is ignored)."""
    return base64.b64encode(key.sign(signed_bytes(command))).decode("ascii")


def signature_valid(key: Ed25519PublicKey, command: Mapping[str, Any], signature_b64: str) -> bool:
    """True only if `signature_b64` is a well-formed signature of the command by `key`."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        message = signed_bytes(command)
    except (binascii.Error, ValueError):
        return False
    if len(signature) != 64 or base64.b64encode(signature).decode("ascii") != signature_b64:
        return False  # only the canonical encoding: padding bits that decode to the same bytes are a changed command too
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
