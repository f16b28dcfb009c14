"""The gate a bridge puts between a host and a server's tools: which tools of a ``tools/list`` page the host may see,
and whether a ``tools/call`` may go to the server. Sans-IO over a :class:`~desktop_app.tools.ports.ToolStore` (each
page is one transaction; a call one read), so that a switch the person flips in the window applies to the next call.

A page's entries are pinned (:func:`~desktop_app.tools.canonical.definition_of`) and observed
(:func:`~desktop_app.tools.policy.observe`); the host sees, in the server's own words (``_meta`` included), the
entries whose tool is on. An entry that is not an object with a string name, or whose definition cannot be pinned
(NaN, a lone surrogate), is left out; a name listed twice is kept once (the first). When the identity check refuses
the server, the host sees no tool and nothing is pinned.

A call of a tool the connector has no record of is refused ("unknown") once the connector's first complete list was
seen; before it (a host that calls before it lists), nothing has been decided yet and the call passes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop_app.errors import RefusalReason, ToolDefinitionUnusable, ToolRefused, one_line
from desktop_app.tools.canonical import ToolDefinition, definition_of
from desktop_app.tools.model import Connector, IdentityVerdict, ToolState
from desktop_app.tools.policy import observe
from desktop_app.tools.ports import ToolStore

log = logging.getLogger(__name__)

#: What a refusal says, for logs and the command line (the bridge words it for hosts: desktop_app/bridge/words.py).
_SAYS: dict[RefusalReason, str] = {
    "off": "is turned off for this connector",
    "changed": "changed on the server since it was approved and waits for a review",
    "new": "is new on the server and waits for approval",
    "identity": "is held by the identity check",
    "server": "cannot be used: the server's identity is not accepted",
    "unknown": "has not been seen in this connector's list of tools",
}


@dataclass(frozen=True, slots=True)
class GatedPage:
    """One ``tools/list`` page through the gate: the entries the host may see (as the server sent them), the names
    newly held by this page, and the connector's revision once it was stored."""

    visible: tuple[Any, ...]
    held: tuple[str, ...]
    revision: int


class ToolGate:
    """One connector's gate (see the module). ``clock``: seconds since the epoch, for the records' times."""

    def __init__(self, store: ToolStore, connector: Connector, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._connector = connector
        self._clock = clock
        #: Names of the list being read from its first page (None: no list started at its first page).
        self._listing: dict[str, None] | None = None
        #: Tools the server lists with a definition that cannot be pinned: refused, never passed on.
        self._unusable: dict[str, str] = {}

    @property
    def connector(self) -> Connector:
        return self._connector

    def page(
        self,
        entries: Sequence[object],
        *,
        first_page: bool,
        last_page: bool,
        identity: IdentityVerdict | None = None,
    ) -> GatedPage:
        """Observe one page (``first_page``: asked without a cursor; ``last_page``: answered without
        ``nextCursor``) and say what the host may see of it. Raises StorageError when the records cannot be read
        or written (the caller fails closed)."""
        if first_page:
            self._listing = {}
        definitions: dict[str, tuple[ToolDefinition, Mapping[str, Any]]] = {}
        for entry in entries:
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or not isinstance(name, str) or name in definitions:
                continue
            if self._listing is not None:
                self._listing[name] = None
            try:
                definitions[name] = (definition_of(entry), entry)
            except ToolDefinitionUnusable as exc:
                log.warning("%s", exc.message)
                self._unusable[name] = exc.message
                continue
            self._unusable.pop(name, None)
        complete = tuple(self._listing) if last_page and self._listing is not None else None
        if last_page:
            self._listing = None
        if identity is not None and identity.server_refused is not None:
            return GatedPage((), (), self._store.tool_revision(self._connector.account_id))
        listed = [definition for definition, _ in definitions.values()]
        book, change = self._store.update_tools(
            self._connector.account_id,
            lambda book, settings: observe(
                book, listed, settings=settings, complete=complete, identity=identity, now=self._clock()
            ),
            now=self._clock(),
        )
        held = tuple(r.name for r in change.write if r.state is ToolState.HELD)
        if change.event:
            log.info("Tools held until the person reviews them: %s", change.event)
        visible = tuple(
            entry
            for name, (_, entry) in definitions.items()
            if (record := book.records.get(name)) is not None and record.state is ToolState.ON
        )
        return GatedPage(visible, held, book.revision)

    def check_call(self, name: object, *, identity: IdentityVerdict | None = None) -> ToolRefused | None:
        """None when a ``tools/call`` of ``name`` may go to the server, else why not. A name that is not a string is
        the server's to refuse. Raises StorageError when the records cannot be read (the caller fails closed)."""
        if not isinstance(name, str):
            return None
        if identity is not None and identity.server_refused is not None:
            return self._refused(name, "server", identity.server_refused)
        if name in self._unusable:
            return self._refused(name, "unknown", self._unusable[name])
        record = self._store.tool_record(self._connector.account_id, name)
        if record is None:
            if not self._store.tool_book(self._connector.account_id).listed:
                return None  # before the connector's first complete list there is nothing to hold it against
            return self._refused(name, "unknown", None)
        reason = record.refusal()
        if reason is None:
            return None
        return self._refused(name, reason, record.identity_hold if reason == "identity" else None)

    def revision(self) -> int:
        """The connector's revision now (a cheap read: a running bridge polls it)."""
        return self._store.tool_revision(self._connector.account_id)

    def _refused(self, name: str, reason: RefusalReason, detail: str | None) -> ToolRefused:
        c = self._connector
        return ToolRefused(
            f"The tool {one_line(name, 80)!r} of {c.server_name} ({c.account_name}) {_SAYS[reason]}.",
            tool=name,
            reason=reason,
            server=c.server_name,
            account_id=c.account_id,
            account=c.account_name,
            detail=detail,
        )
