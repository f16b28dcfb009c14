"""JSON-RPC 2.0 messages: classifying, matching ids, the errors they become."""

import json

import pytest

from desktop_app.errors import RequestFailed
from desktop_app.mcp.errors import McpProtocolError, McpRpcError
from desktop_app.mcp.jsonrpc import (
    METHOD_NOT_FOUND,
    RpcError,
    RpcNotification,
    RpcRequest,
    RpcResult,
    decode_json,
    find_response,
    match_response,
    parse_message,
    reply_to,
    rpc_error,
)

URL = "https://mcp.example/mcp"


def test_parse_message_classifies_the_four_kinds() -> None:
    assert isinstance(parse_message({"jsonrpc": "2.0", "id": 1, "result": {}}, url=URL), RpcResult)
    assert isinstance(
        parse_message({"jsonrpc": "2.0", "id": None, "error": {"code": -1, "message": "m"}}, url=URL), RpcError
    )
    assert isinstance(parse_message({"jsonrpc": "2.0", "id": "a", "method": "ping"}, url=URL), RpcRequest)
    assert isinstance(parse_message({"jsonrpc": "2.0", "method": "notifications/x"}, url=URL), RpcNotification)


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
        parse_message(obj, url=URL)


def test_response_ids_match_by_type_and_value() -> None:
    assert match_response(RpcResult(1, {}), 1) is not None
    assert match_response(RpcResult("1", {}), 1) is None
    assert match_response(RpcError(None, -32600, "bad"), 1) is not None
    assert match_response(RpcError(2, -32600, "bad"), 1) is None


def test_rpc_error_message_is_one_line_and_names_url_and_code() -> None:
    error = rpc_error(RpcError(1, -32602, "bad\nargs\x1b[31m"), method="tools/call", url=URL)
    assert isinstance(error, McpRpcError)
    assert isinstance(error, RequestFailed)
    assert error.code == "invalid_params"
    assert error.rpc_code == -32602
    assert "\n" not in str(error) and "\x1b" not in str(error)
    assert URL in str(error) and "-32602" in str(error)


def test_the_response_is_found_in_a_batch() -> None:
    batch = [{"jsonrpc": "2.0", "method": "notifications/x"}, {"jsonrpc": "2.0", "id": 4, "result": {"ok": 1}}]
    assert find_response(batch, 4, url=URL, method="tools/list") == RpcResult(4, {"ok": 1})
    with pytest.raises(McpProtocolError) as info:
        find_response(batch[:1], 4, url=URL, method="tools/list")
    assert info.value.code == "id_mismatch"


def test_decoded_json_hides_the_secrets_it_quotes_keys_included() -> None:
    secret = "opaque-access-token-42"
    body = json.dumps({"error": {"message": f"bad token {secret}", secret: [f"{secret}!"]}}).encode()
    hidden = {"error": {"message": "bad token [redacted]", "[redacted]": ["[redacted]!"]}}
    assert decode_json(body, url=URL, hide=(secret,)) == hidden


def test_a_servers_ping_is_answered_and_anything_else_refused() -> None:
    assert reply_to(RpcRequest(3, "ping", None)) == {"jsonrpc": "2.0", "id": 3, "result": {}}
    refused = reply_to(RpcRequest("x", "sampling/createMessage", None))
    assert refused["error"]["code"] == METHOD_NOT_FOUND
