"""What the tool control needs from storage (implemented by :class:`desktop_app.storage.tool_store.SqliteToolStore`).

Every method is one transaction of its own; :meth:`ToolStore.update_tools` reads, decides and writes in one, so two
processes (two bridges of one connector, a bridge and the window) never overwrite each other's decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from desktop_app.tools.model import ToolBook, ToolChange, ToolRecord, ToolSettings

#: Decides what to store from what is stored (and the profile's settings); may raise to store nothing.
Decide = Callable[[ToolBook, ToolSettings], ToolChange]


class ToolStore(Protocol):
    def tool_settings(self) -> ToolSettings: ...

    def set_tool_settings(self, settings: ToolSettings) -> None: ...

    def tool_book(self, account_id: int) -> ToolBook:
        """The connector's records (none yet: an empty book, not listed, revision 0)."""
        ...

    def tool_record(self, account_id: int, name: str) -> ToolRecord | None: ...

    def tool_revision(self, account_id: int) -> int:
        """A number that grows with every change to the connector's records (0: none yet); cheap to read."""
        ...

    def update_tools(self, account_id: int, decide: Decide, *, now: float) -> tuple[ToolBook, ToolChange]:
        """Apply what ``decide`` returns in the same transaction that read the book; a change that is not empty
        raises the revision by one and, with an ``event``, adds it to the account's activity. Returns the book after
        and the change. Unknown account: ConfigurationError ``unknown_account``."""
        ...

    def tools_waiting(self) -> Mapping[int, int]:
        """Account id → how many of its tools wait for the person's review (accounts with none are left out)."""
        ...
