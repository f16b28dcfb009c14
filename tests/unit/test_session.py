"""MemorySession: renewal races, and an authorization server that changes under a running session."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest

from desktop_app.accounts.session import MemorySession
from desktop_app.errors import ConsentRefused
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


async def test_changed_authorization_server_is_shown_before_anything_is_sent_there() -> None:
    """The server's metadata names another authorization server: the old refresh token goes nowhere, the new one
    gets a registration of its own (never the old client id), and the person sees old → new before any browser."""
    seen: list[tuple[str, str]] = []
    new_issuer = "https://new-as.example"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.url.path))
        assert b"RT0" not in request.content
        if request.url.path == "/prm":
            return httpx.Response(200, json={"resource": RESOURCE, "authorization_servers": [new_issuer]})
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(
                200,
                json={
                    "issuer": new_issuer,
                    "authorization_endpoint": f"{new_issuer}/authorize",
                    "token_endpoint": f"{new_issuer}/token",
                    "registration_endpoint": f"{new_issuer}/register",
                    "code_challenge_methods_supported": ["S256"],
                },
            )
        if request.url.path == "/register":
            assert b'"c"' not in request.content
            return httpx.Response(201, json={"client_id": "new-client", "token_endpoint_auth_method": "none"})
        raise AssertionError(f"unexpected request {request.url}")

    shown: list[tuple[Pairing, Pairing | None]] = []

    async def decline(pairing: Pairing, previous: Pairing | None) -> bool:
        shown.append((pairing, previous))
        return False

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        s = session(http)
        s._confirm = decline
        with pytest.raises(ConsentRefused) as info:
            await s.renew(s.tokens, BearerChallenge(resource_metadata="https://mcp.example/prm"))
    assert new_issuer in info.value.message
    assert ("as.example", "/token") not in seen  # no refresh at the old authorization server
    assert ("new-as.example", "/register") in seen
    [(pairing, previous)] = shown
    assert (pairing.issuer, pairing.client_id) == (new_issuer, "new-client")
    assert previous is not None and previous.issuer == ISSUER
    assert s.tokens.access_token == "AT0"  # nothing changed


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
