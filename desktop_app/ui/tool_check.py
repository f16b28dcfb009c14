"""Load a connector's tools live, as the command line's ``tools SERVER`` does (docs/decisions/0025, 0026): the
handshake, the server's identity (asked only of a server that declares the extension), ``tools/list``, then the
identity check against the pinned key and the list recorded with its verdict (a first list pins the definitions; a
refused server records nothing): :mod:`desktop_app.tools.live_check`. Qt-free: the controller runs
:func:`check_tools` as a job.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, Server
from desktop_app.mcp import Tool
from desktop_app.tools.control import Observed, ToolControl
from desktop_app.tools.identity import Assessment
from desktop_app.tools.identity_pins import KeyPins
from desktop_app.tools.live_check import check_live, pins_of, record_check


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
    return pins_of(accounts.registry)


async def check_tools(
    accounts: Accounts,
    http: httpx.AsyncClient,
    server: Server,
    account: Account,
    control: ToolControl,
) -> ToolCheck:
    """One live look at the server as ``account`` (its token renewed on the way when needed)."""
    session = accounts.session(http, account, server)
    found = await check_live(http, server.id, server.resource, session.auth(), key_pins(accounts), clock=accounts.clock)
    observed = record_check(found, control, account.id)
    current = accounts.registry.account(account.id) or account
    return ToolCheck(server, current, found.tools, observed, found.assessment, found.checked_at)
