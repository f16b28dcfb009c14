"""Qt-free MCP client: Streamable HTTP, the 2026-07-28 stateless form and the 2025 handshake revisions.

The pure builders and parsers, each module one concern: ``jsonrpc`` (messages and ids), ``negotiation`` (versions,
the two eras, what the server said about itself), ``http`` (headers, requests, what a status means), ``results``
(tools pages, tool results), ``sse`` (event streams). ``client`` is the thin async runner over them, ``errors`` the
MCP corners of the app's error tree.
"""

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
