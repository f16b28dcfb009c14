"""2025-03-26 servers: no protected resource metadata; the authorization server lives at the MCP server's origin.

The lab cannot put oidc-provider on the MCP server's origin, so this whole flow runs against httpx.MockTransport;
the loopback listener and the callback are real.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from desktop_app.errors import ProtocolViolation
from desktop_app.mcp import build_probe_request
from desktop_app.oauth.flow import SignIn
from desktop_app.oauth.trace import Trace
from tests.helpers.metadata import as_document, prm_document
from tests.helpers.signin import Approver, connect_once

ORIGIN = "https://legacy.example"
MCP = f"{ORIGIN}/mcp"


class LegacyServer:
    def __init__(self, *, publish_metadata: bool) -> None:
        self.publish_metadata = publish_metadata
        self.seen: list[tuple[str, str]] = []
        self.code_state: str | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        path = request.url.path
        if path == "/mcp":
            if request.headers.get("authorization") == "Bearer legacy-token":
                return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {}})
            return httpx.Response(401, headers={"WWW-Authenticate": "Bearer"})
        if path == "/.well-known/oauth-authorization-server":
            assert request.headers["mcp-protocol-version"] == "2025-03-26"
            if not self.publish_metadata:
                return httpx.Response(404)
            metadata = as_document(
                ORIGIN, endpoints=f"{ORIGIN}/oauth", registration_endpoint=f"{ORIGIN}/oauth/register"
            )
            return httpx.Response(200, json=metadata)
        if path.endswith("/register"):
            body = json.loads(request.content)
            return httpx.Response(201, json={"client_id": "legacy-client", **body})
        if path.endswith("/token"):
            form = parse_qs(request.content.decode())
            assert form["code"] == ["legacy-code"]
            assert form["resource"] == [MCP]
            return httpx.Response(
                200, json={"access_token": "legacy-token", "token_type": "Bearer", "expires_in": 3600}
            )
        return httpx.Response(404)


async def browser(url: str) -> None:
    """The authorization server approves at once: straight to the loopback callback."""
    query = parse_qs(urlsplit(url).query)
    callback = query["redirect_uri"][0] + "?" + urlencode({"code": "legacy-code", "state": query["state"][0]})
    async with httpx.AsyncClient() as real:
        assert (await real.get(callback)).status_code == 200


@pytest.mark.parametrize("publish_metadata", [True, False], ids=["metadata-at-origin", "default-endpoints"])
async def test_legacy_server(publish_metadata: bool) -> None:
    server = LegacyServer(publish_metadata=publish_metadata)
    trace = Trace()
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        connection = await connect_once(http, MCP, browser=browser, approve=Approver(), trace=trace)
        assert connection.session is not None and connection.login is not None
        pairing = connection.login.check.pairing
        assert pairing.issuer == ORIGIN
        assert pairing.legacy_defaults is not publish_metadata
        auth = connection.auth()
        assert auth is not None
        assert (await http.post(MCP, json={}, auth=auth)).status_code == 200
    paths = [p for _, p in server.seen]
    assert paths[:3] == ["/mcp", "/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
    prefix = "/oauth" if publish_metadata else ""
    assert f"{prefix}/register" in paths
    assert f"{prefix}/token" in paths


async def test_legacy_metadata_with_another_issuer_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/mcp":
            return httpx.Response(401, headers={"WWW-Authenticate": "Bearer"})
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=as_document("https://elsewhere.example"))
        return httpx.Response(404)

    async def never(url: str) -> None:
        raise AssertionError("no browser may open")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(ProtocolViolation) as info:
            await connect_once(http, MCP, browser=never)
    assert info.value.code == "issuer_mismatch"


async def test_a_server_that_refuses_the_2026_probe_is_probed_again_the_old_way() -> None:
    probes: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/mcp":
            body = json.loads(request.content)
            probes.append(body.get("method"))
            if body.get("method") != "initialize":
                return httpx.Response(
                    400, json={"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Bad Request"}}
                )
            return httpx.Response(
                401, headers={"WWW-Authenticate": 'Bearer resource_metadata="https://legacy.example/prm"'}
            )
        if request.url.path == "/prm":
            return httpx.Response(200, json=prm_document(MCP, "https://as.example"))
        if request.url.path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=as_document("https://as.example"))
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http, SignIn(http, MCP) as signin:
        discovery = await signin.discover(build_probe_request(MCP), build_probe_request(MCP, "2025-11-25"))
    assert probes == ["server/discover", "initialize"]
    assert discovery is not None and discovery.metadata.issuer == "https://as.example"
