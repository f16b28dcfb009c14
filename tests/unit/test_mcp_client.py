"""McpClient against scripted servers (httpx.MockTransport): both eras, JSON and SSE, failures mapped."""

import json
import logging
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import httpx
import pytest

from desktop_app.errors import ConfigurationError, NetworkError, RequestFailed, ServerUnavailable, UserActionRequired
from desktop_app.mcp import LEGACY_VERSIONS, McpClient
from desktop_app.mcp.errors import (
    McpForbidden,
    McpProtocolError,
    McpRpcError,
    McpSignInRequired,
    UnsupportedProtocolVersion,
)
from desktop_app.mcp.jsonrpc import METHOD_NOT_FOUND
from desktop_app.mcp.negotiation import (
    HEADER_MISMATCH,
    LATEST,
    META_CLIENT_CAPABILITIES,
    META_PROTOCOL_VERSION,
    META_SERVER_INFO,
    UNSUPPORTED_PROTOCOL_VERSION,
    ServerInfo,
)
from desktop_app.mcp.results import Tool, ToolResult
from desktop_app.oauth.auth import BearerAuth
from desktop_app.oauth.tokens import TokenSet

URL = "https://mcp.example/mcp"
TOKEN = "secret-token-value"

Body = dict[str, Any]
Handler = Callable[[Body, httpx.Request], httpx.Response]


def result(body: Body, value: Body, *, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": value}, headers=headers)


def error(body: Body | None, code: int, message: str, *, status: int = 200, data: Any = None) -> httpx.Response:
    err: Body = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return httpx.Response(status, json={"jsonrpc": "2.0", "id": body["id"] if body else None, "error": err})


def event(message: Body, *, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: message\ndata: {json.dumps(message)}\n\n"


def sse(*events: str, chunk: int | None = None) -> httpx.Response:
    data = "".join(events).encode()
    if chunk is None:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=data)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), chunk):
            yield data[i : i + chunk]

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks())


DISCOVER: Body = {
    "resultType": "complete",
    "supportedVersions": ["2026-07-28"],
    "capabilities": {"tools": {"listChanged": True}},
    "instructions": "Be kind.",
    "_meta": {META_SERVER_INFO: {"name": "modern-server", "version": "2.0"}},
}

TOOL: Body = {"name": "echo", "title": "Echo", "description": "Echoes.", "inputSchema": {"type": "object"}}


