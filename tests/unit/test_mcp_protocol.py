"""The pure MCP layer: request building, headers, SSE parsing, version negotiation, result parsing."""

import json
from typing import Any

import pytest

from desktop_app.mcp import protocol as p
from desktop_app.mcp.errors import McpProtocolError, McpRpcError, UnsupportedProtocolVersion

URL = "https://mcp.example/mcp"


def body_of(request: Any) -> dict[str, Any]:
    data = json.loads(request.content)
    assert isinstance(data, dict)
    return data


# --- the first request / the probe --------------------------------------------------------------------------


def test_probe_for_2026_is_server_discover_with_matching_header_and_meta() -> None:
    request = p.build_probe_request(URL)
    body = body_of(request)
    meta = body["params"]["_meta"]
    assert request.method == "POST"
    assert str(request.url) == URL
    assert body["method"] == "server/discover"
    assert request.headers["MCP-Protocol-Version"] == "2026-07-28" == meta[p.META_PROTOCOL_VERSION]
    assert request.headers["Mcp-Method"] == "server/discover"
    assert meta[p.META_CLIENT_CAPABILITIES] == {}
    assert meta[p.META_CLIENT_INFO]["name"] and meta[p.META_CLIENT_INFO]["version"]
    assert "application/json" in request.headers["Accept"]
    assert "text/event-stream" in request.headers["Accept"]
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    assert "Mcp-Session-Id" not in request.headers


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2025-03-26"])
def test_probe_for_legacy_versions_is_initialize_without_the_version_header(version: str) -> None:
    request = p.build_probe_request(URL, version)
    body = body_of(request)
    assert body["method"] == "initialize"
    assert body["params"]["protocolVersion"] == version
    assert body["params"]["capabilities"] == {}
    assert "_meta" not in body["params"]
    assert "MCP-Protocol-Version" not in request.headers
    assert "Mcp-Method" not in request.headers


def test_probe_refuses_an_unknown_version() -> None:
    with pytest.raises(ValueError, match="2024-11-05"):
        p.build_probe_request(URL, "2024-11-05")


def test_modern_request_body_keeps_caller_meta_and_adds_the_envelope() -> None:
    body = p.request_body(7, "tools/list", {"_meta": {"progressToken": "t"}}, protocol_version="2026-07-28")
    meta = body["params"]["_meta"]
    assert meta["progressToken"] == "t"
    assert meta[p.META_PROTOCOL_VERSION] == "2026-07-28"
    assert body["id"] == 7


def test_legacy_request_body_has_no_meta_envelope() -> None:
    body = p.request_body(3, "tools/list", None, protocol_version="2025-11-25")
    assert body == {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}


# --- headers ------------------------------------------------------------------------------------------------


def test_modern_tools_call_headers_name_and_params() -> None:
    params = {"name": "execute_sql", "arguments": {"region": "us-west1", "query": "SELECT 1", "n": 0}}
    header_params = (p.HeaderParam("Region", ("region",)), p.HeaderParam("Count", ("n",)))
    headers = p.request_headers(
        "tools/call", params, protocol_version="2026-07-28", session_id="ignored", header_params=header_params
    )
    assert headers["MCP-Protocol-Version"] == "2026-07-28"
    assert headers["Mcp-Method"] == "tools/call"
    assert headers["Mcp-Name"] == "execute_sql"
    assert headers["Mcp-Param-Region"] == "us-west1"
    assert headers["Mcp-Param-Count"] == "0"
    assert "Mcp-Session-Id" not in headers  # 2026-07-28 has no sessions


def test_param_headers_omit_absent_and_null_values_and_render_booleans() -> None:
    header_params = (
        p.HeaderParam("A", ("a",)),
        p.HeaderParam("B", ("b",)),
        p.HeaderParam("Flag", ("opts", "flag")),
    )
    headers = p.param_headers(header_params, {"a": None, "opts": {"flag": False}})
    assert headers == {"Mcp-Param-Flag": "false"}


def test_legacy_headers_carry_version_and_session_but_not_method() -> None:
    headers = p.request_headers("tools/list", None, protocol_version="2025-06-18", session_id="s-1")
    assert headers["MCP-Protocol-Version"] == "2025-06-18"
    assert headers["Mcp-Session-Id"] == "s-1"
    assert "Mcp-Method" not in headers


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        # The table of 2026-07-28 streamable-http.mdx "Value Encoding".
        ("us-west1", "us-west1"),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" padded ", "=?base64?IHBhZGRlZCA=?="),
        ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
        ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
    ],
)
def test_header_value_encoding_matches_the_spec_table(value: str, encoded: str) -> None:
    assert p.encode_header_value(value) == encoded


