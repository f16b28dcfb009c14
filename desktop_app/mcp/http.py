"""MCP's use of HTTP, without I/O: the headers each request carries, the requests built from them, and what an
HTTP status says before any JSON-RPC is read.

Modern (2026-07-28) POSTs mirror their method, the name they act on and the tool arguments a tool's schema marks
with ``x-mcp-header`` into headers, so that intermediaries can route without reading the body; legacy POSTs carry
the protocol version and session id after ``initialize``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from desktop_app.errors import ConfigurationError, ConnectorError, ProtocolViolation, ServerUnavailable, one_line
from desktop_app.mcp.errors import McpForbidden, McpProtocolError, McpSignInRequired
from desktop_app.mcp.jsonrpc import JsonObject, RequestId, RpcError, RpcResult, rpc_error
from desktop_app.mcp.negotiation import (
    DEFAULT_CLIENT_INFO,
    LATEST,
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    ClientInfo,
    initialize_params,
    is_modern,
)
from desktop_app.oauth.challenge import bearer_challenge

ACCEPT = "application/json, text/event-stream"
HEADER_PROTOCOL_VERSION = "MCP-Protocol-Version"
HEADER_SESSION_ID = "Mcp-Session-Id"
HEADER_METHOD = "Mcp-Method"
HEADER_NAME = "Mcp-Name"
HEADER_PARAM_PREFIX = "Mcp-Param-"

#: Methods whose name or URI is mirrored into ``Mcp-Name`` (2026-07-28 "Standard Request Headers").
_NAME_PARAMS = {"tools/call": "name", "resources/read": "uri", "prompts/get": "name"}

_HEADER_PLAIN = re.compile(r"[\x20-\x7e]*")
_B64_SENTINEL = re.compile(r"=\?base64\?.*\?=", re.DOTALL)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class HeaderParam:
    """A tool argument mirrored into ``Mcp-Param-{header}`` (2026-07-28 ``x-mcp-header``)."""

    header: str
    path: tuple[str, ...]


# --- header values ------------------------------------------------------------------------------------------


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


def valid_session_id(session_id: str) -> bool:
    """A session id is visible ASCII, nothing else (2025-11-25 ``transports.mdx`` "Session Management")."""
    return bool(session_id) and all(0x21 <= ord(c) <= 0x7E for c in session_id)


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


# --- HTTP answers -------------------------------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _insufficient_scope(www_authenticate: str | None) -> bool:
    """Whether a Bearer challenge asks for more scope (RFC 6750 §3, ``error="insufficient_scope"``)."""
    if not www_authenticate:
        return False
    try:
        challenge = bearer_challenge(www_authenticate)
    except ProtocolViolation:
        return False  # a malformed challenge asks for nothing we could act on: a plain refusal
    return challenge is not None and challenge.insufficient_scope


def answer_error(status: int, message: RpcResult | RpcError | None, *, url: str, method: str) -> ConnectorError:
    """What an answer without a usable result means: the server's JSON-RPC error if it sent one, else a wrong
    address (404) or an HTTP error."""
    if isinstance(message, RpcError):
        return rpc_error(message, method=method, url=url)
    if status == 404:
        return ConfigurationError(
            "not_an_mcp_endpoint",
            f"{url} has no MCP endpoint (HTTP 404 to {method}).",
            url=url,
            hint="Check the server address.",
        )
    return McpProtocolError("http_error", f"{url} answered {method} with HTTP {status}.", url=url)


def status_error(response: httpx.Response, *, url: str, method: str) -> ConnectorError | None:
    """The error an HTTP status is on its own, whatever the body says: a sign-in (401) or a permission (403) the
    auth could not fix, an unavailable server (429, 5xx), a redirect (never followed). None for any other status.
    """
    status = response.status_code
    challenge = response.headers.get("www-authenticate")
    if status == 401:
        return McpSignInRequired(
            f"{url} refused {method} with HTTP 401; the sign-in is missing or no longer valid.",
            url=url,
            www_authenticate=challenge,
        )
    if status == 403:
        if _insufficient_scope(challenge):
            return McpForbidden(
                "insufficient_scope",
                f"{url} needs more permissions for {method} (HTTP 403 insufficient_scope).",
                url=url,
                www_authenticate=challenge,
            )
        return McpForbidden("forbidden", f"{url} refused {method} with HTTP 403.", url=url, www_authenticate=challenge)
    if status == 429 or status >= 500:
        retry_after = response.headers.get("retry-after", "")
        later = f" (retry after {retry_after} s)" if retry_after.isdigit() else ""
        return ServerUnavailable(
            "rate_limited" if status == 429 else "server_unavailable",
            f"{url} answered {method} with HTTP {status}; try again later{later}.",
            url=url,
        )
    if 300 <= status < 400:
        location = one_line(response.headers.get("location", "?"), 200)
        return McpProtocolError(
            "redirected", f"{url} redirected {method} to {location}; use that address if you trust it.", url=url
        )
    return None