class Server:
    """A scripted MCP endpoint: one handler per JSON-RPC method, every request recorded."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.requests: list[httpx.Request] = []
        self.bodies: list[Body | None] = []
        self.replies: list[Body] = []
        self.other: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(405)

    def on(self, method: str, handler: Handler) -> "Server":
        self.handlers[method] = handler
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method != "POST":
            self.bodies.append(None)
            return self.other(request)
        body = json.loads(request.content)
        self.bodies.append(body)
        if "method" not in body:
            self.replies.append(body)
            return httpx.Response(202)
        handler = self.handlers.get(body["method"])
        if handler is None:
            return error(body if "id" in body else None, METHOD_NOT_FOUND, "Method not found", status=404)
        return handler(body, request)

    def methods(self) -> list[str]:
        return [b["method"] if b and "method" in b else "-" for b in self.bodies]

    def posts(self, method: str) -> list[tuple[httpx.Request, Body]]:
        return [(r, b) for r, b in zip(self.requests, self.bodies, strict=True) if b and b.get("method") == method]


def modern(**more: Handler) -> Server:
    server = Server()
    server.on("server/discover", lambda b, r: result(b, DISCOVER))
    server.on("tools/list", lambda b, r: result(b, {"resultType": "complete", "tools": [TOOL]}))
    server.on(
        "tools/call",
        lambda b, r: result(
            b,
            {
                "resultType": "complete",
                "content": [{"type": "text", "text": json.dumps(b["params"]["arguments"])}],
                "structuredContent": {"ok": True},
            },
        ),
    )
    for method, handler in more.items():
        server.on(method, handler)
    return server


def legacy(version: str = "2025-11-25", session: str | None = "session-1") -> Server:
    server = Server()
    headers = {"Mcp-Session-Id": session} if session else None
    # What the MCP SDK's stateful server says to a POST that is not initialize and has no session.
    server.on("server/discover", lambda b, r: error(None, -32600, "Bad Request: Missing session ID", status=400))
    server.on(
        "initialize",
        lambda b, r: result(
            b,
            {
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "legacy-server", "version": "1.0"},
            },
            headers=headers,
        ),
    )
    server.on("notifications/initialized", lambda b, r: httpx.Response(202))
    server.on("tools/list", lambda b, r: result(b, {"tools": [TOOL]}))
    server.on("tools/call", lambda b, r: result(b, {"content": [{"type": "text", "text": "done"}]}))
    return server


class BearerForTests(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {TOKEN}"
        yield request


def client_for(server: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.MockTransport(server), headers={"User-Agent": "tests/1"}, timeout=httpx.Timeout(7.0)
    )


# --- the 2026-07-28 stateless form --------------------------------------------------------------------------


async def test_modern_json_session_headers_on_every_post() -> None:
    server = modern()
    async with client_for(server) as http, McpClient(http, URL, auth=BearerForTests()) as client:
        info = await client.initialize()
        tools = await client.list_tools()
        outcome = await client.call_tool("echo", {"text": "hi"})
    assert info == ServerInfo(
        name="modern-server",
        version="2.0",
        protocol_version="2026-07-28",
        capabilities={"tools": {"listChanged": True}},
        instructions="Be kind.",
        supported_versions=("2026-07-28",),
    )
    assert tools == (Tool("echo", "Echo", "Echoes.", {"type": "object"}),)
    assert outcome == ToolResult(({"type": "text", "text": '{"text": "hi"}'},), False, {"ok": True})
    assert server.methods() == ["server/discover", "tools/list", "tools/call"]
    for request, body in zip(server.requests, server.bodies, strict=True):
        assert body is not None
        meta = body["params"]["_meta"]
        assert request.headers["MCP-Protocol-Version"] == meta[META_PROTOCOL_VERSION] == "2026-07-28"
        assert meta[META_CLIENT_CAPABILITIES] == {}
        assert request.headers["Mcp-Method"] == body["method"]
        assert "Mcp-Session-Id" not in request.headers
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["User-Agent"] == "tests/1"
        assert request.extensions["timeout"]["read"] == 7.0  # the caller's client decides the timeouts
    call, _ = server.posts("tools/call")[0]
    assert call.headers["Mcp-Name"] == "echo"


async def test_modern_close_sends_no_delete() -> None:
    server = modern()
    async with client_for(server) as http:
        client = McpClient(http, URL)
        await client.initialize()
        await client.close()
    assert [r.method for r in server.requests] == ["POST"]


async def test_modern_sse_with_interleaved_messages() -> None:
    def call(body: Body, request: httpx.Request) -> httpx.Response:
        return sse(
            ": keep-alive\n\n",
            event({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}}),
            event({"jsonrpc": "2.0", "id": body["id"] + 1000, "result": {"content": []}}),  # someone else's
            event({"jsonrpc": "2.0", "id": "srv-1", "method": "elicitation/create", "params": {}}),  # forbidden
            "event: other\ndata: {not json at all}\n\n",
            "id: 1\ndata: \n\n",
            event({"jsonrpc": "2.0", "id": body["id"], "result": {"content": [{"type": "text", "text": "yes"}]}}),
            event({"jsonrpc": "2.0", "method": "notifications/after"}),
            chunk=7,
        )

    server = modern(**{"tools/call": call})
    async with client_for(server) as http, McpClient(http, URL) as client:
        outcome = await client.call_tool("echo")
    assert outcome.content == ({"type": "text", "text": "yes"},)
    assert server.replies == []  # a 2026-07-28 client never answers a server request
    assert server.methods() == ["server/discover", "tools/call"]


async def test_modern_stream_closed_without_response() -> None:
    server = modern(**{"tools/list": lambda b, r: sse(event({"jsonrpc": "2.0", "method": "n"}, event_id="1"))})
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(McpProtocolError) as info:
            await client.list_tools()
    assert info.value.code == "no_response"
    assert [r.method for r in server.requests] == ["POST", "POST"]  # no GET resumption in 2026-07-28


async def test_x_mcp_header_mirrored_and_invalid_tools_left_out() -> None:
    region_tool = {
        "name": "sql",
        "inputSchema": {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}},
    }
    bad_tool = {"name": "bad", "inputSchema": {"properties": {"n": {"type": "number", "x-mcp-header": "N"}}}}
    server = modern(**{"tools/list": lambda b, r: result(b, {"tools": [region_tool, bad_tool]})})
    async with client_for(server) as http, McpClient(http, URL) as client:
        tools = await client.list_tools()
        await client.call_tool("sql", {"region": "eu-1"})
    assert [t.name for t in tools] == ["sql"]
    call, _ = server.posts("tools/call")[0]
    assert call.headers["Mcp-Param-Region"] == "eu-1"


async def test_header_mismatch_refreshes_the_tool_list_and_retries_once() -> None:
    region_tool = {
        "name": "sql",
        "inputSchema": {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}},
    }

    def call(body: Body, request: httpx.Request) -> httpx.Response:
        if "Mcp-Param-Region" not in request.headers:
            return error(body, HEADER_MISMATCH, "Mcp-Param-Region missing", status=400)
        return result(body, {"content": []})

    server = modern(**{"tools/list": lambda b, r: result(b, {"tools": [region_tool]}), "tools/call": call})
    async with client_for(server) as http, McpClient(http, URL) as client:
        await client.call_tool("sql", {"region": "eu-1"})
    assert server.methods() == ["server/discover", "tools/call", "tools/list", "tools/call"]


async def test_input_required_with_only_request_state_is_retried_with_it() -> None:
    def call(body: Body, request: httpx.Request) -> httpx.Response:
        if body["params"].get("requestState") == "s1":
            return result(body, {"resultType": "complete", "content": []})
        return result(body, {"resultType": "input_required", "requestState": "s1"})

    server = modern(**{"tools/call": call})
    async with client_for(server) as http, McpClient(http, URL) as client:
        await client.call_tool("echo")
    calls = server.posts("tools/call")
    assert len(calls) == 2
    assert calls[0][1]["id"] != calls[1][1]["id"]


async def test_input_required_with_requests_is_refused() -> None:
    asking = {
        "resultType": "input_required",
        "inputRequests": {"login": {"method": "elicitation/create", "params": {}}},
    }
    server = modern(**{"tools/call": lambda b, r: result(b, asking)})
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(McpProtocolError, match="elicitation/create") as info:
            await client.call_tool("echo")
    assert info.value.code == "input_required"


# --- legacy revisions ---------------------------------------------------------------------------------------


async def test_legacy_fallback_session_round_trip_and_delete(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = legacy()
    async with client_for(server) as http:
        client = McpClient(http, URL, auth=BearerForTests())
        info = await client.initialize()
        await client.list_tools()
        assert client.session_id == "session-1"
        await client.close()
    assert info.protocol_version == "2025-11-25"
    assert info.name == "legacy-server"
    assert server.methods() == ["server/discover", "initialize", "notifications/initialized", "tools/list", "-"]
    discover, initialize, initialized, tools, delete = server.requests
    assert discover.headers["MCP-Protocol-Version"] == "2026-07-28"
    assert "MCP-Protocol-Version" not in initialize.headers
    assert "Mcp-Session-Id" not in initialize.headers
    assert server.bodies[1]["params"]["protocolVersion"] == "2025-11-25"  # type: ignore[index]
    for request in (initialized, tools, delete):
        assert request.headers["Mcp-Session-Id"] == "session-1"
        assert request.headers["MCP-Protocol-Version"] == "2025-11-25"
    assert "Mcp-Method" not in tools.headers
    assert delete.method == "DELETE"  # answered 405, which is ignored
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in server.requests)
    assert client.session_id is None
    assert caplog.records  # the run was logged, but never a header
    assert TOKEN not in caplog.text and "Authorization" not in caplog.text


@pytest.mark.parametrize("status", [400, 404, 405])
async def test_empty_4xx_to_the_probe_means_legacy(status: int) -> None:
    server = legacy().on("server/discover", lambda b, r: httpx.Response(status))
    async with client_for(server) as http, McpClient(http, URL) as client:
        info = await client.initialize()
    assert info.protocol_version == "2025-11-25"


async def test_server_answering_with_an_older_version_is_accepted() -> None:
    server = legacy(version="2025-03-26", session=None)
    async with client_for(server) as http, McpClient(http, URL) as client:
        info = await client.initialize()
        await client.list_tools()
    assert info.protocol_version == "2025-03-26"
    tools_request, _ = server.posts("tools/list")[0]
    assert tools_request.headers["MCP-Protocol-Version"] == "2025-03-26"
    assert "Mcp-Session-Id" not in tools_request.headers


async def test_unsupported_version_error_listing_a_legacy_version_falls_back() -> None:
    server = legacy(version="2025-06-18").on(
        "server/discover",
        lambda b, r: error(
            b,
            UNSUPPORTED_PROTOCOL_VERSION,
            "no",
            status=400,
            data={"supported": ["2025-06-18"], "requested": LATEST},
        ),
    )
    async with client_for(server) as http, McpClient(http, URL) as client:
        info = await client.initialize()
    assert info.protocol_version == "2025-06-18"


async def test_modern_only_server_with_nothing_in_common_is_refused() -> None:
    server = Server().on(
        "server/discover",
        lambda b, r: error(
            b,
            UNSUPPORTED_PROTOCOL_VERSION,
            "no",
            status=400,
            data={"supported": ["2031-01-01"], "requested": LATEST},
        ),
    )
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(UnsupportedProtocolVersion, match="2031-01-01"):
            await client.initialize()
    assert server.methods() == ["server/discover"]  # no fallback to initialize


async def test_legacy_server_choosing_an_unknown_version_is_refused() -> None:
    server = legacy(version="2024-11-05")
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(UnsupportedProtocolVersion, match="2024-11-05") as info:
            await client.initialize()
    assert info.value.version == "2024-11-05"
    assert "notifications/initialized" not in server.methods()


async def test_only_legacy_versions_skip_the_probe() -> None:
    server = legacy()
    async with client_for(server) as http, McpClient(http, URL, versions=LEGACY_VERSIONS) as client:
        await client.initialize()
    assert server.methods()[0] == "initialize"


async def test_expired_session_is_initialized_again_and_the_request_retried() -> None:
    sessions = iter(["s-A", "s-B"])
    server = legacy()
    server.on(
        "initialize",
        lambda b, r: result(
            b,
            {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "x", "version": "1"}},
            headers={"Mcp-Session-Id": next(sessions)},
        ),
    )
    server.on(
        "tools/list",
        lambda b, r: httpx.Response(404) if r.headers["Mcp-Session-Id"] == "s-A" else result(b, {"tools": [TOOL]}),
    )
    async with client_for(server) as http, McpClient(http, URL) as client:
        tools = await client.list_tools()
        assert client.session_id == "s-B"
    assert [t.name for t in tools] == ["echo"]
    assert server.methods() == [
        "server/discover",
        "initialize",
        "notifications/initialized",
        "tools/list",
        "initialize",
        "notifications/initialized",
        "tools/list",
        "-",
    ]
    second_initialize = server.posts("initialize")[1][0]
    assert "Mcp-Session-Id" not in second_initialize.headers


async def test_session_lost_twice_is_an_error() -> None:
    server = legacy().on("tools/list", lambda b, r: httpx.Response(404))
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(McpProtocolError) as info:
            await client.list_tools()
    assert info.value.code == "session_expired"
    assert server.methods().count("initialize") == 2


async def test_legacy_sse_answers_ping_and_refuses_other_server_requests() -> None:
    def tools(body: Body, request: httpx.Request) -> httpx.Response:
        return sse(
            "id: e0\ndata: \n\n",  # the priming event of 2025-11-25
            event({"jsonrpc": "2.0", "id": 90, "method": "ping"}, event_id="e1"),
            event({"jsonrpc": "2.0", "id": 91, "method": "roots/list"}, event_id="e2"),
            event({"jsonrpc": "2.0", "id": body["id"], "result": {"tools": [TOOL]}}, event_id="e3"),
        )

    server = legacy().on("tools/list", tools)
    async with client_for(server) as http, McpClient(http, URL, auth=BearerForTests()) as client:
        await client.list_tools()
    assert server.replies == [
        {"jsonrpc": "2.0", "id": 90, "result": {}},
        {"jsonrpc": "2.0", "id": 91, "error": {"code": -32601, "message": "Method not found: roots/list"}},
    ]
    for request, body in zip(server.requests, server.bodies, strict=True):
        if body in server.replies:
            assert request.headers["Mcp-Session-Id"] == "session-1"
            assert request.headers["MCP-Protocol-Version"] == "2025-11-25"
            assert request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_legacy_stream_closed_early_is_resumed_with_last_event_id() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    server = legacy().on(
        "tools/list", lambda b, r: sse("retry: 250\nid: ev-1\ndata: \n\n", event({"jsonrpc": "2.0", "method": "n"}))
    )

    def resume(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            list_id = server.posts("tools/list")[0][1]["id"]
            return sse(event({"jsonrpc": "2.0", "id": list_id, "result": {"tools": [TOOL]}}, event_id="ev-2"))
        return httpx.Response(405)

    server.other = resume
    async with client_for(server) as http, McpClient(http, URL, sleep=sleep) as client:
        tools = await client.list_tools()
    assert [t.name for t in tools] == ["echo"]
    get = next(r for r in server.requests if r.method == "GET")
    assert get.headers["Last-Event-ID"] == "ev-1"
    assert get.headers["Mcp-Session-Id"] == "session-1"
    assert get.headers["Accept"] == "text/event-stream"
    assert slept == [0.25]


async def test_legacy_stream_that_cannot_be_resumed() -> None:
    async def sleep(seconds: float) -> None:
        return None

    server = legacy().on("tools/list", lambda b, r: sse("id: ev-1\ndata: \n\n"))
    async with client_for(server) as http, McpClient(http, URL, sleep=sleep) as client:
        with pytest.raises(McpProtocolError, match="405") as info:
            await client.list_tools()
    assert info.value.code == "no_response"


# --- pagination ---------------------------------------------------------------------------------------------


def paged(pages: int, *, loop: bool = False) -> Handler:
    def handler(body: Body, request: httpx.Request) -> httpx.Response:
        cursor = (body.get("params") or {}).get("cursor")
        index = 0 if cursor is None else int(cursor)
        page: Body = {"tools": [{"name": f"t{index}", "inputSchema": {"type": "object"}}]}
        if loop:
            page["nextCursor"] = "1"
        elif index + 1 < pages:
            page["nextCursor"] = str(index + 1)
        return result(body, page)

    return handler


async def test_pagination_follows_next_cursor() -> None:
    server = modern(**{"tools/list": paged(3)})
    async with client_for(server) as http, McpClient(http, URL) as client:
        tools = await client.list_tools()
    assert [t.name for t in tools] == ["t0", "t1", "t2"]
    cursors = [body["params"].get("cursor") for _, body in server.posts("tools/list")]
    assert cursors == [None, "1", "2"]


async def test_pagination_stops_at_the_page_cap() -> None:
    server = modern(**{"tools/list": paged(100)})
    async with client_for(server) as http, McpClient(http, URL, max_tool_pages=4) as client:
        with pytest.raises(McpProtocolError) as info:
            await client.list_tools()
    assert info.value.code == "too_many_pages"
    assert len(server.posts("tools/list")) == 4


async def test_pagination_loop_is_detected() -> None:
    server = modern(**{"tools/list": paged(0, loop=True)})
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(McpProtocolError) as info:
            await client.list_tools()
    assert info.value.code == "pagination_loop"


# --- failures -----------------------------------------------------------------------------------------------


async def test_401_is_sign_in_required_with_the_challenge_and_no_token_in_the_message() -> None:
    challenge = 'Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp"'
    server = Server().on("server/discover", lambda b, r: httpx.Response(401, headers={"WWW-Authenticate": challenge}))
    async with client_for(server) as http, McpClient(http, URL, auth=BearerForTests()) as client:
        with pytest.raises(McpSignInRequired) as info:
            await client.list_tools()
    assert info.value.www_authenticate == challenge
    assert info.value.code == "sign_in_required"
    assert URL in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert server.methods() == ["server/discover"]  # an auth failure is not a reason to fall back


@pytest.mark.parametrize(
    ("challenge", "code"),
    [('Bearer error="insufficient_scope", scope="tools:call"', "insufficient_scope"), (None, "forbidden")],
)
async def test_403_is_user_action_with_the_right_code(challenge: str | None, code: str) -> None:
    headers = {"WWW-Authenticate": challenge} if challenge else {}
    server = modern(**{"tools/call": lambda b, r: httpx.Response(403, headers=headers)})
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(McpForbidden) as info:
            await client.call_tool("echo")
    assert info.value.code == code
    assert info.value.www_authenticate == challenge
    assert isinstance(info.value, UserActionRequired)


@pytest.mark.parametrize(
    ("status", "code"), [(500, "server_unavailable"), (503, "server_unavailable"), (429, "rate_limited")]
)
async def test_5xx_and_429_are_server_unavailable(status: int, code: str) -> None:
    server = modern(**{"tools/list": lambda b, r: httpx.Response(status, headers={"Retry-After": "30"})})
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(ServerUnavailable) as info:
            await client.list_tools()
    assert info.value.code == code
    assert "30" in str(info.value)


@pytest.mark.parametrize(
    ("exc", "code"), [(httpx.ConnectError("refused"), "network"), (httpx.ReadTimeout("slow"), "timeout")]
)
async def test_network_failures(exc: Exception, code: str) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise exc

    async with client_for(broken) as http, McpClient(http, URL) as client:
        with pytest.raises(NetworkError) as info:
            await client.initialize()
    assert info.value.code == code
    assert URL in str(info.value)


async def test_404_without_a_jsonrpc_body_anywhere_is_a_wrong_address() -> None:
    async with client_for(lambda r: httpx.Response(404, text="<html>nope</html>")) as http, McpClient(http, URL) as c:
        with pytest.raises(ConfigurationError) as info:
            await c.initialize()
    assert info.value.code == "not_an_mcp_endpoint"


async def test_jsonrpc_error_becomes_mcp_rpc_error() -> None:
    server = modern(**{"tools/call": lambda b, r: error(b, -32602, "Unknown tool:\n\x1b[1mnope", status=400)})
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(McpRpcError) as info:
            await client.call_tool("nope")
    assert isinstance(info.value, RequestFailed)
    assert info.value.rpc_code == -32602
    assert info.value.rpc_message == "Unknown tool: [1mnope"
    assert "\n" not in str(info.value) and URL in str(info.value)


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (
            lambda b: httpx.Response(200, text="<html></html>", headers={"content-type": "text/html"}),
            "unexpected_content_type",
        ),
        (lambda b: httpx.Response(200, json={"jsonrpc": "2.0", "id": b["id"] + 1, "result": {}}), "id_mismatch"),
        (lambda b: httpx.Response(200, json={"jsonrpc": "2.0", "method": "notifications/x"}), "id_mismatch"),
        (
            lambda b: httpx.Response(200, content=b"{nope", headers={"content-type": "application/json"}),
            "malformed_json",
        ),
        (lambda b: httpx.Response(200, json={"jsonrpc": "2.0", "id": b["id"], "result": 5}), "malformed_jsonrpc"),
        (lambda b: httpx.Response(202), "no_response"),
        (lambda b: httpx.Response(307, headers={"Location": "https://elsewhere.example/mcp"}), "redirected"),
        (lambda b: sse("data: {broken\n\n"), "malformed_json"),
        (lambda b: result(b, {"resultType": "mystery", "tools": []}), "unknown_result_type"),
    ],
)
async def test_malformed_answers_are_protocol_errors(response: Callable[[Body], httpx.Response], code: str) -> None:
    server = modern(**{"tools/list": lambda b, r: response(b)})
    async with client_for(server) as http, McpClient(http, URL) as client:
        with pytest.raises(McpProtocolError) as info:
            await client.list_tools()
    assert info.value.code == code
    assert URL in str(info.value)
    assert server.methods() == ["server/discover", "tools/list"]  # no redirect followed


async def test_json_body_over_the_cap_is_refused() -> None:
    big = {"tools": [{"name": "x" * 5000, "inputSchema": {"type": "object"}}]}
    server = modern(**{"tools/list": lambda b, r: result(b, big)})
    async with client_for(server) as http, McpClient(http, URL, max_body_bytes=4000) as client:
        with pytest.raises(McpProtocolError) as info:
            await client.list_tools()
    assert info.value.code == "response_too_large"


async def test_chunked_json_body_over_the_cap_is_refused_while_reading() -> None:
    async def endless() -> AsyncIterator[bytes]:
        yield b'{"jsonrpc": "2.0", "id": 2, "result": {"pad": "'
        while True:
            yield b"x" * 1024

    server = modern(
        **{
            "tools/list": lambda b, r: httpx.Response(
                200, headers={"content-type": "application/json"}, content=endless()
            )
        }
    )
    async with client_for(server) as http, McpClient(http, URL, max_body_bytes=64 * 1024) as client:
        with pytest.raises(McpProtocolError, match="65536") as info:
            await client.list_tools()
    assert info.value.code == "response_too_large"


async def test_sse_event_over_the_cap_is_refused() -> None:
    server = modern(**{"tools/list": lambda b, r: sse("data: " + "x" * 5000 + "\n\n", chunk=512)})
    async with client_for(server) as http, McpClient(http, URL, max_body_bytes=4000) as client:
        with pytest.raises(McpProtocolError) as info:
            await client.list_tools()
    assert info.value.code == "response_too_large"


async def test_sse_stream_over_the_total_cap_is_refused() -> None:
    notes = [event({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"n": i}}) for i in range(200)]
    server = modern(**{"tools/list": lambda b, r: sse(*notes, chunk=256)})
    async with client_for(server) as http, McpClient(http, URL, max_stream_bytes=4096) as client:
        with pytest.raises(McpProtocolError) as info:
            await client.list_tools()
    assert info.value.code == "response_too_large"


async def test_unknown_versions_are_a_programming_error() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="2024-11-05"):
            McpClient(http, URL, versions=("2024-11-05",))


async def test_a_server_that_quotes_the_token_it_was_sent_gets_it_cut_out_of_everything() -> None:
    """Issue 12 item 12: whatever the server answers to a request that carried the access token (tool descriptions,
    results, error messages) reaches the app without that token, whatever its shape (here an opaque one)."""

    class Source:
        resource = URL

        async def token(self) -> TokenSet:
            return TokenSet("opaque-access-token-42", "https://as.example", "c", URL, ("mcp",), 0.0)

    def echo(body: Body, request: httpx.Request) -> httpx.Response:
        heard = request.headers["authorization"].removeprefix("Bearer ")
        return result(
            body,
            {
                "resultType": "complete",
                "tools": [{**TOOL, "description": f"you sent {heard}", f"x-{heard}": heard}],
            },
        )

    def refuse(body: Body, request: httpx.Request) -> httpx.Response:
        return error(body, -32602, f"bad token {request.headers['authorization']}")

    server = modern(**{"tools/list": echo, "tools/call": refuse})
    async with client_for(server) as http, McpClient(http, URL, auth=BearerAuth(Source())) as client:
        await client.initialize()
        tools = await client.list_tools()
        with pytest.raises(McpRpcError) as info:
            await client.call_tool("echo", {})
    assert tools[0].description == "you sent [redacted]"
    assert "opaque-access-token-42" not in str(info.value) + info.value.rpc_message
    assert "bad token Bearer [redacted]" in info.value.rpc_message
