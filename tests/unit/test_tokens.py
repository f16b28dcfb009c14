import base64
from urllib.parse import parse_qs

import httpx
import pytest

from desktop_app.errors import GrantExpired, ProtocolViolation, ServerUnavailable, UserActionRequired
from desktop_app.oauth.authorize import build_authorization_request
from desktop_app.oauth.http import JsonResponse
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.tokens import (
    TokenSet,
    build_code_exchange,
    client_authentication,
    exchange_code,
    parse_token_response,
    refresh_tokens,
    revoke_token,
)
from desktop_app.oauth.trace import Trace
from tests.helpers.metadata import as_metadata

ISSUER = "https://as.example"
META = as_metadata(ISSUER)
PUBLIC = ClientRegistration(ISSUER, "client-1", "dcr")


def ok(**data: object) -> JsonResponse:
    return JsonResponse(f"{ISSUER}/token", 200, httpx.Headers(), dict(data))


def parse(response: JsonResponse, previous: TokenSet | None = None) -> TokenSet:
    return parse_token_response(
        response,
        now=1000.0,
        issuer=ISSUER,
        client_id="client-1",
        resource="https://mcp.example/mcp",
        requested_scopes=("a", "b"),
        previous=previous,
    )


def test_valid_response() -> None:
    t = parse(ok(access_token="AT", token_type="bearer", expires_in=3600, refresh_token="RT", scope="a"))
    assert t.expires_at == 4600.0
    assert t.scopes == ("a",)  # the granted subset is recorded
    assert t.refresh_token == "RT"
    assert "AT" not in repr(t)
    assert "RT" not in repr(t)


def test_scope_absent_means_requested() -> None:
    assert parse(ok(access_token="AT", token_type="Bearer")).scopes == ("a", "b")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"token_type": "Bearer"}, "missing_access_token"),
        ({"access_token": "AT"}, "missing_token_type"),
        ({"access_token": "AT", "token_type": "mac"}, "unsupported_token_type"),
        ({"access_token": "AT", "token_type": "Bearer", "expires_in": -5}, "invalid_expires_in"),
        ({"access_token": "AT", "token_type": "Bearer", "expires_in": "soon"}, "invalid_expires_in"),
        ({"access_token": "AT", "token_type": "Bearer", "expires_in": True}, "invalid_expires_in"),
        ({"access_token": "AT", "token_type": "Bearer", "scope": ["a"]}, "malformed_token_response"),
    ],
)
def test_invalid_responses(data: dict[str, object], code: str) -> None:
    with pytest.raises(ProtocolViolation) as info:
        parse(ok(**data))
    assert info.value.code == code
    assert "AT" not in info.value.message


def test_huge_lifetime_is_clamped() -> None:
    t = parse(ok(access_token="AT", token_type="Bearer", expires_in=10**12))
    assert t.expires_at is not None
    assert t.expires_at - 1000 <= 366 * 24 * 3600


def test_errors_by_kind() -> None:
    with pytest.raises(GrantExpired):
        parse(JsonResponse("u", 400, httpx.Headers(), {"error": "invalid_grant"}))
    with pytest.raises(UserActionRequired) as info:
        parse(JsonResponse("u", 401, httpx.Headers(), {"error": "invalid_client"}))
    assert info.value.code == "invalid_client"
    with pytest.raises(ServerUnavailable):
        parse(JsonResponse("u", 400, httpx.Headers(), {"error": "temporarily_unavailable"}))
    with pytest.raises(ProtocolViolation):
        parse(JsonResponse("u", 400, httpx.Headers(), None, "not valid JSON"))


def test_client_authentication_methods() -> None:
    assert client_authentication(PUBLIC) == ({}, {"client_id": "client-1"})
    basic = ClientRegistration(ISSUER, "id:1", "preregistered", "client_secret_basic", "p@ss word")
    headers, form = client_authentication(basic)
    assert form == {}
    decoded = base64.b64decode(headers["Authorization"].split()[1]).decode()
    assert decoded == "id%3A1:p%40ss%20word"  # RFC 6749 §2.3.1 form-encoding first
    post = ClientRegistration(ISSUER, "id", "preregistered", "client_secret_post", "sek")
    assert client_authentication(post) == ({}, {"client_id": "id", "client_secret": "sek"})


def test_code_exchange_request() -> None:
    p = build_authorization_request(
        META, PUBLIC, redirect_uri="http://127.0.0.1:1/callback", resource="https://mcp.example/mcp", scopes=("a",)
    )
    request = build_code_exchange(p, "the-code")
    assert request.url == f"{ISSUER}/token"
    assert request.form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "http://127.0.0.1:1/callback",
        "code_verifier": p.pkce.verifier,
        "client_id": "client-1",
        "resource": "https://mcp.example/mcp",
    }
    assert "the-code" not in repr(request)


async def test_exchange_and_refresh_with_rotation() -> None:
    forms: list[dict[str, list[str]]] = []
    answers = iter(
        [
            {"access_token": "AT1", "token_type": "Bearer", "expires_in": 60, "refresh_token": "RT1", "scope": "a"},
            {"access_token": "AT2", "token_type": "Bearer", "expires_in": 60, "refresh_token": "RT2"},
            {"access_token": "AT3", "token_type": "Bearer", "expires_in": 60},
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json=next(answers))

    p = build_authorization_request(
        META, PUBLIC, redirect_uri="http://127.0.0.1:1/callback", resource="https://mcp.example/mcp", scopes=("a",)
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        t1 = await exchange_code(client, p, "code", now=0, trace=Trace())
        t2 = await refresh_tokens(client, META.token_endpoint, PUBLIC, t1, now=10, trace=Trace())
        t3 = await refresh_tokens(client, META.token_endpoint, PUBLIC, t2, now=20, trace=Trace())
    assert (t2.refresh_token, t3.refresh_token) == ("RT2", "RT2")  # rotated, then kept when none returned
    assert t3.scopes == ("a",)  # granted scopes carried over
    assert forms[1]["refresh_token"] == ["RT1"]
    assert forms[2]["refresh_token"] == ["RT2"]  # the rotated-out RT1 is never sent again
    for form in forms:
        assert form["resource"] == ["https://mcp.example/mcp"]
        assert "scope" not in form or form is forms[0]


async def test_refresh_refuses_a_registration_of_another_issuer() -> None:
    t = parse(ok(access_token="AT", token_type="Bearer", refresh_token="RT"))
    async with httpx.AsyncClient() as client:
        with pytest.raises(ProtocolViolation):
            await refresh_tokens(
                client,
                "https://other.example/token",
                ClientRegistration("https://other.example", "c", "dcr"),
                t,
                now=0,
                trace=Trace(),
            )


async def test_revocation() -> None:
    statuses = iter([200, 503, 400])

    def handler(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        assert form["token_type_hint"] == ["refresh_token"]
        assert form["client_id"] == ["client-1"]
        status = next(statuses)
        return httpx.Response(status, json={"error": "unsupported_token_type"} if status == 400 else {})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        args = (client, f"{ISSUER}/revoke", PUBLIC, "RT")
        await revoke_token(*args, token_type_hint="refresh_token", trace=Trace())
        with pytest.raises(ServerUnavailable):
            await revoke_token(*args, token_type_hint="refresh_token", trace=Trace())
        with pytest.raises(ProtocolViolation):
            await revoke_token(*args, token_type_hint="refresh_token", trace=Trace())
