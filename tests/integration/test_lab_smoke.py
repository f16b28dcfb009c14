"""The test lab behaves as specified: checked with hand-written OAuth and MCP steps (not the app's engine)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import webbrowser
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests.lab import servers
from tests.lab.browser import BrowserError, chromium_available, make_chromium_browser, scripted_browser
from tests.lab.servers import (
    LabError,
    RunningAuthServer,
    RunningMcpServer,
    secret_fingerprint,
    start_auth_server,
    start_mcp_server,
)

pytestmark = pytest.mark.lab

ACCEPT_MCP = "application/json, text/event-stream"
PROTOCOL = "2025-11-25"


# --------------------------------------------------------------------------------------------------
# Hand-written OAuth and MCP steps
# --------------------------------------------------------------------------------------------------


@dataclass
class Callback:
    """A one-shot loopback redirect_uri listener (what the app would run)."""

    port: int = 0
    received: asyncio.Future[dict[str, str]] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    paths: list[str] = field(default_factory=list)

    def redirect_uri(self, path: str = "/callback") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        target = head.split(b" ", 2)[1].decode()
        self.paths.append(target)
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


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def decode(segment: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return result

    header, payload, _ = token.split(".")
    return decode(header), decode(payload)


async def metadata(http: httpx.AsyncClient, auth_server: RunningAuthServer) -> dict[str, Any]:
    response = await http.get(auth_server.metadata_url)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


async def register_native_client(http: httpx.AsyncClient, auth_server: RunningAuthServer) -> dict[str, Any]:
    meta = await metadata(http, auth_server)
    response = await http.post(
        meta["registration_endpoint"],
        json={
            "client_name": "lab smoke test",
            "application_type": "native",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@dataclass
class Authorized:
    callback: dict[str, str]
    verifier: str
    redirect_uri: str
    state: str


async def authorize(
    auth_server: RunningAuthServer,
    client_id: str,
    *,
    resource: str | None,
    scope: str | None = "mcp:tools",
    user: str | None = None,
    extra: dict[str, str] | None = None,
) -> Authorized:
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    async with callback_listener() as listener, httpx.AsyncClient(trust_env=False) as http:
        meta = await metadata(http, auth_server)
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": listener.redirect_uri(),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            **({"scope": scope} if scope is not None else {}),
            **({"resource": resource} if resource is not None else {}),
            **(extra or {}),
        }
        await scripted_browser(f"{meta['authorization_endpoint']}?{urlencode(params)}", user=user)
        received = await asyncio.wait_for(listener.received, 5)
        return Authorized(received, verifier, listener.redirect_uri(), state)


async def redeem(
    http: httpx.AsyncClient,
    auth_server: RunningAuthServer,
    client_id: str,
    authorized: Authorized,
    *,
    resource: str | None,
) -> httpx.Response:
    meta = await metadata(http, auth_server)
    form = {
        "grant_type": "authorization_code",
        "code": authorized.callback["code"],
        "redirect_uri": authorized.redirect_uri,
        "client_id": client_id,
        "code_verifier": authorized.verifier,
        **({"resource": resource} if resource is not None else {}),
    }
    return await http.post(meta["token_endpoint"], data=form)


async def refresh(
    http: httpx.AsyncClient, auth_server: RunningAuthServer, client_id: str, refresh_token: str, resource: str
) -> httpx.Response:
    meta = await metadata(http, auth_server)
    return await http.post(
        meta["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "resource": resource,
        },
    )


async def signed_in(
    http: httpx.AsyncClient,
    auth_server: RunningAuthServer,
    mcp: RunningMcpServer,
    *,
    user: str | None = None,
    scope: str = "mcp:tools",
) -> tuple[str, dict[str, Any]]:
    """Register a native client and run the whole code flow: (client_id, token response)."""
    client = await register_native_client(http, auth_server)
    authorized = await authorize(auth_server, client["client_id"], resource=mcp.url, scope=scope, user=user)
    response = await redeem(http, auth_server, client["client_id"], authorized, resource=mcp.url)
    assert response.status_code == 200, response.text
    return client["client_id"], response.json()


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
    protocol_version: str | None = None
    next_id: int = 1

    def headers(self) -> dict[str, str]:
        headers = {"Accept": ACCEPT_MCP, "Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    async def post(self, message: dict[str, Any]) -> httpx.Response:
        return await self.http.post(self.url, json=message, headers=self.headers())

    async def initialize(self) -> dict[str, Any]:
        response = await self.post(
            rpc(
                "initialize",
                {
                    "protocolVersion": PROTOCOL,
                    "capabilities": {},
                    "clientInfo": {"name": "lab-smoke", "version": "0"},
                },
            )
        )
        assert response.status_code == 200, response.text
        self.session_id = response.headers.get("mcp-session-id")
        answer = jsonrpc_answer(response)
        assert answer is not None
        assert answer["result"]["protocolVersion"] == PROTOCOL
        self.protocol_version = PROTOCOL
        initialized = await self.post(rpc("notifications/initialized", id_=None))
        assert initialized.status_code == 202, initialized.text
        return answer

    async def call(self, method: str, params: dict[str, Any] | None = None) -> tuple[httpx.Response, Any]:
        self.next_id += 1
        response = await self.post(rpc(method, params, self.next_id))
        return response, jsonrpc_answer(response) if response.status_code == 200 else None


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


# --------------------------------------------------------------------------------------------------
# Authorization server: discovery per flavour
# --------------------------------------------------------------------------------------------------


async def status_of(http: httpx.AsyncClient, url: str) -> int:
    return (await http.get(url)).status_code


async def test_default_as_serves_rfc8414_and_openid_metadata(
    http: httpx.AsyncClient, lab_as: RunningAuthServer
) -> None:
    origin = lab_as.url
    assert lab_as.issuer == origin
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        response = await http.get(origin + path)
        assert response.status_code == 200
        meta = response.json()
        assert meta["issuer"] == lab_as.issuer
        assert meta["authorization_response_iss_parameter_supported"] is True
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert {"openid", "offline_access", "mcp:tools", "mcp:admin"} <= set(meta["scopes_supported"])
        assert meta["client_id_metadata_document_supported"] is True
        for endpoint in ("registration_endpoint", "revocation_endpoint", "token_endpoint", "jwks_uri"):
            assert meta[endpoint].startswith(origin + "/")
        assert meta["response_types_supported"] == ["code"]


async def test_path_issuer_metadata_locations(http: httpx.AsyncClient, lab_as_factory: Any) -> None:
    tenant = lab_as_factory(issuerPath="/tenant1")
    origin = tenant.url
    assert tenant.issuer == origin + "/tenant1"
    inserted = await http.get(origin + "/.well-known/oauth-authorization-server/tenant1")
    assert inserted.status_code == 200
    assert inserted.json()["issuer"] == tenant.issuer
    assert inserted.json()["token_endpoint"] == tenant.issuer + "/token"
    appended_oidc = await http.get(origin + "/tenant1/.well-known/openid-configuration")
    assert appended_oidc.status_code == 200
    assert appended_oidc.json()["authorization_endpoint"] == tenant.issuer + "/auth"
    # Not locations of this issuer's metadata.
    assert await status_of(http, origin + "/.well-known/oauth-authorization-server") == 404
    assert await status_of(http, origin + "/tenant1/.well-known/oauth-authorization-server") == 404
    assert await status_of(http, origin + "/.well-known/openid-configuration") == 404
    assert await status_of(http, origin + "/.well-known/openid-configuration/tenant1") == 404


async def test_oidc_only_flavour_hides_rfc8414(http: httpx.AsyncClient, lab_as_factory: Any) -> None:
    oidc_only = lab_as_factory(discovery="oidc-only", issuerPath="/t2", oidcPathInsertion=True)
    origin = oidc_only.url
    assert await status_of(http, origin + "/.well-known/oauth-authorization-server/t2") == 404
    assert await status_of(http, origin + "/.well-known/oauth-authorization-server") == 404
    for url in (origin + "/t2/.well-known/openid-configuration", origin + "/.well-known/openid-configuration/t2"):
        response = await http.get(url)
        assert response.status_code == 200
        assert response.json()["issuer"] == oidc_only.issuer


def test_unknown_option_fails_with_stderr() -> None:
    with pytest.raises(LabError, match="unknown option"):
        start_auth_server(noSuchOption=True)


def test_mcp_server_that_dies_reports_its_stderr() -> None:
    with pytest.raises(LabError, match="the issuer option is required"):
        start_mcp_server("")


def test_missing_node_packages_say_what_to_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(servers, "NODE_BIN", tmp_path / "node")
    with pytest.raises(LabError, match="npm ci --prefix tests/lab/node"):
        start_auth_server()


# --------------------------------------------------------------------------------------------------
# The whole flow: DCR, code + PKCE with resource, iss, JWT audience, MCP 401/200/403, refresh
# --------------------------------------------------------------------------------------------------


async def test_dcr_native_client_with_portless_loopback_redirect(
    http: httpx.AsyncClient, lab_as: RunningAuthServer
) -> None:
    client = await register_native_client(http, lab_as)
    assert client["redirect_uris"] == ["http://127.0.0.1/callback"]
    assert client["application_type"] == "native"
    assert client["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in client
    # Any port matches the port-less registration (the listener has an ephemeral port).
    authorized = await authorize(lab_as, client["client_id"], resource=None, scope="openid")
    assert authorized.callback["state"] == authorized.state
    assert "code" in authorized.callback


async def test_full_flow_against_mcp_server(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    # The MCP server's challenge without a token names the PRM and the scope, and no error.
    anonymous = McpSession(http, lab_mcp.url, token=None)
    response, _ = await anonymous.call("initialize", {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (f'Bearer resource_metadata="{lab_mcp.prm_url}", scope="mcp:tools"')
    prm = (await http.get(lab_mcp.prm_url or "")).json()
    assert prm == {
        "resource": lab_mcp.url,
        "authorization_servers": [lab_as.issuer],
        "scopes_supported": ["mcp:tools", "mcp:admin"],
        "resource_name": "Lab MCP server",
        "bearer_methods_supported": ["header"],
    }
    assert lab_mcp.url.endswith("/mcp")

    client = await register_native_client(http, lab_as)
    client_id = client["client_id"]
    authorized = await authorize(lab_as, client_id, resource=lab_mcp.url)
    assert authorized.callback["iss"] == lab_as.issuer
    assert authorized.callback["state"] == authorized.state
    tokens_response = await redeem(http, lab_as, client_id, authorized, resource=lab_mcp.url)
    assert tokens_response.status_code == 200, tokens_response.text
    tokens = tokens_response.json()
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["scope"] == "mcp:tools"
    assert "refresh_token" in tokens
    header, claims = jwt_parts(tokens["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["aud"] == lab_mcp.url
    assert claims["iss"] == lab_as.issuer
    assert claims["client_id"] == client_id
    assert claims["sub"] == lab_as.users()["alice"]["sub"]
    assert claims["exp"] - claims["iat"] == 300

    # A bad token: same challenge plus error="invalid_token".
    bad = McpSession(http, lab_mcp.url, token=tokens["access_token"][:-4] + "AAAA")
    response, _ = await bad.call("initialize", {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer error="invalid_token", resource_metadata="{lab_mcp.prm_url}", scope="mcp:tools"'
    )

    session = McpSession(http, lab_mcp.url, token=tokens["access_token"])
    await session.initialize()
    assert session.session_id
    response, answer = await session.call("tools/list")
    assert response.status_code == 200
    assert {tool["name"] for tool in answer["result"]["tools"]} == {"echo", "whoami", "admin_report"}
    response, answer = await session.call("tools/call", {"name": "echo", "arguments": {"text": "hi there"}})
    assert answer["result"]["content"][0]["text"] == "hi there"
    response, answer = await session.call("tools/call", {"name": "whoami", "arguments": {}})
    assert answer["result"]["content"][0]["text"] == claims["sub"]

    response, _ = await session.call("tools/call", {"name": "admin_report", "arguments": {}})
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="{lab_mcp.prm_url}"'
    )

    # Refresh: rotation, and reuse of a rotated refresh token revokes the grant.
    first_rt = tokens["refresh_token"]
    refreshed = await refresh(http, lab_as, client_id, first_rt, lab_mcp.url)
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first_rt
    assert jwt_parts(second["access_token"])[1]["aud"] == lab_mcp.url
    reuse = await refresh(http, lab_as, client_id, first_rt, lab_mcp.url)
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    after_reuse = await refresh(http, lab_as, client_id, second["refresh_token"], lab_mcp.url)
    assert after_reuse.status_code == 400
    assert after_reuse.json()["error"] == "invalid_grant"


async def test_admin_scope_is_granted_when_asked(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    _, tokens = await signed_in(http, lab_as, lab_mcp, scope="mcp:tools mcp:admin")
    assert set(tokens["scope"].split()) == {"mcp:tools", "mcp:admin"}
    session = McpSession(http, lab_mcp.url, token=tokens["access_token"])
    await session.initialize()
    response, answer = await session.call("tools/call", {"name": "admin_report", "arguments": {}})
    assert response.status_code == 200
    assert answer["result"]["content"][0]["text"].startswith("admin report for ")


async def test_bob_gets_another_sub(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    users = lab_as.users()
    assert users["alice"]["sub"] != users["bob"]["sub"]
    _, tokens = await signed_in(http, lab_as, lab_mcp, user="bob")
    assert jwt_parts(tokens["access_token"])[1]["sub"] == users["bob"]["sub"]
    session = McpSession(http, lab_mcp.url, token=tokens["access_token"])
    await session.initialize()
    _, answer = await session.call("tools/call", {"name": "whoami", "arguments": {}})
    assert answer["result"]["content"][0]["text"] == users["bob"]["sub"]


async def test_user_header_wins_over_login_hint(http: httpx.AsyncClient, lab_as: RunningAuthServer) -> None:
    users = lab_as.users()
    client = await register_native_client(http, lab_as)
    by_hint = await authorize(lab_as, client["client_id"], resource=None, scope="openid", extra={"login_hint": "bob"})
    token = (await redeem(http, lab_as, client["client_id"], by_hint, resource=None)).json()
    assert jwt_parts(token["id_token"])[1]["sub"] == users["bob"]["sub"]
    by_header = await authorize(
        lab_as, client["client_id"], resource=None, scope="openid", user="alice", extra={"login_hint": "bob"}
    )
    token = (await redeem(http, lab_as, client["client_id"], by_header, resource=None)).json()
    assert jwt_parts(token["id_token"])[1]["sub"] == users["alice"]["sub"]


async def test_request_without_scope_gets_the_default_scope(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    client = await register_native_client(http, lab_as)
    authorized = await authorize(lab_as, client["client_id"], resource=lab_mcp.url, scope=None)
    tokens = (await redeem(http, lab_as, client["client_id"], authorized, resource=lab_mcp.url)).json()
    assert tokens["scope"] == "mcp:tools"
    assert jwt_parts(tokens["access_token"])[1]["aud"] == lab_mcp.url


async def test_unknown_resource_is_an_error_redirect(http: httpx.AsyncClient, lab_as_factory: Any) -> None:
    strict = lab_as_factory(allowedResources=["http://127.0.0.1:1/mcp"])
    client = await register_native_client(http, strict)
    authorized = await authorize(strict, client["client_id"], resource="http://127.0.0.1:2/mcp")
    assert authorized.callback["error"] == "invalid_target"
    assert authorized.callback["iss"] == strict.issuer


async def test_pkce_is_required(http: httpx.AsyncClient, lab_as: RunningAuthServer) -> None:
    client = await register_native_client(http, lab_as)
    meta = await metadata(http, lab_as)
    async with callback_listener() as listener:
        params = {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": listener.redirect_uri(),
            "scope": "openid",
            "state": "s1",
        }
        await scripted_browser(f"{meta['authorization_endpoint']}?{urlencode(params)}")
        received = await asyncio.wait_for(listener.received, 5)
    assert received["error"] == "invalid_request"
    assert "PKCE" in received["error_description"]


async def test_unregistered_redirect_path_is_refused_without_redirect(
    http: httpx.AsyncClient, lab_as: RunningAuthServer
) -> None:
    client = await register_native_client(http, lab_as)
    meta = await metadata(http, lab_as)
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": "http://127.0.0.1:5555/elsewhere",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with pytest.raises(BrowserError, match="400"):
        await scripted_browser(f"{meta['authorization_endpoint']}?{urlencode(params)}")


# --------------------------------------------------------------------------------------------------
# Revocation, logs without secrets
# --------------------------------------------------------------------------------------------------


async def test_revoke_grants_kills_refresh_tokens(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    client_id, tokens = await signed_in(http, lab_as, lab_mcp, user="bob")
    assert lab_as.revoke_grants("bob") >= 1
    response = await refresh(http, lab_as, client_id, tokens["refresh_token"], lab_mcp.url)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_rfc7009_revocation_of_refresh_token(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    client_id, tokens = await signed_in(http, lab_as, lab_mcp)
    meta = await metadata(http, lab_as)
    revoked = await http.post(
        meta["revocation_endpoint"],
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token", "client_id": client_id},
    )
    assert revoked.status_code == 200
    response = await refresh(http, lab_as, client_id, tokens["refresh_token"], lab_mcp.url)
    assert response.json()["error"] == "invalid_grant"


async def test_request_logs_hold_no_secrets(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    lab_as.reset_requests()
    lab_mcp.reset_requests()
    client = await register_native_client(http, lab_as)
    authorized = await authorize(lab_as, client["client_id"], resource=lab_mcp.url)
    tokens = (await redeem(http, lab_as, client["client_id"], authorized, resource=lab_mcp.url)).json()
    session = McpSession(http, lab_mcp.url, token=tokens["access_token"])
    await session.initialize()
    as_log, mcp_log = lab_as.requests(), lab_mcp.requests()
    dumped = json.dumps(as_log) + json.dumps(mcp_log)
    for value in (authorized.callback["code"], authorized.verifier, tokens["access_token"], tokens["refresh_token"]):
        assert value not in dumped
    token_requests = [entry for entry in as_log if entry["path"] == "/token"]
    assert len(token_requests) == 1
    form = token_requests[0]["body"]
    assert form["code"] == secret_fingerprint(authorized.callback["code"])
    assert form["code_verifier"] == secret_fingerprint(authorized.verifier)
    assert form["resource"] == lab_mcp.url
    assert form["grant_type"] == "authorization_code"
    auth_request = next(entry for entry in as_log if entry["path"] == "/auth")
    assert auth_request["query"]["resource"] == lab_mcp.url
    assert auth_request["query"]["code_challenge_method"] == "S256"
    assert {entry["token_sha256"] for entry in mcp_log} == {secret_fingerprint(tokens["access_token"])}
    assert all(entry["authorization"] for entry in mcp_log)


# --------------------------------------------------------------------------------------------------
# Other flavours
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["path", "root", "none"])
async def test_prm_modes(http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp_factory: Any, mode: str) -> None:
    mcp = lab_mcp_factory(lab_as, prm_mode=mode)
    origin = mcp.base_url
    locations = {
        "path": origin + "/.well-known/oauth-protected-resource/mcp",
        "root": origin + "/.well-known/oauth-protected-resource",
    }
    for where, url in locations.items():
        expected = 200 if where == mode else 404
        assert await status_of(http, url) == expected, url
    assert await status_of(http, origin + "/meta/prm-custom") == 404
    assert mcp.prm_url == locations.get(mode)
    response = await http.post(mcp.url, json=rpc("initialize", {}), headers={"Accept": ACCEPT_MCP})
    assert response.status_code == 401
    expected_header = "Bearer" if mode == "none" else 'Bearer scope="mcp:tools"'
    assert response.headers["www-authenticate"] == expected_header
    if mode != "none":
        assert (await http.get(mcp.prm_url)).json()["resource"] == mcp.url


async def test_stateless_json_server(http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp_factory: Any) -> None:
    mcp = lab_mcp_factory(lab_as, stateless=True, json_response=True)
    _, tokens = await signed_in(http, lab_as, mcp)
    session = McpSession(http, mcp.url, token=tokens["access_token"])
    await session.initialize()
    assert session.session_id is None
    response, answer = await session.call("tools/call", {"name": "echo", "arguments": {"text": "x"}})
    assert response.headers["content-type"].startswith("application/json")
    assert answer["result"]["content"][0]["text"] == "x"


async def test_protocol_2026_07_28_stateless_requests(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    """mcp 2.3.0 also serves the 2026-07-28 per-request envelope (no initialize, no session)."""
    _, tokens = await signed_in(http, lab_as, lab_mcp)
    envelope = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "lab-smoke", "version": "0"},
    }
    headers = {
        "Accept": ACCEPT_MCP,
        "Authorization": f"Bearer {tokens['access_token']}",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "whoami",
    }
    message = rpc("tools/call", {"name": "whoami", "arguments": {}, "_meta": envelope})
    response = await http.post(lab_mcp.url, json=message, headers=headers)
    assert response.status_code == 200, response.text
    assert "mcp-session-id" not in response.headers
    answer = jsonrpc_answer(response)
    assert answer is not None
    assert answer["result"]["content"][0]["text"] == lab_as.users()["alice"]["sub"]
    admin = rpc("tools/call", {"name": "admin_report", "arguments": {}, "_meta": envelope})
    response = await http.post(lab_mcp.url, json=admin, headers={**headers, "Mcp-Name": "admin_report"})
    assert response.status_code == 403


async def test_token_for_another_resource_is_refused(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, lab_mcp_factory: Any
) -> None:
    other = lab_mcp_factory(lab_as)
    _, tokens = await signed_in(http, lab_as, other)
    session = McpSession(http, lab_mcp.url, token=tokens["access_token"])
    response, _ = await session.call("initialize", {})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_without_resource_indicators_resource_is_ignored(
    http: httpx.AsyncClient, lab_as_factory: Any, lab_mcp_factory: Any
) -> None:
    plain = lab_as_factory(resourceIndicators=False)
    mcp = lab_mcp_factory(plain, token_validation="introspection")
    client = await register_native_client(http, plain)
    authorized = await authorize(plain, client["client_id"], resource=mcp.url)
    assert "code" in authorized.callback, authorized.callback
    tokens_response = await redeem(http, plain, client["client_id"], authorized, resource=mcp.url)
    assert tokens_response.status_code == 200, tokens_response.text
    tokens = tokens_response.json()
    assert tokens["access_token"].count(".") == 0  # opaque
    assert tokens["scope"] == "mcp:tools"
    session = McpSession(http, mcp.url, token=tokens["access_token"])
    await session.initialize()
    _, answer = await session.call("tools/call", {"name": "whoami", "arguments": {}})
    assert answer["result"]["content"][0]["text"] == plain.users()["alice"]["sub"]


async def test_mcp_server_refetches_jwks_after_as_restart(http: httpx.AsyncClient, lab_mcp_factory: Any) -> None:
    first = start_auth_server()
    try:
        mcp = lab_mcp_factory(first)
        _, tokens = await signed_in(http, first, mcp)
        session = McpSession(http, mcp.url, token=tokens["access_token"])
        await session.initialize()
    finally:
        first.stop()
    second = start_auth_server(port=first.port)
    try:
        assert second.issuer == first.issuer
        _, tokens = await signed_in(http, second, mcp)
        assert jwt_parts(tokens["access_token"])[0]["kid"] != jwt_parts(session.token or "")[0]["kid"]
        fresh = McpSession(http, mcp.url, token=tokens["access_token"])
        await fresh.initialize()
    finally:
        second.stop()


async def test_client_id_metadata_document(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    client_id = "https://connector.lab.test/oauth/client-metadata.json"
    lab_as.host_cimd(
        client_id,
        {
            "client_id": client_id,
            "client_name": "Lab CIMD client",
            "application_type": "native",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    lab_as.reset_requests()
    authorized = await authorize(lab_as, client_id, resource=lab_mcp.url)
    assert "code" in authorized.callback, authorized.callback
    tokens_response = await redeem(http, lab_as, client_id, authorized, resource=lab_mcp.url)
    assert tokens_response.status_code == 200, tokens_response.text
    assert jwt_parts(tokens_response.json()["access_token"])[1]["client_id"] == client_id
    fetched = [entry for entry in lab_as.requests() if entry["path"].startswith("/__lab/cimd-docs/")]
    assert fetched, "the AS should have fetched the document over loopback HTTP"


# --------------------------------------------------------------------------------------------------
# A real browser
# --------------------------------------------------------------------------------------------------


@pytest.mark.chromium
@pytest.mark.skipif(not chromium_available(), reason="needs Debian's chromium (/usr/bin/chromium)")
async def test_real_chromium_through_webbrowser(
    http: httpx.AsyncClient, lab_as: RunningAuthServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client = await register_native_client(http, lab_as)
    browser = make_chromium_browser(tmp_path / "chromium")
    monkeypatch.setenv("BROWSER", browser.command)
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # re-read BROWSER
    verifier, challenge = pkce_pair()
    meta = await metadata(http, lab_as)
    try:
        async with callback_listener() as listener:
            params = {
                "response_type": "code",
                "client_id": client["client_id"],
                "redirect_uri": listener.redirect_uri(),
                "scope": "openid",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "st",
                "login_hint": "bob",  # no X-Lab-User header from a real browser: login_hint chooses
            }
            assert webbrowser.open(f"{meta['authorization_endpoint']}?{urlencode(params)}")
            received = await asyncio.wait_for(listener.received, 30)
    finally:
        browser.cleanup()
    assert received["iss"] == lab_as.issuer
    authorized = Authorized(received, verifier, listener.redirect_uri(), "st")
    tokens = (await redeem(http, lab_as, client["client_id"], authorized, resource=None)).json()
    assert jwt_parts(tokens["id_token"])[1]["sub"] == lab_as.users()["bob"]["sub"]
