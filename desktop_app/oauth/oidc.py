"""OpenID Connect Core 1.0 for a public client: the id_token (§3.1.3.7), the issuer's keys (JWKS, RFC 7517) and the
userinfo endpoint (§5.3).

Pure functions check (:func:`validate_id_token`, :func:`access_token_claims`); :func:`fetch_jwks`,
:func:`verify_id_token` and :func:`fetch_userinfo` are thin async runners. :class:`JwksCache` keeps an issuer's keys
between sign-ins. What the claims mean for an account (its label, its login hint) is ``accounts.identity``'s
business. No token text ever reaches a log record or an error message: errors name the issuer and the rule.
"""

from __future__ import annotations

import hmac
import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    DecodeError,
    ExceededSizeError,
    ExpiredTokenError,
    InvalidPayloadError,
    JoseError,
    MissingClaimError,
    SecurityWarning,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from joserfc.util import json_b64decode

from desktop_app.error_codes import Code
from desktop_app.errors import ProtocolViolation, TransientError, one_line
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.http import request_json
from desktop_app.oauth.trace import Trace
from desktop_app.oauth.urls import require_secure, same_origin

log = logging.getLogger(__name__)

#: Signature algorithms an id_token may use. Asymmetric only: a public client has no secret to check an HS*
#: signature with (and anyone holding the client id could forge one); "none" is never accepted.
#: ``Ed25519`` is RFC 9864's fully specified successor of ``EdDSA``.
ID_TOKEN_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)

#: Clock skew tolerated on ``exp``, ``iat`` and ``nbf`` (seconds).
DEFAULT_LEEWAY = 120
#: An id_token or access token longer than this is not looked at (a JWT is a few KiB at most).
MAX_JWT_LENGTH = 64 * 1024
#: How long a fetched JWKS is used before it is fetched again (an unknown ``kid`` refetches earlier).
JWKS_MAX_AGE = 3600.0

_HINT = "Nothing was stored. Try signing in again; if it keeps happening, the server's sign-in is misconfigured."

# The registry that checks id_token signatures: only the allow-list, and header parameters it does not know are
# ignored (RFC 7515 §4: unless listed in "crit", which joserfc still enforces).
_ID_TOKEN_REGISTRY = JWSRegistry(algorithms=list(ID_TOKEN_ALGORITHMS), strict_check_header=False)


# -- reading a JWS without trusting it -----------------------------------------------------------------------


def _jws_segments(token: object) -> list[str] | None:
    """The three segments of a JWS compact serialization (RFC 7515 §7.1), or None for anything else (JWE, garbage)."""
    if not isinstance(token, str) or not token or len(token) > MAX_JWT_LENGTH:
        return None
    segments = token.split(".")
    if len(segments) != 3 or not segments[0] or not segments[1]:
        return None
    return segments


def _unverified_json(segment: str) -> Any:
    """A segment's base64url-encoded JSON, decoded by joserfc (strict base64url); None when it is not that.

    joserfc's own compact reader (``jws.extract_compact``) is not used here: it refuses a header without ``alg``
    with the same error as a header that is not an object, and those two earn different refusals.
    """
    try:
        return json_b64decode(segment.encode("utf-8"))
    except (ValueError, RecursionError):  # binascii.Error, UnicodeError and JSONDecodeError are ValueErrors
        return None


def _violation(code: Code, issuer: str, what: str) -> ProtocolViolation:
    return ProtocolViolation(code, f"The id_token from {issuer} {what}.", hint=_HINT, url=issuer)


def _header(id_token: str, issuer: str) -> dict[str, Any]:
    segments = _jws_segments(id_token)
    if segments is None:
        raise _violation("id_token_malformed", issuer, "is not a signed JWT")
    header = _unverified_json(segments[0])
    if not isinstance(header, dict):
        raise _violation("id_token_malformed", issuer, "has an unreadable header")
    return header


# -- keys ----------------------------------------------------------------------------------------------------


def _key_set(jwks: Mapping[str, Any], issuer: str) -> KeySet:
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise ProtocolViolation(
            "malformed_jwks", f"The signing keys (JWKS) of {issuer} are not a list of keys.", url=issuer
        )
    try:
        return KeySet.import_key_set({"keys": keys})
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProtocolViolation(
            "malformed_jwks", f"The signing keys (JWKS) of {issuer} contain no usable key.", url=issuer
        ) from None


