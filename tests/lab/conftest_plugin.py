"""pytest fixtures of the test lab. Enabled by ``pytest_plugins = ["tests.lab.conftest_plugin"]``.

- ``lab_as`` (session): the default authorization server (root issuer, RFC 8414 + OpenID discovery,
  resource indicators with JWT access tokens).
- ``lab_mcp`` (session): an MCP server, prm_mode "header", protected by ``lab_as``.
- ``lab_as_factory`` / ``lab_mcp_factory`` (session): start other flavours on demand; whatever they
  started is stopped at the end of the session (or earlier by the test's own ``stop()``).
- ``lab_sdk_demo_factory`` / ``lab_fastmcp_factory`` (session): authorization servers from other projects, each with
  its MCP server (the MCP TypeScript SDK's demo AS; FastMCP's InMemoryOAuthProvider), started on demand.
- ``private_secret_service`` (session, autouse) and ``secret_service``: a private gnome-keyring for every test
  (``tests/lab/secret_service.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.lab.servers import (
    RunningAuthServer,
    RunningFastMcpServer,
    RunningMcpServer,
    RunningSdkDemoServer,
    start_auth_server,
    start_fastmcp_server,
    start_mcp_server,
    start_sdk_demo_server,
    stop_all,
)

AuthServerFactory = Callable[..., RunningAuthServer]
McpServerFactory = Callable[..., RunningMcpServer]

pytest_plugins = ["tests.lab.secret_service"]


@pytest.fixture(scope="session")
def lab_as_factory() -> Iterator[AuthServerFactory]:
    """``lab_as_factory(**options) -> RunningAuthServer`` (options as for ``start_auth_server``)."""
    started: list[RunningAuthServer] = []

    def factory(**options: Any) -> RunningAuthServer:
        server = start_auth_server(**options)
        started.append(server)
        return server

    yield factory
    stop_all(started)


@pytest.fixture(scope="session")
def lab_mcp_factory() -> Iterator[McpServerFactory]:
    """``lab_mcp_factory(issuer_or_as, **options) -> RunningMcpServer`` (as ``start_mcp_server``)."""
    started: list[RunningMcpServer] = []

    def factory(issuer: str | RunningAuthServer, **options: Any) -> RunningMcpServer:
        server = start_mcp_server(issuer, **options)
        started.append(server)
        return server

    yield factory
    stop_all(started)


@pytest.fixture(scope="session")
def lab_as(lab_as_factory: AuthServerFactory) -> RunningAuthServer:
    """The default lab authorization server, shared by the whole session."""
    return lab_as_factory()


@pytest.fixture(scope="session")
def lab_mcp(lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory) -> RunningMcpServer:
    """The default lab MCP server (PRM named only in the challenge header), protected by ``lab_as``."""
    return lab_mcp_factory(lab_as, prm_mode="header")


# ------------------------------------------------------------------------------------------------
# Third-party pairs (an authorization server from another project with its MCP server)
# ------------------------------------------------------------------------------------------------

SdkDemoServerFactory = Callable[..., RunningSdkDemoServer]
FastMcpServerFactory = Callable[..., RunningFastMcpServer]


@pytest.fixture(scope="session")
def lab_sdk_demo_factory() -> Iterator[SdkDemoServerFactory]:
    """``lab_sdk_demo_factory(**options) -> RunningSdkDemoServer``: the MCP TypeScript SDK's demo AS and an MCP
    server on the same SDK (options as for ``start_sdk_demo_server``); stopped at the end of the session."""
    started: list[RunningSdkDemoServer] = []

    def factory(**options: Any) -> RunningSdkDemoServer:
        server = start_sdk_demo_server(**options)
        started.append(server)
        return server

    yield factory
    stop_all(started)


@pytest.fixture(scope="session")
def lab_fastmcp_factory() -> Iterator[FastMcpServerFactory]:
    """``lab_fastmcp_factory(**options) -> RunningFastMcpServer``: FastMCP with its InMemoryOAuthProvider (options as
    for ``start_fastmcp_server``, e.g. ``mode="legacy"``); stopped at the end of the session."""
    started: list[RunningFastMcpServer] = []

    def factory(**options: Any) -> RunningFastMcpServer:
        server = start_fastmcp_server(**options)
        started.append(server)
        return server

    yield factory
    stop_all(started)
