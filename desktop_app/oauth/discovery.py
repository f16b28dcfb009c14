"""Finding who authorizes a resource: RFC 9728 (protected resource metadata), RFC 8414 and OpenID discovery.

Pure parsers (``parse_*``) validate a document against what the client expected; thin async runners fetch in the
order the MCP specification prescribes and stop at the first document found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from desktop_app.errors import ProtocolViolation
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.http import JsonResponse, request_json
from desktop_app.oauth.trace import Trace
from desktop_app.oauth.urls import (
    authorization_server_metadata_urls,
    origin,
    protected_resource_metadata_urls,
    require_secure,
    with_ascii_host,
)

#: The MCP revision a 2025-03-26 server expects in ``MCP-Protocol-Version`` during metadata discovery.
LEGACY_PROTOCOL_VERSION = "2025-03-26"


@dataclass(frozen=True, slots=True)
class ProtectedResourceMetadata:
    """RFC 9728 metadata, validated: ``resource`` is as the document publishes it: the canonical server URI we asked
    for (or its root spelled with a ``/``), or, for a document at the root well-known URL or named by the challenge,
    the server's origin or a parent path of it."""

    resource: str
    authorization_servers: tuple[str, ...]
    source_url: str
    scopes_supported: tuple[str, ...] | None = None
    resource_name: str | None = None
    scope_descriptions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthorizationServerMetadata:
    """RFC 8414 / OpenID provider metadata, validated against the issuer it was looked up for."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    source_url: str | None
    registration_endpoint: str | None = None
    revocation_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    jwks_uri: str | None = None
    scopes_supported: tuple[str, ...] | None = None
    code_challenge_methods_supported: tuple[str, ...] = ()
    token_endpoint_auth_methods_supported: tuple[str, ...] | None = None
    prompt_values_supported: tuple[str, ...] | None = None
    authorization_response_iss_parameter_supported: bool = False
    client_id_metadata_document_supported: bool = False
    #: True when no document was found and the 2025-03-26 default endpoints are used.
    defaults_used: bool = False


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _str_tuple(data: Mapping[str, Any], key: str, *, where: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolViolation("malformed_metadata", f"{where}: {key!r} must be a list of strings.")
    return tuple(value)


def _resource_equal(document: str, expected: str) -> bool:
    """Identical, allowing only the RFC 3986 §6.2.3 equivalence of an empty path and ``/`` (and an international host
    written as itself rather than in its IDNA form, the one the canonical resource uses)."""
    document = with_ascii_host(document)
    if document == expected:
        return True
    return urlsplit(expected).path in ("", "/") and document.rstrip("/") == expected.rstrip("/")


def resource_covers(document: str, expected: str) -> bool:
    """``document`` names ``expected`` itself, or its origin or a parent path at a segment boundary.

    RFC 9728 §3.3: the resource is the identifier the well-known suffix was inserted into, so a document found at the
    root well-known URL (or named by the server's own challenge) may name the origin, or a path above the server's:
    ``https://host`` or ``https://host/api`` for ``https://host/api/mcp``, never ``https://host/ap`` nor another
    origin, nor a query. The comparison is on the URL as written (scheme and host as the canonical form spells them).
    """
    if _resource_equal(document, expected):
        return True
    try:
        doc, exp = urlsplit(with_ascii_host(document)), urlsplit(expected)
    except ValueError:
        return False
    if doc.query or doc.fragment or f"{doc.scheme}://{doc.netloc}" != f"{exp.scheme}://{exp.netloc}":
        return False
    if any(segment in (".", "..") for segment in exp.path.split("/")):
        return False  # "/a/../b/mcp" is not under "/a", whatever its text says
    prefix = doc.path.rstrip("/")
    return exp.path == prefix or exp.path.startswith(prefix + "/")


def parse_protected_resource_metadata(
    data: Mapping[str, Any], *, expected_resource: str, source_url: str, broader_allowed: bool = False
) -> ProtectedResourceMetadata:
    """Validate an RFC 9728 document for ``expected_resource`` (the canonical server URI).

    ``broader_allowed``: the document was found at the root well-known URL or named by the server's own challenge,
    so it may name the server's origin or a parent path (:func:`resource_covers`); the ``resource`` is then kept
    exactly as published, to be sent as the RFC 8707 ``resource`` (docs/decisions/0005).
    """
    where = f"Protected resource metadata at {source_url}"
    resource = _str(data, "resource")
    if resource is None:
        raise ProtocolViolation("malformed_metadata", f"{where} has no 'resource'.", url=source_url)
    if not (resource_covers if broader_allowed else _resource_equal)(resource, expected_resource):
        raise ProtocolViolation(
            "resource_mismatch",
            f"This server's metadata says it is {resource}, but you asked for {expected_resource}.",
            url=source_url,
            hint="Check the server address; if it is right, the server is misconfigured. Nothing was sent.",
        )
    servers = _str_tuple(data, "authorization_servers", where=where)
    if not servers:
        raise ProtocolViolation(
            "no_authorization_server",
            f"{where} names no authorization server ('authorization_servers' is missing or empty).",
            url=source_url,
        )
    for issuer in servers:
        require_secure(issuer, what="authorization server")
    descriptions = data.get("scopes_descriptions") or data.get("scope_descriptions")
    return ProtectedResourceMetadata(
        resource=resource,
        authorization_servers=servers,
        source_url=source_url,
        scopes_supported=_str_tuple(data, "scopes_supported", where=where),
        resource_name=_str(data, "resource_name"),
        scope_descriptions=(
            {k: v for k, v in descriptions.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(descriptions, dict)
            else {}
        ),
    )


def parse_authorization_server_metadata(
    data: Mapping[str, Any], *, expected_issuer: str, source_url: str | None
) -> AuthorizationServerMetadata:
    """Validate RFC 8414 / OIDC metadata for ``expected_issuer`` (exact string comparison)."""
    where = f"Authorization server metadata at {source_url}"
    issuer = _str(data, "issuer")
    if issuer != expected_issuer:
        if issuer is not None and issuer.rstrip("/") == expected_issuer.rstrip("/"):
            # Exactly one side ends in "/": a misconfiguration, but exact comparison is what keeps mix-ups out.
            raise ProtocolViolation(
                "issuer_mismatch",
                f"{where} says its issuer is {issuer!r}, but it was looked up for {expected_issuer!r}: they differ "
                "only by a trailing slash.",
                url=source_url,
                hint=f"The server's operator must make both spell the issuer the same way ({issuer!r} in the "
                "authorization server's metadata, and the same string in the MCP server's list of authorization "
                "servers). Nothing was sent.",
            )
        raise ProtocolViolation(
            "issuer_mismatch",
            f"{where} says its issuer is {issuer!r}, but it was looked up for {expected_issuer!r}.",
            url=source_url,
        )
    endpoints: dict[str, str | None] = {}
    for key in ("authorization_endpoint", "token_endpoint"):
        value = _str(data, key)
        if value is None:
            raise ProtocolViolation("malformed_metadata", f"{where} has no {key!r}.", url=source_url)
        endpoints[key] = require_secure(value, what=f"{key.replace('_', ' ')} of {issuer}")
    for key in ("registration_endpoint", "revocation_endpoint", "userinfo_endpoint", "jwks_uri"):
        value = _str(data, key)
        endpoints[key] = require_secure(value, what=f"{key.replace('_', ' ')} of {issuer}") if value else None
    methods = _str_tuple(data, "code_challenge_methods_supported", where=where)
    if methods is None:
        raise ProtocolViolation(
            "pkce_not_advertised",
            f"{where} does not list code_challenge_methods_supported; MCP requires PKCE with S256.",
            url=source_url,
        )
    if "S256" not in methods:
        raise ProtocolViolation(
            "pkce_s256_unsupported",
            f"{where} does not support PKCE S256 (it lists {', '.join(methods) or 'nothing'}).",
            url=source_url,
        )
    response_types = _str_tuple(data, "response_types_supported", where=where)
    if response_types is not None and "code" not in response_types:
        raise ProtocolViolation(
            "code_flow_unsupported", f"{where} does not support the authorization code flow.", url=source_url
        )
    return AuthorizationServerMetadata(
        issuer=expected_issuer,
        authorization_endpoint=endpoints["authorization_endpoint"] or "",
        token_endpoint=endpoints["token_endpoint"] or "",
        source_url=source_url,
        registration_endpoint=endpoints["registration_endpoint"],
        revocation_endpoint=endpoints["revocation_endpoint"],
        userinfo_endpoint=endpoints["userinfo_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        scopes_supported=_str_tuple(data, "scopes_supported", where=where),
        code_challenge_methods_supported=methods,
        token_endpoint_auth_methods_supported=_str_tuple(data, "token_endpoint_auth_methods_supported", where=where),
        prompt_values_supported=_str_tuple(data, "prompt_values_supported", where=where),
        authorization_response_iss_parameter_supported=data.get("authorization_response_iss_parameter_supported")
        is True,
        client_id_metadata_document_supported=data.get("client_id_metadata_document_supported") is True,
    )


def legacy_default_metadata(server_url: str) -> AuthorizationServerMetadata:
    """2025-03-26: no metadata anywhere → ``/authorize``, ``/token``, ``/register`` at the server's origin."""
    base = origin(server_url)
    return AuthorizationServerMetadata(
        issuer=base,
        authorization_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        registration_endpoint=f"{base}/register",
        source_url=None,
        code_challenge_methods_supported=("S256",),
        defaults_used=True,
    )


def _require_document(response: JsonResponse, what: str) -> dict[str, Any]:
    if response.data is None:
        raise ProtocolViolation(
            "malformed_metadata",
            f"{what} at {response.url} is not a JSON object ({response.json_problem}).",
            url=response.url,
        )
    return response.data


async def fetch_protected_resource_metadata(
    client: httpx.AsyncClient,
    resource: str,
    challenge: BearerChallenge | None,
    *,
    trace: Trace,
    extra_headers: Mapping[str, str] | None = None,
) -> ProtectedResourceMetadata | None:
    """The URL named in the challenge, else the path-inserted well-known URL, then the root one.

    Returns ``None`` only when no document exists at any of them (a 2025-03-26 server).
    """
    what = "protected resource metadata"
    # (url, may name a broader resource): the challenge's document and the root one may name the origin or a parent
    # path; the path-inserted one was built from the server's own URL and must name exactly that (RFC 9728 §3.3).
    candidates: dict[str, bool] = {}
    if challenge is not None and challenge.resource_metadata:
        named = require_secure(challenge.resource_metadata, what="resource_metadata in the challenge")
        # Only a document on the server's own origin may speak for more than the server (RFC 9728 §3.3 itself wants
        # the exact URL here; docs/decisions/0005 says why and how far we follow the SDKs).
        candidates[named] = origin(named) == origin(resource)
    path_form, *root_form = protected_resource_metadata_urls(resource)
    candidates.setdefault(path_form, not root_form)
    for url in root_form:
        candidates.setdefault(url, True)
    for url, broader_allowed in candidates.items():
        response = await request_json(client, "GET", url, what=what, headers=extra_headers, follow_same_origin=True)
        trace.add("resource_metadata", url, response.status)
        if response.status != 200:
            continue
        return parse_protected_resource_metadata(
            _require_document(response, what),
            expected_resource=resource,
            source_url=response.url,
            broader_allowed=broader_allowed,
        )
    return None


async def fetch_authorization_server_metadata(
    client: httpx.AsyncClient,
    issuer: str,
    *,
    trace: Trace,
    extra_headers: Mapping[str, str] | None = None,
) -> AuthorizationServerMetadata:
    """Try the issuer's well-known URLs in the MCP order; the first document found must be valid."""
    what = "authorization server metadata"
    require_secure(issuer, what="authorization server")
    tried: list[str] = []
    for url in authorization_server_metadata_urls(issuer):
        response = await request_json(client, "GET", url, what=what, headers=extra_headers, follow_same_origin=True)
        trace.add("authorization_server_metadata", url, response.status)
        tried.append(url)
        if response.status != 200:
            continue
        return parse_authorization_server_metadata(
            _require_document(response, what), expected_issuer=issuer, source_url=response.url
        )
    raise ProtocolViolation(
        "no_authorization_server_metadata",
        f"No metadata found for authorization server {issuer} (tried {', '.join(tried)}).",
        url=issuer,
    )


async def fetch_legacy_metadata(
    client: httpx.AsyncClient, server_url: str, *, trace: Trace
) -> AuthorizationServerMetadata:
    """A 2025-03-26 server: RFC 8414 metadata at its origin, else the default endpoints."""
    base = origin(server_url)
    url = f"{base}/.well-known/oauth-authorization-server"
    headers = {"MCP-Protocol-Version": LEGACY_PROTOCOL_VERSION}
    response = await request_json(
        client, "GET", url, what="authorization server metadata", headers=headers, follow_same_origin=True
    )
    trace.add("legacy_authorization_server_metadata", url, response.status)
    if response.status == 200:
        document = _require_document(response, "authorization server metadata")
        # RFC 8414 §3.1 removes a terminating "/" before inserting the well-known suffix: "http://host/" and
        # "http://host" name this same document, and the issuer is not known in advance on this path (no protected
        # resource metadata names it). The document's own spelling is then the issuer, compared exactly from here on.
        spelled = document.get("issuer")
        return parse_authorization_server_metadata(
            document,
            expected_issuer=spelled if spelled == f"{base}/" else base,
            source_url=response.url,
        )
    if response.status in (404, 410):
        trace.add("legacy_default_endpoints", base, None)
        return legacy_default_metadata(server_url)
    raise ProtocolViolation(
        "metadata_http_error", f"Authorization server metadata at {url} answered HTTP {response.status}.", url=url
    )