def _kids(jwks: Mapping[str, Any]) -> set[str]:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return set()
    return {k["kid"] for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}


def id_token_key_unknown(id_token: str, jwks: Mapping[str, Any]) -> bool:
    """True when the id_token names a ``kid`` the JWKS does not have (the keys may have been rotated)."""
    segments = _jws_segments(id_token)
    header = _unverified_json(segments[0]) if segments is not None else None
    kid = header.get("kid") if isinstance(header, dict) else None
    return isinstance(kid, str) and kid not in _kids(jwks)


# -- id_token ------------------------------------------------------------------------------------------------

# Which claim failed → the code and the words (never the claim's value: it came from the token).
_CLAIM_FAILURES: dict[str, tuple[Code, str]] = {
    "iss": ("id_token_issuer_mismatch", "was issued by someone else"),
    "aud": ("id_token_audience_mismatch", "was not issued to this app"),
    "exp": ("id_token_expired", "has expired (or this computer's clock is wrong)"),
    "nbf": ("id_token_not_yet_valid", "is not valid yet (or this computer's clock is wrong)"),
    "iat": ("id_token_not_yet_valid", "was issued in the future (or this computer's clock is wrong)"),
    "sub": ("id_token_no_subject", "does not say who signed in (no 'sub')"),
}
_CLAIM_ORDER = ("iss", "aud", "exp", "iat", "nbf", "sub")


def _claim_failure(error: ClaimError, issuer: str, *, missing: bool) -> ProtocolViolation:
    names = str(getattr(error, "claim", "")).split(",")
    name = next((n for n in _CLAIM_ORDER if n in names), names[0])
    if missing and name == "iat":
        return _violation("id_token_malformed", issuer, "has no 'iat'")
    if missing and name == "exp":
        return _violation("id_token_malformed", issuer, "has no 'exp'")
    if isinstance(error, ExpiredTokenError):
        name = "exp"
    code, what = _CLAIM_FAILURES.get(name, ("id_token_malformed", "has an unusable claim"))
    return _violation(code, issuer, what)


def validate_id_token(
    id_token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    now: float,
    leeway: int = DEFAULT_LEEWAY,
) -> dict[str, Any]:
    """Check an id_token (OpenID Connect Core §3.1.3.7) and return its claims.

    Signature against ``jwks`` with an allowed asymmetric algorithm; ``iss`` exactly ``issuer``; ``aud`` contains
    ``client_id`` (and ``azp`` is ``client_id`` when there are several audiences, or whenever it is present);
    ``exp`` in the future and ``iat`` not in the future, both within ``leeway``; ``nonce`` equal to the one sent
    (when one was sent); ``sub`` a non-empty string. Every failure is a :class:`ProtocolViolation` with its own
    code, naming the issuer and never the token.
    """
    header = _header(id_token, issuer)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ID_TOKEN_ALGORITHMS:
        shown = one_line(alg, 20) if isinstance(alg, str) else "no algorithm"
        raise _violation("id_token_algorithm_not_allowed", issuer, f"is signed with {shown!r}, which is not allowed")
    keys = _key_set(jwks, issuer)
    # Step 1: the signature (and that the payload is a JSON object).
    try:
        with warnings.catch_warnings():
            # joserfc warns that "EdDSA" is deprecated (RFC 9864); it is still a sound asymmetric algorithm.
            warnings.filterwarnings("ignore", category=SecurityWarning, message="EdDSA")
            token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS), registry=_ID_TOKEN_REGISTRY)
    except UnsupportedAlgorithmError:
        raise _violation("id_token_algorithm_not_allowed", issuer, "is signed with an algorithm not allowed") from None
    except (DecodeError, InvalidPayloadError, ExceededSizeError):
        raise _violation("id_token_malformed", issuer, "is not a readable JWT") from None
    except BadSignatureError:
        raise _violation("id_token_signature", issuer, "has a signature that does not match its keys") from None
    except (JoseError, ValueError, TypeError, KeyError):
        # No key for its kid, a key of the wrong type for its algorithm, an unusable key...
        raise _violation("id_token_signature", issuer, "is not signed by any of its published keys") from None
    claims: dict[str, Any] = dict(token.claims)
    # Step 2: the claims, with an injected clock.
    registry = jwt.JWTClaimsRegistry(
        now=math.floor(now),
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except ClaimError as error:
        raise _claim_failure(error, issuer, missing=isinstance(error, MissingClaimError)) from None
    aud = claims["aud"]
    azp = claims.get("azp")
    several_audiences = isinstance(aud, list) and len(aud) > 1
    if (several_audiences or azp is not None) and azp != client_id:
        raise _violation("id_token_audience_mismatch", issuer, "was authorized for another party ('azp')")
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.strip():
        raise _violation("id_token_no_subject", issuer, "does not say who signed in (no 'sub')")
    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str):
            raise _violation("id_token_nonce_mismatch", issuer, "has no nonce, but one was sent")
        if not hmac.compare_digest(got.encode("utf-8"), nonce.encode("utf-8")):
            raise _violation("id_token_nonce_mismatch", issuer, "answers another sign-in (its nonce differs)")
    return claims


