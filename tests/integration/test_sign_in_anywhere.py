"""Signing in wherever the reference client does (issue 11), against real servers of other projects and the lab.

- Authorization servers that compare redirect URIs exactly, port included (the MCP TypeScript SDK's demo AS,
  FastMCP's in-memory provider): the app listens first, registers the URI with its port (and the port-less one), and
  keeps that one registration for later sign-ins and accounts; a refused request is reported before any browser.
- A 2025-03-26 server whose issuer is spelled with its trailing slash (FastMCP, legacy mode).
- Protected resource metadata at the root naming the origin (the lab's MCP server, ``resource="origin"``).
- A server that moves to another authorization server (two oidc-provider instances).
- At most three authorizations for one operation.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import AccountState, ServerSettings
from desktop_app.accounts.session import Connection
from desktop_app.errors import (
    AuthorizationRequestRefused,
    ConfigurationError,
    ProtocolViolation,
    SignInRequired,
    StepUpExhausted,
    WrongAccount,
)
from desktop_app.mcp import McpClient
from desktop_app.oauth.http import new_client
from desktop_app.oauth.registration import PORTLESS_REDIRECT_URI
from tests.helpers.signin import Approver, connect_once
from tests.lab.browser import LabBrowser
from tests.lab.conftest_plugin import FastMcpServerFactory, SdkDemoServerFactory
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab


async def tool_text(http: httpx.AsyncClient, url: str, auth: httpx.Auth, tool: str, **args: Any) -> str:
    async with McpClient(http, url, auth=auth) as client:
        result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    return str(result.content)


def registrations(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if r["method"] == "POST" and r["path"].rstrip("/").endswith("/register")]


# --- 1. authorization servers that compare redirect URIs exactly ---------------------------------------------------


@pytest.mark.parametrize("pair", ["sdk-demo", "fastmcp"])
async def test_exact_redirect_matching_servers_sign_in_twice_with_one_registration(
    pair: str,
    lab_sdk_demo_factory: SdkDemoServerFactory,
    lab_fastmcp_factory: FastMcpServerFactory,
    profile: Accounts,
) -> None:
    """Two accounts (and, where refresh tokens are issued, a renewal) on a server whose authorization server compares
    redirect URIs exactly: one registration, with the exact URI of the port the app listened on; the second sign-in
    listens on that port again."""
    running = lab_sdk_demo_factory() if pair == "sdk-demo" else lab_fastmcp_factory()
    server = profile.add_server(running.mcp_url)
    browser = LabBrowser()
    async with new_client() as http:
        first = await profile.login(http, server, browser=browser, approve=Approver(), nickname="first", timeout=20)
        second = await profile.login(
            http, server, browser=browser, approve=Approver(), new_account=True, nickname="second", timeout=20
        )
        for account in (first.account, second.account):
            session = profile.session(http, account, server)
            assert "hello" in await tool_text(http, running.mcp_url, session.auth(), "echo", text="hello")
        async with McpClient(http, running.mcp_url, auth=profile.session(http, first.account, server).auth()) as mcp:
            info = await mcp.initialize()
        if pair == "fastmcp":  # the SDK's demo provider issues no refresh tokens: nothing to renew there
            before = profile.fresh_token(second.account)
            renewed = await profile.token(http, second.account, force=True)
            assert before is not None and renewed.access_token != before.access_token
    # The revision each settles on (the README's "Works with" table says so).
    assert info.protocol_version == {"sdk-demo": "2025-11-25", "fastmcp": "2026-07-28"}[pair]
    (registration,) = registrations(running.requests())
    registered = registration["body"]["redirect_uris"]
    assert registered[1] == PORTLESS_REDIRECT_URI
    assert browser.redirect_uris() == [registered[0], registered[0]]  # the exact URI, port included, both times
    assert first.account.id != second.account.id
    assert first.account.client_id == second.account.client_id


async def test_renewal_at_an_exact_matching_server_needs_no_second_registration(
    lab_fastmcp_factory: FastMcpServerFactory, profile: Accounts
) -> None:
    running = lab_fastmcp_factory()
    server = profile.add_server(running.mcp_url)
    async with new_client() as http:
        result = await profile.login(http, server, browser=LabBrowser(), approve=Approver(), nickname="me", timeout=20)
        before = profile.fresh_token(result.account)
        renewed = await profile.token(http, result.account, force=True)
        assert before is not None and renewed.access_token != before.access_token
        assert renewed.refresh_token != before.refresh_token  # FastMCP rotates
        session = profile.session(http, result.account, server)
        assert "renewed" in await tool_text(http, running.mcp_url, session.auth(), "echo", text="renewed")
    assert len(registrations(running.requests())) == 1
    grants = [r["body"].get("grant_type") for r in running.requests() if r["path"].rstrip("/").endswith("/token")]
    assert grants == ["authorization_code", "refresh_token"]


async def test_a_taken_port_registers_again_only_where_the_server_needs_it(
    lab_fastmcp_factory: FastMcpServerFactory,
    lab_as_factory: Callable[..., RunningAuthServer],
    lab_mcp_factory: Callable[..., RunningMcpServer],
    profile: Accounts,
) -> None:
    """The port of the registration is taken by another program: the port-less form is tried; FastMCP (exact
    matching) refuses it before any browser opens, so the app registers once more with its new port; oidc-provider
    (any port for native apps, RFC 8252 §7.3) takes it, and keeps its one registration."""
    exact, relaxed = lab_fastmcp_factory(), lab_as_factory()
    relaxed_mcp = lab_mcp_factory(relaxed)
    for running_url in (exact.mcp_url, relaxed_mcp.url):
        server = profile.add_server(running_url)
        browser = LabBrowser("alice")
        async with new_client() as http:
            await profile.login(http, server, browser=browser, approve=Approver(), nickname="a", timeout=20)
            first_uri = browser.redirect_uris()[0]
            with socket.socket() as squatter:
                squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the last callback's TIME_WAIT
                squatter.bind(("127.0.0.1", urlsplit(first_uri).port or 0))
                squatter.listen()
                await profile.login(
                    http, server, browser=browser, approve=Approver(), new_account=True, nickname="b", timeout=20
                )
        assert browser.redirect_uris()[1] != first_uri
    assert len(registrations(exact.requests())) == 2
    second = registrations(exact.requests())[1]["body"]["redirect_uris"]
    assert second[0] != PORTLESS_REDIRECT_URI and second[1] == PORTLESS_REDIRECT_URI
    relaxed_registrations = [r for r in relaxed.requests() if r["path"].endswith("/reg") and r["method"] == "POST"]
    assert len(relaxed_registrations) == 1


async def test_a_refused_sign_in_request_is_reported_before_the_browser_opens(
    lab_fastmcp_factory: FastMcpServerFactory, profile: Accounts
) -> None:
    """A pre-registered client whose redirect URI the server does not have: its 400 page would never come back to
    the app; the app finds out before the browser opens and says what to change."""
    running = lab_fastmcp_factory()
    registered = httpx.post(
        f"{running.base_url}/register",
        json={
            "redirect_uris": ["http://127.0.0.1:9/callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        },
        timeout=5,
    ).json()
    server = profile.add_server(
        running.mcp_url, settings=ServerSettings(registration="preregistered", client_id=registered["client_id"])
    )
    browser = LabBrowser(shows_error_pages=True)
    async with new_client() as http:
        with pytest.raises(AuthorizationRequestRefused) as info:
            await profile.login(http, server, browser=browser, approve=Approver(), timeout=300)
    error = info.value
    assert (error.status, error.error, error.client_kind) == (400, "invalid_request", "preregistered")
    assert "not registered" in error.message
    assert error.redirect_uri in (error.hint or "") and "callback port" in (error.hint or "")
    assert len(browser.urls) == 1 and "400" in browser.error_pages[0]  # what the person saw meanwhile
    assert profile.registry.accounts(server.id) == []


# --- 2. a 2025-03-26 server whose issuer ends in "/" -------------------------------------------------------------


async def test_legacy_server_with_a_trailing_slash_issuer(
    lab_fastmcp_factory: FastMcpServerFactory, profile: Accounts
) -> None:
    running = lab_fastmcp_factory(mode="legacy")
    assert running.issuer.endswith("/") and running.prm_url is None
    server = profile.add_server(running.mcp_url)
    async with new_client() as http:
        result = await profile.login(http, server, browser=LabBrowser(), approve=Approver(), nickname="me", timeout=20)
        assert result.account.issuer == running.issuer  # as the document spells it, from then on
        assert result.check.pairing.issuer == running.issuer
        renewed = await profile.token(http, result.account, force=True)
        assert renewed.issuer == running.issuer
        session = profile.session(http, result.account, server)
        assert "old" in await tool_text(http, running.mcp_url, session.auth(), "echo", text="old")


async def test_an_issuer_that_differs_only_by_a_slash_is_refused_saying_so(
    lab_as: RunningAuthServer, lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    """Where the issuer is known in advance (the PRM names it), comparison stays exact; the message says why."""
    assert not lab_as.issuer.endswith("/")
    mcp = lab_mcp_factory(lab_as, prm_overrides={"authorization_servers": [lab_as.issuer + "/"]})
    browser = LabBrowser()
    async with new_client() as http:
        with pytest.raises(ProtocolViolation) as info:
            await connect_once(http, mcp.url, browser=browser, timeout=20)
    assert info.value.code == "issuer_mismatch"
    assert "only by a trailing slash" in info.value.message
    assert "operator" in (info.value.hint or "")
    assert browser.urls == []


# --- 3. protected resource metadata at the root, naming the origin ----------------------------------------------


async def test_root_metadata_naming_the_origin_signs_in_for_the_origin(
    lab_as: RunningAuthServer, lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    mcp = lab_mcp_factory(lab_as, prm_mode="root", resource="origin")
    origin = mcp.base_url
    approver, browser = Approver(), LabBrowser("alice")
    lab_as.reset_requests()
    async with new_client() as http:
        connection = await connect_once(http, mcp.url, browser=browser, approve=approver, timeout=20)
        auth = connection.auth()
        assert auth is not None and connection.session is not None
        assert (await connection.session.token()).resource == origin
        assert "lab-sub" in await tool_text(http, mcp.url, auth, "whoami")
        async with McpClient(http, mcp.url, auth=connection.auth()) as client:
            assert (await client.initialize()).protocol_version == "2026-07-28"  # the Python SDK's server
        await connection.session.renew(await connection.session.token(), None)
    pairing = approver.pairings[0]
    assert (pairing.resource, pairing.server) == (origin, mcp.url)
    assert pairing.covers_more_than_server
    assert browser.params()["resource"] == origin
    token_requests = [r for r in lab_as.requests() if r["path"].endswith("/token")]
    assert [r["body"]["resource"] for r in token_requests] == [origin, origin]  # code exchange, then refresh


async def test_path_metadata_naming_the_origin_is_still_refused(
    lab_as: RunningAuthServer, lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    """The path-inserted document was built from the server's own URL: it must name exactly that."""
    mcp = lab_mcp_factory(lab_as, prm_mode="path", resource="origin")
    browser = LabBrowser()
    async with new_client() as http:
        with pytest.raises(ProtocolViolation) as info:
            await connect_once(http, mcp.url, browser=browser, timeout=20)
    assert info.value.code == "resource_mismatch"
    assert browser.urls == []


