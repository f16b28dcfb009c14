"""Which connectors wait for a review, and when that is news: the tray's count and its one notification per batch.

A *batch* is a set of waiting tools the person was not told of. Each tool waiting is known by its connector, its
name, why it waits and the definition it waits with, so a tool that changes again is news again, while the same
waiting tools seen again (the profile reloaded, one of them approved) are not. What was told is forgotten once it
no longer waits: a change that comes back after an approval is news. Qt-free; the tray asks at every change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from desktop_app.tools.control import ToolControl

#: One waiting tool: (account id, name, hold, identity hold, fingerprint of the definition it waits with).
WaitingTool = tuple[int, str, str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Reviews:
    """What waits now: account id → how many of its tools, and whether some of them were not told of before."""

    waiting: Mapping[int, int]
    news: bool

    @property
    def connectors(self) -> int:
        return len(self.waiting)


class ReviewNotices:
    """Remembers which waiting tools the person was told of (see the module)."""

    def __init__(self, control: ToolControl) -> None:
        self.control = control
        self._told: frozenset[WaitingTool] = frozenset()

    def look(self) -> Reviews:
        """What waits now; ``news`` once for each set of tools not told of before (raises StorageError)."""
        waiting = dict(self.control.waiting_by_account())
        now = frozenset(
            (account_id, r.name, r.hold, r.identity_hold, r.current.fingerprint if r.current is not None else None)
            for account_id in waiting
            for r in self.control.waiting(account_id)
        )
        news = bool(now - self._told)
        self._told = now
        return Reviews(waiting, news)


def connectors_waiting(count: int) -> str:
    """The tray's row: ``1 connector waiting for your review``."""
    return f"{count} connector{'s' if count != 1 else ''} waiting for your review"
