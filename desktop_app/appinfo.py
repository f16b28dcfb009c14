"""The one source of the application's identity (name, version, ids, user agent)."""

from __future__ import annotations

APP_NAME = "MCP Connector Manager"
APP_ID = "io.github.mcp_connectors.ConnectorManager"
COMMAND = "mcp-connectors"
VERSION = "0.1.0"
USER_AGENT = f"{COMMAND}/{VERSION}"
#: Where a publisher hosts the Client ID Metadata Document shipped in ``packaging/``.
#: Configuration, not code: ``--client-metadata-url`` or ``MCP_CONNECTORS_CLIENT_METADATA_URL`` override it, and
#: without one of them the engine falls back to dynamic registration.
DEFAULT_CLIENT_METADATA_URL: str | None = None
#: The loopback ports the shipped Client ID Metadata Document names (``packaging/client-metadata.json``), besides its
#: port-less redirect URI: a static document cannot name an ephemeral port, and some authorization servers accept
#: only a redirect URI registered exactly, port included. The first one free is used; then any port.
CALLBACK_PORTS = (27485, 27486, 27487)
