"""MemorySession: renewal races, and an authorization server that changes under a running session."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest

from desktop_app.accounts.session import MemorySession
from desktop_app.errors import SignInRequired
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.flow import Discovery, Pairing, SignIn, State
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.tokens import TokenSet

RESOURCE = "https://mcp.example/mcp"
ISSUER = "https://as.example"
META = AuthorizationServerMetadata(
    issuer=ISSUER, authorization_endpoint=f"{ISSUER}/authorize", token_endpoint=f"{ISSUER}/token", source_url=None
)


def session(http: httpx.AsyncClient) -> MemorySession:
    signin = SignIn(http, RESOURCE)
    signin.discovery = Discovery(RESOURCE, RESOURCE, None, None, META)
    signin.registration = ClientRegistration(ISSUER, "c", "dcr")
    signin.state = State.SIGNED_IN
    tokens = TokenSet(
        access_token="AT0",
        issuer=ISSUER,
        client_id="c",
        resource=RESOURCE,
        scopes=("a",),
        obtained_at=0,
        expires_at=1.0,
        refresh_token="RT0",
    )

    async def never(*args: object) -> bool:
        raise AssertionError("no question expected")

    async def no_browser(url: str) -> None:
        raise AssertionError("no browser expected")

    pairing = Pairing(RESOURCE, None, ISSUER, ("a",), {}, "dcr", "c", "r")
    return MemorySession(signin, tokens, browser=no_browser, confirm=never, approved=pairing, clock=lambda: 100.0)


async def test_concurrent_renewals_use_one_refresh() -> None:
    refreshes: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        refreshes.append(parse_qs(request.content.decode())["refresh_token"][0])
        await asyncio.sleep(0.05)
        return httpx.Response(
            200,
            json={
                "access_token": f"AT{len(refreshes)}",
                "token_type": "Bearer",
                "expires_in": 60,
                "refresh_token": f"RT{len(refreshes)}",
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        s = session(http)
        results = await asyncio.gather(*(s.token() for _ in range(5)))
    assert refreshes == ["RT0"]
    assert {t.access_token for t in results} == {"AT1"}


async def test_changed_authorization_server_needs_sign_in_and_no_refresh() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/prm":
            return httpx.Response(200, json={"resource": RESOURCE, "authorization_servers": ["https://new-as.example"]})
        return httpx.Response(200, json={"access_token": "AT1", "token_type": "Bearer"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        s = session(http)
        with pytest.raises(SignInRequired) as info:
            await s.renew(s.tokens, BearerChallenge(resource_metadata="https://mcp.example/prm"))
    assert info.value.code == "authorization_server_changed"
    assert "https://new-as.example" in info.value.message
    assert seen == ["/prm"]  # the refresh token was not sent anywhere


async def test_unchanged_authorization_server_renews() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/prm":
            return httpx.Response(200, json={"resource": RESOURCE, "authorization_servers": [ISSUER]})
        return httpx.Response(200, json={"access_token": "AT1", "token_type": "Bearer"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        s = session(http)
        fresh = await s.renew(s.tokens, BearerChallenge(resource_metadata="https://mcp.example/prm"))
    assert fresh.access_token == "AT1"
    assert fresh.refresh_token == "RT0"  # none returned: the old one is kept
