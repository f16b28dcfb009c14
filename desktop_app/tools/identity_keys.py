"""The building blocks of server identity, without I/O: strict base64url, Ed25519 public keys in JWK form (RFC 7517,
RFC 8037), their fingerprint, signature checks (RFC 8032) and the canonical bytes that are signed (RFC 8785, JCS).

Everything here reads values a server sent, so every check is strict and bounded, and a value that fails one is a
:class:`BadValue` naming what was wrong (never the value: it may be huge or full of control characters). The
signature check is ``cryptography``'s (OpenSSL), the canonical form the ``rfc8785`` library's (ADR 0026).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import rfc8785

#: The extension's identifier: its key in ``capabilities.extensions`` and in a tool's ``_meta``.
EXTENSION = "io.modelcontextprotocol/server-identity"
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
#: The longest ``kid``, timestamp, reason or name a server may send (characters).
MAX_TEXT = 256
#: The largest JWK (its JSON, in characters): the few members a public key needs, with room for harmless extras.
MAX_JWK_CHARS = 4096
#: ``alg`` values that name Ed25519 signatures (RFC 8037 ``EdDSA``; RFC 9864's fully specified ``Ed25519``).
ED25519_ALGS = frozenset({"EdDSA", "Ed25519"})
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class BadValue(ValueError):
    """A value a server sent is not what the extension defines; the message says what was wrong with it."""


def b64url_decode(text: object, *, what: str, size: int | None = None) -> bytes:
    """Unpadded base64url (RFC 7515 §2) in its one canonical spelling (unused bits zero), ``size`` bytes when given."""
    if not isinstance(text, str):
        raise BadValue(f"{what} is not a string")
    if size is not None and len(text) != -(-size * 4 // 3):
        raise BadValue(f"{what} is not {size} bytes in base64url")
    if len(text) > 4 * MAX_JWK_CHARS or len(text) % 4 == 1 or _B64URL.fullmatch(text) is None:
        raise BadValue(f"{what} is not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadValue(f"{what} is not unpadded base64url") from exc
    if b64url_encode(raw) != text:
        raise BadValue(f"{what} is not in canonical base64url")
    return raw


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def fingerprint_of(raw_key: bytes) -> str:
    """``SHA256:`` and the unpadded base64url SHA-256 of the raw key: the draft's DNS ``fp`` with SSH's prefix."""
    return "SHA256:" + b64url_encode(hashlib.sha256(raw_key).digest())


def text(value: object, *, what: str, limit: int = MAX_TEXT) -> str:
    """A non-empty string of at most ``limit`` characters."""
    if not isinstance(value, str) or not value:
        raise BadValue(f"{what} is missing or not a string")
    if len(value) > limit:
        raise BadValue(f"{what} is longer than {limit} characters")
    return value


def canonical(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value; :class:`BadValue` when it has none (NaN, an integer beyond 2^53, a lone
    surrogate, a non-string key, nesting too deep)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, RecursionError, TypeError) as exc:
        raise BadValue(f"has no RFC 8785 form ({type(exc).__name__})") from exc


def parse_time(value: object, *, what: str) -> float:
    """An RFC 3339 / ISO 8601 date-time with a zone (``2026-02-17T00:00:00Z``) as a POSIX time."""
    raw = text(value, what=what, limit=64)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadValue(f"{what} is not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        raise BadValue(f"{what} has no time zone")
    return moment.timestamp()


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key from a JWK: ``raw`` (32 bytes), ``kid``, and ``jwk`` exactly as the server sent it
    (the self-attestation signs the whole object)."""

    raw: bytes
    kid: str
    jwk: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def x(self) -> str:
        return b64url_encode(self.raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.raw)

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message`` (RFC 8032, OpenSSL's checks)."""
        if len(signature) != SIGNATURE_BYTES:
            return False
        # Imported at the first signature (a server that attests): cryptography's bindings take ~6 ms to load, and
        # every bridge imports this module to read identity answers (docs/decisions/0019, "Start-up").
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def public_key(value: object, *, what: str = "publicKey", need_kid: bool = True) -> PublicKey:
    """An Ed25519 public key in JWK form, checked as the draft (§3.1, §6.5) and RFC 8037 say: ``kty`` OKP, ``crv``
    Ed25519, ``x`` 32 bytes, a ``kid``; refused: a private part (``d``), another ``alg`` (``none`` included), a
    ``use`` other than ``sig``, ``key_ops`` without ``verify``, a JWK too large to be a public key."""
    if not isinstance(value, dict):
        raise BadValue(f"{what} is not a JSON object")
    try:
        size = len(canonical(value))
    except BadValue as exc:
        raise BadValue(f"{what} {exc}") from exc
    if size > MAX_JWK_CHARS:
        raise BadValue(f"{what} is larger than {MAX_JWK_CHARS} bytes")
    if value.get("kty") != "OKP" or value.get("crv") != "Ed25519":
        raise BadValue(f"{what} is not an Ed25519 key (kty OKP, crv Ed25519)")
    if "d" in value:
        raise BadValue(f"{what} carries a private key (d)")
    if "alg" in value and value["alg"] not in ED25519_ALGS:
        raise BadValue(f"{what} names an algorithm other than EdDSA")
    if "use" in value and value["use"] != "sig":
        raise BadValue(f"{what} is not a signature key (use)")
    ops = value.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise BadValue(f"{what} may not verify signatures (key_ops)")
    raw = b64url_decode(value.get("x"), what=f"{what}.x", size=PUBLIC_KEY_BYTES)
    kid = text(value.get("kid"), what=f"{what}.kid") if need_kid or "kid" in value else ""
    return PublicKey(raw, kid, dict(value))


def signature(value: object, *, what: str = "signature") -> bytes:
    """A base64url Ed25519 signature: exactly 64 bytes (§6.5)."""
    return b64url_decode(value, what=what, size=SIGNATURE_BYTES)
