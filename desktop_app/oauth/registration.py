"""Getting a ``client_id``: a pre-registered client, a Client ID Metadata Document, or RFC 7591 registration.

The order is the MCP one (2025-11-25 "Client Registration Approaches", 2026-07-28 client-registration):
pre-registered → CIMD when the server advertises ``client_id_metadata_document_supported`` → dynamic registration
when it has a ``registration_endpoint`` → ask the person for a client id.

Registrations are bound to the issuer that issued them (SEP-2352): the store is keyed by issuer and a registration
is never offered to another authorization server.
"""

from __future__ import annotations

import math
import posixpath
import time
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from desktop_app.appinfo import APP_ID, APP_NAME, CALLBACK_PORTS, VERSION
from desktop_app.errors import ConfigurationError, InvalidClient, NoRegistrationPath, ProtocolViolation, one_line
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.http import request_json
from desktop_app.oauth.trace import Trace
from desktop_app.oauth.urls import is_loopback_host

RegistrationMethod = Literal["preregistered", "cimd", "dcr"]
SUPPORTED_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
CALLBACK_PATH = "/callback"


@dataclass(frozen=True, slots=True)
class ClientRegistration:
    """A client identity at one authorization server."""

    issuer: str
    client_id: str
    method: RegistrationMethod
    token_endpoint_auth_method: str = "none"  # noqa: S105 - a method name, not a secret
    client_secret: str | None = field(default=None, repr=False)
    #: Seconds since the epoch; 0 or None means it does not expire (RFC 7591 §3.2.1).
    client_secret_expires_at: int | None = None
    redirect_uris: tuple[str, ...] = ()

    def secret_expired(self, now: float | None = None) -> bool:
        expires = self.client_secret_expires_at
        return bool(expires) and (now if now is not None else time.time()) >= float(expires or 0)


