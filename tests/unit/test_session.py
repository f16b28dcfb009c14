"""StoredSession, the one token source of a connection: renewal races, an authorization server that changes under a
running session, and step-ups (more scopes) with and without a way to ask the person.

The sign-ins are the app's own (``connect_once``, ``Accounts.login`` on stores that keep nothing) against a scripted
MCP server and authorization servers (httpx.MockTransport); the loopback listener and the browser's callback are
real.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import ServerSettings
from desktop_app.accounts.session import StoredSession
from desktop_app.cli.hints import hint_for
from desktop_app.errors import ConsentRefused, SignInRequired, UserActionRequired
from desktop_app.oauth.challenge import BearerChallenge
from tests.helpers.metadata import as_document, prm_document
from tests.helpers.signin import Approver, connect_once, memory_accounts, sign_in_once

RESOURCE = "https://mcp.example/mcp"
PRM = "https://mcp.example/.well-known/oauth-protected-resource/mcp"
ISSUER = "https://as.example"
NEW_ISSUER = "https://new-as.example"
CHALLENGE = BearerChallenge(resource_metadata=PRM)


class World:
    """The MCP server (a 401 to anything without a token), its protected resource metadata (naming :attr:`issuer`
    and :attr:`scopes`), and any authorization server asked for, each with dynamic registration and a token
    endpoint; records what was sent where."""

    def __init__(self) -> None:
        self.issuer = ISSUER
        self.scopes: tuple[str, ...] = ("a",)
        #: (host, path, body) of every request, in order.
        self.seen: list[tuple[str, str, bytes]] = []
        self.refreshes: list[str] = []
        #: Whether a refresh answers with a new refresh token.
        self.rotate = True
        self.refresh_delay = 0.0
        self.issued = 0
        self.registered = 0

    def paths(self, host: str) -> list[str]:
        return [path for seen_host, path, _ in self.seen if seen_host == host]

    def sent_anywhere(self, text: str) -> bool:
        return any(text.encode() in body for _, _, body in self.seen)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host, path = request.url.host, request.url.path
        self.seen.append((host, path, request.content))
        if host == "mcp.example":
            if path == "/mcp":
                return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer resource_metadata="{PRM}"'})
            if path == urlsplit(PRM).path:
                return httpx.Response(200, json=prm_document(RESOURCE, self.issuer, scopes_supported=self.scopes))
            return httpx.Response(404)
        issuer = f"https://{host}"
        if path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=as_document(issuer, registration_endpoint=f"{issuer}/register"))
        if path == "/register":
            self.registered += 1
            body = json.loads(request.content)
            return httpx.Response(201, json={**body, "client_id": f"{host}-client-{self.registered}"})
        if path == "/authorize":
            return httpx.Response(200, text="<html>sign in</html>")  # the page the preflight sees
        if path == "/token":
            return await self._token(parse_qs(request.content.decode()))
        return httpx.Response(404)

    async def _token(self, form: dict[str, list[str]]) -> httpx.Response:
        assert form["resource"] == [RESOURCE]
        if form["grant_type"] == ["refresh_token"]:
            self.refreshes.append(form["refresh_token"][0])
            await asyncio.sleep(self.refresh_delay)
        else:
            assert form["grant_type"] == ["authorization_code"] and form["code"] == ["the-code"]
        self.issued += 1
        body = {"access_token": f"AT{self.issued}", "token_type": "Bearer", "expires_in": 3600}
        if self.rotate or form["grant_type"] == ["authorization_code"]:
            body["refresh_token"] = f"RT{self.issued}"
        return httpx.Response(200, json=body)


class Browser:
    """The authorization server approves at once: straight to the loopback callback. Remembers what was asked."""

    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []

    def scopes(self) -> list[tuple[str, ...]]:
        return [tuple(query["scope"][0].split()) for query in self.requests]

    async def __call__(self, url: str) -> None:
        query = parse_qs(urlsplit(url).query)
        self.requests.append(query)
        callback = query["redirect_uri"][0] + "?" + urlencode({"code": "the-code", "state": query["state"][0]})
        async with httpx.AsyncClient() as real:
            assert (await real.get(callback)).status_code == 200


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(world)) as client:
        yield client


async def connected(http: httpx.AsyncClient, approve: Approver, **options: object) -> tuple[Accounts, StoredSession]:
    accounts = memory_accounts(**options)
    connection = await connect_once(http, RESOURCE, browser=Browser(), approve=approve, accounts=accounts)
    assert connection.session is not None
    return accounts, connection.session


# -- renewal ---------------------------------------------------------------------------------------------------


async def test_concurrent_renewals_use_one_refresh(world: World, http: httpx.AsyncClient) -> None:
    clock = Clock()
    _, session = await connected(http, Approver(), clock=clock)
    clock.now += 7200  # the token expired
    world.refresh_delay = 0.05
    results = await asyncio.gather(*(session.token() for _ in range(5)))
    assert world.refreshes == ["RT1"]
    assert {t.access_token for t in results} == {"AT2"}


async def test_changed_authorization_server_is_shown_before_anything_is_sent_there(
    world: World, http: httpx.AsyncClient
) -> None:
    """The server's metadata names another authorization server: the old refresh token goes nowhere, the new one
    gets a registration of its own (never the old client id), and the person sees old → new before any browser."""
    approve = Approver()
    accounts, session = await connected(http, approve)
    before = await session.token()
    old_client = before.client_id
    world.issuer = NEW_ISSUER
    approve.answer = False
    sent = len(world.seen)
    with pytest.raises(ConsentRefused):
        await session.renew(before, CHALLENGE)
    after = world.seen[sent:]
    assert not any(b"RT1" in body for _, _, body in after)  # no refresh anywhere
    assert ("as.example", "/token") not in [(host, path) for host, path, _ in after]
    [registration] = [body for host, path, body in after if (host, path) == ("new-as.example", "/register")]
    assert old_client.encode() not in registration
    assert "/authorize" not in world.paths("new-as.example")  # no browser, no preflight
    first, moved = approve.checks
    assert first.first_time
    assert moved.issuer_changed == (ISSUER, NEW_ISSUER)
    assert (moved.pairing.issuer, moved.pairing.client_id) == (NEW_ISSUER, "new-as.example-client-2")
    assert moved.previous is not None and moved.previous.issuer == ISSUER
    assert accounts.fresh_token(session.account) == before  # nothing changed
    assert session.account.issuer == ISSUER


async def test_a_session_that_cannot_ask_says_sign_in_again_at_the_new_server(
    world: World, http: httpx.AsyncClient
) -> None:
    accounts, connected_session = await connected(http, Approver())
    session = accounts.session(http, connected_session.account, connected_session.server)
    before = await session.token()
    world.issuer = NEW_ISSUER
    sent = len(world.seen)
    with pytest.raises(SignInRequired) as info:
        await session.renew(before, CHALLENGE)
    assert info.value.code == "authorization_server_changed"
    assert NEW_ISSUER in info.value.message and ISSUER in info.value.message
    assert [host for host, _, _ in world.seen[sent:]] == ["mcp.example"]  # only the metadata, read again


async def test_unchanged_authorization_server_renews(world: World, http: httpx.AsyncClient) -> None:
    _, session = await connected(http, Approver())
    world.rotate = False
    fresh = await session.renew(await session.token(), CHALLENGE)
    assert fresh.access_token == "AT2"
    assert fresh.refresh_token == "RT1"  # none returned: the old one is kept
    assert world.refreshes == ["RT1"]
    assert session.renewed_after_rejection


# -- step-up ---------------------------------------------------------------------------------------------------


async def test_a_step_up_without_a_way_to_ask_says_what_to_run(world: World, http: httpx.AsyncClient) -> None:
    accounts, connected_session = await connected(http, Approver())
    session = accounts.session(http, connected_session.account, connected_session.server)
    sent = len(world.seen)
    with pytest.raises(UserActionRequired) as info:
        await session.step_up(("a", "b"), BearerChallenge(error="insufficient_scope", scope=("a", "b")))
    assert info.value.code == "more_permissions_needed"
    assert "(a b)" in info.value.message
    assert "--scope 'a b'" in (hint_for(info.value) or "")  # the command line's words for it
    assert world.seen[sent:] == []  # nothing sent anywhere
    assert session.account == connected_session.account


async def test_a_step_up_signs_in_again_with_the_new_scopes_after_asking(world: World, http: httpx.AsyncClient) -> None:
    approve = Approver()
    browser = Browser()
    accounts = memory_accounts()
    connection = await connect_once(http, RESOURCE, browser=browser, approve=approve, accounts=accounts)
    session, login = connection.session, connection.login
    assert session is not None and login is not None
    fresh = await session.step_up(("b",), BearerChallenge(error="insufficient_scope", scope=("b",)))
    assert fresh.access_token == "AT2"
    assert browser.scopes() == [("a",), ("a", "b")]
    step_up = approve.checks[-1]
    assert step_up.scope_step_up and step_up.added_scopes == ("b",)
    assert session.account.scopes == ("a", "b")
    assert session.account.id == login.account.id
    assert len(accounts.registry.accounts()) == 1


async def test_login_with_extra_scopes_asks_for_the_account_s_scopes_and_the_new_ones(
    world: World, http: httpx.AsyncClient
) -> None:
    """The union of what the account holds and what the server now asks for, not only what the server's metadata
    lists today; the pairing shown marks what is new."""
    world.scopes = ("a", "c")
    accounts = memory_accounts()
    browser = Browser()
    first, _ = await sign_in_once(
        http, RESOURCE, browser=browser, settings=ServerSettings(request_identity=False), accounts=accounts
    )
    assert first.account.scopes == ("a", "c")
    world.scopes = ("a",)
    approve = Approver()
    server = accounts.server(RESOURCE)
    again = await accounts.login(
        http, server, browser=browser, approve=approve, account=first.account, extra_scopes=("b",)
    )
    assert browser.scopes()[-1] == ("a", "c", "b")
    [check] = approve.checks
    assert check.added_scopes == ("b",) and check.removed_scopes == ()
    assert check.needs_approval and check.scope_step_up
    assert again.check is check and not again.created
    assert again.account.id == first.account.id and again.account.scopes == ("a", "c", "b")


async def test_connect_with_a_client_id_follows_its_server_without_that_client_id(
    world: World, http: httpx.AsyncClient
) -> None:
    """A client id given for the old authorization server is never presented to the new one: connect registers
    there instead, after the person approved the move (the stored path refuses it: preregistered_issuer_mismatch)."""
    approve = Approver()
    settings = ServerSettings(registration="preregistered", client_id="pre-1", request_identity=False)
    connection = await connect_once(http, RESOURCE, browser=Browser(), approve=approve, settings=settings)
    assert connection.session is not None
    before = await connection.session.token()
    assert before.client_id == "pre-1"
    world.issuer = NEW_ISSUER
    sent = len(world.seen)
    after = await connection.session.renew(before, CHALLENGE)
    assert after.issuer == NEW_ISSUER and after.client_id == "new-as.example-client-1"
    assert not any(b"pre-1" in body for host, _, body in world.seen[sent:] if host == "new-as.example")
    assert approve.checks[-1].issuer_changed == (ISSUER, NEW_ISSUER)


async def test_connect_s_step_ups_wait_as_long_as_its_timeout(world: World, http: httpx.AsyncClient) -> None:
    accounts = memory_accounts()
    logins: list[object] = []
    real_login = accounts.login

    async def login(*args: object, **kwargs: object) -> object:
        logins.append(kwargs.get("timeout"))
        return await real_login(*args, **kwargs)  # type: ignore[arg-type]

    accounts.login = login  # type: ignore[method-assign]
    connection = await connect_once(http, RESOURCE, browser=Browser(), accounts=accounts, timeout=7)
    assert connection.session is not None
    await connection.session.step_up(("b",), CHALLENGE)
    assert logins == [7]
