"""Account identity (desktop_app.accounts.identity): the scopes asked for, labels and login hints from claims, and
the order resolve_identity follows (id_token, userinfo, the access token's claims), with the issuers' keys kept
between sign-ins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from desktop_app.accounts.identity import (
    identity_from_claims,
    identity_scopes,
    label_from_claims,
    resolve_identity,
)
from desktop_app.errors import ProtocolViolation
from desktop_app.oauth.oidc import JwksCache
from desktop_app.oauth.tokens import TokenSet
from desktop_app.oauth.trace import Trace
from tests.unit.oidc_fakes import (
    ACCESS,
    CLIENT_ID,
    DROP,
    ISSUER,
    NONCE,
    NOW,
    Server,
    assert_no_token_text,
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

# -- scopes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("supported", "expected"),
    [
        (("openid", "email", "profile", "offline_access"), ("openid", "email", "profile")),
        (("profile", "openid"), ("openid", "profile")),
        (("openid",), ("openid",)),
        (("email", "profile", "mcp:tools"), ()),
        (None, ()),
    ],
)
def test_identity_scopes(supported: tuple[str, ...] | None, expected: tuple[str, ...]) -> None:
    assert identity_scopes(metadata(scopes=supported)) == expected


# -- labels ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "label"),
    [
        ({"email": "a@b.test", "preferred_username": "alice", "name": "Alice"}, "a@b.test"),
        ({"preferred_username": "alice", "name": "Alice"}, "alice"),
        ({"name": "Alice  Liddell"}, "Alice Liddell"),
        ({"email": "MCP", "preferred_username": "mcp", "name": " Mcp "}, None),
        ({"email": "MCP", "preferred_username": "alice"}, "alice"),
        ({"email": "", "preferred_username": "   ", "name": "\n\t"}, None),
        ({"email": 5, "name": ["x"]}, None),
        ({"email": "a@b.test\x1b[31m\nX"}, "a@b.test [31m X"),
        ({}, None),
    ],
)
def test_label_order(claims: dict[str, Any], label: str | None) -> None:
    assert label_from_claims(claims) == label


def test_a_long_label_is_bounded() -> None:
    label = label_from_claims({"name": "x" * 500})
    assert label is not None and len(label) == 80


def test_identity_without_a_label_is_named_after_its_subject() -> None:
    identity = identity_from_claims({"sub": "lab-sub-1", "email": "mcp"}, "userinfo")
    assert (identity.subject, identity.label, identity.source, identity.login_hint) == (
        "lab-sub-1",
        "user lab-sub-1",
        "userinfo",
        "mcp",
    )
    long = identity_from_claims({"sub": "s" * 300}, "id_token")
    assert long.label.startswith("user s") and len(long.label) == 80
    assert long.subject == "s" * 300


@pytest.mark.parametrize(
    ("claims", "hint"),
    [
        ({"email": "a@b.test", "preferred_username": "alice"}, "a@b.test"),
        ({"preferred_username": "alice", "name": "Alice"}, "alice"),
        ({"name": "Alice"}, None),
        ({"email": "a@b.test\nX", "preferred_username": "alice"}, "alice"),
        ({"email": "x" * 300}, None),
    ],
)
def test_login_hint(claims: dict[str, Any], hint: str | None) -> None:
    assert identity_from_claims({"sub": "s", **claims}, "id_token").login_hint == hint


# -- resolve_identity --------------------------------------------------------------------------------------


def tokens(access: str = ACCESS, id_token: str | None = None) -> TokenSet:
    return TokenSet(
        access_token=access,
        issuer=ISSUER,
        client_id=CLIENT_ID,
        resource="https://mcp.example/mcp",
        scopes=("mcp:tools",),
        obtained_at=NOW,
        expires_at=NOW + 300,
        id_token=id_token,
    )


async def test_resolve_from_the_id_token(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey, jwks: dict[str, Any]
) -> None:
    server = Server({"/jwks": json_route(jwks), "/userinfo": userinfo_route({"sub": "sub-0a11ce"})})
    async with make_client(server) as http:
        identity = await resolve_identity(
            http, metadata(), tokens(id_token=sign(rsa, claims_for())), nonce=NONCE, now=NOW, trace=Trace()
        )
    assert identity is not None
    assert (identity.subject, identity.label, identity.source, identity.login_hint) == (
        "sub-0a11ce",
        "alice@example.test",
        "id_token",
        "alice@example.test",
    )
    assert server.paths() == ["/jwks"]  # a label was there: no userinfo request


async def test_an_invalid_id_token_raises(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey, jwks: dict[str, Any]
) -> None:
    server = Server({"/jwks": json_route(jwks), "/userinfo": userinfo_route({"sub": "sub-0a11ce"})})
    token = sign(rsa, claims_for())
    async with make_client(server) as http:
        with pytest.raises(ProtocolViolation) as info:
            await resolve_identity(http, metadata(), tokens(id_token=token), nonce="another", now=NOW, trace=Trace())
    assert info.value.code == "id_token_nonce_mismatch"
    assert_no_token_text(info.value, token)
    assert "/userinfo" not in server.paths()  # no weaker path after a refusal


async def test_id_token_without_label_is_completed_by_userinfo(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey, jwks: dict[str, Any]
) -> None:
    bare = claims_for(email=DROP, preferred_username=DROP, name=DROP)
    server = Server(
        {
            "/jwks": json_route(jwks),
            "/userinfo": userinfo_route({"sub": "sub-0a11ce", "preferred_username": "alice", "name": "Alice"}),
        }
    )
    async with make_client(server) as http:
        identity = await resolve_identity(
            http, metadata(), tokens(id_token=sign(rsa, bare)), nonce=NONCE, now=NOW, trace=Trace()
        )
    assert identity is not None
    assert (identity.subject, identity.label, identity.source, identity.login_hint) == (
        "sub-0a11ce",
        "alice",
        "id_token",
        "alice",
    )


async def test_userinfo_about_someone_else_is_an_error(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey, jwks: dict[str, Any]
) -> None:
    bare = claims_for(email=DROP, preferred_username=DROP, name=DROP)
    server = Server({"/jwks": json_route(jwks), "/userinfo": userinfo_route({"sub": "sub-00b0b0", "email": "b@x"})})
    async with make_client(server) as http:
        with pytest.raises(ProtocolViolation) as info:
            await resolve_identity(
                http, metadata(), tokens(id_token=sign(rsa, bare)), nonce=NONCE, now=NOW, trace=Trace()
            )
    assert info.value.code == "userinfo_subject_mismatch"
    assert ISSUER in info.value.message


@pytest.mark.parametrize("status", [401, 403, 500])
async def test_id_token_without_label_and_no_userinfo_is_user_sub(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey, jwks: dict[str, Any], status: int
) -> None:
    bare = claims_for(email="MCP", preferred_username=DROP, name=DROP)
    server = Server({"/jwks": json_route(jwks), "/userinfo": json_route({"error": "x"}, status)})
    async with make_client(server) as http:
        identity = await resolve_identity(
            http, metadata(), tokens(id_token=sign(rsa, bare)), nonce=NONCE, now=NOW, trace=Trace()
        )
    assert identity is not None
    assert (identity.subject, identity.label, identity.source) == ("sub-0a11ce", "user sub-0a11ce", "id_token")
    assert server.paths() == ["/jwks", "/userinfo"]


async def test_one_cache_serves_every_sign_in_until_the_keys_rotate(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey, rotated_rsa: RSAKey
) -> None:
    """The cache an Accounts keeps: a second sign-in at the same issuer asks for no keys; an id_token signed with a
    key the cached set lacks (the issuer rotated its keys) fetches them once more, and that set is kept too."""
    published = {"keys": public_jwks(rsa)}
    server = Server({"/jwks": lambda _request: httpx.Response(200, json=published["keys"])})
    cache = JwksCache()

    async def sign_in(key: RSAKey, now: float) -> str | None:
        token = tokens(id_token=sign(key, claims_for(iat=now, exp=now + 3600)))
        identity = await resolve_identity(http, metadata(), token, nonce=NONCE, now=now, trace=Trace(), jwks=cache)
        return identity.subject if identity is not None else None

    async with make_client(server) as http:
        assert await sign_in(rsa, NOW) == "sub-0a11ce"
        assert await sign_in(rsa, NOW + 60) == "sub-0a11ce"
        assert server.paths() == ["/jwks"]
        published["keys"] = public_jwks(rsa, rotated_rsa)
        assert await sign_in(rotated_rsa, NOW + 120) == "sub-0a11ce"
        assert server.paths() == ["/jwks", "/jwks"]
        assert await sign_in(rotated_rsa, NOW + 180) == "sub-0a11ce"
        assert await sign_in(rsa, NOW + 240) == "sub-0a11ce"
    assert server.paths() == ["/jwks", "/jwks"]


async def test_without_a_cache_each_sign_in_fetches_the_keys(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey, jwks: dict[str, Any]
) -> None:
    server = Server({"/jwks": json_route(jwks)})
    async with make_client(server) as http:
        for _ in range(2):
            token = tokens(id_token=sign(rsa, claims_for()))
            await resolve_identity(http, metadata(), token, nonce=NONCE, now=NOW, trace=Trace())
    assert server.paths() == ["/jwks", "/jwks"]


async def test_id_token_without_jwks_uri_is_refused(
    make_client: Callable[[Server], httpx.AsyncClient], rsa: RSAKey
) -> None:
    async with make_client(Server({})) as http:
        with pytest.raises(ProtocolViolation) as info:
            await resolve_identity(
                http,
                metadata(jwks_uri=None),
                tokens(id_token=sign(rsa, claims_for())),
                nonce=NONCE,
                now=NOW,
                trace=Trace(),
            )
    assert info.value.code == "id_token_unverifiable"


async def test_without_id_token_userinfo_is_used(make_client: Callable[[Server], httpx.AsyncClient]) -> None:
    server = Server({"/userinfo": userinfo_route({"sub": "s9", "email": "bob@x.test"})})
    async with make_client(server) as http:
        identity = await resolve_identity(http, metadata(), tokens(), nonce=NONCE, now=NOW, trace=Trace())
    assert identity is not None
    assert (identity.subject, identity.label, identity.source) == ("s9", "bob@x.test", "userinfo")


async def test_then_the_access_token_claims(make_client: Callable[[Server], httpx.AsyncClient]) -> None:
    access = unsigned_jwt({"iss": ISSUER, "sub": "s7", "preferred_username": "carol"})
    server = Server({"/userinfo": json_route({"error": "invalid_token"}, 401)})
    async with make_client(server) as http:
        identity = await resolve_identity(http, metadata(), tokens(access), nonce=None, now=NOW, trace=Trace())
    assert identity is not None
    assert (identity.subject, identity.label, identity.source) == ("s7", "carol", "access_token")


async def test_access_token_of_another_issuer_gives_no_identity(
    make_client: Callable[[Server], httpx.AsyncClient],
) -> None:
    access = unsigned_jwt({"iss": "https://other.example", "sub": "s7", "preferred_username": "carol"})
    async with make_client(Server({})) as http:
        assert await resolve_identity(http, metadata(), tokens(access), nonce=None, now=NOW, trace=Trace()) is None
        assert (
            await resolve_identity(http, metadata(userinfo=None), tokens(ACCESS), nonce=None, now=NOW, trace=Trace())
            is None
        )


async def test_tokens_of_another_issuer_are_a_caller_bug(make_client: Callable[[Server], httpx.AsyncClient]) -> None:
    other = TokenSet(
        access_token=ACCESS,
        issuer="https://other.example",
        client_id=CLIENT_ID,
        resource=None,
        scopes=(),
        obtained_at=NOW,
    )
    async with make_client(Server({})) as http:
        with pytest.raises(ValueError, match=r"other\.example"):
            await resolve_identity(http, metadata(), other, nonce=None, now=NOW, trace=Trace())
