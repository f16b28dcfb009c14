"""One live look at a server's tools, as ``tools SERVER``, ``identity SERVER`` and the window's Tools tab take it
(docs/decisions/0025, 0026): the handshake, the server's identity evidence (asked only of a server that declares
the extension), ``tools/list``, then the identity check against the pinned key (a first key is pinned, a rotation
its pinned key signed is followed). :func:`record_check` then records the list with the check's verdict, as a bridge
would (a first list pins the definitions; a refused server records nothing).

The client is looked up on :mod:`desktop_app.mcp` at each call: tests and the lab put scripted stand-ins there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from desktop_app import mcp
from desktop_app.mcp.negotiation import ServerInfo
from desktop_app.mcp.results import Tool
from desktop_app.tools.control import Observed, ToolControl
from desktop_app.tools.identity import Assessment, Evidence, assess
from desktop_app.tools.identity_fetch import gather_evidence
from desktop_app.tools.identity_pins import KeyPins
from desktop_app.tools.model import IdentityVerdict


@dataclass(frozen=True, slots=True)
class LiveCheck:
    """What the look found: what the server said about itself, its identity evidence, its tools as listed, and the
    identity check of both (``assessment.attestation.server_refused`` set: the server is refused)."""

    info: ServerInfo
    evidence: Evidence
    tools: tuple[Tool, ...]
    assessment: Assessment
    checked_at: float

    @property
    def definitions(self) -> list[Mapping[str, Any]]:
        return [tool.definition for tool in self.tools]

    @property
    def verdict(self) -> IdentityVerdict:
        """The identity check as tool control records it."""
        found = self.assessment.attestation
        return IdentityVerdict(server_refused=found.server_refused, holds=found.holds)


def pins_of(registry: object) -> KeyPins:
    """The profile's pinned server keys (its registry keeps them)."""
    if not isinstance(registry, KeyPins):  # every registry of the app keeps key pins
        raise TypeError("this profile's registry keeps no key pins")
    return registry


async def check_live(
    http: httpx.AsyncClient,
    server_id: int,
    resource: str,
    auth: httpx.Auth | None,
    pins: KeyPins,
    *,
    clock: Callable[[], float],
    on_connected: Callable[[ServerInfo], None] | None = None,
) -> LiveCheck:
    """Connect to ``resource`` with ``auth``, gather the identity evidence and the tools, and check them against
    ``pins``. ``on_connected`` is told what the server said about itself as soon as the handshake is done."""
    client = mcp.McpClient(http, resource, auth=auth)
    try:
        info = await client.initialize()
        if on_connected is not None:
            on_connected(info)
        handshake = {"capabilities": info.capabilities}
        evidence = await gather_evidence(client.request, handshake, server_url=resource)
        tools = await client.list_tools()
    finally:
        await client.close()
    now = clock()
    assessment = assess(server_id, handshake, evidence, [tool.definition for tool in tools], pins, now=now)
    return LiveCheck(info, evidence, tools, assessment, now)


def record_check(check: LiveCheck, control: ToolControl, account_id: int) -> Observed:
    """Record the listed tools for the account's connector with the identity check's verdict."""
    return control.observe(account_id, check.definitions, identity=check.verdict)
