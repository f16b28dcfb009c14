"""Qt-free MCP client: Streamable HTTP, the 2026-07-28 stateless form and the 2025 handshake revisions.

The pure builders and parsers, each module one concern: ``jsonrpc`` (messages and ids), ``negotiation`` (versions,
the two eras, what the server said about itself), ``http`` (headers, requests, what a status means), ``results``
(tools pages, tool results), ``sse`` (event streams). ``client`` is the thin async runner over them, ``errors`` the
MCP corners of the app's error tree.

The names below are imported when first asked for (PEP 562), so that a module that needs only ``jsonrpc`` or
``negotiation`` (the bridge, which starts once per host launch) does not load the client and httpx's machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.mcp.client import McpClient
    from desktop_app.mcp.errors import (
        McpForbidden,
        McpProtocolError,
        McpRpcError,
        McpSignInRequired,
        UnsupportedProtocolVersion,
    )
    from desktop_app.mcp.http import build_first_request, build_probe_request
    from desktop_app.mcp.negotiation import (
        LATEST,
        LEGACY_VERSIONS,
        MODERN_VERSIONS,
        SUPPORTED_VERSIONS,
        ClientInfo,
        ServerInfo,
    )
    from desktop_app.mcp.results import Tool, ToolResult
    from desktop_app.mcp.sse import SseEvent, SseParser

#: Each exported name and the module that defines it.
_HOMES = {
    "McpClient": "client",
    "McpForbidden": "errors",
    "McpProtocolError": "errors",
    "McpRpcError": "errors",
    "McpSignInRequired": "errors",
    "UnsupportedProtocolVersion": "errors",
    "build_first_request": "http",
    "build_probe_request": "http",
    "LATEST": "negotiation",
    "LEGACY_VERSIONS": "negotiation",
    "MODERN_VERSIONS": "negotiation",
    "SUPPORTED_VERSIONS": "negotiation",
    "ClientInfo": "negotiation",
    "ServerInfo": "negotiation",
    "Tool": "results",
    "ToolResult": "results",
    "SseEvent": "sse",
    "SseParser": "sse",
}

__all__ = [
    "LATEST",
    "LEGACY_VERSIONS",
    "MODERN_VERSIONS",
    "SUPPORTED_VERSIONS",
    "ClientInfo",
    "McpClient",
    "McpForbidden",
    "McpProtocolError",
    "McpRpcError",
    "McpSignInRequired",
    "ServerInfo",
    "SseEvent",
    "SseParser",
    "Tool",
    "ToolResult",
    "UnsupportedProtocolVersion",
    "build_first_request",
    "build_probe_request",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
