"""What the window and the command line do with a connector's tools: read them, flip switches, approve what waits,
change the profile's defaults, and record a list read live (``mcp-connectors tools SERVER``).

Each call is one transaction of the store; the bridges of the connector notice a change within their poll (2 s) and
tell their hosts. Errors: :class:`~desktop_app.errors.UnknownTool` (a name the connector has not seen),
:class:`~desktop_app.errors.ReviewOutdated` (approving a definition that changed again since it was shown),
StorageError.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from desktop_app.errors import ToolDefinitionUnusable
from desktop_app.tools import policy
from desktop_app.tools.canonical import ToolDefinition, definition_of
from desktop_app.tools.model import IdentityVerdict, ToolBook, ToolChange, ToolRecord, ToolSettings
from desktop_app.tools.ports import ToolStore


@dataclass(frozen=True, slots=True)
class Observed:
    """A whole list recorded: the connector's records after it, the names newly held, and the tools whose definition
    could not be pinned (name → why; they are not recorded)."""

    book: ToolBook
    held: tuple[str, ...]
    unusable: Mapping[str, str]


class ToolControl:
    """The tool records of a profile (see the module)."""

    def __init__(self, store: ToolStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    # -- the profile's defaults ------------------------------------------------------------------------------
    def settings(self) -> ToolSettings:
        return self._store.tool_settings()

    def set_settings(self, settings: ToolSettings) -> None:
        self._store.set_tool_settings(settings)

    # -- a connector's tools ---------------------------------------------------------------------------------
    def book(self, account_id: int) -> ToolBook:
        """Every tool the connector has seen, by name (gone ones too: ``record.present``)."""
        return self._store.tool_book(account_id)

    def tools(self, account_id: int) -> list[ToolRecord]:
        """The connector's tools, by name."""
        return sorted(self.book(account_id).records.values(), key=lambda r: r.name)

    def waiting(self, account_id: int) -> list[ToolRecord]:
        """The tools that wait for the person's review, by name."""
        return policy.waiting(self.book(account_id))

    def waiting_by_account(self) -> Mapping[int, int]:
        """Account id → how many tools wait for a review (for the tray: connectors waiting)."""
        return self._store.tools_waiting()

    def revision(self, account_id: int) -> int:
        return self._store.tool_revision(account_id)

    def set_enabled(self, account_id: int, names: Sequence[str], enabled: bool) -> list[ToolRecord]:
        """Turn the named tools on or off; returns their records after. A held tool stays held (its switch applies
        once it is approved)."""
        book, _ = self._store.update_tools(
            account_id, lambda book, settings: policy.set_enabled(book, names, enabled), now=self._clock()
        )
        return [book.records[name] for name in dict.fromkeys(names)]

    def approve(
        self, account_id: int, reviewed: Mapping[str, str | None] | None = None, *, turn_on: bool | None = None
    ) -> list[ToolRecord]:
        """Approve what waits: everything (``reviewed`` None), or the named tools, each with the fingerprint of the
        definition the person saw (``record.current.fingerprint``; None: whatever is pending now). ``turn_on``: None
        follows the rules (a changed tool keeps its switch, a new one is turned on); True or False sets the switch of
        every tool approved, in the same transaction (the window's "Leave off" for a new tool). Returns the records
        approved, after."""

        def decide(book: ToolBook, settings: ToolSettings) -> ToolChange:
            change = policy.approve(book, reviewed, now=self._clock())
            if turn_on is None:
                return change
            return dataclasses.replace(
                change, write=tuple(dataclasses.replace(r, enabled=turn_on) for r in change.write)
            )

        book, change = self._store.update_tools(account_id, decide, now=self._clock())
        return [book.records[r.name] for r in change.write]

    def observe(
        self, account_id: int, entries: Sequence[Mapping[str, Any]], *, identity: IdentityVerdict | None = None
    ) -> Observed:
        """Record a complete list of the server's tools, read live (its first use pins it, as a bridge's would);
        nothing when the identity check refuses the server."""
        definitions: dict[str, ToolDefinition] = {}
        unusable: dict[str, str] = {}
        for entry in entries:
            name = entry.get("name")
            if not isinstance(name, str) or name in definitions or name in unusable:
                continue
            try:
                definitions[name] = definition_of(entry)
            except ToolDefinitionUnusable as exc:
                unusable[name] = exc.message
        if identity is not None and identity.server_refused is not None:  # perhaps an impostor: nothing is pinned
            return Observed(self.book(account_id), (), unusable)
        names = [*definitions, *unusable]
        listed = list(definitions.values())
        book, change = self._store.update_tools(
            account_id,
            lambda book, settings: policy.observe(
                book, listed, settings=settings, complete=names, identity=identity, now=self._clock()
            ),
            now=self._clock(),
        )
        held = tuple(r.name for r in change.write if r.waits_for_review)
        return Observed(book, held, unusable)
