"""The lab's third-party pairs behave as their libraries do: checked with plain httpx steps (not the app's engine).

- The MCP TypeScript SDK's demo authorization server (``DemoInMemoryAuthProvider`` + ``mcpAuthRouter``) with an MCP
  server on the same SDK (``start_sdk_demo_server``).
- FastMCP with its ``InMemoryOAuthProvider`` (``start_fastmcp_server``), modern and legacy (2025-03-26-style) modes.

Both compare redirect URIs exactly, port included: a client registered with the port-less
``http://127.0.0.1/callback`` is refused ``http://127.0.0.1:<port>/callback``; these tests pin how each refuses.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests.lab.browser import BrowserError, scripted_browser
from tests.lab.conftest_plugin import FastMcpServerFactory, SdkDemoServerFactory
from tests.lab.servers import LabError, RunningFastMcpServer, RunningSdkDemoServer, secret_fingerprint

pytestmark = pytest.mark.lab

ACCEPT_MCP = "application/json, text/event-stream"
PROTOCOL = "2025-06-18"
PORTLESS = "http://127.0.0.1/callback"


class Pair(Protocol):
    """What both running pairs offer (``RunningSdkDemoServer``, ``RunningFastMcpServer``)."""

    mcp_url: str
    issuer: str

    @property
    def metadata_url(self) -> str: ...

    def requests(self) -> list[dict[str, Any]]: ...


# --------------------------------------------------------------------------------------------------
# The servers (one of each per module: clients are independent, so tests can share them)
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdk_demo(lab_sdk_demo_factory: SdkDemoServerFactory) -> RunningSdkDemoServer:
    return lab_sdk_demo_factory()


@pytest.fixture(scope="module")
def fastmcp(lab_fastmcp_factory: FastMcpServerFactory) -> RunningFastMcpServer:
    return lab_fastmcp_factory()


@pytest.fixture(scope="module")
def fastmcp_legacy(lab_fastmcp_factory: FastMcpServerFactory) -> RunningFastMcpServer:
    return lab_fastmcp_factory(mode="legacy")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


# --------------------------------------------------------------------------------------------------
# Hand-written OAuth and MCP steps
# --------------------------------------------------------------------------------------------------


@dataclass
class Callback:
    """A loopback redirect_uri listener (what the app would run): records the first /callback query."""

    port: int = 0
    received: asyncio.Future[dict[str, str]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        target = head.split(b" ", 2)[1].decode()
        body = b"lab callback received"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()
        parts = urlsplit(target)
        if parts.path == "/callback" and not self.received.done():
            self.received.set_result(dict(parse_qsl(parts.query)))


@asynccontextmanager
async def callback_listener() -> AsyncIterator[Callback]:
    callback = Callback()
    server = await asyncio.start_server(callback.handle, "127.0.0.1", 0)
    callback.port = server.sockets[0].getsockname()[1]
    try:
        yield callback
    finally:
        server.close()
        await server.wait_closed()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def metadata(http: httpx.AsyncClient, pair: Pair) -> dict[str, Any]:
    response = await http.get(pair.metadata_url)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def register(http: httpx.AsyncClient, pair: Pair, redirect_uri: str) -> dict[str, Any]:
    """RFC 7591 registration of a native public client, as an MCP client sends it."""
    meta = await metadata(http, pair)
    response = await http.post(
        meta["registration_endpoint"],
        json={
            "client_name": "lab third-party test",
            "application_type": "native",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@dataclass
class Request:
    url: str
    verifier: str
    state: str
    redirect_uri: str


async def authorization_request(
    http: httpx.AsyncClient,
    pair: Pair,
    client_id: str,
    redirect_uri: str,
    *,
    resource: str | None,
    scope: str | None = "mcp:tools",
) -> Request:
    meta = await metadata(http, pair)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
        **({"scope": scope} if scope is not None else {}),
        **({"resource": resource} if resource is not None else {}),
    }
    return Request(f"{meta['authorization_endpoint']}?{urlencode(params)}", verifier, state, redirect_uri)


async def redeem(
    http: httpx.AsyncClient, pair: Pair, client_id: str, request: Request, code: str, *, resource: str | None
) -> httpx.Response:
    meta = await metadata(http, pair)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.redirect_uri,
        "client_id": client_id,
        "code_verifier": request.verifier,
        **({"resource": resource} if resource is not None else {}),
    }
    return await http.post(meta["token_endpoint"], data=form)


async def refresh(
    http: httpx.AsyncClient, pair: Pair, client_id: str, refresh_token: str, *, resource: str
) -> httpx.Response:
    meta = await metadata(http, pair)
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id, "resource": resource}
    return await http.post(meta["token_endpoint"], data=form)


@dataclass
class SignedIn:
    client_id: str
    request: Request
    callback: dict[str, str]
    tokens: dict[str, Any]


async def sign_in(http: httpx.AsyncClient, pair: Pair, *, scope: str | None = "mcp:tools") -> SignedIn:
    """Register the listener's exact redirect URI (port included) and run the code flow with PKCE and resource."""
    async with callback_listener() as listener:
        client = await register(http, pair, listener.redirect_uri)
        request = await authorization_request(
            http, pair, client["client_id"], listener.redirect_uri, resource=pair.mcp_url, scope=scope
        )
        await scripted_browser(request.url)
        callback = await asyncio.wait_for(listener.received, 5)
    assert callback["state"] == request.state
    response = await redeem(http, pair, client["client_id"], request, callback["code"], resource=pair.mcp_url)
    assert response.status_code == 200, response.text
    return SignedIn(client["client_id"], request, callback, response.json())


