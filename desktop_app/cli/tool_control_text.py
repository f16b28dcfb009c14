"""How the command line words tool control: a tool's state, a review's diff, the profile's defaults.

A server chose every tool name, description and schema: names and reasons go through
:func:`desktop_app.errors.one_line`; a diff keeps its lines (split first, so no line break of the server's can start
a line of ours), each made inert by :func:`desktop_app.errors.terminal_text` before the console's own backstop.
"""

from __future__ import annotations

import shlex
import time

from desktop_app.appinfo import COMMAND
from desktop_app.cli.tool_text import tool_name
from desktop_app.errors import one_line, terminal_text
from desktop_app.tools.diff import changes
from desktop_app.tools.model import ToolRecord, ToolSettings, ToolState

_MARKS = {"same": "  ", "removed": "- ", "added": "+ "}


def state_word(record: ToolRecord | None, *, unusable: str | None = None) -> str:
    """``on``, ``off``, ``held: why``; for a tool the connector could not record, why not."""
    if record is None:
        return "not used: its definition cannot be pinned" if unusable else "not recorded"
    if record.state is not ToolState.HELD:
        return record.state.value
    return f"held: {held_why(record)}"


def held_why(record: ToolRecord) -> str:
    if record.hold == "changed":
        return "changed since you approved it"
    if record.hold == "new":
        return "new, waits for your approval"
    return one_line(record.identity_hold or "held by the identity check", 160)


def tool_state_line(name: str, state: str, description: str | None) -> str:
    """``  NAME [STATE] — first line of the description``."""
    first = (description or "").strip().splitlines()
    return f"  {tool_name(name)} [{state}]" + (f" — {one_line(first[0])}" if first else "")


def command_for(server: str, account_id: int, *words: str) -> str:
    """``mcp-connectors tools WORDS… SERVER --account N`` with the server's name quoted for a shell."""
    head = " ".join(words)
    return f"{COMMAND} tools {head} {shlex.quote(server)} --account {account_id}"


def review_lines(record: ToolRecord, *, now: float | None = None) -> list[str]:
    """One held tool: why it waits, then each member that differs (old lines ``-``, new lines ``+``)."""
    when = record.changed_at or record.first_seen
    age = _age((now if now is not None else time.time()) - when)
    lines = [f"{tool_name(record.name)}: {held_why(record)} (seen {age} ago)"]
    if record.identity_hold is not None and record.hold is not None:
        lines.append(f"  and held by the identity check: {one_line(record.identity_hold, 160)}")
    differ = changes(record.pinned, record.pending) if record.pending is not None else []
    if not differ:
        lines.append("  Its definition is the one you approved.")
    for change in differ:
        lines.append(f"  {change.member}:" + ("" if change.old is not None else " (new)"))
        for line in change.lines():
            lines.append(f"    {_MARKS[line.kind]}{terminal_text(line.text)}")
    return lines


def settings_lines(settings: ToolSettings) -> list[str]:
    return [
        f"Destructive tools off for new connectors: {'on' if settings.destructive_off else 'off'}",
        f"New tools need approval: {'on' if settings.new_need_approval else 'off'}",
    ]


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"
