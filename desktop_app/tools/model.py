"""What the person decided about each tool of a connector, as values: records, settings, the identity check's verdict.

A *connector* is one account of one server (what an AI host launches the bridge for); every tool it has seen has one
:class:`ToolRecord`. See docs/decisions/0025-tool-control.md for the rules that change them
(:mod:`desktop_app.tools.policy`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from desktop_app.errors import RefusalReason
from desktop_app.tools.canonical import ToolDefinition

#: Why a tool waits for the person: its definition differs from the one they approved, or it is new.
HoldReason = Literal["changed", "new"]

__all__ = [
    "Connector",
    "HoldReason",
    "IdentityVerdict",
    "RefusalReason",
    "ToolBook",
    "ToolChange",
    "ToolRecord",
    "ToolSettings",
    "ToolState",
]


class ToolState(enum.StrEnum):
    """What a host gets: the tool (``on``), nothing because the person turned it off (``off``), or nothing until
    the person reviews it (``held``)."""

    ON = "on"
    OFF = "off"
    HELD = "held"


@dataclass(frozen=True, slots=True)
class ToolRecord:
    """One tool of one connector.

    ``enabled`` is the person's switch; ``hold`` and ``identity_hold`` keep the tool from hosts whatever the switch
    says, until the person approves. ``pinned`` is the definition the person accepted (on first use or by approving;
    None for a new tool never approved), ``pending`` the server's current one while it differs (what a review shows
    against ``pinned``). ``identity_hold`` is the identity check's reason (its own words), ``identity_accepted`` the
    reason the person accepted for this tool (the same reason then holds it no more). Times are seconds since the
    epoch: ``first_seen`` in a list, ``changed_at`` when ``pending`` was first seen, ``approved_at`` when ``pinned``
    was accepted, ``gone_at`` when a complete list no longer had it (the record stays: its pin and its switch hold
    if it comes back).
    """

    name: str
    enabled: bool
    first_seen: float
    hold: HoldReason | None = None
    pinned: ToolDefinition | None = None
    pending: ToolDefinition | None = None
    identity_hold: str | None = None
    identity_accepted: str | None = None
    changed_at: float | None = None
    approved_at: float | None = None
    gone_at: float | None = None

    @property
    def state(self) -> ToolState:
        if self.hold is not None or self.identity_hold is not None:
            return ToolState.HELD
        return ToolState.ON if self.enabled else ToolState.OFF

    @property
    def current(self) -> ToolDefinition | None:
        """The definition the server sends now, as far as this connector knows."""
        return self.pending or self.pinned

    @property
    def present(self) -> bool:
        """Whether the server's last complete list had it."""
        return self.gone_at is None

    @property
    def waits_for_review(self) -> bool:
        return self.state is ToolState.HELD

    def refusal(self) -> RefusalReason | None:
        """Why a call of this tool is refused (None: it passes). The person's switch first: a tool turned off is
        "off" even when it is also held."""
        if not self.enabled:
            return "off"
        if self.hold is not None:
            return self.hold
        if self.identity_hold is not None:
            return "identity"
        return None


@dataclass(frozen=True, slots=True)
class ToolSettings:
    """The profile's defaults. ``destructive_off``: tools that come in without the person deciding (on a connector's
    first use, or new tools when approval is not needed) start off when they may be destructive (MCP annotations:
    not read-only and ``destructiveHint`` not false). ``new_need_approval``: a tool that appears on a connector
    already in use is held until approved."""

    destructive_off: bool = False
    new_need_approval: bool = True


@dataclass(frozen=True, slots=True)
class IdentityVerdict:
    """What the identity check (server identity and tool attestation, ``desktop_app.tools.identity``) says about
    one list of tools: ``server_refused`` (the server's key is not accepted: every tool is refused with this
    reason, nothing is pinned), ``holds`` (tool name → why it is held, e.g. "its signature does not verify")."""

    server_refused: str | None = None
    holds: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Connector:
    """Whose tools: the account (its id keys the records) and the names the words use."""

    server_id: int
    account_id: int
    server_name: str
    account_name: str


@dataclass(frozen=True, slots=True)
class ToolBook:
    """A connector's records as stored: by name, whether its first complete list was seen (before it, every tool
    a list shows is pinned as trusted on first use), and its revision (a counter that grows with every change)."""

    records: Mapping[str, ToolRecord]
    listed: bool = False
    revision: int = 0


@dataclass(frozen=True, slots=True)
class ToolChange:
    """What to store: records written (inserted or replaced), names deleted, the first complete list seen
    (``listed``), and the ``tools_changed`` event of the account's activity (None: none)."""

    write: tuple[ToolRecord, ...] = ()
    delete: tuple[str, ...] = ()
    listed: bool = False
    event: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.write or self.delete or self.listed or self.event)
