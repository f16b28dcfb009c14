"""The test lab: real servers on loopback (oidc-provider AS, MCP SDK resource server, third-party AS + MCP pairs) and a
scripted browser."""

from tests.lab.browser import scripted_browser
from tests.lab.servers import (
    LabError,
    RunningAuthServer,
    RunningFastMcpServer,
    RunningMcpServer,
    RunningSdkDemoServer,
    secret_fingerprint,
    start_auth_server,
    start_fastmcp_server,
    start_mcp_server,
    start_sdk_demo_server,
)

__all__ = [
    "LabError",
    "RunningAuthServer",
    "RunningFastMcpServer",
    "RunningMcpServer",
    "RunningSdkDemoServer",
    "scripted_browser",
    "secret_fingerprint",
    "start_auth_server",
    "start_fastmcp_server",
    "start_mcp_server",
    "start_sdk_demo_server",
]
