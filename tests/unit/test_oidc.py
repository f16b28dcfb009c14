"""OpenID Connect (desktop_app.oauth.oidc): id_token validation, JWKS fetching and the one refetch, userinfo,
access-token claims."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from desktop_app.errors import ProtocolViolation
from desktop_app.oauth.oidc import (
    ID_TOKEN_ALGORITHMS,
    JwksCache,
    access_token_claims,
    fetch_jwks,
    fetch_userinfo,
    validate_id_token,
    verify_id_token,
)
from desktop_app.oauth.trace import Trace
from tests.unit.oidc_fakes import (
    ACCESS,
    CLIENT_ID,
    DROP,
    ISSUER,
    JWKS_URI,
    NONCE,
    NOW,
    RS256_HEADER,
    USERINFO,
    Server,
    assert_no_token_text,
    b64,
    claims_for,
    json_route,
    metadata,
    public_jwks,
    sign,
    unsigned_jwt,
    userinfo_route,
)

#: The keys (rsa, ec, okp, other_rsa, rotated_rsa), their jwks, and make_client.
pytest_plugins = ["tests.unit.oidc_fixtures"]


def validate(token: str, keys: dict[str, Any], *, nonce: str | None = NONCE, now: float = NOW) -> dict[str, Any]:
    return validate_id_token(token, keys, issuer=ISSUER, client_id=CLIENT_ID, nonce=nonce, now=now)


def refused(token: str, keys: dict[str, Any], **kwargs: Any) -> ProtocolViolation:
    with pytest.raises(ProtocolViolation) as info:
        validate(token, keys, **kwargs)
    assert ISSUER in info.value.message
    assert_no_token_text(info.value, token)
    return info.value


# -- the allow-list ---------------------------------------------------------------------------------------


def test_allow_list_is_asymmetric_only() -> None:
    assert "none" not in ID_TOKEN_ALGORITHMS
    assert not any(alg.upper().startswith("HS") for alg in ID_TOKEN_ALGORITHMS)
    assert {"RS256", "PS256", "ES256", "EdDSA"} <= set(ID_TOKEN_ALGORITHMS)


# -- validate_id_token: accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_name", "alg"),
    [("rsa", "RS256"), ("rsa", "PS256"), ("rsa", "RS512"), ("ec", "ES256"), ("okp", "EdDSA"), ("okp", "Ed25519")],
)
def test_valid_id_token_is_accepted(
    request: pytest.FixtureRequest, jwks: dict[str, Any], key_name: str, alg: str
) -> None:
    key = request.getfixturevalue(key_name)
    claims = validate(sign(key, claims_for(), alg), jwks)
    assert (claims["sub"], claims["email"]) == ("sub-0a11ce", "alice@example.test")


def test_audience_list_with_matching_azp_is_accepted(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    token = sign(rsa, claims_for(aud=[CLIENT_ID, "https://api.example"], azp=CLIENT_ID))
    assert validate(token, jwks)["azp"] == CLIENT_ID


def test_single_audience_in_a_list_needs_no_azp(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    assert validate(sign(rsa, claims_for(aud=[CLIENT_ID])), jwks)["sub"] == "sub-0a11ce"


def test_expired_within_leeway_is_accepted(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    token = sign(rsa, claims_for(iat=NOW - 3600, exp=NOW - 60))
    assert validate(token, jwks)["sub"] == "sub-0a11ce"


def test_issued_slightly_in_the_future_is_accepted(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    assert validate(sign(rsa, claims_for(iat=NOW + 60)), jwks)["sub"] == "sub-0a11ce"


def test_nonce_is_not_required_when_none_was_sent(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    assert validate(sign(rsa, claims_for(nonce=DROP)), jwks, nonce=None)["sub"] == "sub-0a11ce"


def test_a_single_key_without_kid_is_used(jwks: dict[str, Any]) -> None:
    key = RSAKey.generate_key(2048)
    token = jwt.encode({"alg": "RS256"}, claims_for(), key, algorithms=["RS256"])
    only = {"keys": [{k: v for k, v in key.as_dict(private=False).items() if k != "kid"}]}
    assert validate(token, only)["sub"] == "sub-0a11ce"


def test_unknown_header_parameters_are_ignored(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    token = sign(rsa, claims_for(), x_vendor="something")
    assert validate(token, jwks)["sub"] == "sub-0a11ce"


# -- validate_id_token: refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"iss": "https://evil.example"}, "id_token_issuer_mismatch"),
        ({"iss": ISSUER + "/"}, "id_token_issuer_mismatch"),
        ({"iss": DROP}, "id_token_issuer_mismatch"),
        ({"aud": "someone-else"}, "id_token_audience_mismatch"),
        ({"aud": ["someone-else", "another"]}, "id_token_audience_mismatch"),
        ({"aud": DROP}, "id_token_audience_mismatch"),
        ({"aud": [CLIENT_ID, "https://api.example"]}, "id_token_audience_mismatch"),  # several, no azp
        ({"aud": [CLIENT_ID, "https://api.example"], "azp": "https://api.example"}, "id_token_audience_mismatch"),
        ({"azp": "someone-else"}, "id_token_audience_mismatch"),
        ({"exp": NOW - 121, "iat": NOW - 3600}, "id_token_expired"),
        ({"exp": NOW - 86400, "iat": NOW - 90000}, "id_token_expired"),
        ({"exp": DROP}, "id_token_malformed"),
        ({"iat": DROP}, "id_token_malformed"),
        ({"iat": NOW + 600}, "id_token_not_yet_valid"),
        ({"nbf": NOW + 600}, "id_token_not_yet_valid"),
        ({"nonce": "another-sign-in"}, "id_token_nonce_mismatch"),
        ({"nonce": DROP}, "id_token_nonce_mismatch"),
        ({"nonce": 12345}, "id_token_nonce_mismatch"),
        ({"sub": DROP}, "id_token_no_subject"),
        ({"sub": ""}, "id_token_no_subject"),
        ({"sub": "   "}, "id_token_no_subject"),
        ({"sub": 42}, "id_token_no_subject"),
    ],
)
def test_claim_rules(rsa: RSAKey, jwks: dict[str, Any], changes: dict[str, Any], code: str) -> None:
    token = sign(rsa, claims_for(**changes))
    assert refused(token, jwks).code == code


def test_foreign_issuer_is_not_echoed(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    error = refused(sign(rsa, claims_for(iss="https://evil.example/attacker-text")), jwks)
    assert "evil" not in error.message and "attacker" not in error.message


def test_alg_none_is_refused(jwks: dict[str, Any]) -> None:
    header, payload = b64(b'{"alg":"none"}'), b64(json.dumps(claims_for()).encode())
    assert refused(f"{header}.{payload}.", jwks).code == "id_token_algorithm_not_allowed"
    assert refused(f"{header}.{payload}.c2ln", jwks).code == "id_token_algorithm_not_allowed"


def test_hs256_is_refused_even_with_the_secret_in_the_jwks(jwks: dict[str, Any]) -> None:
    secret = OctKey.import_key(b"a-shared-secret-of-thirty-two-by", parameters={"kid": "hs"})
    token = jwt.encode({"alg": "HS256", "kid": "hs"}, claims_for(), secret, algorithms=["HS256"])
    with_secret = {"keys": [*jwks["keys"], secret.as_dict(private=True)]}
    assert refused(token, with_secret).code == "id_token_algorithm_not_allowed"
    assert refused(token, jwks).code == "id_token_algorithm_not_allowed"


def test_missing_alg_is_refused(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    good = sign(rsa, claims_for())
    token = f"{b64(json.dumps({'kid': 'rsa-1'}).encode())}.{good.split('.', 1)[1]}"
    assert refused(token, jwks).code == "id_token_algorithm_not_allowed"


def test_a_token_signed_by_another_key_is_refused(other_rsa: RSAKey, jwks: dict[str, Any]) -> None:
    token = sign(other_rsa, claims_for())  # same kid "rsa-1", different key
    assert refused(token, jwks).code == "id_token_signature"


def test_a_tampered_payload_is_refused(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    header, _payload, signature = sign(rsa, claims_for()).split(".")
    forged = b64(json.dumps(claims_for(sub="sub-00b0b0")).encode())
    assert refused(f"{header}.{forged}.{signature}", jwks).code == "id_token_signature"


def test_unknown_kid_is_refused(rotated_rsa: RSAKey, jwks: dict[str, Any]) -> None:
    assert refused(sign(rotated_rsa, claims_for()), jwks).code == "id_token_signature"


def test_key_of_the_wrong_type_for_the_algorithm(ec: ECKey, jwks: dict[str, Any]) -> None:
    # Signed with the EC key but the header names the RSA key's kid: no RSA verification can succeed.
    token = sign(ec, claims_for(), "ES256", kid="rsa-1")
    assert refused(token, jwks).code == "id_token_signature"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "a.b",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln.more.parts",  # JWE-shaped
        "!!!.eyJzdWIiOiJ4In0.c2ln",
        f"{b64(b'[1,2]')}.eyJzdWIiOiJ4In0.c2ln",
        "x" * 70_000,
        f"{RS256_HEADER}=.eyJzdWIiOiJ4In0.c2ln",  # padded: not base64url as JOSE spells it
        "é.eyJzdWIiOiJ4In0.c2ln",
        f"{b64(b'[' * 40_000)}.eyJzdWIiOiJ4In0.c2ln",  # nested deeper than the JSON reader goes
    ],
)
def test_malformed_tokens(jwks: dict[str, Any], token: str) -> None:
    assert refused(token, jwks).code == "id_token_malformed"


def test_a_payload_that_is_not_json_is_refused(rsa: RSAKey, jwks: dict[str, Any]) -> None:
    token = jws.serialize_compact({"alg": "RS256", "kid": "rsa-1"}, b"not json at all", rsa, algorithms=["RS256"])
    assert refused(token, jwks).code == "id_token_malformed"


@pytest.mark.parametrize("keys", [{}, {"keys": "x"}, {"keys": [1]}, {"keys": []}, {"keys": [{"kty": "nope"}]}])
def test_unusable_jwks(rsa: RSAKey, keys: dict[str, Any]) -> None:
    assert refused(sign(rsa, claims_for()), keys).code == "malformed_jwks"


# -- JWKS fetching and the one refetch ---------------------------------------------------------------------


async def test_fetch_jwks(make_client: Callable[[Server], httpx.AsyncClient], jwks: dict[str, Any]) -> None:
    server = Server({"/jwks": json_route(jwks)})
    trace = Trace()
    async with make_client(server) as http:
        assert await fetch_jwks(http, JWKS_URI, trace=trace) == jwks
    assert [(e.step, e.status) for e in trace.events] == [("jwks", 200)]


@pytest.mark.parametrize(
    ("route", "code"),
    [
        (json_route({"error": "x"}, 404), "jwks_http_error"),
        (json_route([1, 2]), "malformed_jwks"),
        (json_route({"keys": "nope"}), "malformed_jwks"),
        (lambda _r: httpx.Response(200, text="<html>"), "malformed_jwks"),
    ],
)
async def test_fetch_jwks_refuses(
    make_client: Callable[[Server], httpx.AsyncClient],
    route: Callable[[httpx.Request], httpx.Response],
    code: str,
) -> None:
    async with make_client(Server({"/jwks": route})) as http:
        with pytest.raises(ProtocolViolation) as info:
            await fetch_jwks(http, JWKS_URI, trace=Trace())
    assert info.value.code == code
    assert JWKS_URI in info.value.message


async def test_fetch_jwks_needs_https(make_client: Callable[[Server], httpx.AsyncClient]) -> None:
    server = Server({})
    async with make_client(server) as http:
        with pytest.raises(ProtocolViolation) as info:
            await fetch_jwks(http, "http://as.example/jwks", trace=Trace())
    assert info.value.code == "insecure_url"
    assert server.seen == []


async def test_unknown_kid_refetches_exactly_once_then_fails(
    make_client: Callable[[Server], httpx.AsyncClient], rotated_rsa: RSAKey, jwks: dict[str, Any]
) -> None:
    server = Server({"/jwks": json_route(jwks)})  # still the old keys
    cache = JwksCache()
    cache.put(JWKS_URI, jwks, now=NOW - 10)
    token = sign(rotated_rsa, claims_for())
    async with make_client(server) as http:
        with pytest.raises(ProtocolViolation) as info:
            await verify_id_token(
                http, metadata(), token, client_id=CLIENT_ID, nonce=NONCE, now=NOW, trace=Trace(), jwks=cache
            )
    assert info.value.code == "id_token_signature"
    assert server.paths() == ["/jwks"]


async def test_rotated_keys_are_found_by_the_refetch(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey, rotated_rsa: RSAKey
) -> None:
    server = Server({"/jwks": json_route(public_jwks(rsa, rotated_rsa))})
    cache = JwksCache()
    cache.put(JWKS_URI, public_jwks(rsa), now=NOW - 10)
    trace = Trace()
    async with make_client(server) as http:
        claims = await verify_id_token(
            http,
            metadata(),
            sign(rotated_rsa, claims_for()),
            client_id=CLIENT_ID,
            nonce=NONCE,
            now=NOW,
            trace=trace,
            jwks=cache,
        )
        assert claims["sub"] == "sub-0a11ce"
        # The refreshed set is cached: the next token with that kid needs no request.
        await verify_id_token(
            http,
            metadata(),
            sign(rotated_rsa, claims_for()),
            client_id=CLIENT_ID,
            nonce=NONCE,
            now=NOW + 5,
            trace=trace,
            jwks=cache,
        )
    assert server.paths() == ["/jwks"]


async def test_a_fresh_fetch_is_not_repeated_for_an_unknown_kid(
    make_client: Callable[[Server], httpx.AsyncClient], rotated_rsa: RSAKey, jwks: dict[str, Any]
) -> None:
    server = Server({"/jwks": json_route(jwks)})
    async with make_client(server) as http:
        with pytest.raises(ProtocolViolation) as info:
            await verify_id_token(
                http,
                metadata(),
                sign(rotated_rsa, claims_for()),
                client_id=CLIENT_ID,
                nonce=NONCE,
                now=NOW,
                trace=Trace(),
            )
    assert info.value.code == "id_token_signature"
    assert server.paths() == ["/jwks"]


async def test_a_stale_cache_entry_is_fetched_again(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey, jwks: dict[str, Any]
) -> None:
    server = Server({"/jwks": json_route(jwks)})
    cache = JwksCache(max_age=3600)
    cache.put(JWKS_URI, jwks, now=NOW - 4000)
    async with make_client(server) as http:
        await verify_id_token(
            http,
            metadata(),
            sign(rsa, claims_for()),
            client_id=CLIENT_ID,
            nonce=NONCE,
            now=NOW,
            trace=Trace(),
            jwks=cache,
        )
    assert server.paths() == ["/jwks"]


# -- userinfo ----------------------------------------------------------------------------------------------


async def test_userinfo_claims(make_client: Callable[[Server], httpx.AsyncClient]) -> None:
    server = Server({"/userinfo": userinfo_route({"sub": "s1", "email": "a@b.test"})})
    async with make_client(server) as http:
        assert await fetch_userinfo(http, USERINFO, ACCESS, trace=Trace()) == {"sub": "s1", "email": "a@b.test"}
    assert server.seen[0].method == "GET"


@pytest.mark.parametrize(
    "route",
    [
        json_route({"error": "invalid_token"}, 401),
        json_route({"error": "insufficient_scope"}, 403),
        json_route({"error": "invalid_request"}, 400),
        json_route({"error": "server_error"}, 500),
        json_route({"error": "slow"}, 503),
        json_route({"email": "a@b.test"}),  # no sub
        json_route({"sub": 7}),
        lambda _r: httpx.Response(200, text="eyJhbGciOi.not-json"),
        lambda _r: httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
    ],
)
async def test_userinfo_gives_nothing(
    make_client: Callable[[Server], httpx.AsyncClient],
    route: Callable[[httpx.Request], httpx.Response],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with make_client(Server({"/userinfo": route})) as http:
        assert await fetch_userinfo(http, USERINFO, ACCESS, trace=Trace()) is None
    assert all(ACCESS not in r.getMessage() for r in caplog.records)


async def test_userinfo_transient_failure_is_logged_without_the_token(
    make_client: Callable[[Server], httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with make_client(Server({"/userinfo": broken})) as http:
        assert await fetch_userinfo(http, USERINFO, ACCESS, trace=Trace()) is None
    records = [r for r in caplog.records if r.name == "desktop_app.oauth.oidc"]
    assert records and records[0].levelno == logging.INFO
    assert USERINFO in records[0].getMessage()
    assert all(ACCESS not in r.getMessage() for r in caplog.records)


# -- access-token claims (display only) --------------------------------------------------------------------


def test_access_token_claims_are_read_without_verification() -> None:
    claims = access_token_claims(unsigned_jwt({"iss": ISSUER, "sub": "s1", "email": "a@b.test"}), issuer=ISSUER)
    assert claims == {"iss": ISSUER, "sub": "s1", "email": "a@b.test"}


@pytest.mark.parametrize(
    "token",
    [
        unsigned_jwt({"iss": "https://other.example", "sub": "s1"}),
        unsigned_jwt({"sub": "s1"}),
        unsigned_jwt({"iss": ISSUER}),
        unsigned_jwt({"iss": ISSUER, "sub": 12}),
        unsigned_jwt({"iss": ISSUER, "sub": ""}),
        f"{b64(b'{}')}.{b64(b'[1]')}.x",
        f"{b64(b'{}')}.!!!.x",
        ACCESS,
        "a.b.c.d.e",
    ],
)
def test_access_token_claims_ignored(token: str) -> None:
    assert access_token_claims(token, issuer=ISSUER) is None
