"""Reading the results of tools/list and tools/call."""

import pytest

from desktop_app.mcp.errors import McpProtocolError
from desktop_app.mcp.results import (
    ToolResult,
    parse_tool_result,
    parse_tools_page,
    result_type,
    retry_state,
    unfinished,
)

URL = "https://mcp.example/mcp"


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
    page = parse_tools_page(result, url=URL, modern=True)
    assert [tool.name for tool in page.tools] == ["good"]
    assert page.tools[0].title == "Good one"
    assert [name for name, _ in page.rejected] == ["bad", "noschema", "?"]
    assert page.next_cursor == "c2"


def test_legacy_tools_page_ignores_x_mcp_header() -> None:
    result = {"tools": [{"name": "t", "inputSchema": {"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}}]}
    page = parse_tools_page(result, url=URL, modern=False)
    assert [tool.name for tool in page.tools] == ["t"]
    assert page.tools[0].header_params == ()


def test_tools_page_without_a_list_is_a_protocol_error() -> None:
    with pytest.raises(McpProtocolError, match=URL):
        parse_tools_page({"tools": {}}, url=URL, modern=True)


def test_tool_result_keeps_content_error_flag_and_structured_content() -> None:
    result = parse_tool_result(
        {"content": [{"type": "text", "text": "x"}], "isError": True, "structuredContent": [1, 2]}, url=URL
    )
    assert result == ToolResult(({"type": "text", "text": "x"},), True, [1, 2])


def test_tool_result_with_a_non_boolean_is_error_is_malformed() -> None:
    with pytest.raises(McpProtocolError) as info:
        parse_tool_result({"content": [], "isError": "yes"}, url=URL)
    assert info.value.code == "malformed_result"


def test_result_type_defaults_to_complete() -> None:
    assert result_type({}) == "complete"
    assert result_type({"resultType": "input_required"}) == "input_required"


def test_input_required_with_only_a_request_state_is_retried_with_it() -> None:
    assert retry_state({"resultType": "input_required", "requestState": "s1"}) == "s1"
    assert retry_state({"resultType": "input_required", "requestState": "s1", "inputRequests": {"a": {}}}) is None
    assert retry_state({"resultType": "complete", "requestState": "s1"}) is None


def test_an_unfinished_result_says_what_it_asks_for() -> None:
    asked = {"resultType": "input_required", "inputRequests": {"a": {"method": "elicitation/create"}}}
    error = unfinished(asked, url=URL, method="tools/call")
    assert error.code == "input_required" and "elicitation/create" in error.message
    assert unfinished({"resultType": "mystery"}, url=URL, method="tools/call").code == "unknown_result_type"
