"""What the OpenID Connect and identity tests share: keys made with joserfc, id_tokens signed with them, an
authorization server's metadata, and HTTP as an httpx.MockTransport that records what was asked.
The fixtures (keys, their JWKS, a client) are in ``oidc_fixtures``.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from desktop_app.errors import ConnectorError
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from tests.conftest import SECRET_SHAPES
from tests.helpers.metadata import as_metadata

ISSUER = "https://as.example"
CLIENT_ID = "client-123"
NONCE = "nonce-4f2a9c"
NOW = 1_800_000_000
JWKS_URI = f"{ISSUER}/jwks"
USERINFO = f"{ISSUER}/userinfo"


# -- tokens ---------------------------------------------------------------------------------------


def public_jwks(*keys: RSAKey | ECKey | OKPKey | OctKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def claims_for(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "sub-0a11ce",
        "exp": NOW + 3600,
        "iat": NOW,
        "nonce": NONCE,
        "email": "alice@example.test",
        "preferred_username": "alice",
        "name": "Alice Liddell",
    }
    for key, value in changes.items():
        if value is DROP:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


DROP = object()


def sign(key: Any, claims: dict[str, Any], alg: str = "RS256", **header: Any) -> str:
    kid = key.kid if not isinstance(key, OctKey) else None
    head = {"alg": alg, **({"kid": kid} if kid else {}), **header}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SecurityWarning, message="EdDSA")  # RFC 9864 deprecation
        registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
        return jwt.encode(head, claims, key, algorithms=[alg], registry=registry)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_no_token_text(error: ConnectorError, token: str) -> None:
    for text in (error.message, error.hint or "", repr(error), str(error)):
        assert not token or token not in text
        for segment in token.split("."):
            if len(segment) >= 8:
                assert segment not in text
    for text in (error.message, error.hint or ""):
        assert not SECRET_SHAPES.search(text)


# -- the authorization server ----------------------------------------------------------------------------


def metadata(
    *,
    scopes: tuple[str, ...] | None = ("openid", "email", "profile", "mcp:tools"),
    userinfo: str | None = USERINFO,
    jwks_uri: str | None = JWKS_URI,
) -> AuthorizationServerMetadata:
    return as_metadata(
        ISSUER,
        source_url=f"{ISSUER}/.well-known/oauth-authorization-server",
        userinfo_endpoint=userinfo,
        jwks_uri=jwks_uri,
        scopes_supported=scopes,
        code_challenge_methods_supported=("S256",),
    )


class Server:
    """A MockTransport that answers per path and records every request."""

    def __init__(self, routes: dict[str, Callable[[httpx.Request], httpx.Response]]) -> None:
        self.routes = routes
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        handler = self.routes.get(request.url.path)
        return handler(request) if handler else httpx.Response(404, json={"error": "not_found"})

    def paths(self) -> list[str]:
        return [r.url.path for r in self.seen]


def json_route(data: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(status, json=data)


ACCESS = "opaque-access-token-7d1e0c2b"


def userinfo_route(data: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {ACCESS}":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return httpx.Response(status, json=data)

    return answer


RS256_HEADER = b64(b'{"alg":"RS256"}')


def unsigned_jwt(claims: dict[str, Any]) -> str:
    return f"{RS256_HEADER}.{b64(json.dumps(claims).encode())}.c2lnbmF0dXJl"
