"""Who signed in: the account's subject and the label the person sees (OpenID Connect Core 1.0 §2, §5.1).

The order (strongest first):

1. ``openid`` is requested when the authorization server lists it (:func:`identity_scopes`); an id_token that
   comes back is validated (``oauth.oidc.verify_id_token``) and an invalid one refuses the sign-in;
2. else the userinfo endpoint, with the access token (``oauth.oidc.fetch_userinfo``), only when it is on the
   issuer's origin (``oauth.oidc.userinfo_endpoint``: the MCP access token goes nowhere else);
3. else the claims of a JWT access token, read without trusting them, for display only
   (``oauth.oidc.access_token_claims``);
4. else nothing: the caller asks the person for a nickname.

The protocol work (signatures, keys, the userinfo request) is ``oauth.oidc``'s; this module turns the claims it
returns into an account's :class:`Identity`, and :func:`resolve_identity` runs the order above.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from desktop_app.accounts.models import Identity, IdentitySource
from desktop_app.errors import one_line
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.oidc import (
    JwksCache,
    access_token_claims,
    fetch_userinfo,
    merge_userinfo,
    userinfo_endpoint,
    verify_id_token,
)
from desktop_app.oauth.tokens import TokenSet
from desktop_app.oauth.trace import Trace

LABEL_LIMIT = 80
#: An email address is at most 254 characters (RFC 5321 §4.5.3.1.3 with §4.1.2); longer hints are not sent.
LOGIN_HINT_LIMIT = 254
#: Label claims, best first (OpenID Connect Core §5.1).
LABEL_CLAIMS = ("email", "preferred_username", "name")
LOGIN_HINT_CLAIMS = ("email", "preferred_username")
#: What a label must never be: the generic name of every server, which tells the person nothing.
_MEANINGLESS_LABELS = frozenset({"mcp"})


# -- scopes --------------------------------------------------------------------------------------------------


def identity_scopes(metadata: AuthorizationServerMetadata) -> tuple[str, ...]:
    """``openid`` (with ``email`` and ``profile`` when offered) if the authorization server lists it, else ()."""
    offered = metadata.scopes_supported or ()
    if "openid" not in offered:
        return ()
    return ("openid", *(scope for scope in ("email", "profile") if scope in offered))


# -- labels --------------------------------------------------------------------------------------------------


def _usable_label(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    label = one_line(value, LABEL_LIMIT)
    if not label or label.casefold() in _MEANINGLESS_LABELS:
        return None
    return label


def label_from_claims(claims: Mapping[str, Any]) -> str | None:
    """``email``, else ``preferred_username``, else ``name``: printable, one line, at most 80 characters.

    Never empty and never "MCP" (in any case): such a value is skipped.
    """
    for key in LABEL_CLAIMS:
        label = _usable_label(claims.get(key))
        if label is not None:
            return label
    return None


def login_hint_from_claims(claims: Mapping[str, Any]) -> str | None:
    """``email``, else ``preferred_username``, only when it can be sent as is (printable, one line, bounded)."""
    for key in LOGIN_HINT_CLAIMS:
        value = claims.get(key)
        if isinstance(value, str) and value and len(value) <= LOGIN_HINT_LIMIT and one_line(value, 1000) == value:
            return value
    return None


def identity_from_claims(claims: Mapping[str, Any], source: IdentitySource) -> Identity:
    """An :class:`Identity` from claims that carry a string ``sub``; no label → ``user <sub>``."""
    subject = claims["sub"]
    label = label_from_claims(claims) or one_line(f"user {subject}", LABEL_LIMIT)
    return Identity(subject=subject, label=label, source=source, login_hint=login_hint_from_claims(claims))


# -- the runner ----------------------------------------------------------------------------------------------


async def resolve_identity(
    http: httpx.AsyncClient,
    metadata: AuthorizationServerMetadata,
    tokens: TokenSet,
    *,
    nonce: str | None,
    now: float,
    trace: Trace,
    jwks: JwksCache | None = None,
) -> Identity | None:
    """Who the fresh ``tokens`` of a sign-in belong to, or None (the caller asks the person for a nickname).

    With an id_token: it is validated (an invalid one raises: the sign-in must be refused and nothing stored),
    completed by userinfo when it carries no usable label. Without: userinfo, then the access token's claims.
    Meant for the tokens of a sign-in, not of a refresh (a refreshed TokenSet keeps the old, expiring id_token).
    ``jwks`` keeps the issuers' keys from one sign-in to the next; without it they are fetched for this call only.
    """
    issuer = metadata.issuer
    if tokens.issuer != issuer:
        raise ValueError(f"tokens of {tokens.issuer} resolved against the metadata of {issuer}")
    if tokens.id_token is not None:
        claims = await verify_id_token(
            http,
            metadata,
            tokens.id_token,
            client_id=tokens.client_id,
            nonce=nonce,
            now=now,
            trace=trace,
            jwks=jwks,
        )
        if label_from_claims(claims) is None and (endpoint := userinfo_endpoint(metadata, trace)) is not None:
            userinfo = await fetch_userinfo(http, endpoint, tokens.access_token, trace=trace)
            if userinfo is not None:
                claims = merge_userinfo(claims, userinfo, issuer=issuer)
        return identity_from_claims(claims, "id_token")
    if (endpoint := userinfo_endpoint(metadata, trace)) is not None:
        userinfo = await fetch_userinfo(http, endpoint, tokens.access_token, trace=trace)
        if userinfo is not None:
            return identity_from_claims(userinfo, "userinfo")
    claims_seen = access_token_claims(tokens.access_token, issuer=issuer)
    if claims_seen is not None:
        return identity_from_claims(claims_seen, "access_token")
    return None
