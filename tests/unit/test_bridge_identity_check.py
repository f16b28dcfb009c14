"""The bridge's identity check (desktop_app/bridge/identity_check.py) without a server: what it asks and when, and
what the tool gate is told when it could not ask. Against the lab's identity server through the real bridge, in every
pairing of eras: tests/integration/test_bridge_tools.py."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from desktop_app.accounts.models import ServerSettings
from desktop_app.bridge.identity_check import BridgeIdentity
from desktop_app.errors import NetworkError
from desktop_app.mcp.errors import McpRpcError
from desktop_app.storage.registry import SqliteRegistry
from desktop_app.tools.identity_pins import KeyPin

DECLARED = {"capabilities": {"tools": {}, "extensions": {"io.modelcontextprotocol/server-identity": {"version": "1"}}}}
PLAIN = {"capabilities": {"tools": {}}}


@pytest.fixture
def reg() -> Iterator[SqliteRegistry]:
    registry = SqliteRegistry.in_memory()
    registry.add_server(
        url="https://s.example/mcp", resource="https://s.example/mcp", name="s", settings=ServerSettings(), now=1
    )
    yield registry
    registry.close()


class Server:
    """What the bridge's own requests meet: ``answers`` by method, or ``failure`` raised."""

    def __init__(self, answers: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.asked: list[str] = []
        self.failure: Exception | None = None

    async def request(self, method: str, params: Mapping[str, Any] | None) -> Mapping[str, Any]:
        self.asked.append(method)
        if self.failure is not None:
            raise self.failure
        return self.answers[method]


async def test_a_server_without_the_extension_is_asked_nothing_and_refuses_nothing(reg: SqliteRegistry) -> None:
    identity = BridgeIdentity(1, "https://s.example/mcp", reg)
    identity.handshake(PLAIN)
    server = Server()
    await identity.ready(server.request, modern=False)
    verdict = identity.verdict([{"name": "a"}])
    assert server.asked == [] and verdict is not None and verdict.server_refused is None and not verdict.holds


async def test_a_modern_server_whose_handshake_was_not_seen_is_asked_for_it(reg: SqliteRegistry) -> None:
    identity = BridgeIdentity(1, "https://s.example/mcp", reg)
    server = Server({"server/discover": PLAIN})
    await identity.ready(server.request, modern=True)
    await identity.ready(server.request, modern=True)
    assert server.asked == ["server/discover"]  # once
    assert identity.verdict([]) is not None


async def test_before_anything_can_be_asked_only_a_pinned_server_is_refused(reg: SqliteRegistry) -> None:
    identity = BridgeIdentity(1, "https://s.example/mcp", reg)
    await identity.ready(Server().request, modern=False)  # the era is legacy, yet no handshake was seen
    assert identity.verdict([]) is None
    reg.pin_key(1, KeyPin("SHA256:x", "x", "k", 1.0))
    refused = identity.verdict([])
    assert refused is not None and refused.server_refused == "its identity has not been checked yet"


async def test_a_network_failure_refuses_every_tool_and_is_asked_again(reg: SqliteRegistry) -> None:
    identity = BridgeIdentity(1, "https://s.example/mcp", reg)
    identity.handshake(DECLARED)
    server = Server()
    server.failure = NetworkError("network", "https://s.example/mcp could not be reached.")
    await identity.ready(server.request, modern=False)
    refused = identity.verdict([])
    assert refused is not None and "could not be checked" in (refused.server_refused or "")
    await identity.ready(server.request, modern=False)
    assert server.asked == ["identity/get", "identity/get"]


async def test_a_declared_identity_that_does_not_answer_is_invalid(reg: SqliteRegistry) -> None:
    identity = BridgeIdentity(1, "https://s.example/mcp", reg)
    identity.handshake(DECLARED)
    server = Server()
    server.failure = McpRpcError(-32601, "Method not found", method="identity/get", url="https://s.example/mcp")
    await identity.ready(server.request, modern=False)
    refused = identity.verdict([{"name": "a"}])
    assert refused is not None and "identity/get failed" in (refused.server_refused or "")
