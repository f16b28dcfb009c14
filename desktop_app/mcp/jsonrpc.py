"""JSON-RPC 2.0 as MCP uses it, without I/O: classify decoded messages, match responses to requests, build bodies.

Anything a server sends that breaks the JSON-RPC rules becomes an :class:`McpProtocolError` naming the server's URL;
an error object the server sends on purpose becomes an :class:`McpRpcError` through :func:`rpc_error`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from desktop_app.error_codes import Code
from desktop_app.errors import scrub
from desktop_app.mcp.errors import McpProtocolError, McpRpcError

JsonObject = dict[str, Any]
RequestId = int | str

METHOD_NOT_FOUND = -32601


@dataclass(frozen=True, slots=True)
class RpcResult:
    id: RequestId
    result: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RpcError:
    id: RequestId | None
    code: int
    message: str
    data: Any = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class RpcRequest:
    """A request from the server (legacy servers only may send these on a response stream)."""

    id: RequestId
    method: str
    params: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class RpcNotification:
    method: str
    params: Mapping[str, Any] | None


RpcMessage = RpcResult | RpcError | RpcRequest | RpcNotification


def malformed(url: str, what: str, code: Code = "malformed_jsonrpc") -> McpProtocolError:
    """``{url} sent {what}.``: the server broke the rules of what it sends."""
    return McpProtocolError(code, f"{url} sent {what}.", url=url)


def bad_result(url: str, what: str) -> McpProtocolError:
    """``{url} {what}.``: a well-formed result whose content breaks MCP's rules (``what`` says which)."""
    return McpProtocolError("malformed_result", f"{url} {what}.", url=url)


def opt_str(value: object) -> str | None:
    """A member that must be a string when present: anything else counts as absent."""
    return value if isinstance(value, str) else None


def _is_id(value: object) -> TypeGuard[RequestId]:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def parse_message(obj: object, *, url: str) -> RpcMessage:
    """Classify one decoded JSON-RPC 2.0 object; anything malformed is an :class:`McpProtocolError`."""
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        raise malformed(url, "something that is not a JSON-RPC 2.0 message")
    params = obj.get("params")
    if params is not None and not isinstance(params, dict):
        raise malformed(url, "a JSON-RPC message whose params is not an object")
    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str):
            raise malformed(url, "a JSON-RPC message without a method name")
        if "id" not in obj:
            return RpcNotification(method, params)
        if not _is_id(obj["id"]):
            raise malformed(url, "a JSON-RPC request with an invalid id")
        return RpcRequest(obj["id"], method, params)
    msg_id = obj.get("id")
    if "error" in obj:
        error = obj["error"]
        if msg_id is not None and not _is_id(msg_id):
            raise malformed(url, "a JSON-RPC error with an invalid id")
        if (
            not isinstance(error, dict)
            or not isinstance(error.get("code"), int)
            or isinstance(error.get("code"), bool)
            or not isinstance(error.get("message", ""), str)
        ):
            raise malformed(url, "a malformed JSON-RPC error object")
        return RpcError(msg_id, error["code"], error.get("message", ""), error.get("data"))
    if "result" in obj:
        result = obj["result"]
        if not _is_id(msg_id):
            raise malformed(url, "a JSON-RPC result with an invalid id")
        if not isinstance(result, dict):
            raise malformed(url, "a JSON-RPC result that is not an object")
        return RpcResult(msg_id, result)
    raise malformed(url, "a JSON-RPC message with neither result nor error")


def decode_json(body: bytes, *, url: str, hide: tuple[str, ...] = ()) -> object:
    """The JSON ``url`` sent, with each of ``hide`` cut out of every string in it, keys included: a server that
    quotes a secret it received (an access token) gets it neither shown, logged, stored nor passed on."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise McpProtocolError("malformed_json", f"{url} sent a body that is not valid JSON.", url=url) from None
    return _scrubbed(value, hide) if hide else value


def _scrubbed(value: object, secrets: tuple[str, ...]) -> object:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, list):
        return [_scrubbed(item, secrets) for item in value]
    if isinstance(value, dict):
        return {scrub(k, secrets): _scrubbed(v, secrets) for k, v in value.items()}
    return value


def same_id(a: RequestId | None, b: RequestId) -> bool:
    """JSON-RPC ids match by type and value (``1`` is not ``"1"``, and ``true`` is no id)."""
    return type(a) is type(b) and a == b


def match_response(message: RpcMessage, request_id: RequestId) -> RpcResult | RpcError | None:
    """The response to ``request_id`` if ``message`` is it; an error without id counts as ours."""
    if isinstance(message, RpcResult) and same_id(message.id, request_id):
        return message
    if isinstance(message, RpcError) and (message.id is None or same_id(message.id, request_id)):
        return message
    return None


def find_response(obj: object, request_id: RequestId, *, url: str, method: str) -> RpcResult | RpcError:
    """The response to ``request_id`` in a decoded JSON body: the one message, or one of a batch (2025-03-26
    allowed them)."""
    for item in obj if isinstance(obj, list) else [obj]:
        found = match_response(parse_message(item, url=url), request_id)
        if found is not None:
            return found
    raise McpProtocolError("id_mismatch", f"{url} answered {method} with a message that is not its response.", url=url)


def rpc_error(error: RpcError, *, method: str, url: str) -> McpRpcError:
    return McpRpcError(error.code, error.message, method=method, url=url)


def notification_body(method: str, params: Mapping[str, Any] | None = None) -> JsonObject:
    body: JsonObject = {"jsonrpc": "2.0", "method": method}
    if params:
        body["params"] = dict(params)
    return body


def result_body(request_id: RequestId, result: Mapping[str, Any]) -> JsonObject:
    return {"jsonrpc": "2.0", "id": request_id, "result": dict(result)}


def error_body(request_id: RequestId, code: int, message: str) -> JsonObject:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def reply_to(request: RpcRequest) -> JsonObject:
    """Our answer to a server's request: ``ping`` is answered, anything else refused (this app declares no client
    capability a server could use)."""
    if request.method == "ping":
        return result_body(request.id, {})
    return error_body(request.id, METHOD_NOT_FOUND, f"Method not found: {request.method[:100]}")
