"""The whole engine against real, independent servers: oidc-provider (Node) and an MCP SDK server.

Each test runs the app's own code end to end — probe, discovery, registration, browser, loopback, token exchange,
MCP calls — with a scripted user agent (tests/lab/browser.py) playing the person in the browser.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from desktop_app.accounts.models import ServerSettings
from desktop_app.accounts.session import Connection
from desktop_app.errors import ConsentRefused, SignInRequired
from desktop_app.mcp import McpClient
from desktop_app.oauth.http import new_client
from desktop_app.oauth.trace import Trace
from tests.helpers.signin import CONNECT_SETTINGS, Approver, connect_once, memory_accounts
from tests.lab.browser import LabBrowser
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab


async def sign_in(
    http: httpx.AsyncClient,
    mcp: RunningMcpServer,
    *,
    settings: ServerSettings = CONNECT_SETTINGS,
    client_secret: str | None = None,
    approver: Approver | None = None,
    browser: LabBrowser | None = None,
    trace: Trace | None = None,
    clock: Callable[[], float] = time.time,
) -> Connection:
    """The command line's ``connect``: the same sign-in as ``login``, on stores that keep nothing."""
    return await connect_once(
        http,
        mcp.url,
        browser=browser or LabBrowser(),
        approve=approver or Approver(),
        settings=settings,
        client_secret=client_secret,
        timeout=30,
        trace=trace,
        accounts=memory_accounts(clock=clock),
    )


def fingerprints(requests: list[dict[str, Any]]) -> set[str]:
    return {r["token_sha256"] for r in requests if r.get("token_sha256")}


