"""What the era translator (:mod:`desktop_app.bridge.era`) reads and writes: JSON-RPC messages as dicts, the ids of its
own requests, capabilities in each era's shape, and the errors a host gets for what cannot be translated.

Pure functions and small values, no I/O. Sources: the MCP specification 2025-11-25 (``schema.ts``, ``lifecycle.mdx``)
and 2026-07-28 (``schema.ts``, ``basic/index.mdx``, ``versioning.mdx``, ``patterns/mrtr.mdx``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from desktop_app.mcp.jsonrpc import RequestId
from desktop_app.mcp.negotiation import (
    LEGACY_VERSIONS,
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_PROTOCOL_VERSION,
    META_SERVER_INFO,
    MODERN_ERROR_CODES,
    is_modern,
)

JsonObject = dict[str, Any]
Era = Literal["modern", "legacy"]

META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
#: The per-request keys a 2026-07-28 request carries and a 2025 server learnt once, from ``initialize``.
MODERN_REQUEST_META = (META_PROTOCOL_VERSION, META_CLIENT_INFO, META_CLIENT_CAPABILITIES, META_LOG_LEVEL)

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
UNSUPPORTED_PROTOCOL_VERSION = -32022
#: 2025-11-25 "URL elicitation required" (removed in 2026-07-28).
URL_ELICITATION_REQUIRED = -32042
#: 2025-11-25 "resource not found" (2026-07-28 uses -32602).
RESOURCE_NOT_FOUND = -32002

#: Versions a 2025 host may ask for in ``initialize`` that the bridge answers as asked (2024-11-05's stdio is the
#: same; its differences are optional fields).
HOST_LEGACY_VERSIONS = (*LEGACY_VERSIONS, "2024-11-05")
#: Requests that may be answered with an ``InputRequiredResult`` (2026-07-28 ``mrtr.mdx`` "Supported Requests").
INPUT_METHODS = frozenset({"tools/call", "prompts/get", "resources/read"})
#: Results that carry ``ttlMs`` and ``cacheScope`` in 2026-07-28 (``CacheableResult``).
CACHEABLE_METHODS = frozenset(
    {"server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"}
)
#: The requests a server may embed in an ``InputRequiredResult`` (and a 2025 server may send mid-call).
CLIENT_METHODS = frozenset({"elicitation/create", "sampling/createMessage", "roots/list"})
#: (``subscriptions/listen`` filter flag, server capability) of the three list changes.
LIST_CHANGES = (("toolsListChanged", "tools"), ("promptsListChanged", "prompts"), ("resourcesListChanged", "resources"))
#: Syslog order (RFC 5424), the order of MCP's ``LoggingLevel``.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
#: The rounds of input one request may take before the bridge gives up (the SDKs' default cap).
MAX_INPUT_ROUNDS = 10
#: How long the bridge keeps a 2025 server's questions open for a 2026-07-28 host that has not come back with the
#: answers (seconds): a person may take a while to answer in the host, but a host that never retries must not leave
#: the server's request open for ever.
INPUT_WAIT = 600.0
#: What names the bridge in the errors it makes itself.
BRIDGE = "MCP Connector Manager's bridge"


# --- messages ----------------------------------------------------------------------------------------------------


def is_request(message: Mapping[str, Any]) -> bool:
    return isinstance(message.get("method"), str) and "id" in message


def is_notification(message: Mapping[str, Any]) -> bool:
    return isinstance(message.get("method"), str) and "id" not in message


def is_response(message: Mapping[str, Any]) -> bool:
    return "method" not in message and ("result" in message or "error" in message)


def params_of(message: Mapping[str, Any]) -> JsonObject:
    params = message.get("params")
    return dict(params) if isinstance(params, dict) else {}


def meta_of(params: Mapping[str, Any]) -> JsonObject:
    meta = params.get("_meta")
    return dict(meta) if isinstance(meta, dict) else {}


def request(request_id: RequestId, method: str, params: Mapping[str, Any] | None = None) -> JsonObject:
    message: JsonObject = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = dict(params)
    return message


def notification(method: str, params: Mapping[str, Any] | None = None) -> JsonObject:
    message: JsonObject = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = dict(params)
    return message


def result(request_id: RequestId, value: Mapping[str, Any]) -> JsonObject:
    return {"jsonrpc": "2.0", "id": request_id, "result": dict(value)}


def error(request_id: RequestId | None, code: int, message: str, data: object = None) -> JsonObject:
    body: JsonObject = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": body}


def error_object(message: Mapping[str, Any]) -> JsonObject:
    """The ``error`` member of a response (a generic one when it is malformed)."""
    body = message.get("error")
    if isinstance(body, dict) and isinstance(body.get("code"), int) and isinstance(body.get("message"), str):
        return dict(body)
    return {"code": INTERNAL_ERROR, "message": "The server sent a malformed error."}


def with_id(message: Mapping[str, Any], request_id: RequestId) -> JsonObject:
    return {**message, "id": request_id}


def cancelled(request_id: RequestId, reason: str | None = None) -> JsonObject:
    params: JsonObject = {"requestId": request_id}
    if reason:
        params["reason"] = reason
    return notification("notifications/cancelled", params)


def untranslatable(request_id: RequestId, method: str, server_era: str) -> JsonObject:
    """The answer to a request the other era has nothing for: -32601, naming it and why."""
    text = (
        f"{method} cannot be passed on: the server speaks MCP {server_era}, which has no {method} "
        f"and nothing {BRIDGE} could translate it to."
    )
    return error(request_id, METHOD_NOT_FOUND, text)


def looks_modern(body: Mapping[str, Any]) -> bool:
    """Whether an error object is positive evidence of a 2026-07-28 server (``versioning.mdx`` "Backward
    Compatibility"): a modern error code, or a list of supported versions that names a modern one."""
    if body.get("code") in MODERN_ERROR_CODES:
        return True
    data = body.get("data")
    supported = data.get("supported") if isinstance(data, dict) else None
    return isinstance(supported, list) and any(isinstance(v, str) and is_modern(v) for v in supported)


# --- ids ---------------------------------------------------------------------------------------------------------

#: The translator's own request ids and request states. Not the relay's prefix (``mcp-connectors-bridge-``): the
#: relay drops answers to those before the translator sees them.
ID_PREFIX = "mcp-connectors-era-"


@dataclass(slots=True)
class Ids:
    """Fresh ids for the translator's own requests: strings with :data:`ID_PREFIX` and a counter."""

    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next(self, kind: str = "") -> str:
        return f"{ID_PREFIX}{kind}{next(self._counter)}"

    @staticmethod
    def ours(request_id: object) -> bool:
        return isinstance(request_id, str) and request_id.startswith(ID_PREFIX)


# --- capabilities and results ------------------------------------------------------------------------------------

_LEGACY_CLIENT_CAPS = ("experimental", "roots", "sampling", "elicitation")
_SERVER_CAPS = ("experimental", "logging", "completions", "prompts", "resources", "tools")


def _pick(capabilities: object, keys: tuple[str, ...]) -> JsonObject:
    given = capabilities if isinstance(capabilities, dict) else {}
    return {key: given[key] for key in keys if isinstance(given.get(key), dict)}


def modern_client_capabilities(legacy: object) -> JsonObject:
    """A 2025 host's ``initialize`` capabilities as 2026-07-28 ``clientCapabilities``: ``tasks`` left out (an
    extension now), ``roots.listChanged`` left out (``notifications/roots/list_changed`` is gone)."""
    picked = _pick(legacy, _LEGACY_CLIENT_CAPS)
    if "roots" in picked:
        picked["roots"] = {}
    return picked


def legacy_client_capabilities(modern: object) -> JsonObject:
    """2026-07-28 ``clientCapabilities`` as 2025 ``initialize`` capabilities (``extensions`` left out)."""
    return _pick(modern, _LEGACY_CLIENT_CAPS)


def server_capabilities(capabilities: object) -> JsonObject:
    """Server capabilities both eras define (2025 ``tasks`` and 2026 ``extensions`` left out: neither crosses)."""
    return _pick(capabilities, _SERVER_CAPS)


def implementation(value: object) -> JsonObject | None:
    """An ``Implementation`` with a string ``name`` and ``version``, else None."""
    if isinstance(value, dict) and isinstance(value.get("name"), str) and isinstance(value.get("version"), str):
        return dict(value)
    return None


def with_acts_as(value: Mapping[str, Any], acts_as: str | None) -> JsonObject:
    """A handshake result whose ``instructions`` end with the ``acts_as`` line."""
    if not acts_as:
        return dict(value)
    instructions = value.get("instructions")
    text = instructions.rstrip() if isinstance(instructions, str) and instructions.strip() else ""
    return {**value, "instructions": f"{text}\n\n{acts_as}" if text else acts_as}


def modern_result(method: str, value: Mapping[str, Any]) -> JsonObject:
    """A 2025 server's result as a 2026-07-28 host reads it: ``resultType`` (required), and for cacheable results
    ``ttlMs`` 0 (stale at once) and ``cacheScope`` ``private`` (it was made for this account)."""
    out = dict(value)
    out.setdefault("resultType", "complete")
    if method in CACHEABLE_METHODS:
        out.setdefault("ttlMs", 0)
        out.setdefault("cacheScope", "private")
    return out


def discover_result(init: Mapping[str, Any], acts_as: str | None) -> JsonObject:
    """A 2025 server's ``initialize`` result as the ``server/discover`` result of a 2026-07-28 server."""
    value: JsonObject = {
        "resultType": "complete",
        "supportedVersions": ["2026-07-28"],
        "capabilities": server_capabilities(init.get("capabilities")),
        "ttlMs": 0,
        "cacheScope": "private",
    }
    info = implementation(init.get("serverInfo"))
    if info is not None:
        value["_meta"] = {META_SERVER_INFO: info}
    if isinstance(init.get("instructions"), str):
        value["instructions"] = init["instructions"]
    return with_acts_as(value, acts_as)


def initialize_result(discovered: Mapping[str, Any], version: str, acts_as: str | None) -> JsonObject:
    """A 2026-07-28 server's ``server/discover`` result as the ``initialize`` result of a 2025 server at
    ``version`` (``serverInfo`` is required there: "unknown" when the server did not say)."""
    meta = discovered.get("_meta")
    info = implementation(meta.get(META_SERVER_INFO) if isinstance(meta, dict) else None)
    value: JsonObject = {
        "protocolVersion": version,
        "capabilities": server_capabilities(discovered.get("capabilities")),
        "serverInfo": info or {"name": "unknown", "version": "unknown"},
    }
    if isinstance(discovered.get("instructions"), str):
        value["instructions"] = discovered["instructions"]
    return with_acts_as(value, acts_as)


def level_rank(level: object) -> int | None:
    return LOG_LEVELS.index(level) if isinstance(level, str) and level in LOG_LEVELS else None
