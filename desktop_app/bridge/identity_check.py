"""Server identity in the bridge (ext-auth pull request 17; docs/decisions/0026, 0025): the evidence gathered once per
bridge run, and the tool gate's identity input for every ``tools/list`` page.

The relay hands over the server's own handshake answer (``initialize`` or ``server/discover``, before any
translation: ``capabilities.extensions`` names the extension there) with :meth:`BridgeIdentity.handshake`. Before the
first ``tools/list`` answer or ``tools/call`` reaches the tool gate, the relay awaits :meth:`BridgeIdentity.ready`:
for a server that declares the extension, ``identity/get`` and ``identity/challenge`` go up once (requests of the
bridge's own; nothing is sent to a server that does not declare it). :meth:`BridgeIdentity.verdict` (the gate's
:data:`~desktop_app.bridge.tool_gate.IdentityCheck`) then runs :func:`~desktop_app.tools.identity.attest` on each
page: the key checked against its pin (pinned on first use), each tool's signature.

- Asking failed for a reason of the network or the sign-in (not the server's answer): nothing is remembered, every
  tool is refused with that reason, and the next list or call asks again.
- No handshake answer seen (a 2026-07-28 host that never sends ``server/discover``): the bridge asks the server for
  it itself. Before the server's era is known (a host whose very first request is a call), nothing can be asked: a
  server with a pinned key is refused until it is, one without passes as a server without the extension.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from desktop_app.errors import ConnectorError, one_line
from desktop_app.tools.identity_pins import KeyPins
from desktop_app.tools.model import IdentityVerdict

if TYPE_CHECKING:
    from desktop_app.tools.identity import Evidence
    from desktop_app.tools.identity_fetch import Request

log = logging.getLogger(__name__)


class BridgeIdentity:
    """One bridge run's view of the server's identity (see the module). ``pins``: the registry."""

    def __init__(
        self, server_id: int, server_url: str, pins: KeyPins, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._server_id = server_id
        self._url = server_url
        self._pins = pins
        self._clock = clock
        self._handshake: Mapping[str, Any] | None = None
        self._evidence: Evidence | None = None
        self._unreachable: str | None = None
        self._gathering: asyncio.Task[None] | None = None

    def handshake(self, result: Mapping[str, Any]) -> None:
        """The server's answer to ``initialize`` or ``server/discover`` (a new one, after a new session or a ping, is
        read again at the next :meth:`ready`)."""
        if result != self._handshake:
            self._handshake = dict(result)
            self._evidence = None

    async def ready(self, request: Request, *, modern: bool) -> None:
        """Gather the evidence when it is not there yet (once; concurrent callers wait for the same requests). A
        2026-07-28 server whose handshake answer was not seen (the host never asked for ``server/discover``) is asked
        for it first (``modern``)."""
        if self._evidence is not None or (self._handshake is None and not modern):
            return
        if self._gathering is None or self._gathering.done():
            self._gathering = asyncio.ensure_future(self._gather(request))
        await asyncio.shield(self._gathering)

    async def _gather(self, request: Request) -> None:
        # The identity modules (~5 ms) load here, at the first list or call, not before the host's initialize is
        # answered (docs/decisions/0019, "Start-up"); a warm starter has them loaded already (bridge/warm.py).
        from desktop_app.tools.identity_fetch import gather_evidence

        try:
            if self._handshake is None:
                self.handshake(await request("server/discover", {}))
            handshake = self._handshake or {}
            evidence = await gather_evidence(request, handshake, server_url=self._url, now=self._clock)
        except ConnectorError as exc:  # the network, the sign-in, a refused discover: ask again next time
            log.info("Could not ask the server for its identity: %s", exc.code)
            self._unreachable = f"its identity could not be checked ({one_line(exc.message, 160)})"
            return
        self._unreachable = None
        if handshake == self._handshake:
            self._evidence = evidence

    def verdict(self, tools: Sequence[Mapping[str, Any]]) -> IdentityVerdict | None:
        """The tool gate's identity input for one page of tools (``[]``: the server's standing alone, for a call)."""
        if self._handshake is None:
            if self._unreachable is None and self._pins.key_pin(self._server_id) is None:
                return None  # nothing asked yet, nothing pinned: as a server without the extension
            return IdentityVerdict(server_refused=self._unreachable or "its identity has not been checked yet")
        if self._evidence is None:
            return IdentityVerdict(server_refused=self._unreachable or "its identity has not been checked yet")
        from desktop_app.tools.identity import attest  # loaded by _gather already (see there)

        found = attest(self._server_id, self._handshake, self._evidence, tools, self._pins, now=self._clock())
        if found.server_refused is not None:
            log.warning("Every tool of this server is refused: %s", found.server_refused)
        return IdentityVerdict(server_refused=found.server_refused, holds=found.holds)
