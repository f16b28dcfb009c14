"""A tool's change as the person reviews it: each pinned member that differs, old and new, as text and line by line.

Text only, as the server wrote it (untrusted: the command line makes each line inert, the window shows it as plain
text). A string member is its text; a schema or the annotations are indented JSON with sorted keys, so that a
change shows on the lines it touches.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any, Literal

from desktop_app.tools.canonical import PINNED_MEMBERS, ToolDefinition

LineKind = Literal["same", "removed", "added"]


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: LineKind
    text: str


@dataclass(frozen=True, slots=True)
class MemberChange:
    """One member (``description``, ``inputSchema``, ...): its text before and after (None: absent)."""

    member: str
    old: str | None
    new: str | None

    def lines(self) -> list[DiffLine]:
        """Line by line: kept, removed, added (in order)."""
        old = (self.old or "").splitlines() if self.old is not None else []
        new = (self.new or "").splitlines() if self.new is not None else []
        out: list[DiffLine] = []
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for tag, a1, a2, b1, b2 in matcher.get_opcodes():
            if tag == "equal":
                out.extend(DiffLine("same", line) for line in old[a1:a2])
                continue
            out.extend(DiffLine("removed", line) for line in old[a1:a2])
            out.extend(DiffLine("added", line) for line in new[b1:b2])
        return out


def member_text(value: Any) -> str:
    """A member as the person reads it: a string as it is, anything else as indented JSON (keys sorted)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def changes(old: ToolDefinition | None, new: ToolDefinition | None) -> list[MemberChange]:
    """The members that differ between ``old`` (None: a new tool) and ``new``, in :data:`PINNED_MEMBERS` order."""
    before = old.members if old is not None else {}
    after = new.members if new is not None else {}
    out = []
    for member in PINNED_MEMBERS:
        a, b = before.get(member), after.get(member)
        text_a = None if a is None else member_text(a)
        text_b = None if b is None else member_text(b)
        if text_a != text_b:
            out.append(MemberChange(member, text_a, text_b))
    return out
