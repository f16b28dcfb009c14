"""The test lab: real servers on loopback (oidc-provider AS, MCP SDK resource server) and a scripted browser."""

from tests.lab.browser import scripted_browser
from tests.lab.servers import (
    LabError,
    RunningAuthServer,
    RunningMcpServer,
    secret_fingerprint,
    start_auth_server,
    start_mcp_server,
)

__all__ = [
    "LabError",
    "RunningAuthServer",
    "RunningMcpServer",
    "scripted_browser",
    "secret_fingerprint",
    "start_auth_server",
    "start_mcp_server",
]