def rpc(method: str, params: dict[str, Any] | None = None, id_: int | None = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    if id_ is not None:
        message["id"] = id_
    return message


def jsonrpc_answer(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON-RPC answer in a JSON or SSE response body."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        result: dict[str, Any] = response.json()
        return result
    if content_type.startswith("text/event-stream"):
        for event in response.text.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
            if data:
                message: dict[str, Any] = json.loads(data)
                if "result" in message or "error" in message:
                    return message
    return None


@dataclass
class McpSession:
    http: httpx.AsyncClient
    url: str
    token: str | None
    session_id: str | None = None
    next_id: int = 1

    def headers(self) -> dict[str, str]:
        headers = {"Accept": ACCEPT_MCP, "Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
            headers["MCP-Protocol-Version"] = PROTOCOL
        return headers

    async def post(self, message: dict[str, Any]) -> httpx.Response:
        return await self.http.post(self.url, json=message, headers=self.headers())

    async def initialize(self) -> httpx.Response:
        client_info = {"name": "lab-third-party", "version": "0"}
        response = await self.post(
            rpc("initialize", {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": client_info})
        )
        if response.status_code == 200:
            self.session_id = response.headers.get("mcp-session-id")
            answer = jsonrpc_answer(response)
            assert answer is not None and answer["result"]["protocolVersion"] == PROTOCOL, response.text
            initialized = await self.post(rpc("notifications/initialized", id_=None))
            assert initialized.status_code == 202, initialized.text
        return response

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> tuple[httpx.Response, str | None]:
        self.next_id += 1
        response = await self.post(rpc("tools/call", {"name": name, "arguments": arguments or {}}, self.next_id))
        answer = jsonrpc_answer(response) if response.status_code == 200 else None
        text = answer["result"]["content"][0]["text"] if answer and "result" in answer else None
        return response, text


async def assert_mcp_accepts(http: httpx.AsyncClient, pair: Pair, token: str) -> dict[str, Any]:
    """initialize, echo and whoami answered 200 with this token; returns whoami's JSON."""
    session = McpSession(http, pair.mcp_url, token)
    response = await session.initialize()
    assert response.status_code == 200, (response.status_code, response.headers.get("www-authenticate"))
    assert session.session_id
    response, text = await session.call_tool("echo", {"text": "hello lab"})
    assert response.status_code == 200, response.text
    assert text == "hello lab"
    response, text = await session.call_tool("whoami")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = json.loads(text or "null")
    return result


def assert_logs_hold_no_secret(pair: Pair, secrets_used: dict[str, str]) -> None:
    """The request log(s) hold no raw secret, and show each one as its fingerprint."""
    log = json.dumps(pair.requests())
    for name, value in secrets_used.items():
        assert value not in log, f"raw {name} in the request log"
    for name in ("code", "code_verifier"):
        assert secret_fingerprint(secrets_used[name]) in log, f"{name} fingerprint missing"
    assert secret_fingerprint(secrets_used["access_token"]) in log, "Authorization fingerprint missing"


# --------------------------------------------------------------------------------------------------
# The MCP TypeScript SDK's demo authorization server + an MCP server on the same SDK
# --------------------------------------------------------------------------------------------------


async def test_sdk_demo_metadata_prm_and_challenge(http: httpx.AsyncClient, sdk_demo: RunningSdkDemoServer) -> None:
    # The SDK advertises `new URL(origin).href`: the issuer ends in "/".
    assert sdk_demo.issuer == sdk_demo.as_url + "/"
    meta = await metadata(http, sdk_demo)
    assert meta == {
        "issuer": sdk_demo.issuer,
        "authorization_endpoint": f"{sdk_demo.as_url}/authorize",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint": f"{sdk_demo.as_url}/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
        # Advertised, though the demo provider issues no refresh token.
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "scopes_supported": ["mcp:tools"],
        "registration_endpoint": f"{sdk_demo.as_url}/register",
    }

    anonymous = await http.post(sdk_demo.mcp_url, json=rpc("initialize", {}), headers={"Accept": ACCEPT_MCP})
    assert anonymous.status_code == 401
    # The SDK's requireBearerAuth says invalid_token even without credentials; no scope (none required).
    assert anonymous.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="Missing Authorization header", '
        f'resource_metadata="{sdk_demo.prm_url}"'
    )
    # An unknown (or expired) token: DemoInMemoryAuthProvider.verifyAccessToken throws a plain Error, which
    # requireBearerAuth answers as a server error, without a challenge.
    bad = await McpSession(http, sdk_demo.mcp_url, "not-a-token").initialize()
    assert bad.status_code == 500
    assert "www-authenticate" not in bad.headers
    assert bad.json() == {"error": "server_error", "error_description": "Internal Server Error"}
    assert sdk_demo.prm_url == f"{sdk_demo.mcp_base_url}/.well-known/oauth-protected-resource/mcp"
    prm = (await http.get(sdk_demo.prm_url)).json()
    assert prm == {
        "resource": sdk_demo.mcp_url,
        "authorization_servers": [sdk_demo.issuer],
        "scopes_supported": ["mcp:tools"],
        "resource_name": "Lab SDK demo MCP server",
    }
    # mcpAuthMetadataRouter also serves the AS's metadata at the MCP origin (its issuer is the AS's, not this origin).
    at_mcp_origin = await http.get(f"{sdk_demo.mcp_base_url}/.well-known/oauth-authorization-server")
    assert at_mcp_origin.status_code == 200
    assert at_mcp_origin.json()["issuer"] == sdk_demo.issuer


async def test_sdk_demo_refuses_a_port_the_client_did_not_register(
    http: httpx.AsyncClient, sdk_demo: RunningSdkDemoServer
) -> None:
    client = await register(http, sdk_demo, PORTLESS)
    # The SDK strips what its schema does not know (application_type) and echoes the rest.
    assert client["redirect_uris"] == [PORTLESS]
    assert "application_type" not in client
    assert client["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in client

    async with callback_listener() as listener:
        request = await authorization_request(
            http, sdk_demo, client["client_id"], listener.redirect_uri, resource=sdk_demo.mcp_url
        )
        # The SDK's authorize handler lets a loopback port differ (RFC 8252), but DemoInMemoryAuthProvider.authorize
        # compares exactly and throws; the handler turns that into an error redirect to the *requested* URI.
        direct = await http.get(request.url)
        assert direct.status_code == 302
        assert direct.headers["location"] == (
            f"{listener.redirect_uri}?error=invalid_request&error_description=Unregistered+redirect_uri"
            f"&state={request.state}"
        )
        # So a browser does reach the app's listener: with an error and no code.
        await scripted_browser(request.url)
        callback = await asyncio.wait_for(listener.received, 5)
    assert callback == {
        "error": "invalid_request",
        "error_description": "Unregistered redirect_uri",
        "state": request.state,
    }


async def test_sdk_demo_exact_redirect_uri_flow_reaches_the_mcp_server(
    http: httpx.AsyncClient, sdk_demo: RunningSdkDemoServer
) -> None:
    sdk_demo.reset_requests()
    signed_in = await sign_in(http, sdk_demo)
    # The redirect carries code and state only (no RFC 9207 iss).
    assert set(signed_in.callback) == {"code", "state"}
    tokens = signed_in.tokens
    assert {key: tokens[key] for key in ("token_type", "expires_in", "scope")} == {
        "token_type": "bearer",
        "expires_in": 3600,
        "scope": "mcp:tools",
    }
    assert "refresh_token" not in tokens
    whoami = await assert_mcp_accepts(http, sdk_demo, tokens["access_token"])
    assert whoami == {"client_id": signed_in.client_id, "scopes": ["mcp:tools"]}

    # No refresh token, and the demo's exchangeRefreshToken throws a plain Error: 500 server_error.
    no_refresh = await refresh(http, sdk_demo, signed_in.client_id, "no-such-token", resource=sdk_demo.mcp_url)
    assert no_refresh.status_code == 500
    assert no_refresh.json() == {"error": "server_error", "error_description": "Internal Server Error"}

    assert_logs_hold_no_secret(
        sdk_demo,
        {
            "code": signed_in.callback["code"],
            "code_verifier": signed_in.request.verifier,
            "access_token": tokens["access_token"],
        },
    )
    mcp_log = sdk_demo.mcp_requests()
    assert {entry["status"] for entry in mcp_log if entry["mcp_method"] == "initialize"} == {200}
    assert all(entry["authorization_sha256"] in (None, secret_fingerprint(tokens["access_token"])) for entry in mcp_log)


async def test_sdk_demo_strict_resource(http: httpx.AsyncClient, sdk_demo: RunningSdkDemoServer) -> None:
    # strictResource (the default, the SDK example's --oauth-strict): the authorization request's `resource` must be
    # the MCP URL, else the code does not redeem; the demo throws a plain Error, so the token endpoint answers 500.
    async with callback_listener() as listener:
        client = await register(http, sdk_demo, listener.redirect_uri)
        request = await authorization_request(http, sdk_demo, client["client_id"], listener.redirect_uri, resource=None)
        await scripted_browser(request.url)
        callback = await asyncio.wait_for(listener.received, 5)
    response = await redeem(http, sdk_demo, client["client_id"], request, callback["code"], resource=sdk_demo.mcp_url)
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"


def test_sdk_demo_unknown_option_is_refused(lab_sdk_demo_factory: SdkDemoServerFactory) -> None:
    with pytest.raises(LabError, match="unknown option"):
        lab_sdk_demo_factory(noSuchOption=True)


# --------------------------------------------------------------------------------------------------
# FastMCP with its InMemoryOAuthProvider: modern mode
# --------------------------------------------------------------------------------------------------


async def test_fastmcp_metadata_prm_and_challenge(http: httpx.AsyncClient, fastmcp: RunningFastMcpServer) -> None:
    # pydantic's AnyHttpUrl adds "/" to the bare origin: that is the issuer FastMCP advertises.
    assert fastmcp.issuer == fastmcp.base_url + "/"
    meta = await metadata(http, fastmcp)
    assert meta == {
        "issuer": fastmcp.issuer,
        "authorization_endpoint": f"{fastmcp.base_url}/authorize",
        "token_endpoint": f"{fastmcp.base_url}/token",
        "registration_endpoint": f"{fastmcp.base_url}/register",
        "scopes_supported": ["mcp:tools"],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "revocation_endpoint": f"{fastmcp.base_url}/revoke",
        "revocation_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }
    assert fastmcp.prm_url == f"{fastmcp.base_url}/.well-known/oauth-protected-resource/mcp"
    prm = (await http.get(fastmcp.prm_url)).json()
    assert prm == {
        "resource": fastmcp.mcp_url,
        "authorization_servers": [fastmcp.issuer],
        "scopes_supported": ["mcp:tools"],
        "bearer_methods_supported": ["header"],
    }
    assert (await http.get(f"{fastmcp.base_url}/.well-known/oauth-protected-resource")).status_code == 404

    anonymous = await http.post(fastmcp.mcp_url, json=rpc("initialize", {}), headers={"Accept": ACCEPT_MCP})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == f'Bearer scope="mcp:tools", resource_metadata="{fastmcp.prm_url}"'
    bad = await McpSession(http, fastmcp.mcp_url, "not-a-token").initialize()
    assert bad.status_code == 401
    challenge = bad.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="Authentication failed.')
    assert challenge.endswith(f'scope="mcp:tools", resource_metadata="{fastmcp.prm_url}"')


async def test_fastmcp_refuses_a_port_the_client_did_not_register(
    http: httpx.AsyncClient, fastmcp: RunningFastMcpServer
) -> None:
    client = await register(http, fastmcp, PORTLESS)
    assert client["redirect_uris"] == [PORTLESS]
    assert client["application_type"] == "native"
    assert client["scope"] == "mcp:tools"  # default_scopes, since the registration named none

    async with callback_listener() as listener:
        request = await authorization_request(
            http, fastmcp, client["client_id"], listener.redirect_uri, resource=fastmcp.mcp_url
        )
        # The MCP SDK's AuthorizationHandler: pydantic AnyUrl equality against the registered list; an unknown
        # redirect_uri is answered directly (400 JSON), never redirected to.
        direct = await http.get(request.url)
        assert direct.status_code == 400
        assert direct.json() == {
            "error": "invalid_request",
            "error_description": f"Redirect URI '{listener.redirect_uri}' not registered for client",
            "state": request.state,
        }
        with pytest.raises(BrowserError, match=r"answered 400 at /authorize.*not registered for client"):
            await scripted_browser(request.url)
        assert not listener.received.done()


async def test_fastmcp_exact_redirect_uri_flow_and_rotating_refresh(
    http: httpx.AsyncClient, fastmcp: RunningFastMcpServer
) -> None:
    fastmcp.reset_requests()
    signed_in = await sign_in(http, fastmcp)
    assert set(signed_in.callback) == {"code", "state"}
    tokens = signed_in.tokens
    assert {key: tokens[key] for key in ("token_type", "expires_in", "scope")} == {
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "mcp:tools",
    }
    whoami = await assert_mcp_accepts(http, fastmcp, tokens["access_token"])
    assert whoami == {"client_id": signed_in.client_id, "scopes": ["mcp:tools"]}

    renewed_response = await refresh(
        http, fastmcp, signed_in.client_id, tokens["refresh_token"], resource=fastmcp.mcp_url
    )
    assert renewed_response.status_code == 200, renewed_response.text
    renewed = renewed_response.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert renewed["access_token"] != tokens["access_token"]
    assert renewed["scope"] == "mcp:tools"
    await assert_mcp_accepts(http, fastmcp, renewed["access_token"])
    # Rotation revokes the old pair: the old access token is refused, and reusing the old refresh token is
    # invalid_grant with 401 (FastMCP's token handler turns the SDK's 400 into 401).
    old = await McpSession(http, fastmcp.mcp_url, tokens["access_token"]).initialize()
    assert old.status_code == 401
    reused = await refresh(http, fastmcp, signed_in.client_id, tokens["refresh_token"], resource=fastmcp.mcp_url)
    assert reused.status_code == 401
    assert reused.json()["error"] == "invalid_grant"

    assert_logs_hold_no_secret(
        fastmcp,
        {
            "code": signed_in.callback["code"],
            "code_verifier": signed_in.request.verifier,
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "new_access_token": renewed["access_token"],
            "new_refresh_token": renewed["refresh_token"],
        },
    )
    log = json.dumps(fastmcp.requests())
    assert secret_fingerprint(tokens["refresh_token"]) in log


async def test_fastmcp_scopes_follow_the_authorization_request(
    http: httpx.AsyncClient, fastmcp: RunningFastMcpServer
) -> None:
    # No scope in the authorization request: the provider grants none, and the MCP endpoint (required_scopes
    # mcp:tools) answers 403 insufficient_scope.
    signed_in = await sign_in(http, fastmcp, scope=None)
    assert signed_in.tokens["scope"] == ""
    response = await McpSession(http, fastmcp.mcp_url, signed_in.tokens["access_token"]).initialize()
    assert response.status_code == 403
    assert response.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')


async def test_fastmcp_expired_access_token_takes_its_refresh_token_along(
    http: httpx.AsyncClient, lab_fastmcp_factory: FastMcpServerFactory
) -> None:
    server = lab_fastmcp_factory()
    # Renewing before using the expired token works.
    first = await sign_in(http, server)
    assert server.expire_access_tokens() == 1
    early = await refresh(http, server, first.client_id, first.tokens["refresh_token"], resource=server.mcp_url)
    assert early.status_code == 200, early.text
    # Presenting the expired token first: 401, and the provider deletes the refresh token issued with it.
    assert server.expire_access_tokens() == 1
    expired = await McpSession(http, server.mcp_url, early.json()["access_token"]).initialize()
    assert expired.status_code == 401
    late = await refresh(http, server, first.client_id, early.json()["refresh_token"], resource=server.mcp_url)
    assert late.status_code == 401
    assert late.json()["error"] == "invalid_grant"


# --------------------------------------------------------------------------------------------------
# FastMCP legacy mode: a 2025-03-26-style server (no protected resource metadata)
# --------------------------------------------------------------------------------------------------


async def test_fastmcp_legacy_has_no_prm_and_metadata_at_the_origin(
    http: httpx.AsyncClient, fastmcp_legacy: RunningFastMcpServer
) -> None:
    assert fastmcp_legacy.mode == "legacy"
    assert fastmcp_legacy.prm_url is None
    base = fastmcp_legacy.base_url
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        assert (await http.get(base + path)).status_code == 404, path

    anonymous = await http.post(fastmcp_legacy.mcp_url, json=rpc("initialize", {}), headers={"Accept": ACCEPT_MCP})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    bad = await McpSession(http, fastmcp_legacy.mcp_url, "not-a-token").initialize()
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert "resource_metadata" not in bad.headers["www-authenticate"]

    response = await http.get(f"{base}/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert response.json()["issuer"] == base + "/"
    assert fastmcp_legacy.issuer == base + "/"


async def test_fastmcp_legacy_refuses_the_port_and_accepts_the_exact_uri(
    http: httpx.AsyncClient, fastmcp_legacy: RunningFastMcpServer
) -> None:
    client = await register(http, fastmcp_legacy, PORTLESS)
    async with callback_listener() as listener:
        request = await authorization_request(
            http, fastmcp_legacy, client["client_id"], listener.redirect_uri, resource=fastmcp_legacy.mcp_url
        )
        with pytest.raises(BrowserError, match="answered 400 at /authorize"):
            await scripted_browser(request.url)

    fastmcp_legacy.reset_requests()
    signed_in = await sign_in(http, fastmcp_legacy)
    whoami = await assert_mcp_accepts(http, fastmcp_legacy, signed_in.tokens["access_token"])
    assert whoami["client_id"] == signed_in.client_id
    assert_logs_hold_no_secret(
        fastmcp_legacy,
        {
            "code": signed_in.callback["code"],
            "code_verifier": signed_in.request.verifier,
            "access_token": signed_in.tokens["access_token"],
            "refresh_token": signed_in.tokens["refresh_token"],
        },
    )


def test_fastmcp_unknown_option_is_refused(lab_fastmcp_factory: FastMcpServerFactory) -> None:
    with pytest.raises(LabError, match="unknown option"):
        lab_fastmcp_factory(noSuchOption=True)