# --- 4. the server moves to another authorization server --------------------------------------------------------


async def test_connect_follows_a_server_to_its_new_authorization_server(
    lab_as_factory: Callable[..., RunningAuthServer], lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    old, new = lab_as_factory(), lab_as_factory()
    mcp = lab_mcp_factory(old)
    approver, browser = Approver(), LabBrowser("alice")
    async with new_client() as http:
        connection: Connection = await connect_once(http, mcp.url, browser=browser, approve=approver, timeout=20)
        auth = connection.auth()
        assert auth is not None and connection.session is not None
        old_client_id = connection.session.account.client_id
        await tool_text(http, mcp.url, auth, "whoami")
        mcp.move_to(new)
        assert "lab-sub" in await tool_text(http, mcp.url, auth, "whoami")
        assert (await connection.session.token()).issuer == new.issuer
    assert len(approver.checks) == 2
    moved = approver.checks[1]
    assert moved.previous is not None and (moved.previous.issuer, moved.pairing.issuer) == (old.issuer, new.issuer)
    assert moved.issuer_changed == (old.issuer, new.issuer)
    assert len(browser.urls) == 2 and browser.urls[1].startswith(new.issuer)
    # The new authorization server got a registration of its own; the old client id never went there.
    assert [r for r in new.requests() if r["path"].endswith("/reg")]
    assert all(old_client_id not in str(r) for r in new.requests())
    assert not [
        r for r in old.requests() if r["path"].endswith("/token") and r["body"]["grant_type"] == "refresh_token"
    ]


async def test_a_stored_account_whose_server_moved_needs_sign_in_and_moves_with_it(
    lab_as_factory: Callable[..., RunningAuthServer],
    lab_mcp_factory: Callable[..., RunningMcpServer],
    profile: Accounts,
) -> None:
    old, new = lab_as_factory(), lab_as_factory()
    mcp = lab_mcp_factory(old)
    server = profile.add_server(mcp.url)
    async with new_client() as http:
        first = await profile.login(http, server, browser=LabBrowser("alice"), approve=Approver(), timeout=20)
        before = profile.fresh_token(first.account)
        assert before is not None and before.refresh_token is not None
        mcp.move_to(new)
        session = profile.session(http, first.account, server)
        with pytest.raises(SignInRequired) as info:
            await tool_text(http, mcp.url, session.auth(), "whoami")
        assert info.value.code == "authorization_server_changed"
        assert new.issuer in info.value.message
        account = profile.registry.account(first.account.id)
        assert account is not None and account.state is AccountState.NEEDS_SIGN_IN
        assert "another authorization server" in (account.last_error or "")
        assert not [
            r for r in old.requests() if r["path"].endswith("/token") and r["body"]["grant_type"] == "refresh_token"
        ]

        approver, browser = Approver(), LabBrowser("alice")
        again = await profile.login(http, server, browser=browser, approve=approver, account=account, timeout=20)
        assert again.account.id == first.account.id
        assert again.account.issuer == new.issuer and again.account.state is AccountState.SIGNED_IN
        assert "login_hint" not in browser.params()  # the old server's hint is not sent to the new one
        [check] = approver.checks
        assert check.issuer_changed == (old.issuer, new.issuer) and check.needs_approval
        session = profile.session(http, again.account, server)
        assert "lab-sub" in await tool_text(http, mcp.url, session.auth(), "whoami")
    # The old grant ended at the old authorization server once the new sign-in was saved.
    assert old.introspect(before.refresh_token)["active"] is False
    kinds = [e.kind for e in profile.registry.events(account_id=first.account.id)]
    assert "old_sign_in_revoked" in kinds
    assert all(first.account.client_id not in str(r) for r in new.requests())


# --- 5. at most three authorizations for one operation --------------------------------------------------------------


async def test_a_server_that_always_wants_more_gets_three_authorizations_in_all(
    lab_as_factory: Callable[..., RunningAuthServer], lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    """admin_report needs a scope the authorization server never grants: sign-in + two step-ups, then a clear error."""
    auth_server = lab_as_factory(resourceScopes="mcp:tools")
    mcp = lab_mcp_factory(auth_server, admin_scope="mcp:admin")
    browser = LabBrowser("alice")
    async with new_client() as http:
        connection = await connect_once(http, mcp.url, browser=browser, timeout=20)
        assert connection.session is not None
        async with McpClient(http, mcp.url, auth=connection.auth()) as client:
            with pytest.raises(StepUpExhausted) as info:
                await client.call_tool("admin_report", {})
    assert len(browser.urls) == 3
    assert "mcp:admin" in info.value.message and "3 sign-ins" in info.value.message
    browser_authorizations = [
        r for r in auth_server.requests() if r["path"].endswith("/auth") and r["headers"]["x_lab_user"] == "alice"
    ]
    assert len(browser_authorizations) == 3


async def test_a_pre_registered_client_is_never_presented_to_the_new_authorization_server(
    lab_as_factory: Callable[..., RunningAuthServer],
    lab_mcp_factory: Callable[..., RunningMcpServer],
    profile: Accounts,
) -> None:
    old, new = lab_as_factory(), lab_as_factory()
    mcp = lab_mcp_factory(old)
    client = old.register_client(
        client_name="pre-registered by an admin",
        application_type="native",
        redirect_uris=["http://127.0.0.1/callback"],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="client_secret_post",
    )
    server = profile.add_server(mcp.url)
    server = profile.update_settings(
        server,
        ServerSettings(registration="preregistered", client_id=client["client_id"], client_auth="client_secret_post"),
        client_secret=client["client_secret"],
    )
    async with new_client() as http:
        first = await profile.login(http, server, browser=LabBrowser("alice"), approve=Approver(), timeout=20)
        mcp.move_to(new)
        new.reset_requests()
        browser = LabBrowser("alice")
        with pytest.raises(ConfigurationError) as info:
            await profile.login(http, server, browser=browser, approve=Approver(), account=first.account, timeout=20)
    assert info.value.code == "preregistered_issuer_mismatch"
    assert old.issuer in info.value.message and new.issuer in info.value.message
    assert browser.urls == []
    assert all(client["client_id"] not in str(r) for r in new.requests())


async def test_moving_an_account_never_overwrites_another_one(
    lab_as_factory: Callable[..., RunningAuthServer],
    lab_mcp_factory: Callable[..., RunningMcpServer],
    profile: Accounts,
) -> None:
    """alice and bob on a server that moves: each is asked (the second too, though the server's approval already
    names the new server), each picks who signs in there; bob's move signed in as alice changes nothing."""
    old, new = lab_as_factory(), lab_as_factory()
    mcp = lab_mcp_factory(old)
    server = profile.add_server(mcp.url)
    async with new_client() as http:
        alice = (await profile.login(http, server, browser=LabBrowser("alice"), approve=Approver(), timeout=20)).account
        bob = (
            await profile.login(
                http, server, browser=LabBrowser("bob"), approve=Approver(), new_account=True, timeout=20
            )
        ).account
        bob_before = profile.fresh_token(bob)
        mcp.move_to(new)
        approver, browser = Approver(), LabBrowser("alice")
        await profile.login(http, server, browser=browser, approve=approver, account=alice, timeout=20)
        assert browser.params()["prompt"] in ("select_account", "login")
        approver, browser = Approver(), LabBrowser("alice")  # the person signs bob in as alice by mistake
        with pytest.raises(WrongAccount) as info:
            await profile.login(http, server, browser=browser, approve=approver, account=bob, timeout=20)
        [check] = approver.checks
        assert check.needs_approval and check.issuer_changed == (old.issuer, new.issuer)
    assert info.value.code == "duplicate_account"
    unchanged = profile.registry.account(bob.id)
    assert unchanged is not None and unchanged.issuer == old.issuer
    assert profile.fresh_token(unchanged) == bob_before  # bob's keyring entry was not touched
