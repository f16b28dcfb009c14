"""Qt-free MCP client: Streamable HTTP, the 2026-07-28 stateless form and the 2025 handshake revisions.

``protocol`` holds the pure builders and parsers, ``client`` the thin async runner, ``errors`` the MCP corners of
the app's error tree.
"""

from desktop_app.mcp.client import McpClient
from desktop_app.mcp.errors import (
    McpForbidden,
    McpProtocolError,
    McpRpcError,
    McpSignInRequired,
    UnsupportedProtocolVersion,
)
from desktop_app.mcp.protocol import (
    LATEST,
    LEGACY_VERSIONS,
    MODERN_VERSIONS,
    SUPPORTED_VERSIONS,
    ClientInfo,
    ServerInfo,
    SseEvent,
    SseParser,
    Tool,
    ToolResult,
    build_first_request,
    build_probe_request,
)

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
