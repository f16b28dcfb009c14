"""Load a connector's tools live, as the command line's ``tools SERVER`` does (docs/decisions/0025, 0026): the
handshake, the server's identity (asked only of a server that declares the extension), ``tools/list``, then the
identity check against the pinned key and the list recorded with its verdict (a first list pins the definitions; a
refused server records nothing). Qt-free: the controller runs :func:`check_tools` as a job.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, Server
from desktop_app.mcp import McpClient, Tool
from desktop_app.tools.control import Observed, ToolControl
from desktop_app.tools.identity import Assessment, assess
from desktop_app.tools.identity_fetch import gather_evidence
from desktop_app.tools.identity_pins import KeyPins
from desktop_app.tools.model import IdentityVerdict


@dataclass(frozen=True, slots=True)
class ToolCheck:
    """What loading the tools found: the server's tools as listed, the connector's records after recording them,
    and the identity check (its ``attestation.server_refused`` set: nothing was recorded)."""

    server: Server
    account: Account
    tools: tuple[Tool, ...]
    observed: Observed
    assessment: Assessment
    checked_at: float


def key_pins(accounts: Accounts) -> KeyPins:
    """The profile's pinned server keys (its registry keeps them)."""
    pins = accounts.registry
    if not isinstance(pins, KeyPins):  # every registry of the app keeps key pins
        raise TypeError("this profile's registry keeps no key pins")
    return pins


async def check_tools(
    accounts: Accounts,
    http: httpx.AsyncClient,
    server: Server,
    account: Account,
    control: ToolControl,
) -> ToolCheck:
    """One live look at the server as ``account`` (its token renewed on the way when needed)."""
    pins = key_pins(accounts)
    session = accounts.session(http, account, server)
    client = McpClient(http, server.resource, auth=session.auth())
    try:
        info = await client.initialize()
        handshake = {"capabilities": info.capabilities}
        evidence = await gather_evidence(client.request, handshake, server_url=server.resource)
        tools = await client.list_tools()
    finally:
        await client.close()
    now = accounts.clock()
    definitions = [tool.definition for tool in tools]
    assessment = assess(server.id, handshake, evidence, definitions, pins, now=now)
    found = assessment.attestation
    verdict = IdentityVerdict(server_refused=found.server_refused, holds=found.holds)
    observed = control.observe(account.id, definitions, identity=verdict)
    current = accounts.registry.account(account.id) or account
    return ToolCheck(server, current, tuple(tools), observed, assessment, now)