@dataclass(frozen=True, slots=True)
class PreRegisteredClient:
    """Credentials the person entered (or an administrator configured)."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    token_endpoint_auth_method: str | None = None
    #: The authorization server these credentials belong to, when known: another issuer is refused.
    issuer: str | None = None


class RegistrationStore(Protocol):
    """Where registrations live between sign-ins, keyed by issuer (storage comes in a later layer)."""

    def get(self, issuer: str) -> ClientRegistration | None: ...

    def put(self, registration: ClientRegistration) -> None: ...

    def forget(self, issuer: str) -> None: ...


class MemoryRegistrationStore:
    """Registrations for the life of one process."""

    def __init__(self) -> None:
        self._by_issuer: dict[str, ClientRegistration] = {}

    def get(self, issuer: str) -> ClientRegistration | None:
        return self._by_issuer.get(issuer)

    def put(self, registration: ClientRegistration) -> None:
        self._by_issuer[registration.issuer] = registration

    def forget(self, issuer: str) -> None:
        self._by_issuer.pop(issuer, None)


#: The loopback redirect URI without a port: RFC 8252 §7.3 says an authorization server MUST accept it for any port.
PORTLESS_REDIRECT_URI = f"http://127.0.0.1{CALLBACK_PATH}"


def loopback_redirect_uri(port: int) -> str:
    """Where the browser comes back to when the app listens on ``port``."""
    return f"http://127.0.0.1:{port}{CALLBACK_PATH}"


def loopback_redirect_uris(port: int | None = None, *, fixed: bool = False) -> tuple[str, ...]:
    """The redirect URIs to register for a listener on ``port``.

    The exact URI with its port first (authorization servers that compare redirect URIs exactly, port included, as
    several in wide use do), then the port-less one (RFC 8252 §7.3: any port), so a later sign-in can still use the
    registration when that port is taken. A ``fixed`` port (the person's setting) registers only its own URI;
    without a port (a static document), only the port-less one.
    """
    if not port:
        return (PORTLESS_REDIRECT_URI,)
    exact = loopback_redirect_uri(port)
    return (exact,) if fixed else (exact, PORTLESS_REDIRECT_URI)


def document_redirect_uris() -> tuple[str, ...]:
    """What the shipped Client ID Metadata Document lists: any port, then the fixed ports the app tries first."""
    return (PORTLESS_REDIRECT_URI, *(loopback_redirect_uri(port) for port in CALLBACK_PORTS))


def registered_ports(redirect_uris: tuple[str, ...]) -> tuple[int, ...]:
    """The loopback ports a registration names exactly (``http://127.0.0.1:P/callback``), in its order."""
    ports = []
    for uri in redirect_uris:
        parts = urlsplit(uri)
        try:
            port = parts.port
        except ValueError:
            continue
        if parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.path == CALLBACK_PATH and port:
            ports.append(port)
    return tuple(dict.fromkeys(ports))


def accepts_redirect_uri(registration: ClientRegistration, redirect_uri: str) -> bool:
    """Whether ``redirect_uri`` is registered, exactly or as the port-less loopback form (RFC 8252 §7.3).

    An authorization server that compares exactly may still refuse the port-less match: the authorization request's
    preflight (:mod:`desktop_app.oauth.preflight`) finds that out, and the app registers the exact URI then.
    """
    if redirect_uri in registration.redirect_uris:
        return True
    parts = urlsplit(redirect_uri)
    portless = urlunsplit((parts.scheme, parts.hostname or "", parts.path, parts.query, ""))
    return is_loopback_host(parts.hostname) and portless in registration.redirect_uris


def validate_client_metadata_url(url: str) -> str:
    """A CIMD ``client_id``: https, a path, no fragment, no user info, no dot segments (CIMD §3)."""
    parts = urlsplit(url)
    problem = None
    if parts.scheme != "https":
        problem = "it must use https"
    elif not parts.hostname:
        problem = "it has no host"
    elif parts.username is not None or parts.password is not None:
        problem = "it must not contain user info"
    elif parts.fragment or "#" in url:
        problem = "it must not have a fragment"
    elif not parts.path or parts.path == "/":
        problem = "it must have a path"
    elif any(seg in (".", "..") for seg in parts.path.split("/")) or posixpath.normpath(parts.path) != parts.path:
        problem = "it must not contain dot segments"
    if problem:
        raise ConfigurationError(
            "invalid_client_metadata_url",
            f"The client metadata document URL {url!r} cannot be used: {problem}.",
            hint="Give the https URL where the app's client metadata document is published.",
        )
    return url


def build_registration_body(redirect_uris: tuple[str, ...]) -> dict[str, object]:
    """RFC 7591 client metadata for a native public client (2026-07-28: ``application_type`` is a MUST)."""
    return {
        "client_name": APP_NAME,
        "application_type": "native",
        "redirect_uris": list(redirect_uris),
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "software_id": APP_ID,
        "software_version": VERSION,
    }


def parse_registration_response(
    status: int, data: dict[str, object] | None, *, issuer: str, url: str, redirect_uris: tuple[str, ...]
) -> ClientRegistration:
    if status not in (200, 201) or data is None:
        error = data.get("error") if data else None
        description = data.get("error_description") if data else None
        detail = ""
        if isinstance(error, str):
            detail = f": {one_line(error, 60)}"
            if isinstance(description, str):
                detail += f" ({one_line(description)})"
        raise ProtocolViolation(
            "registration_rejected",
            f"The authorization server {issuer} refused to register this app (HTTP {status}{detail}).",
            url=url,
            hint="Ask the server's administrator for a client id and enter it in the server's settings.",
        )
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ProtocolViolation(
            "malformed_registration", f"The registration answer from {url} has no client_id.", url=url
        )
    method = data.get("token_endpoint_auth_method", "none")
    secret = data.get("client_secret")
    if not isinstance(method, str) or method not in SUPPORTED_AUTH_METHODS:
        raise ProtocolViolation(
            "unsupported_client_auth",
            f"The authorization server {issuer} registered this app for client authentication "
            f"{method!r}, which it cannot do.",
            url=url,
        )
    if method != "none" and not isinstance(secret, str):
        raise ProtocolViolation(
            "malformed_registration",
            f"The registration answer from {url} asks for {method} but gives no client_secret.",
            url=url,
        )
    expires = data.get("client_secret_expires_at")
    if expires is not None and (
        isinstance(expires, bool)
        or not isinstance(expires, int | float)
        or not math.isfinite(expires)
        or not 0 <= expires < 2**53
    ):
        raise ProtocolViolation(
            "malformed_registration",
            f"The registration answer from {url} has an unusable client_secret_expires_at ({str(expires)[:40]}).",
            url=url,
        )
    return ClientRegistration(
        issuer=issuer,
        client_id=client_id,
        method="dcr",
        token_endpoint_auth_method=method,
        client_secret=secret if isinstance(secret, str) else None,
        client_secret_expires_at=int(expires) if isinstance(expires, int | float) else None,
        redirect_uris=redirect_uris,
    )


async def register_dynamically(
    client: httpx.AsyncClient,
    metadata: AuthorizationServerMetadata,
    redirect_uris: tuple[str, ...],
    *,
    trace: Trace,
) -> ClientRegistration:
    assert metadata.registration_endpoint is not None
    response = await request_json(
        client,
        "POST",
        metadata.registration_endpoint,
        what="registration endpoint",
        json_body=build_registration_body(redirect_uris),
    )
    trace.add("register", metadata.registration_endpoint, response.status)
    return parse_registration_response(
        response.status,
        response.data,
        issuer=metadata.issuer,
        url=metadata.registration_endpoint,
        redirect_uris=redirect_uris,
    )


def preregistered_registration(
    pre: PreRegisteredClient, metadata: AuthorizationServerMetadata, redirect_uris: tuple[str, ...]
) -> ClientRegistration:
    if pre.issuer is not None and pre.issuer != metadata.issuer:
        raise ConfigurationError(
            "preregistered_issuer_mismatch",
            f"The client id you entered belongs to {pre.issuer}, but this server now uses {metadata.issuer}.",
            hint="Enter a client id registered at the new authorization server, or reset the registration.",
        )
    method = pre.token_endpoint_auth_method or ("client_secret_basic" if pre.client_secret else "none")
    if method not in SUPPORTED_AUTH_METHODS:
        raise ConfigurationError(
            "unsupported_client_auth",
            f"Client authentication {method!r} is not supported; use none, client_secret_basic or client_secret_post.",
        )
    if method != "none" and not pre.client_secret:
        raise ConfigurationError("missing_client_secret", f"Client authentication {method} needs a client secret.")
    return ClientRegistration(
        issuer=metadata.issuer,
        client_id=pre.client_id,
        method="preregistered",
        token_endpoint_auth_method=method,
        client_secret=pre.client_secret if method != "none" else None,
        redirect_uris=redirect_uris,
    )


async def obtain_registration(
    client: httpx.AsyncClient,
    metadata: AuthorizationServerMetadata,
    *,
    store: RegistrationStore,
    redirect_uris: tuple[str, ...],
    trace: Trace,
    preregistered: PreRegisteredClient | None = None,
    client_metadata_url: str | None = None,
    force_new: bool = False,
) -> ClientRegistration:
    """Pick the registration path in the MCP order; reuse a stored registration for this issuer.

    ``redirect_uris`` are those to register; the first is the one this sign-in sends. A stored dynamic
    registration is reused when it accepts that one (exactly, or in its port-less form): one registration per
    authorization server, not one per sign-in.
    """
    if preregistered is not None:
        trace.add("registration", metadata.issuer, None, "pre-registered client")
        return preregistered_registration(preregistered, metadata, redirect_uris)
    if client_metadata_url and metadata.client_id_metadata_document_supported:
        trace.add("registration", metadata.issuer, None, "client ID metadata document")
        return ClientRegistration(
            issuer=metadata.issuer,
            client_id=validate_client_metadata_url(client_metadata_url),
            method="cimd",
            redirect_uris=redirect_uris,
        )
    stored = None if force_new else store.get(metadata.issuer)
    if (
        stored is not None
        and stored.method == "dcr"
        and not stored.secret_expired()
        and accepts_redirect_uri(stored, redirect_uris[0])
    ):
        trace.add("registration", metadata.issuer, None, "reused dynamic registration")
        return stored
    if metadata.registration_endpoint:
        registration = await register_dynamically(client, metadata, redirect_uris, trace=trace)
        store.put(registration)
        return registration
    raise NoRegistrationPath(
        f"The authorization server {metadata.issuer} offers no way for this app to register itself.",
        issuer=metadata.issuer,
    )


def forgotten(registration: ClientRegistration, error: BaseException) -> bool:
    """The authorization server answered ``invalid_client`` for a dynamic registration: it no longer knows it, so it
    is forgotten here too and a new one can be made (a pre-registered or metadata-document client cannot)."""
    return isinstance(error, InvalidClient) and registration.method == "dcr"