# -- JWKS ----------------------------------------------------------------------------------------------------


async def fetch_jwks(http: httpx.AsyncClient, jwks_uri: str, *, trace: Trace) -> dict[str, Any]:
    """GET the JWKS (RFC 7517 §5): a JSON object with a ``keys`` list."""
    require_secure(jwks_uri, what="jwks_uri")
    response = await request_json(http, "GET", jwks_uri, what="signing keys (JWKS)", follow_same_origin=True)
    trace.add("jwks", jwks_uri, response.status)
    if response.status != 200:
        raise ProtocolViolation(
            "jwks_http_error", f"The signing keys (JWKS) at {jwks_uri} answered HTTP {response.status}.", url=jwks_uri
        )
    data = response.data
    if data is None or not isinstance(data.get("keys"), list):
        problem = response.json_problem or "no 'keys' list"
        raise ProtocolViolation(
            "malformed_jwks", f"The signing keys (JWKS) at {jwks_uri} are not a JWKS ({problem}).", url=jwks_uri
        )
    return data


@dataclass(slots=True)
class JwksCache:
    """Fetched JWKS per ``jwks_uri``. Used again for up to ``max_age`` seconds; :meth:`refresh` refetches.

    Meant to live as long as the accounts it serves, so that a second sign-in at the same issuer asks for its
    keys only when they are stale or do not have the key the new id_token names.
    """

    max_age: float = JWKS_MAX_AGE
    _entries: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    def cached(self, jwks_uri: str, *, now: float) -> dict[str, Any] | None:
        entry = self._entries.get(jwks_uri)
        if entry is None or not (entry[0] <= now < entry[0] + self.max_age):
            return None
        return entry[1]

    def put(self, jwks_uri: str, jwks: dict[str, Any], *, now: float) -> None:
        self._entries[jwks_uri] = (now, jwks)

    async def get(
        self, http: httpx.AsyncClient, jwks_uri: str, *, now: float, trace: Trace
    ) -> tuple[dict[str, Any], bool]:
        """The JWKS and whether it was fetched just now."""
        cached = self.cached(jwks_uri, now=now)
        if cached is not None:
            return cached, False
        return await self.refresh(http, jwks_uri, now=now, trace=trace), True

    async def refresh(self, http: httpx.AsyncClient, jwks_uri: str, *, now: float, trace: Trace) -> dict[str, Any]:
        jwks = await fetch_jwks(http, jwks_uri, trace=trace)
        self.put(jwks_uri, jwks, now=now)
        return jwks


async def verify_id_token(
    http: httpx.AsyncClient,
    metadata: AuthorizationServerMetadata,
    id_token: str,
    *,
    client_id: str,
    nonce: str | None,
    now: float,
    trace: Trace,
    jwks: JwksCache | None = None,
) -> dict[str, Any]:
    """Fetch (or reuse, from ``jwks``) the issuer's keys and validate; a ``kid`` the cached keys lack refetches them
    once. Without ``jwks`` the keys are fetched for this call only."""
    issuer = metadata.issuer
    if metadata.jwks_uri is None:
        raise ProtocolViolation(
            "id_token_unverifiable",
            f"{issuer} sent an id_token but publishes no signing keys (no jwks_uri in its metadata).",
            hint=_HINT,
            url=issuer,
        )
    cache = jwks if jwks is not None else JwksCache()
    keys, fresh = await cache.get(http, metadata.jwks_uri, now=now, trace=trace)
    if not fresh and id_token_key_unknown(id_token, keys):
        trace.add("jwks", metadata.jwks_uri, None, "unknown key id; fetching the keys again")
        keys = await cache.refresh(http, metadata.jwks_uri, now=now, trace=trace)
    return validate_id_token(id_token, keys, issuer=issuer, client_id=client_id, nonce=nonce, now=now)


