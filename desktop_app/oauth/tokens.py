"""The token endpoint (RFC 6749 §4.1.3, §6; RFC 8707 ``resource``) and revocation (RFC 7009).

Pure builders and parsers, thin async runners. Tokens are typed, frozen and never printed.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote

import httpx

from desktop_app.errors import (
    ConnectorError,
    ProtocolViolation,
    ServerUnavailable,
    UserActionRequired,
    oauth_error,
    scrub,
)
from desktop_app.oauth.authorize import PendingAuthorization
from desktop_app.oauth.http import JsonResponse, request_json
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.tokenset import TokenSet as TokenSet  # re-exported: defined apart, without httpx
from desktop_app.oauth.trace import Trace

#: A lifetime beyond this is treated as a server mistake and clamped (the token is refreshed on a 401 anyway).
MAX_EXPIRES_IN = 366 * 24 * 3600
#: The form fields of a token request whose values are secrets (the client id, grant type and URLs are not).
_SECRET_FIELDS = ("code", "code_verifier", "refresh_token", "client_secret", "client_assertion")
_DIGITS = re.compile(r"[0-9]{1,30}")  # ASCII digits only: str.isdigit() accepts '²'


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token endpoint request, before it is sent: where, which headers, which form fields."""

    url: str
    form: dict[str, str] = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)