# --- x-mcp-header -------------------------------------------------------------------------------------------


def test_x_mcp_header_on_nested_properties_is_found() -> None:
    schema = {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "opts": {"type": "object", "properties": {"dry": {"type": "boolean", "x-mcp-header": "Dry-Run"}}},
            "x-mcp-header": {"type": "string"},  # a parameter with that name is not an annotation
            "q": {"type": "string", "default": {"x-mcp-header": "NotAnAnnotation"}},
        },
    }
    assert p.tool_header_params(schema) == (
        p.HeaderParam("Region", ("region",)),
        p.HeaderParam("Dry-Run", ("opts", "dry")),
    )


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "object", "x-mcp-header": "Root"}, "statically reachable"),
        ({"properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}}, "reachable"),
        ({"properties": {"a": {"anyOf": [{"type": "string", "x-mcp-header": "A"}]}}}, "reachable"),
        ({"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}, "type"),
        ({"properties": {"a": {"type": "string", "x-mcp-header": "Bad Name"}}}, "token"),
        ({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}, "token"),
        (
            {
                "properties": {
                    "a": {"type": "string", "x-mcp-header": "X"},
                    "b": {"type": "string", "x-mcp-header": "x"},
                }
            },
            "twice",
        ),
    ],
)
def test_invalid_x_mcp_header_is_rejected(schema: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        p.tool_header_params(schema)


def test_tools_page_leaves_out_invalid_tools_and_keeps_the_rest() -> None:
    result = {
        "tools": [
            {"name": "good", "inputSchema": {"type": "object"}, "annotations": {"title": "Good one"}},
            {"name": "bad", "inputSchema": {"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}},
            {"name": "noschema"},
            "not an object",
        ],
        "nextCursor": "c2",
    }
    page = p.parse_tools_page(result, url=URL, modern=True)
    assert [tool.name for tool in page.tools] == ["good"]
    assert page.tools[0].title == "Good one"
    assert [name for name, _ in page.rejected] == ["bad", "noschema", "?"]
    assert page.next_cursor == "c2"


def test_legacy_tools_page_ignores_x_mcp_header() -> None:
    result = {"tools": [{"name": "t", "inputSchema": {"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}}]}
    page = p.parse_tools_page(result, url=URL, modern=False)
    assert [tool.name for tool in page.tools] == ["t"]
    assert page.tools[0].header_params == ()


def test_tools_page_without_a_list_is_a_protocol_error() -> None:
    with pytest.raises(McpProtocolError, match=URL):
        p.parse_tools_page({"tools": {}}, url=URL, modern=True)


def test_tool_result_keeps_content_error_flag_and_structured_content() -> None:
    result = p.parse_tool_result(
        {"content": [{"type": "text", "text": "x"}], "isError": True, "structuredContent": [1, 2]}, url=URL
    )
    assert result == p.ToolResult(({"type": "text", "text": "x"},), True, [1, 2])


def test_tool_result_with_a_non_boolean_is_error_is_malformed() -> None:
    with pytest.raises(McpProtocolError) as info:
        p.parse_tool_result({"content": [], "isError": "yes"}, url=URL)
    assert info.value.code == "malformed_result"


# --- JSON-RPC -----------------------------------------------------------------------------------------------


def test_parse_message_classifies_the_four_kinds() -> None:
    assert isinstance(p.parse_message({"jsonrpc": "2.0", "id": 1, "result": {}}, url=URL), p.RpcResult)
    assert isinstance(
        p.parse_message({"jsonrpc": "2.0", "id": None, "error": {"code": -1, "message": "m"}}, url=URL), p.RpcError
    )
    assert isinstance(p.parse_message({"jsonrpc": "2.0", "id": "a", "method": "ping"}, url=URL), p.RpcRequest)
    assert isinstance(p.parse_message({"jsonrpc": "2.0", "method": "notifications/x"}, url=URL), p.RpcNotification)


@pytest.mark.parametrize(
    "obj",
    [
        [],
        {"id": 1, "result": {}},
        {"jsonrpc": "2.0", "id": True, "result": {}},
        {"jsonrpc": "2.0", "id": 1, "result": []},
        {"jsonrpc": "2.0", "id": 1, "error": {"code": "x", "message": "m"}},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "id": 1, "method": 5},
    ],
)
def test_parse_message_rejects_malformed_objects(obj: object) -> None:
    with pytest.raises(McpProtocolError, match=URL):
        p.parse_message(obj, url=URL)


def test_response_ids_match_by_type_and_value() -> None:
    assert p.match_response(p.RpcResult(1, {}), 1) is not None
    assert p.match_response(p.RpcResult("1", {}), 1) is None
    assert p.match_response(p.RpcError(None, -32600, "bad"), 1) is not None
    assert p.match_response(p.RpcError(2, -32600, "bad"), 1) is None


def test_rpc_error_message_is_one_line_and_names_url_and_code() -> None:
    error = p.rpc_error(p.RpcError(1, -32602, "bad\nargs\x1b[31m"), method="tools/call", url=URL)
    assert isinstance(error, McpRpcError)
    assert error.kind == "server"
    assert error.code == "invalid_params"
    assert error.rpc_code == -32602
    assert "\n" not in str(error) and "\x1b" not in str(error)
    assert URL in str(error) and "-32602" in str(error)


# --- version negotiation ------------------------------------------------------------------------------------


def discover_result(*versions: str) -> dict[str, Any]:
    return {
        "resultType": "complete",
        "supportedVersions": list(versions),
        "capabilities": {"tools": {}},
        "instructions": "Use it well.",
        "_meta": {p.META_SERVER_INFO: {"name": "srv", "version": "1.2", "title": "Server"}},
    }


def test_discover_result_gives_server_info() -> None:
    info = p.after_discover(
        discover_result("2026-07-28", "2025-11-25"), url=URL, tried=p.LATEST, offered=p.SUPPORTED_VERSIONS
    )
    assert info == p.ServerInfo(
        name="srv",
        version="1.2",
        protocol_version="2026-07-28",
        capabilities={"tools": {}},
        instructions="Use it well.",
        title="Server",
        supported_versions=("2026-07-28", "2025-11-25"),
    )
    assert info.stateless


@pytest.mark.parametrize("result", [discover_result("2025-11-25"), {"capabilities": {}}])
def test_discover_result_without_a_modern_version_means_fall_back(result: dict[str, Any]) -> None:
    outcome = p.after_discover(result, url=URL, tried=p.LATEST, offered=p.SUPPORTED_VERSIONS)
    assert isinstance(outcome, p.FallBack)


@pytest.mark.parametrize(
    "error",
    [
        None,
        p.RpcError(None, -32600, "Bad Request: Missing session ID"),
        p.RpcError(1, p.METHOD_NOT_FOUND, "Method not found"),
        p.RpcError(1, -32004, "draft-era unsupported version code"),
    ],
)
def test_discover_rejection_without_a_modern_error_means_legacy(error: p.RpcError | None) -> None:
    outcome = p.after_discover_error(400, error, url=URL, tried=p.LATEST, offered=p.SUPPORTED_VERSIONS)
    assert isinstance(outcome, p.FallBack)


def test_unsupported_version_listing_a_legacy_version_means_fall_back() -> None:
    error = p.RpcError(1, p.UNSUPPORTED_PROTOCOL_VERSION, "no", {"supported": ["2025-06-18"], "requested": p.LATEST})
    outcome = p.after_discover_error(400, error, url=URL, tried=p.LATEST, offered=p.SUPPORTED_VERSIONS)
    assert isinstance(outcome, p.FallBack)


def test_unsupported_version_with_nothing_in_common_is_refused_by_name() -> None:
    error = p.RpcError(1, p.UNSUPPORTED_PROTOCOL_VERSION, "no", {"supported": ["2030-01-01"], "requested": p.LATEST})
    with pytest.raises(UnsupportedProtocolVersion) as info:
        p.after_discover_error(400, error, url=URL, tried=p.LATEST, offered=p.SUPPORTED_VERSIONS)
    assert "2030-01-01" in str(info.value)
    assert info.value.supported == ("2030-01-01",)
    assert URL in str(info.value)


def test_unsupported_version_naming_another_modern_version_retries_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(p, "MODERN_VERSIONS", ("2027-01-01", "2026-07-28"))
    offered = ("2027-01-01", "2026-07-28", "2025-11-25")
    error = p.RpcError(
        1, p.UNSUPPORTED_PROTOCOL_VERSION, "no", {"supported": ["2026-07-28"], "requested": "2027-01-01"}
    )
    outcome = p.after_discover_error(400, error, url=URL, tried="2027-01-01", offered=offered)
    assert outcome == p.RetryWith("2026-07-28")


@pytest.mark.parametrize("code", [p.HEADER_MISMATCH, p.MISSING_REQUIRED_CLIENT_CAPABILITY])
def test_other_modern_errors_are_raised_not_fallen_back_from(code: int) -> None:
    with pytest.raises(McpRpcError) as info:
        p.after_discover_error(400, p.RpcError(1, code, "nope"), url=URL, tried=p.LATEST, offered=p.SUPPORTED_VERSIONS)
    assert info.value.rpc_code == code


def test_initialize_result_with_an_offered_version_is_accepted() -> None:
    info = p.parse_initialize_result(
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "legacy", "version": "0.9"},
            "instructions": "hi",
        },
        url=URL,
        offered=p.LEGACY_VERSIONS,
    )
    assert (info.name, info.version, info.protocol_version, info.instructions) == ("legacy", "0.9", "2025-06-18", "hi")
    assert not info.stateless


@pytest.mark.parametrize("version", ["2024-11-05", "2026-07-28"])
def test_initialize_result_with_another_version_is_refused_by_name(version: str) -> None:
    with pytest.raises(UnsupportedProtocolVersion) as info:
        p.parse_initialize_result({"protocolVersion": version, "capabilities": {}}, url=URL, offered=p.LEGACY_VERSIONS)
    assert info.value.version == version
    assert version in str(info.value)


def test_result_type_defaults_to_complete() -> None:
    assert p.result_type({}) == "complete"
    assert p.result_type({"resultType": "input_required"}) == "input_required"


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ('Bearer error="insufficient_scope", scope="a b"', "insufficient_scope"),
        ('Bearer realm="x", error=invalid_token', "invalid_token"),
        ('bearer scope="x"', None),
        (None, None),
    ],
)
def test_challenge_error(header: str | None, error: str | None) -> None:
    assert p.challenge_error(header) == error


# --- SSE ----------------------------------------------------------------------------------------------------


def parse_all(chunks: list[bytes], max_chars: int = 1000) -> list[p.SseEvent]:
    parser = p.SseParser(url=URL, max_event_chars=max_chars)
    events: list[p.SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    parser.close()
    return events


STREAM = (
    "\ufeff: a comment\r\n"
    "id: 7\r\n"
    "event: message\r\n"
    "data: first\r\n"
    "data:second\r\n"
    "\r\n"
    "retry: 250\n"
    "event: other\n"
    "data\n"
    "\n"
    "data: é\r"
    "\r"
    "id: 8\n"
    'data: {"x": 1}\n'
    "\n"
    "data: never finished"
).encode()

EXPECTED = [
    p.SseEvent("first\nsecond", "message", "7", None),
    p.SseEvent("", "other", "7", 250),
    p.SseEvent("é", "message", "7", 250),
    p.SseEvent('{"x": 1}', "message", "8", 250),
]


def test_sse_parser_whole_stream() -> None:
    assert parse_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_sse_parser_is_independent_of_chunking(size: int) -> None:
    # Splits CRLF pairs, the two bytes of "é" and the BOM across chunks.
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert parse_all(chunks) == EXPECTED


def test_sse_parser_drops_events_without_data_and_keeps_the_id() -> None:
    parser = p.SseParser(url=URL, max_event_chars=100)
    assert parser.feed(b"id: 5\nevent: x\n\n") == []
    assert parser.last_event_id == "5"
    assert parser.feed(b"data: y\n\n") == [p.SseEvent("y", "message", "5")]


def test_sse_parser_caps_an_event() -> None:
    parser = p.SseParser(url=URL, max_event_chars=10)
    with pytest.raises(McpProtocolError) as info:
        parser.feed(b"data: 0123\ndata: 456789\n")
    assert info.value.code == "response_too_large"


def test_sse_parser_caps_a_line_without_end() -> None:
    parser = p.SseParser(url=URL, max_event_chars=10)
    parser.feed(b"data: 01")
    with pytest.raises(McpProtocolError, match="longer than 10"):
        parser.feed(b"23456789")