# -- userinfo ------------------------------------------------------------------------------------------------


def userinfo_endpoint(metadata: AuthorizationServerMetadata, trace: Trace) -> str | None:
    """The userinfo endpoint the MCP access token may be shown to, or None.

    That token is meant for the MCP server; the authorization server that issued it may see it again, anyone else
    may not: an endpoint on another origin than the issuer's is not called (metadata can name any URL there), and
    the account is labelled from the id_token, the token's own claims, or a nickname instead.
    """
    endpoint = metadata.userinfo_endpoint
    if endpoint is None:
        return None
    if not same_origin(endpoint, metadata.issuer):
        trace.add("userinfo", endpoint, None, "not called: not on the issuer's origin")
        log.info("userinfo endpoint %s is not on the origin of %s; not called", endpoint, metadata.issuer)
        return None
    return endpoint


async def fetch_userinfo(
    http: httpx.AsyncClient, endpoint: str, access_token: str, *, trace: Trace
) -> dict[str, Any] | None:
    """The userinfo claims (OpenID Connect Core §5.3), or None when the endpoint cannot tell.

    None for 401/403 (many servers refuse an audience-restricted access token there), any other refusal, an answer
    without a string ``sub``, and a transient failure: identity then falls back to a weaker source.
    """
    require_secure(endpoint, what="userinfo endpoint")
    try:
        response = await request_json(
            http, "GET", endpoint, what="userinfo endpoint", headers={"Authorization": f"Bearer {access_token}"}
        )
    except TransientError as exc:
        trace.add("userinfo", endpoint, None, f"unavailable: {exc.code}")
        log.info("userinfo endpoint %s unavailable (%s); identity falls back", endpoint, exc.code)
        return None
    except ProtocolViolation as exc:
        trace.add("userinfo", endpoint, None, f"unusable: {exc.code}")
        log.info("userinfo endpoint %s unusable (%s); identity falls back", endpoint, exc.code)
        return None
    if response.status != 200:
        note = "the access token is not accepted here" if response.status in (401, 403) else "refused"
        trace.add("userinfo", endpoint, response.status, note)
        return None
    data = response.data
    sub = data.get("sub") if data is not None else None
    if data is None or not isinstance(sub, str) or not sub.strip():
        trace.add("userinfo", endpoint, response.status, "no subject in the answer")
        log.info("userinfo endpoint %s answered without a subject; identity falls back", endpoint)
        return None
    trace.add("userinfo", endpoint, response.status)
    return data


def merge_userinfo(id_claims: Mapping[str, Any], userinfo: Mapping[str, Any], *, issuer: str) -> dict[str, Any]:
    """The id_token's claims completed by userinfo's; both must be about the same subject (OIDC Core §5.3.2)."""
    if userinfo.get("sub") != id_claims.get("sub"):
        raise ProtocolViolation(
            "userinfo_subject_mismatch",
            f"The userinfo endpoint of {issuer} describes another person than the id_token.",
            hint=_HINT,
            url=issuer,
        )
    return {**userinfo, **id_claims}


# -- access token (display only) -----------------------------------------------------------------------------


def access_token_claims(access_token: str, *, issuer: str) -> dict[str, Any] | None:
    """The payload of a JWT-shaped access token, NOT verified: for a label only, never for a decision.

    None unless it decodes to a JSON object whose ``iss`` is exactly ``issuer`` and whose ``sub`` is a string.
    """
    segments = _jws_segments(access_token)
    claims = _unverified_json(segments[1]) if segments is not None else None
    if not isinstance(claims, dict) or claims.get("iss") != issuer:
        return None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        return None
    return claims