async def test_connect_list_and_call(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
    approver, trace = Approver(), Trace()
    async with new_client() as http:
        connection = await sign_in(http, lab_mcp, approver=approver, trace=trace)
        assert connection.session is not None
        tokens = await connection.session.token()
        assert tokens.issuer == lab_as.issuer
        assert tokens.resource == lab_mcp.url
        assert "mcp:tools" in tokens.scopes
        async with McpClient(http, lab_mcp.url, auth=connection.auth()) as client:
            await client.initialize()
            names = {tool.name for tool in await client.list_tools()}
            assert {"echo", "whoami", "admin_report"} <= names
            result = await client.call_tool("echo", {"text": "hello lab"})
            assert not result.is_error
            assert "hello lab" in str(result.content)
    check = approver.checks[0]
    assert check.previous is None and check.first_time
    pairing = check.pairing
    assert (pairing.resource, pairing.issuer) == (lab_mcp.url, lab_as.issuer)
    assert pairing.resource_name == "Lab MCP server"
    assert pairing.client_kind == "dcr"
    # A server that names its metadata: probe, resource metadata, AS metadata, registration — no detours.
    steps = [e.step for e in trace.events if e.status is not None]
    assert steps[:4] == ["probe", "resource_metadata", "authorization_server_metadata", "register"]


async def test_resource_on_every_request_to_the_authorization_server(
    lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    lab_as.reset_requests()
    async with new_client() as http:
        connection = await sign_in(http, lab_mcp)
        assert connection.session is not None
        await connection.session.renew(await connection.session.token(), None)
    received = lab_as.requests()
    authorize = [r for r in received if r["path"].endswith("/auth") and r["method"] == "GET"]
    token = [r for r in received if r["path"].endswith("/token")]
    assert authorize, received
    assert len(token) == 2  # code exchange, then refresh
    for request in authorize:
        assert request["query"]["resource"] == lab_mcp.url
        assert request["query"]["code_challenge_method"] == "S256"
    grants = sorted(r["body"]["grant_type"] for r in token)
    assert grants == ["authorization_code", "refresh_token"]
    for request in token:
        assert request["body"]["resource"] == lab_mcp.url


@pytest.mark.parametrize(
    ("as_options", "mcp_options"),
    [
        pytest.param({"issuerPath": "/tenant1"}, {}, id="issuer-with-path"),
        pytest.param({"discovery": "oidc-only"}, {}, id="openid-discovery-only"),
        pytest.param({"issuerPath": "/tenant2", "discovery": "oidc-only"}, {}, id="oidc-only-with-path"),
        pytest.param({}, {"prm_mode": "path"}, id="prm-path-inserted"),
        pytest.param({}, {"prm_mode": "root"}, id="prm-root"),
    ],
)
async def test_discovery_variants(
    lab_as_factory: Callable[..., RunningAuthServer],
    lab_mcp_factory: Callable[..., RunningMcpServer],
    as_options: dict[str, Any],
    mcp_options: dict[str, Any],
) -> None:
    auth_server = lab_as_factory(**as_options)
    mcp = lab_mcp_factory(auth_server, **mcp_options)
    trace = Trace()
    async with new_client() as http:
        connection = await sign_in(http, mcp, trace=trace)
        assert connection.session is not None
        assert (await connection.session.token()).issuer == auth_server.issuer
        async with McpClient(http, mcp.url, auth=connection.auth()) as client:
            result = await client.call_tool("whoami", {})
            assert not result.is_error
    fetched = [e.url for e in trace.events if e.step == "authorization_server_metadata" and e.status == 200]
    assert len(fetched) == 1
    if as_options.get("discovery") == "oidc-only":
        assert "openid-configuration" in fetched[0]


async def test_without_resource_indicators_the_parameter_is_still_sent(
    lab_as_factory: Callable[..., RunningAuthServer], lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    auth_server = lab_as_factory(resourceIndicators=False)
    mcp = lab_mcp_factory(auth_server, token_validation="introspection")
    async with new_client() as http:
        connection = await sign_in(http, mcp)
        async with McpClient(http, mcp.url, auth=connection.auth()) as client:
            assert not (await client.call_tool("echo", {"text": "x"})).is_error
    authorize = [r for r in auth_server.requests() if r["path"].endswith("/auth") and r["method"] == "GET"]
    assert authorize[0]["query"]["resource"] == mcp.url


async def test_step_up_asks_again_with_the_union_of_scopes(
    lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    approver = Approver()
    browser = LabBrowser()
    async with new_client() as http:
        connection = await sign_in(http, lab_mcp, approver=approver, browser=browser)
        async with McpClient(http, lab_mcp.url, auth=connection.auth()) as client:
            result = await client.call_tool("admin_report", {})
            assert not result.is_error
        assert connection.session is not None
        assert "mcp:admin" in (await connection.session.token()).scopes
    assert len(browser.urls) == 2
    step_up = approver.checks[1]
    assert step_up.previous is not None
    assert set(step_up.previous.scopes) < set(step_up.pairing.scopes)
    assert {"mcp:tools", "mcp:admin"} <= set(step_up.pairing.scopes)
    assert "mcp:admin" in step_up.added_scopes


async def test_declined_step_up_is_reported(lab_mcp: RunningMcpServer) -> None:
    approver = Approver()
    async with new_client() as http:
        connection = await sign_in(http, lab_mcp, approver=approver)
        approver.answer = False
        async with McpClient(http, lab_mcp.url, auth=connection.auth()) as client:
            with pytest.raises(ConsentRefused) as info:
                await client.call_tool("admin_report", {})
    assert "mcp:admin" in approver.checks[-1].added_scopes
    assert "mcp:admin" in info.value.message


async def test_expired_token_is_refreshed_with_rotation(
    lab_as_factory: Callable[..., RunningAuthServer], lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    auth_server = lab_as_factory(accessTokenTTL=60)
    mcp = lab_mcp_factory(auth_server)
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    async with new_client() as http:
        connection = await sign_in(http, mcp, clock=clock)
        session = connection.session
        assert session is not None
        first = await session.token()
        offset[0] = 3600  # the app believes an hour has passed: the token is due
        async with McpClient(http, mcp.url, auth=connection.auth()) as client:
            assert not (await client.call_tool("whoami", {})).is_error
        renewed = await session.token()
        assert renewed.access_token != first.access_token
        assert renewed.refresh_token != first.refresh_token  # rotated


async def test_revoked_grant_needs_a_new_sign_in(
    lab_as_factory: Callable[..., RunningAuthServer], lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    auth_server = lab_as_factory()
    mcp = lab_mcp_factory(auth_server)
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    async with new_client() as http:
        connection = await sign_in(http, mcp, clock=clock)
        session = connection.session
        assert session is not None
        assert auth_server.revoke_grants("alice") >= 1
        offset[0] = 86400  # the access token has expired: the next one needs the revoked grant
        with pytest.raises(SignInRequired):
            await session.token()


async def test_two_users_get_their_own_identity(lab_mcp: RunningMcpServer) -> None:
    seen = {}
    for user in ("alice", "bob"):
        async with new_client() as http:
            connection = await sign_in(http, lab_mcp, browser=LabBrowser(user))
            async with McpClient(http, lab_mcp.url, auth=connection.auth()) as client:
                result = await client.call_tool("whoami", {})
                seen[user] = str(result.content)
    assert seen["alice"] != seen["bob"]


async def test_tokens_never_cross_to_another_server(
    lab_as: RunningAuthServer, lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    first = lab_mcp_factory(lab_as)
    second = lab_mcp_factory(lab_as)
    async with new_client() as http:
        connection = await sign_in(http, first)
        auth = connection.auth()
        assert auth is not None
        async with McpClient(http, first.url, auth=auth) as client:
            await client.list_tools()
        # The same auth used against another server's URL sends nothing.
        response = await http.post(second.url, json={}, auth=auth)
        assert response.status_code == 401
    assert fingerprints(first.requests())
    assert not fingerprints(second.requests())


async def test_no_secret_in_logs(lab_mcp: RunningMcpServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with new_client() as http:
        connection = await sign_in(http, lab_mcp)
        assert connection.session is not None
        tokens = await connection.session.token()
        async with McpClient(http, lab_mcp.url, auth=connection.auth()) as client:
            await client.list_tools()
    secrets = [tokens.access_token, tokens.refresh_token]
    assert all(secrets)
    text = caplog.text
    for secret in secrets:
        assert secret is not None
        assert secret not in text


async def test_client_id_metadata_document(
    lab_as_factory: Callable[..., RunningAuthServer], lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    """The shipped document, hosted where its client_id says: no registration, the URL is the client_id."""
    auth_server = lab_as_factory()
    assert auth_server.metadata()["client_id_metadata_document_supported"] is True
    mcp = lab_mcp_factory(auth_server)
    client_id = "https://app.lab.test/oauth/client-metadata.json"
    document = json.loads((Path(__file__).parents[2] / "packaging" / "client-metadata.json").read_text())
    auth_server.host_cimd(client_id, {**document, "client_id": client_id})
    approver = Approver()
    async with new_client() as http:
        settings = dataclasses.replace(CONNECT_SETTINGS, registration="cimd", client_metadata_url=client_id)
        connection = await sign_in(http, mcp, approver=approver, settings=settings)
        async with McpClient(http, mcp.url, auth=connection.auth()) as client:
            assert not (await client.call_tool("whoami", {})).is_error
    assert approver.pairings[0].client_kind == "cimd"
    received = auth_server.requests()
    assert not [r for r in received if r["path"].endswith("/reg")]
    authorize = [r for r in received if r["path"].endswith("/auth") and r["method"] == "GET"]
    token = [r for r in received if r["path"].endswith("/token")]
    assert authorize[0]["query"]["client_id"] == client_id
    assert token[0]["body"]["client_id"] == client_id
    # A static document cannot name an ephemeral port: the app listens on one of the fixed ports it lists.
    assert authorize[0]["query"]["redirect_uri"] in document["redirect_uris"][1:]


async def test_preregistered_confidential_client(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
    registered = lab_as.register_client(
        client_name="pre-registered by an admin",
        application_type="native",
        redirect_uris=["http://127.0.0.1/callback"],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="client_secret_post",
    )
    settings = dataclasses.replace(
        CONNECT_SETTINGS,
        registration="preregistered",
        client_id=registered["client_id"],
        client_auth="client_secret_post",
    )
    lab_as.reset_requests()
    async with new_client() as http:
        connection = await sign_in(http, lab_mcp, settings=settings, client_secret=registered["client_secret"])
        assert connection.session is not None
    token = [r for r in lab_as.requests() if r["path"].endswith("/token")]
    assert token[0]["status"] == 200
    assert token[0]["body"]["client_id"] == registered["client_id"]
    assert str(token[0]["body"]["client_secret"]).startswith("sha256:")  # sent, and the lab never logs it
