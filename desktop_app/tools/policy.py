"""The rules that change a connector's tool records: pure functions from what is stored and what happened to what to
store (:class:`~desktop_app.tools.model.ToolChange`). No I/O; the store applies a change in one transaction.

What a list of tools does (:func:`observe`), per tool the server lists:

==========================================  ===================================================================
what is stored                              what happens
==========================================  ===================================================================
nothing, connector's first complete list    pinned as listed (trust on first use); on, unless ``destructive_off``
not yet seen                                and the tool may be destructive
nothing, connector in use                   ``new_need_approval``: held "new" (its definition pending); else as
                                            on first use
a pin with the same fingerprint             nothing (a "changed" hold is lifted: the server went back)
a pin with another fingerprint              held "changed", the new definition pending (once per definition: the
                                            same change seen again changes nothing)
held "new" (no pin)                         the pending definition follows the server's
a record marked gone                        present again, then as above (compared with its old pin; a tool
                                            turned off stays off)
==========================================  ===================================================================

A complete list (every page, from the first) marks the records it lacks as gone; a tool that never got a pin (held
"new") is forgotten instead. The identity check's ``holds`` set or lift each listed tool's identity hold, unless the
person accepted that very reason for it. Every tool newly held makes one line of the ``tools_changed`` event.

:func:`approve` pins what is pending (a "changed" tool keeps its switch, a "new" one is turned on: approving it is
the person's decision) and accepts an identity hold's reason; :func:`set_enabled` sets switches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence

from desktop_app.errors import ReviewOutdated, UnknownTool, one_line
from desktop_app.tools.canonical import ToolDefinition
from desktop_app.tools.model import IdentityVerdict, ToolBook, ToolChange, ToolRecord, ToolSettings, ToolState

#: The ``kind`` of the account's activity event when tools are newly held.
EVENT_KIND = "tools_changed"


def observe(
    book: ToolBook,
    listed: Sequence[ToolDefinition],
    *,
    settings: ToolSettings,
    complete: Collection[str] | None,
    identity: IdentityVerdict | None,
    now: float,
) -> ToolChange:
    """What one page of ``tools/list`` changes. ``complete``: every name of a complete list when this page ends
    one that started at its first page (None otherwise); ``identity``: the identity check's verdict for this page
    (None: no check, identity holds stay as they are)."""
    first_use = not book.listed
    write: list[ToolRecord] = []
    held: list[str] = []
    for definition in listed:
        old = book.records.get(definition.name)
        new = _seen(old, definition, settings=settings, first_use=first_use, now=now)
        if identity is not None:
            new = _identity(new, identity.holds.get(definition.name))
        if new != old:
            write.append(new)
            if new.waits_for_review and _newly_held(old, new):
                held.append(_why(new))
    delete: list[str] = []
    if complete is not None:
        names = set(complete)
        for name, record in book.records.items():
            if name in names or not record.present:
                continue
            if record.pinned is None:
                delete.append(name)
            else:
                write.append(dataclasses.replace(record, gone_at=now))
    return ToolChange(
        write=tuple(write),
        delete=tuple(delete),
        listed=first_use and complete is not None,
        event="; ".join(held) or None,
    )


def _seen(
    old: ToolRecord | None, definition: ToolDefinition, *, settings: ToolSettings, first_use: bool, now: float
) -> ToolRecord:
    if old is None:
        if first_use or not settings.new_need_approval:
            enabled = not (settings.destructive_off and definition.destructive)
            return ToolRecord(definition.name, enabled, now, pinned=definition, approved_at=now)
        return ToolRecord(definition.name, True, now, hold="new", pending=definition, changed_at=now)
    record = dataclasses.replace(old, gone_at=None) if old.gone_at is not None else old
    if record.pinned is None:  # held "new": it waits with whatever the server sends now
        if record.pending != definition:
            record = dataclasses.replace(record, pending=definition, changed_at=now)
        return record
    if record.pinned == definition:
        if record.hold is not None or record.pending is not None:
            record = dataclasses.replace(record, hold=None, pending=None, changed_at=None)
        return record
    if record.pending != definition or record.hold != "changed":
        record = dataclasses.replace(record, hold="changed", pending=definition, changed_at=now)
    return record


def _identity(record: ToolRecord, reason: str | None) -> ToolRecord:
    if reason is not None and reason == record.identity_accepted:
        reason = None
    if reason == record.identity_hold:
        return record
    return dataclasses.replace(record, identity_hold=reason)


def _newly_held(old: ToolRecord | None, new: ToolRecord) -> bool:
    """A hold the person has not been told of: a new reason, or another pending definition."""
    if old is None:
        return True
    return (new.hold, new.identity_hold) != (old.hold, old.identity_hold) or (
        new.pending is not None and new.pending != old.pending
    )


def _why(record: ToolRecord) -> str:
    name = one_line(record.name, 80)
    if record.hold is not None:
        return f"{name}: {record.hold}"
    return f"{name}: {one_line(record.identity_hold or '', 120)}"


def set_enabled(book: ToolBook, names: Sequence[str], enabled: bool) -> ToolChange:
    """Turn the named tools on or off (a held tool stays held: its switch is what applies once approved)."""
    records = named(book, names)
    return ToolChange(write=tuple(dataclasses.replace(r, enabled=enabled) for r in records if r.enabled != enabled))


def approve(book: ToolBook, expected: Mapping[str, str | None] | None, *, now: float) -> ToolChange:
    """Approve held tools: every one (``expected`` None), or those named, each with the fingerprint of the
    definition the person reviewed (None: whatever is pending now). A named tool whose definition changed since it
    was reviewed: :class:`ReviewOutdated`, nothing approved; a name that is not held: nothing to do for it."""
    if expected is None:
        chosen = [r for r in book.records.values() if r.waits_for_review]
        wanted: Mapping[str, str | None] = {}
    else:
        chosen = [r for r in named(book, list(expected)) if r.waits_for_review]
        wanted = expected
    outdated = [
        r.name
        for r in chosen
        if wanted.get(r.name) is not None and (r.current is None or r.current.fingerprint != wanted[r.name])
    ]
    if outdated:
        shown = ", ".join(one_line(name, 80) for name in outdated)
        raise ReviewOutdated(
            f"The definition of {shown} changed again on the server since you reviewed it: nothing was approved.",
            tools=tuple(outdated),
        )
    return ToolChange(write=tuple(_approved(r, now) for r in chosen))


def _approved(record: ToolRecord, now: float) -> ToolRecord:
    pinned, enabled = record.pinned, record.enabled
    if record.pending is not None:
        pinned = record.pending
    if record.hold == "new":
        enabled = True
    return dataclasses.replace(
        record,
        enabled=enabled,
        hold=None,
        pinned=pinned,
        pending=None,
        changed_at=None,
        approved_at=now if record.hold is not None else record.approved_at,
        identity_hold=None,
        identity_accepted=record.identity_hold or record.identity_accepted,
    )


def named(book: ToolBook, names: Sequence[str]) -> list[ToolRecord]:
    """The records of ``names`` (once each, in order); :class:`UnknownTool` naming those the connector has not
    seen."""
    unknown = [name for name in names if name not in book.records]
    if unknown:
        known = tuple(sorted(book.records))
        shown = ", ".join(one_line(name, 80) for name in unknown)
        listing = ", ".join(one_line(name, 80) for name in known) or "none yet"
        raise UnknownTool(
            f"This connector has no tool {shown} (its tools: {listing}).", tools=tuple(unknown), known=known
        )
    return [book.records[name] for name in dict.fromkeys(names)]


def waiting(book: ToolBook) -> list[ToolRecord]:
    """The tools that wait for the person's review, by name."""
    return sorted((r for r in book.records.values() if r.state is ToolState.HELD), key=lambda r: r.name)
