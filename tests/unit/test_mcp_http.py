"""MCP's use of HTTP: the first request and the probe, request bodies and headers, header values, x-mcp-header."""

import json
from typing import Any

import httpx
import pytest

from desktop_app.errors import ServerUnavailable
from desktop_app.mcp.errors import McpForbidden, McpProtocolError, McpSignInRequired
from desktop_app.mcp.http import (
    HeaderParam,
    build_probe_request,
    encode_header_value,
    param_headers,
    request_body,
    request_headers,
    status_error,
    tool_header_params,
    valid_session_id,
)
from desktop_app.mcp.negotiation import META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION

URL = "https://mcp.example/mcp"


def body_of(request: Any) -> dict[str, Any]:
    data = json.loads(request.content)
    assert isinstance(data, dict)
    return data


def test_probe_for_2026_is_server_discover_with_matching_header_and_meta() -> None:
    request = build_probe_request(URL)
    body = body_of(request)
    meta = body["params"]["_meta"]
    assert request.method == "POST"
    assert str(request.url) == URL
    assert body["method"] == "server/discover"
    assert request.headers["MCP-Protocol-Version"] == "2026-07-28" == meta[META_PROTOCOL_VERSION]
    assert request.headers["Mcp-Method"] == "server/discover"
    assert meta[META_CLIENT_CAPABILITIES] == {}
    assert meta[META_CLIENT_INFO]["name"] and meta[META_CLIENT_INFO]["version"]
    assert "application/json" in request.headers["Accept"]
    assert "text/event-stream" in request.headers["Accept"]
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    assert "Mcp-Session-Id" not in request.headers


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18", "2025-03-26"])
def test_probe_for_legacy_versions_is_initialize_without_the_version_header(version: str) -> None:
    request = build_probe_request(URL, version)
    body = body_of(request)
    assert body["method"] == "initialize"
    assert body["params"]["protocolVersion"] == version
    assert body["params"]["capabilities"] == {}
    assert "_meta" not in body["params"]
    assert "MCP-Protocol-Version" not in request.headers
    assert "Mcp-Method" not in request.headers


def test_probe_refuses_an_unknown_version() -> None:
    with pytest.raises(ValueError, match="2024-11-05"):
        build_probe_request(URL, "2024-11-05")


def test_modern_request_body_keeps_caller_meta_and_adds_the_envelope() -> None:
    body = request_body(7, "tools/list", {"_meta": {"progressToken": "t"}}, protocol_version="2026-07-28")
    meta = body["params"]["_meta"]
    assert meta["progressToken"] == "t"
    assert meta[META_PROTOCOL_VERSION] == "2026-07-28"
    assert body["id"] == 7


def test_legacy_request_body_has_no_meta_envelope() -> None:
    body = request_body(3, "tools/list", None, protocol_version="2025-11-25")
    assert body == {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}


def test_modern_tools_call_headers_name_and_params() -> None:
    params = {"name": "execute_sql", "arguments": {"region": "us-west1", "query": "SELECT 1", "n": 0}}
    header_params = (HeaderParam("Region", ("region",)), HeaderParam("Count", ("n",)))
    headers = request_headers(
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
        HeaderParam("A", ("a",)),
        HeaderParam("B", ("b",)),
        HeaderParam("Flag", ("opts", "flag")),
    )
    headers = param_headers(header_params, {"a": None, "opts": {"flag": False}})
    assert headers == {"Mcp-Param-Flag": "false"}


def test_legacy_headers_carry_version_and_session_but_not_method() -> None:
    headers = request_headers("tools/list", None, protocol_version="2025-06-18", session_id="s-1")
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
    assert encode_header_value(value) == encoded


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
    assert tool_header_params(schema) == (
        HeaderParam("Region", ("region",)),
        HeaderParam("Dry-Run", ("opts", "dry")),
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
        tool_header_params(schema)


@pytest.mark.parametrize(
    ("challenge", "code"),
    [
        ('Bearer error="insufficient_scope", scope="a b"', "insufficient_scope"),
        ('Bearer realm="x", error=insufficient_scope', "insufficient_scope"),
        ('Basic realm="x", Bearer error="insufficient_scope"', "insufficient_scope"),
        ('Bearer realm="x", error=invalid_token', "forbidden"),
        ('bearer scope="x"', "forbidden"),
        ('DPoP error="insufficient_scope"', "forbidden"),
        (None, "forbidden"),
        # Malformed challenges ask for nothing we could act on: a plain refusal, never an exception.
        ('Bearer error="insufficient_scope', "forbidden"),
        ('Bearer error="insufficient_scope", error="insufficient_scope"', "forbidden"),
        ("Bearer error=insufficient_scope,, =", "forbidden"),
        ('Bearer error="insufficient_scope", scope="' + "a" * 20_000 + '"', "forbidden"),
    ],
)
def test_a_403_asks_for_more_scope_only_in_a_well_formed_bearer_challenge(challenge: str | None, code: str) -> None:
    headers = {"WWW-Authenticate": challenge} if challenge is not None else {}
    error = status_error(httpx.Response(403, headers=headers), url=URL, method="tools/call")
    assert isinstance(error, McpForbidden)
    assert error.code == code
    assert error.www_authenticate == challenge


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, McpSignInRequired), (429, ServerUnavailable), (503, ServerUnavailable), (307, McpProtocolError)],
)
def test_a_status_that_is_an_error_on_its_own(status: int, kind: type[Exception]) -> None:
    error = status_error(httpx.Response(status), url=URL, method="tools/list")
    assert isinstance(error, kind)
    assert URL in str(error) and "tools/list" in str(error)


@pytest.mark.parametrize("status", [200, 202, 400, 404, 405])
def test_other_statuses_are_left_to_the_body(status: int) -> None:
    assert status_error(httpx.Response(status), url=URL, method="tools/list") is None


@pytest.mark.parametrize(("session_id", "valid"), [("abc-123", True), ("", False), ("a b", False), ("é", False)])
def test_session_ids_are_visible_ascii(session_id: str, valid: bool) -> None:
    assert valid_session_id(session_id) is valid