def client_authentication(registration: ClientRegistration) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and form fields that authenticate the client, the way its registration says (RFC 6749 §2.3)."""
    method = registration.token_endpoint_auth_method
    if method == "client_secret_basic":
        assert registration.client_secret is not None
        # RFC 6749 §2.3.1: both parts form-urlencoded before base64.
        user = quote(registration.client_id, safe="")
        password = quote(registration.client_secret, safe="")
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {encoded}"}, {}
    if method == "client_secret_post":
        assert registration.client_secret is not None
        return {}, {"client_id": registration.client_id, "client_secret": registration.client_secret}
    return {}, {"client_id": registration.client_id}


def build_code_exchange(pending: PendingAuthorization, code: str) -> TokenRequest:
    headers, auth_form = client_authentication(pending.registration)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.pkce.verifier,
        **auth_form,
    }
    if pending.resource is not None:
        form["resource"] = pending.resource
    return TokenRequest(pending.token_endpoint, form, headers)


def build_refresh(
    token_endpoint: str, registration: ClientRegistration, tokens: TokenSet, *, send_resource: bool = True
) -> TokenRequest:
    if tokens.refresh_token is None:
        raise UserActionRequired("no_refresh_token", "This sign-in cannot be renewed; sign in again.")
    headers, auth_form = client_authentication(registration)
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, **auth_form}
    # Never ask for more than was granted (OAuth 2.1 §4.3.1): no scope parameter means "the same".
    if tokens.resource is not None and send_resource:
        form["resource"] = tokens.resource
    return TokenRequest(token_endpoint, form, headers)


def _expires_in(data: Mapping[str, Any], url: str) -> float | None:
    raw = data.get("expires_in")
    if raw is None:
        return None
    value: float
    if isinstance(raw, bool):
        value = math.nan
    elif isinstance(raw, int):
        value = float(min(raw, MAX_EXPIRES_IN)) if raw > 0 else -1.0  # no float overflow on huge integers
    elif isinstance(raw, float):
        value = raw
    elif isinstance(raw, str) and _DIGITS.fullmatch(raw.strip()):
        value = float(min(int(raw.strip()), MAX_EXPIRES_IN))
    else:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ProtocolViolation(
            "invalid_expires_in",
            f"The token endpoint {url} gave an unusable expires_in ({str(raw)[:40]!r}).",
            url=url,
        )
    return min(value, MAX_EXPIRES_IN)


def parse_token_response(
    response: JsonResponse,
    *,
    now: float,
    issuer: str,
    client_id: str,
    resource: str | None,
    requested_scopes: tuple[str, ...],
    previous: TokenSet | None = None,
) -> TokenSet:
    """Validate a token endpoint answer; keep the previous refresh token when none is returned."""
    url = response.url
    data = response.data
    if response.status != 200:
        error = data.get("error") if data else None
        if isinstance(error, str) and error:
            description = data.get("error_description") if data else None
            raise oauth_error(
                error,
                description if isinstance(description, str) else None,
                where=f"The token endpoint {url}",
                url=url,
            )
        raise ProtocolViolation(
            "token_http_error", f"The token endpoint {url} answered HTTP {response.status}.", url=url
        )
    if data is None:
        raise ProtocolViolation(
            "malformed_token_response",
            f"The token endpoint {url} answered with {response.json_problem}, not a JSON object.",
            url=url,
        )
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ProtocolViolation(
            "missing_access_token", f"The token endpoint {url} answered without an access_token.", url=url
        )
    token_type = data.get("token_type")
    if not isinstance(token_type, str) or not token_type:
        raise ProtocolViolation(
            "missing_token_type", f"The token endpoint {url} answered without a token_type.", url=url
        )
    if token_type.lower() != "bearer":
        raise ProtocolViolation(
            "unsupported_token_type",
            f"The token endpoint {url} issued a {token_type[:40]!r} token; only Bearer is supported.",
            url=url,
        )
    expires_in = _expires_in(data, url)
    scope = data.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise ProtocolViolation("malformed_token_response", f"The token endpoint {url} sent a non-string scope.")
    # RFC 6749 §5.1: no scope in the answer means what was asked for (or, on refresh, what was granted).
    if isinstance(scope, str):
        scopes = tuple(scope.split())
    elif previous is not None:
        scopes = previous.scopes
    else:
        scopes = requested_scopes
    refresh_token = data.get("refresh_token")
    if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
        raise ProtocolViolation(
            "malformed_token_response", f"The token endpoint {url} sent an unusable refresh_token.", url=url
        )
    id_token = data.get("id_token")
    return TokenSet(
        access_token=access_token,
        issuer=issuer,
        client_id=client_id,
        resource=resource,
        scopes=scopes,
        obtained_at=now,
        expires_at=None if expires_in is None else now + expires_in,
        refresh_token=refresh_token
        if isinstance(refresh_token, str)
        else (previous.refresh_token if previous is not None else None),
        id_token=id_token if isinstance(id_token, str) else (previous.id_token if previous else None),
        token_type="Bearer",  # noqa: S106 - a token type name
    )


async def send_token_request(
    client: httpx.AsyncClient, request: TokenRequest, *, trace: Trace, step: str
) -> JsonResponse:
    response = await request_json(
        client, "POST", request.url, what="token endpoint", headers=request.headers, data=request.form
    )
    trace.add(step, request.url, response.status)
    if response.status != 200 and response.data is not None:
        # An error answer is text to show and store: nothing the request carried (code, verifier, refresh token,
        # client secret) may come back in it.
        secrets = [request.form.get(name) for name in _SECRET_FIELDS] + _basic_secret(request.headers)
        data = {k: scrub(v, secrets) if isinstance(v, str) else v for k, v in response.data.items()}
        response = replace(response, data=data)
    return response


def _basic_secret(headers: Mapping[str, str]) -> list[str]:
    """The client secret inside a ``Basic`` Authorization header, as decoded and as sent."""
    value = headers.get("Authorization", "")
    if not value.startswith("Basic "):
        return []
    encoded = value.removeprefix("Basic ")
    _user, _, password = base64.b64decode(encoded).decode().partition(":")
    return [encoded, unquote(password), password]


async def exchange_code(
    client: httpx.AsyncClient, pending: PendingAuthorization, code: str, *, now: float, trace: Trace
) -> TokenSet:
    """Trade the code for tokens at the token endpoint of the issuer the sign-in started with."""
    response = await send_token_request(client, build_code_exchange(pending, code), trace=trace, step="token")
    return parse_token_response(
        response,
        now=now,
        issuer=pending.issuer,
        client_id=pending.registration.client_id,
        resource=pending.resource,
        requested_scopes=pending.scopes,
    )


async def refresh_tokens(
    client: httpx.AsyncClient,
    token_endpoint: str,
    registration: ClientRegistration,
    tokens: TokenSet,
    *,
    now: float,
    trace: Trace,
) -> TokenSet:
    """Use the refresh token; the answer's refresh token (if any) replaces the old one."""
    if registration.issuer != tokens.issuer:
        raise ProtocolViolation(
            "registration_issuer_mismatch",
            f"Tokens from {tokens.issuer} cannot be refreshed with a client registered at {registration.issuer}.",
        )
    request = build_refresh(token_endpoint, registration, tokens)
    response = await send_token_request(client, request, trace=trace, step="refresh")
    refreshed = parse_token_response(
        response,
        now=now,
        issuer=tokens.issuer,
        client_id=registration.client_id,
        resource=tokens.resource,
        requested_scopes=tokens.scopes,
        previous=tokens,
    )
    return replace(refreshed, resource=tokens.resource)


async def revoke_token(
    client: httpx.AsyncClient,
    revocation_endpoint: str,
    registration: ClientRegistration,
    token: str,
    *,
    token_type_hint: str,
    trace: Trace,
) -> None:
    """RFC 7009: 200 means revoked (or unknown, which is the same); 503 means still live, try later."""
    headers, auth_form = client_authentication(registration)
    form = {"token": token, "token_type_hint": token_type_hint, **auth_form}
    try:
        response = await request_json(
            client, "POST", revocation_endpoint, what="revocation endpoint", headers=headers, data=form
        )
    except ServerUnavailable:
        trace.add("revoke", revocation_endpoint, 503)
        raise
    trace.add("revoke", revocation_endpoint, response.status)
    if response.status == 200:
        return
    error = response.data.get("error") if response.data else None
    if isinstance(error, str) and error:
        raise oauth_error(error, None, where=f"The revocation endpoint {revocation_endpoint}")
    raise ConnectorError(
        "revocation_failed",
        f"The revocation endpoint {revocation_endpoint} answered HTTP {response.status}.",
        url=revocation_endpoint,
    )
