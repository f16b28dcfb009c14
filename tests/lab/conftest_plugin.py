"""pytest fixtures of the test lab. Enabled by ``pytest_plugins = ["tests.lab.conftest_plugin"]``.

- ``lab_as`` (session): the default authorization server (root issuer, RFC 8414 + OpenID discovery,
  resource indicators with JWT access tokens).
- ``lab_mcp`` (session): an MCP server, prm_mode "header", protected by ``lab_as``.
- ``lab_as_factory`` / ``lab_mcp_factory`` (session): start other flavours on demand; whatever they
  started is stopped at the end of the session (or earlier by the test's own ``stop()``).
- ``private_secret_service`` (session, autouse) and ``secret_service``: a private gnome-keyring for every test
  (``tests/lab/secret_service.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.lab.servers import (
    RunningAuthServer,
    RunningMcpServer,
    start_auth_server,
    start_mcp_server,
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
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def lab_mcp_factory() -> Iterator[McpServerFactory]:
    """``lab_mcp_factory(issuer_or_as, **options) -> RunningMcpServer`` (as ``start_mcp_server``)."""
    started: list[RunningMcpServer] = []

    def factory(issuer: str | RunningAuthServer, **options: Any) -> RunningMcpServer:
        server = start_mcp_server(issuer, **options)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def lab_as(lab_as_factory: AuthServerFactory) -> RunningAuthServer:
    """The default lab authorization server, shared by the whole session."""
    return lab_as_factory()


@pytest.fixture(scope="session")
def lab_mcp(lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory) -> RunningMcpServer:
    """The default lab MCP server (PRM named only in the challenge header), protected by ``lab_as``."""
    return lab_mcp_factory(lab_as, prm_mode="header")
