"""Server metadata as tests write it: authorization-server metadata (RFC 8414) and protected resource metadata
(RFC 9728), as the JSON documents servers publish and as the engine's validated dataclasses.

Each factory gives the fewest fields a sign-in needs at ``issuer``; keyword arguments add or replace fields."""

from __future__ import annotations

from typing import Any

from desktop_app.oauth.discovery import AuthorizationServerMetadata

ISSUER = "https://as.example"
RESOURCE = "https://mcp.example/mcp"


def as_document(issuer: str = ISSUER, *, endpoints: str | None = None, **fields: Any) -> dict[str, Any]:
    """The metadata document of the authorization server ``issuer``, its endpoints under ``endpoints`` (default: the
    issuer), with PKCE (S256) advertised, as a server publishes it."""
    base = issuer if endpoints is None else endpoints
    document: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "code_challenge_methods_supported": ["S256"],
    }
    document.update(fields)
    return document


def prm_document(resource: str = RESOURCE, *authorization_servers: str, **fields: Any) -> dict[str, Any]:
    """The protected resource metadata of ``resource``, naming ``authorization_servers`` (default: :data:`ISSUER`)."""
    servers = list(authorization_servers) or [ISSUER]
    return {"resource": resource, "authorization_servers": servers, **fields}


def as_metadata(issuer: str = ISSUER, **fields: Any) -> AuthorizationServerMetadata:
    """The engine's metadata of the authorization server ``issuer``, as discovery would return it (no document URL,
    nothing advertised beyond its two endpoints unless ``fields`` say so)."""
    values: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "source_url": None,
    }
    values.update(fields)
    return AuthorizationServerMetadata(**values)
