"""MCP over Streamable HTTP without I/O: JSON-RPC messages, headers, SSE parsing, version negotiation.

Two eras share one endpoint (spec 2026-07-28 ``basic/versioning.mdx``):

* **modern** (2026-07-28): no handshake and no session. Every POST carries ``MCP-Protocol-Version``,
  ``Mcp-Method`` (and ``Mcp-Name`` for ``tools/call``), and the body's ``params._meta`` carries the same protocol
  version plus the client's info and capabilities. The first request of a connection is ``server/discover``.
* **legacy** (2025-11-25, 2025-06-18, 2025-03-26): ``initialize`` → ``notifications/initialized``, an optional
  ``Mcp-Session-Id``, and ``MCP-Protocol-Version`` on every request after ``initialize``.

A client detects the era by trying the modern request first: a recognized modern JSON-RPC error
(-32020..-32022) means a modern server, anything else a legacy one (``streamable-http.mdx`` "Backward
Compatibility"). :func:`after_discover_error` and :func:`after_discover` hold that decision.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from desktop_app import appinfo
from desktop_app.errors import one_line
from desktop_app.mcp.errors import McpProtocolError, McpRpcError, UnsupportedProtocolVersion

# --- versions -----------------------------------------------------------------------------------------------

LATEST = "2026-07-28"
#: Per-request-metadata revisions, newest first.
MODERN_VERSIONS: tuple[str, ...] = ("2026-07-28",)
#: ``initialize``-handshake revisions we speak, newest first.
LEGACY_VERSIONS: tuple[str, ...] = ("2025-11-25", "2025-06-18", "2025-03-26")
SUPPORTED_VERSIONS: tuple[str, ...] = MODERN_VERSIONS + LEGACY_VERSIONS


def is_modern(version: str) -> bool:
    """Whether ``version`` is a stateless (per-request ``_meta``) revision."""
    return version in MODERN_VERSIONS


# --- wire names ---------------------------------------------------------------------------------------------

ACCEPT = "application/json, text/event-stream"
HEADER_PROTOCOL_VERSION = "MCP-Protocol-Version"
HEADER_SESSION_ID = "Mcp-Session-Id"
HEADER_METHOD = "Mcp-Method"
HEADER_NAME = "Mcp-Name"
HEADER_PARAM_PREFIX = "Mcp-Param-"

META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

METHOD_NOT_FOUND = -32601
HEADER_MISMATCH = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022
#: Errors only a modern server sends (2026-07-28 ``basic/index.mdx`` "Error Codes").
MODERN_ERROR_CODES = frozenset({HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY, UNSUPPORTED_PROTOCOL_VERSION})

#: Methods whose name or URI is mirrored into ``Mcp-Name`` (2026-07-28 "Standard Request Headers").
_NAME_PARAMS = {"tools/call": "name", "resources/read": "uri", "prompts/get": "name"}

JsonObject = dict[str, Any]


# --- values -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """The ``Implementation`` we announce (``clientInfo``)."""

    name: str
    version: str
    title: str | None = None

    def as_json(self) -> JsonObject:
        data: JsonObject = {"name": self.name, "version": self.version}
        if self.title:
            data["title"] = self.title
        return data


DEFAULT_CLIENT_INFO = ClientInfo(appinfo.COMMAND, appinfo.VERSION, appinfo.APP_NAME)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the server said about itself, from ``initialize`` or ``server/discover``.

    ``name`` and ``version`` are self-reported and optional in the modern era. ``supported_versions`` is only
    known from ``server/discover``.
    """

    name: str | None
    version: str | None
    protocol_version: str
    capabilities: Mapping[str, Any]
    instructions: str | None = None
    title: str | None = None
    supported_versions: tuple[str, ...] = ()

    @property
    def stateless(self) -> bool:
        return is_modern(self.protocol_version)


