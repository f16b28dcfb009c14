"""Gathering a server's :class:`~desktop_app.tools.identity.Evidence`: the two requests of the draft (§5) and the
domain's DNS record (§3.4), through seams the caller fills.

- ``request(method, params) -> result``: one JSON-RPC request to the server (the command line passes
  :meth:`desktop_app.mcp.client.McpClient.request`; the bridge, its own upstream).
- ``resolver(name) -> TXT strings``: a DNS lookup. None (the default) means DNS is not asked: the app ships no DNS
  client (ADR 0026); tests pass a function, a real one would query TXT with a DNSSEC-validating resolver.

Nothing is sent to a server that does not declare the extension: it works exactly as before. When to gather: once
per connection, after the handshake and before any ``tools/list`` reaches a host (ADR 0026).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from desktop_app.errors import ProtocolViolation, RequestFailed, one_line
from desktop_app.tools.identity import Challenge, Evidence, declared, new_challenge
from desktop_app.tools.identity_read import MAX_DNS_RECORDS, dns_name

log = logging.getLogger(__name__)

Request = Callable[[str, Mapping[str, Any] | None], Awaitable[Mapping[str, Any]]]
Resolver = Callable[[str], Awaitable[Sequence[str]]]

IDENTITY_GET = "identity/get"
IDENTITY_CHALLENGE = "identity/challenge"


async def gather_evidence(
    request: Request,
    handshake_result: Mapping[str, Any],
    *,
    server_url: str,
    resolver: Resolver | None = None,
    now: Callable[[], float] = time.time,
    challenge: Challenge | None = None,
) -> Evidence:
    """``identity/get``, then ``identity/challenge`` with a fresh nonce (or ``challenge``), then DNS when a resolver
    is given. A refused request or a malformed answer is recorded in :attr:`Evidence.failure` (the server's fault);
    network trouble and sign-in errors propagate, as for any other request."""
    if not declared(handshake_result):
        return Evidence()
    try:
        identity = await request(IDENTITY_GET, {})
    except (RequestFailed, ProtocolViolation) as exc:
        return Evidence(failure=f"{IDENTITY_GET} failed ({one_line(str(exc), 160)})")
    sent = challenge if challenge is not None else new_challenge(now())
    try:
        answer = await request(IDENTITY_CHALLENGE, sent.params())
    except (RequestFailed, ProtocolViolation) as exc:
        failed = f"{IDENTITY_CHALLENGE} failed ({one_line(str(exc), 160)})"
        return Evidence(identity=identity, challenge=sent, failure=failed)
    return Evidence(identity, sent, answer, await _txt_records(resolver, server_url))


async def _txt_records(resolver: Resolver | None, server_url: str) -> tuple[str, ...] | None:
    """The TXT strings at ``_mcp-identity.<host>``; None when not asked (no resolver, an IP address) or the lookup
    failed (a DNS failure is not the server's: the check is left out, logged)."""
    name = dns_name(server_url)
    if resolver is None or name is None:
        return None
    try:
        records = await resolver(name)
    except Exception as exc:  # noqa: BLE001 - a resolver's failure of any kind leaves DNS unchecked, never more
        log.info("DNS lookup of %s failed: %s", name, one_line(str(exc), 160))
        return None
    return tuple(r for r in list(records)[:MAX_DNS_RECORDS] if isinstance(r, str))
