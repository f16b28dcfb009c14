"""One entry of a JSON or JSONC file's servers table put, replaced or removed, every other byte kept.

The edits are splices at the offsets :mod:`desktop_app.hosts.jsonc` found: comments, blank lines, key order, odd
indentation, CRLF line ends and a byte order mark stay as they were. New text follows the file: its line ends, the
indentation of the neighbouring members (tabs or spaces), a trailing comma where the last member had one, one line
when the table is written on one line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from desktop_app.hosts.jsonc import Member, Node, parse

#: What may follow a member's value on its line for a new member to go on the next line: a comma, a line comment.
_LINE_TAIL = re.compile(r"[ \t]*(,)?[ \t]*(?://[^\n]*)?\r?")


class LayoutError(ValueError):
    """The file parses but has no place for servers (not an object, or its member is not one); ``position``: where."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position


def newline_of(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _indent_unit(text: str) -> str:
    """The indentation step of the file: that of its first indented line (two spaces in a file that has none)."""
    match = re.search(r"^([ \t]+)\S", text, re.MULTILINE)
    if match is None:
        return "  "
    return "\t" if match.group(1).startswith("\t") else match.group(1)


def _line_start(text: str, position: int) -> int:
    return text.rfind("\n", 0, position) + 1


def _line_indent(text: str, position: int) -> str:
    start = _line_start(text, position)
    return re.match(r"[ \t]*", text[start:]).group()  # type: ignore[union-attr]


def _line_break(text: str, position: int) -> int:
    """Where the line holding ``position`` ends (its ``\\r\\n`` or ``\\n``, or the end of the text)."""
    newline = text.find("\n", position)
    if newline < 0:
        return len(text)
    return newline - 1 if newline > 0 and text[newline - 1] == "\r" else newline


def _render(value: Any, indent: str, unit: str, newline: str) -> str:
    return json.dumps(value, indent=unit, ensure_ascii=False).replace("\n", newline + indent)


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _servers(root: Node | None, member: str) -> tuple[Node | None, Member | None]:
    if root is None:
        return None, None
    if root.kind != "object":
        raise LayoutError("the file holds no JSON object", root.start)
    found = root.member(member)
    if found is not None and found.value.kind != "object":
        raise LayoutError(f"'{member}' is not an object", found.value.start)
    return root, found


def read_entries(text: str, member: str, *, comments: bool) -> dict[str, Any]:
    """The servers table as data (``{}`` when the file or the member is missing)."""
    _, found = _servers(parse(text, comments=comments), member)
    return dict(found.value.value) if found is not None else {}


def _insert(text: str, obj: Node, key: str, value: Any) -> list[tuple[int, int, str]]:
    """The edits that add ``key: value`` at the end of ``obj``."""
    newline, unit = newline_of(text), _indent_unit(text)
    if not obj.members:
        indent = _line_indent(text, obj.start)
        inner = indent + unit
        entry = f"{json.dumps(key, ensure_ascii=False)}: {_render(value, inner, unit, newline)}"
        if text[obj.start + 1 : obj.end - 1].strip() == "":
            return [(obj.start, obj.end, "{" + newline + inner + entry + newline + indent + "}")]
        return [(obj.start + 1, obj.start + 1, newline + inner + entry)]  # comments inside stay after it
    last = obj.members[-1]
    if _line_start(text, obj.start) == _line_start(text, obj.end - 1):  # written on one line: stay on one line
        entry = json.dumps({key: value}, ensure_ascii=False)[1:-1]
        return [(last.value.end, last.value.end, ", " + entry)]
    indent = _line_indent(text, last.key_start)
    entry = f"{json.dumps(key, ensure_ascii=False)}: {_render(value, indent, unit, newline)}"
    end = _line_break(text, last.value.end)
    tail = _LINE_TAIL.fullmatch(text, last.value.end, end) if end > last.value.end else None
    if end == last.value.end or tail is not None:
        if last.comma is not None:  # a trailing comma (JSONC): the new last member gets one too
            return [(end, end, newline + indent + entry + ",")]
        if end == last.value.end:
            return [(end, end, "," + newline + indent + entry)]
        return [(last.value.end, last.value.end, ","), (end, end, newline + indent + entry)]
    return [(last.value.end, last.value.end, "," + newline + indent + entry)]


def put_entry(text: str, member: str, key: str, value: Any, *, comments: bool) -> str:
    """``text`` with ``member.key`` set to ``value``; the same text when it already is."""
    root, found = _servers(parse(text, comments=comments), member)
    newline = newline_of(text)
    if root is None:
        document = json.dumps({member: {key: value}}, indent=2, ensure_ascii=False).replace("\n", newline)
        if text.strip() == "":
            return document + newline
        return text + ("" if text.endswith("\n") else newline) + document + newline  # after the comments
    if found is None:
        return _splice(text, _insert(text, root, member, {key: value}))
    entry = found.value.member(key)
    if entry is None:
        return _splice(text, _insert(text, found.value, key, value))
    if entry.value.value == value:
        return text
    indent = _line_indent(text, entry.key_start)
    rendered = _render(value, indent, _indent_unit(text), newline)
    return _splice(text, [(entry.value.start, entry.value.end, rendered)])


def drop_entry(text: str, member: str, key: str, *, comments: bool) -> str:
    """``text`` without ``member.key``; the same text when it has none. The member's lines go (with a line comment
    after it); a comma left dangling after the new last member is removed (plain JSON refuses one)."""
    _, found = _servers(parse(text, comments=comments), member)
    if found is None:
        return text
    obj = found.value
    entry = obj.member(key)
    if entry is None:
        return text
    if len(obj.members) == 1 and "/" not in text[obj.start + 1 : obj.end - 1].replace(
        text[entry.key_start : entry.value.end], ""
    ):  # the only member, and no comment beside it: the table becomes {} again
        return _splice(text, [(obj.start, obj.end, "{}")])
    index = next(i for i, m in enumerate(obj.members) if m is entry)
    previous = obj.members[index - 1].comma if index > 0 else None
    line = _line_start(text, entry.key_start)
    if text[line : entry.key_start].strip() != "":  # written on one line with others
        if entry.comma is None and previous is not None:
            return _splice(text, [(previous, entry.value.end, "")])
        after = entry.comma + 1 if entry.comma is not None else entry.value.end
        while after < len(text) and text[after] in " \t":
            after += 1
        return _splice(text, [(entry.key_start, after, "")])
    after = entry.comma + 1 if entry.comma is not None else entry.value.end
    end = _line_break(text, after)
    if re.fullmatch(r"[ \t]*(?://[^\n]*)?", text[after:end]):
        after = text.find("\n", end) + 1 or len(text)
    edits = [(line, after, "")]
    if entry.comma is None and previous is not None:  # the new last member keeps no comma
        edits.append((previous, previous + 1, ""))
    return _splice(text, edits)
