"""PKCE with S256 (RFC 7636; OAuth 2.1 §4.1.1): a fresh verifier for every authorization request."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class Pkce:
    verifier: str = field(repr=False)
    challenge: str
    method: str = "S256"

    @classmethod
    def new(cls) -> Pkce:
        verifier = b64url(secrets.token_bytes(32))  # 43 characters, the RECOMMENDED size
        return cls(verifier=verifier, challenge=s256(verifier))


def random_token(nbytes: int = 32) -> str:
    """An unguessable value for ``state`` and ``nonce``."""
    return b64url(secrets.token_bytes(nbytes))