@dataclass(frozen=True, slots=True)
class HeaderParam:
    """A tool argument mirrored into ``Mcp-Param-{header}`` (2026-07-28 ``x-mcp-header``)."""

    header: str
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    title: str | None
    description: str | None
    input_schema: Mapping[str, Any]
    header_params: tuple[HeaderParam, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolPage:
    """One ``tools/list`` page; ``rejected`` holds (name, reason) for tools left out as invalid."""

    tools: tuple[Tool, ...]
    next_cursor: str | None
    rejected: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A ``tools/call`` result. ``structured_content`` is None when absent (or JSON null)."""

    content: tuple[Mapping[str, Any], ...]
    is_error: bool
    structured_content: Any = None


# --- JSON-RPC messages --------------------------------------------------------------------------------------

RequestId = int | str


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


def _is_id(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def _malformed(url: str, what: str, code: str = "malformed_jsonrpc") -> McpProtocolError:
    return McpProtocolError(code, f"{url} sent {what}.", url=url)


def parse_message(obj: object, *, url: str) -> RpcMessage:
    """Classify one decoded JSON-RPC 2.0 object; anything malformed is an :class:`McpProtocolError`."""
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        raise _malformed(url, "something that is not a JSON-RPC 2.0 message")
    params = obj.get("params")
    if params is not None and not isinstance(params, dict):
        raise _malformed(url, "a JSON-RPC message whose params is not an object")
    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str):
            raise _malformed(url, "a JSON-RPC message without a method name")
        if "id" not in obj:
            return RpcNotification(method, params)
        if not _is_id(obj["id"]):
            raise _malformed(url, "a JSON-RPC request with an invalid id")
        return RpcRequest(obj["id"], method, params)
    msg_id = obj.get("id")
    if "error" in obj:
        error = obj["error"]
        if msg_id is not None and not _is_id(msg_id):
            raise _malformed(url, "a JSON-RPC error with an invalid id")
        if (
            not isinstance(error, dict)
            or not isinstance(error.get("code"), int)
            or isinstance(error.get("code"), bool)
            or not isinstance(error.get("message", ""), str)
        ):
            raise _malformed(url, "a malformed JSON-RPC error object")
        return RpcError(msg_id, error["code"], error.get("message", ""), error.get("data"))
    if "result" in obj:
        result = obj["result"]
        if not (isinstance(msg_id, int | str) and not isinstance(msg_id, bool)):
            raise _malformed(url, "a JSON-RPC result with an invalid id")
        if not isinstance(result, dict):
            raise _malformed(url, "a JSON-RPC result that is not an object")
        return RpcResult(msg_id, result)
    raise _malformed(url, "a JSON-RPC message with neither result nor error")


def decode_json(body: bytes, *, url: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise McpProtocolError("malformed_json", f"{url} sent a body that is not valid JSON.", url=url) from None


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


def rpc_error(error: RpcError, *, method: str, url: str) -> McpRpcError:
    return McpRpcError(error.code, error.message, method=method, url=url)


# --- building requests --------------------------------------------------------------------------------------


def request_body(
    request_id: RequestId,
    method: str,
    params: Mapping[str, Any] | None,
    *,
    protocol_version: str,
    client_info: ClientInfo = DEFAULT_CLIENT_INFO,
) -> JsonObject:
    """A JSON-RPC request; in the modern era ``params._meta`` carries version, client info and capabilities."""
    body: JsonObject = {"jsonrpc": "2.0", "id": request_id, "method": method}
    merged: JsonObject = dict(params or {})
    if is_modern(protocol_version):
        meta: JsonObject = dict(merged.get("_meta") or {})
        meta[META_PROTOCOL_VERSION] = protocol_version
        meta[META_CLIENT_INFO] = client_info.as_json()
        meta[META_CLIENT_CAPABILITIES] = {}
        merged["_meta"] = meta
    if merged:
        body["params"] = merged
    return body


def notification_body(method: str, params: Mapping[str, Any] | None = None) -> JsonObject:
    body: JsonObject = {"jsonrpc": "2.0", "method": method}
    if params:
        body["params"] = dict(params)
    return body


def result_body(request_id: RequestId, result: Mapping[str, Any]) -> JsonObject:
    return {"jsonrpc": "2.0", "id": request_id, "result": dict(result)}


def error_body(request_id: RequestId, code: int, message: str) -> JsonObject:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def initialize_params(protocol_version: str, client_info: ClientInfo = DEFAULT_CLIENT_INFO) -> JsonObject:
    return {"protocolVersion": protocol_version, "capabilities": {}, "clientInfo": client_info.as_json()}


_HEADER_PLAIN = re.compile(r"[\x20-\x7e]*")
_B64_SENTINEL = re.compile(r"=\?base64\?.*\?=", re.DOTALL)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def encode_header_value(value: str) -> str:
    """Plain when it survives as an HTTP field value, else ``=?base64?…?=`` (2026-07-28 "Value Encoding")."""
    if _HEADER_PLAIN.fullmatch(value) and value == value.strip(" ") and not _B64_SENTINEL.fullmatch(value):
        return value
    return "=?base64?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def _header_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def param_headers(header_params: Sequence[HeaderParam], arguments: Mapping[str, Any] | None) -> dict[str, str]:
    """``Mcp-Param-*`` headers for a ``tools/call``; an absent or null value omits its header."""
    headers: dict[str, str] = {}
    for param in header_params:
        value: object = arguments or {}
        for key in param.path:
            value = value.get(key) if isinstance(value, dict) else None
        text = _header_text(value)
        if text is not None:
            headers[HEADER_PARAM_PREFIX + param.header] = encode_header_value(text)
    return headers


def request_headers(
    method: str,
    params: Mapping[str, Any] | None,
    *,
    protocol_version: str,
    after_initialize: bool = True,
    session_id: str | None = None,
    header_params: Sequence[HeaderParam] = (),
) -> dict[str, str]:
    """Headers of a POST to the MCP endpoint.

    Modern: ``MCP-Protocol-Version`` (equal to ``_meta``), ``Mcp-Method``, ``Mcp-Name`` and ``Mcp-Param-*`` on
    every POST. Legacy: ``MCP-Protocol-Version`` and the session id on everything after ``initialize``.
    """
    headers = {"Accept": ACCEPT, "Content-Type": "application/json"}
    if is_modern(protocol_version):
        headers[HEADER_PROTOCOL_VERSION] = protocol_version
        headers[HEADER_METHOD] = method
        name_key = _NAME_PARAMS.get(method)
        name = (params or {}).get(name_key) if name_key else None
        if isinstance(name, str):
            headers[HEADER_NAME] = encode_header_value(name)
        if method == "tools/call":
            headers.update(param_headers(header_params, (params or {}).get("arguments")))
        return headers
    if after_initialize:
        headers[HEADER_PROTOCOL_VERSION] = protocol_version
    if session_id:
        headers[HEADER_SESSION_ID] = session_id
    return headers


def build_post(url: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> httpx.Request:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return httpx.Request("POST", url, headers=dict(headers), content=content)


def build_first_request(
    url: str,
    protocol_version: str = LATEST,
    *,
    request_id: RequestId = 1,
    client_info: ClientInfo = DEFAULT_CLIENT_INFO,
) -> httpx.Request:
    """The first request of a connection at ``protocol_version``.

    2026-07-28: ``server/discover`` with ``MCP-Protocol-Version`` and ``Mcp-Method`` headers and ``_meta``.
    Legacy: ``initialize`` offering that version, without ``MCP-Protocol-Version`` (it is for later requests).
    """
    if protocol_version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unsupported MCP protocol version {protocol_version!r}")
    if is_modern(protocol_version):
        method, params = "server/discover", None
    else:
        method, params = "initialize", initialize_params(protocol_version, client_info)
    body = request_body(request_id, method, params, protocol_version=protocol_version, client_info=client_info)
    headers = request_headers(method, params, protocol_version=protocol_version, after_initialize=False)
    return build_post(url, body, headers)


def build_probe_request(url: str, protocol_version: str = LATEST) -> httpx.Request:
    """The unauthenticated probe of the OAuth engine: exactly the first request of a connection.

    POST it without a token (``http.send(request)``; the client's timeouts apply) to get the 401 and its
    ``WWW-Authenticate``. For 2026-07-28 it carries ``MCP-Protocol-Version: 2026-07-28`` matching ``_meta``.
    """
    return build_first_request(url, protocol_version)


def build_delete(url: str, *, session_id: str, protocol_version: str) -> httpx.Request:
    """End a legacy session (``DELETE`` with its id; the server may answer 405)."""
    headers = {HEADER_SESSION_ID: session_id, HEADER_PROTOCOL_VERSION: protocol_version}
    return httpx.Request("DELETE", url, headers=headers)


def build_resume(url: str, *, last_event_id: str, session_id: str | None, protocol_version: str) -> httpx.Request:
    """Legacy (2025-11-25) stream resumption: ``GET`` with ``Last-Event-ID``."""
    headers = {"Accept": "text/event-stream", "Last-Event-ID": last_event_id, HEADER_PROTOCOL_VERSION: protocol_version}
    if session_id:
        headers[HEADER_SESSION_ID] = session_id
    return httpx.Request("GET", url, headers=headers)


# --- x-mcp-header -------------------------------------------------------------------------------------------

_X_MCP_HEADER = "x-mcp-header"
_HEADER_TYPES = {"string", "integer", "boolean"}
#: Keywords whose value maps names to subschemas (keys there are names, not keywords).
_NAME_MAPS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
#: Keywords whose values are instances, not schemas.
_INSTANCE_KEYWORDS = {"const", "enum", "default", "examples"}


def tool_header_params(input_schema: Mapping[str, Any]) -> tuple[HeaderParam, ...]:
    """The ``x-mcp-header`` annotations of a tool, validated (2026-07-28 ``tools.mdx`` "x-mcp-header").

    Raises ``ValueError`` with the reason when any annotation breaks the rules; such a tool must be left out.
    """
    found: list[HeaderParam] = []

    def walk(node: object, path: tuple[str, ...] | None) -> None:
        # ``path`` is the chain of ``properties`` keys from the root, or None once off that chain.
        if isinstance(node, list):
            for item in node:
                walk(item, None)
            return
        if not isinstance(node, dict):
            return
        if _X_MCP_HEADER in node:
            value = node[_X_MCP_HEADER]
            where = ".".join(path) if path else "the schema root"
            if not path:
                raise ValueError(f"x-mcp-header on {where} is not on a statically reachable property")
            if not isinstance(value, str) or not _TOKEN.fullmatch(value):
                raise ValueError(f"x-mcp-header of {where} is not an HTTP token")
            if node.get("type") not in _HEADER_TYPES:
                raise ValueError(f"x-mcp-header on {where}, whose type is not string, integer or boolean")
            found.append(HeaderParam(value, path))
        for key, child in node.items():
            if key in _INSTANCE_KEYWORDS or key == _X_MCP_HEADER:
                continue
            if key in _NAME_MAPS and isinstance(child, dict):
                for name, sub in child.items():
                    walk(sub, (*path, name) if key == "properties" and path is not None else None)
            else:
                walk(child, None)

    walk(input_schema, ())
    seen: set[str] = set()
    for param in found:
        if param.header.lower() in seen:
            raise ValueError(f"x-mcp-header {param.header!r} is used twice")
        seen.add(param.header.lower())
    return tuple(found)


# --- results ------------------------------------------------------------------------------------------------


def result_type(result: Mapping[str, Any]) -> str:
    """``resultType``; absent means ``complete`` (servers of earlier revisions do not send it)."""
    value = result.get("resultType", "complete")
    return value if isinstance(value, str) else ""


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _implementation(value: object) -> tuple[str | None, str | None, str | None]:
    if not isinstance(value, dict):
        return None, None, None
    return _opt_str(value.get("name")), _opt_str(value.get("version")), _opt_str(value.get("title"))


def _bad_result(url: str, what: str) -> McpProtocolError:
    return McpProtocolError("malformed_result", f"{url} {what}.", url=url)


def _capabilities(result: Mapping[str, Any], *, url: str, method: str) -> Mapping[str, Any]:
    caps = result.get("capabilities", {})
    if not isinstance(caps, dict):
        raise _bad_result(url, f"answered {method} with capabilities that are not an object")
    return caps


def _supported_list(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _names(versions: Sequence[str]) -> str:
    return ", ".join(versions) if versions else "none"


def parse_initialize_result(result: Mapping[str, Any], *, url: str, offered: Sequence[str]) -> ServerInfo:
    """The ``initialize`` answer; a version we did not offer is refused (2025-11-25 ``lifecycle.mdx``)."""
    version = result.get("protocolVersion")
    if not isinstance(version, str):
        raise _bad_result(url, "answered initialize without a protocolVersion")
    if version not in offered or is_modern(version):
        raise UnsupportedProtocolVersion(
            f"{url} chose MCP protocol version {one_line(version, 40)!r}; this app speaks {_names(offered)}.",
            url=url,
            version=one_line(version, 40),
            supported=(one_line(version, 40),),
        )
    name, server_version, title = _implementation(result.get("serverInfo"))
    return ServerInfo(
        name=name,
        version=server_version,
        protocol_version=version,
        capabilities=_capabilities(result, url=url, method="initialize"),
        instructions=_opt_str(result.get("instructions")),
        title=title,
    )


@dataclass(frozen=True, slots=True)
class FallBack:
    """The server is not (usably) modern: fall back to ``initialize``."""

    reason: str


@dataclass(frozen=True, slots=True)
class RetryWith:
    """A modern server that does not accept the version we tried; retry with this one."""

    version: str


def after_discover(result: Mapping[str, Any], *, url: str, tried: str, offered: Sequence[str]) -> ServerInfo | FallBack:
    """Read a successful ``server/discover`` answer (2026-07-28 ``server/discover.mdx``).

    A server that lists no modern version we speak is a legacy advertisement (some stateful servers answer
    ``server/discover`` that way): fall back. Otherwise use ``tried`` if listed, else the newest mutual one.
    """
    supported = _supported_list(result.get("supportedVersions"))
    if supported is None:
        return FallBack("server/discover answer without supportedVersions")
    mutual = [v for v in offered if is_modern(v) and v in supported]
    if not mutual:
        return FallBack("server/discover lists no modern version we speak")
    version = tried if tried in mutual else mutual[0]
    meta = result.get("_meta")
    name, server_version, title = _implementation(meta.get(META_SERVER_INFO) if isinstance(meta, dict) else None)
    return ServerInfo(
        name=name,
        version=server_version,
        protocol_version=version,
        capabilities=_capabilities(result, url=url, method="server/discover"),
        instructions=_opt_str(result.get("instructions")),
        title=title,
        supported_versions=tuple(one_line(v, 40) for v in supported),
    )


def after_discover_error(
    status: int, error: RpcError | None, *, url: str, tried: str, offered: Sequence[str]
) -> RetryWith | FallBack:
    """What a rejected ``server/discover`` says about the server (2026-07-28 ``streamable-http.mdx``
    "Backward Compatibility", ``versioning.mdx``).

    Only a recognized modern error marks a modern server. ``UnsupportedProtocolVersion`` (-32022) names the
    versions it supports: retry with a mutual modern one, fall back if it lists a legacy one we speak, refuse
    otherwise. ``HeaderMismatch``/``MissingRequiredClientCapability`` are our own fault at a modern server and
    are raised as :class:`McpRpcError`. Anything else (an empty 4xx, -32601, -32600 ...) means legacy.
    """
    if error is None or error.code not in MODERN_ERROR_CODES:
        return FallBack(f"HTTP {status} without a modern JSON-RPC error")
    if error.code != UNSUPPORTED_PROTOCOL_VERSION:
        raise rpc_error(error, method="server/discover", url=url)
    data = error.data if isinstance(error.data, dict) else {}
    supported = _supported_list(data.get("supported"))
    if supported is None:
        return FallBack("UnsupportedProtocolVersion without a supported list")
    for version in offered:
        if is_modern(version) and version in supported and version != tried:
            return RetryWith(version)
    if any(v in supported for v in offered if not is_modern(v)):
        return FallBack("the server lists a legacy version we speak")
    shown = tuple(one_line(v, 40) for v in supported[:10])
    raise UnsupportedProtocolVersion(
        f"{url} supports MCP protocol versions {_names(shown)}; this app speaks {_names(offered)}.",
        url=url,
        version=shown[0] if shown else None,
        supported=shown,
    )


def _tool(entry: object, *, modern: bool) -> Tool:
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("no name")
    schema = entry.get("inputSchema")
    if not isinstance(schema, dict):
        raise ValueError("inputSchema is not an object")
    title = _opt_str(entry.get("title"))
    annotations = entry.get("annotations")
    if title is None and isinstance(annotations, dict):
        title = _opt_str(annotations.get("title"))
    return Tool(
        name=name,
        title=title,
        description=_opt_str(entry.get("description")),
        input_schema=schema,
        header_params=tool_header_params(schema) if modern else (),
    )


def parse_tools_page(result: Mapping[str, Any], *, url: str, modern: bool) -> ToolPage:
    """One ``tools/list`` page. Invalid tools are left out and named in ``rejected`` (2026-07-28: a bad
    ``x-mcp-header`` MUST exclude the tool, and one bad tool must not hide the others)."""
    entries = result.get("tools")
    if not isinstance(entries, list):
        raise _bad_result(url, "answered tools/list without a tools list")
    cursor = result.get("nextCursor")
    if cursor is not None and not isinstance(cursor, str):
        raise _bad_result(url, "answered tools/list with a nextCursor that is not a string")
    tools: list[Tool] = []
    rejected: list[tuple[str, str]] = []
    for entry in entries:
        try:
            tools.append(_tool(entry, modern=modern))
        except ValueError as exc:
            name = entry.get("name") if isinstance(entry, dict) else None
            rejected.append((one_line(name, 128) if isinstance(name, str) else "?", str(exc)))
    return ToolPage(tuple(tools), cursor or None, tuple(rejected))


def parse_tool_result(result: Mapping[str, Any], *, url: str) -> ToolResult:
    content = result.get("content", [])
    if not isinstance(content, list) or not all(isinstance(item, dict) for item in content):
        raise _bad_result(url, "answered tools/call with content that is not a list of objects")
    is_error = result.get("isError", False)
    if not isinstance(is_error, bool):
        raise _bad_result(url, "answered tools/call with an isError that is not a boolean")
    return ToolResult(tuple(content), is_error, result.get("structuredContent"))


# --- HTTP answers -------------------------------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


_ERROR_PARAM = re.compile(r'(?:^|[\s,])error\s*=\s*(?:"([^"]*)"|([^\s,]+))', re.IGNORECASE)


def challenge_error(www_authenticate: str | None) -> str | None:
    """The ``error`` parameter of a Bearer challenge, e.g. ``insufficient_scope`` (RFC 6750 §3)."""
    if not www_authenticate:
        return None
    match = _ERROR_PARAM.search(www_authenticate)
    if match is None:
        return None
    return match.group(1) if match.group(1) is not None else match.group(2)


# --- Server-Sent Events -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


_LINE_END = re.compile(r"\r\n|\r|\n")


class SseParser:
    """Incremental ``text/event-stream`` parser (WHATWG HTML "Event stream interpretation").

    Feed it bytes as they arrive; it returns the events completed so far. Lines end in CRLF, LF or CR (also when
    a CRLF is split between two chunks); ``data`` lines are joined with LF; comments, unknown fields and events
    without data are dropped; ``id`` persists to later events. An event (or line) longer than
    ``max_event_chars`` raises :class:`McpProtocolError` instead of growing without bound.
    """

    def __init__(self, *, url: str, max_event_chars: int) -> None:
        self._url = url
        self._max = max_event_chars
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []
        self._partial_len = 0
        self._skip_lf = False
        self._at_start = True
        self._data: list[str] = []
        self._data_len = 0
        self._event = ""
        self.last_event_id: str | None = None
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        text = self._decoder.decode(chunk)
        return self._text(text)

    def close(self) -> list[SseEvent]:
        """End of stream: an unterminated event is discarded, as the standard says."""
        self._text(self._decoder.decode(b"", final=True))
        return []

    def _text(self, text: str) -> list[SseEvent]:
        if self._at_start and text:
            self._at_start = False
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text:
            self._skip_lf = False
            text = text.removeprefix("\n")
        events: list[SseEvent] = []
        start = 0
        for match in _LINE_END.finditer(text):
            self._partial.append(text[start : match.start()])
            line = "".join(self._partial)
            self._partial.clear()
            self._partial_len = 0
            start = match.end()
            if match.group() == "\r" and start == len(text):
                self._skip_lf = True  # the LF of a CRLF may come with the next chunk
            event = self._line(line)
            if event is not None:
                events.append(event)
        rest = text[start:]
        if rest:
            self._partial.append(rest)
            self._partial_len += len(rest)
        if self._partial_len + self._data_len > self._max:
            raise self._too_long()
        return events

    def _too_long(self) -> McpProtocolError:
        return _malformed(self._url, f"an event longer than {self._max} characters", "response_too_large")

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_len += len(value) + 1
            if self._data_len > self._max:
                raise self._too_long()
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SseEvent("\n".join(self._data), self._event or "message", self.last_event_id, self.retry)
        self._data = []
        self._data_len = 0
        self._event = ""
        return event
