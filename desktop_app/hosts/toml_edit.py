"""One entry of a TOML file's servers table (Codex's ``[mcp_servers.NAME]``) put or removed, every other byte kept.

``tomlkit`` keeps a document's text as it was read (comments, blank lines, quoting, order) and writes back only what
changed: a new entry is appended as its own ``[mcp_servers.NAME]`` table, the way ``codex mcp add`` writes one. An
entry is removed as text: its table's lines (and its sub-tables' lines, and the blank line tomlkit put before it), so
a file gets back the bytes it had before the entry was added; the result is checked against tomlkit's own removal
and that one is used when they differ (a table written as dotted keys, say).
"""

from __future__ import annotations

import re
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError
from tomlkit.items import Table
from tomlkit.toml_document import TOMLDocument

from desktop_app.hosts.json_edit import LayoutError, newline_of


class TomlSyntaxError(ValueError):
    def __init__(self, reason: str, line: int | None, column: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


def _document(text: str) -> TOMLDocument:
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        raise TomlSyntaxError(str(exc).split(" at line ")[0], exc.line, exc.col) from None
    except TOMLKitError as exc:
        raise TomlSyntaxError(str(exc), None, None) from None


def load(text: str) -> dict[str, Any]:
    return _document(text).unwrap()


def _servers(document: TOMLDocument, member: str) -> Any:
    found = document.get(member)
    if found is not None and not isinstance(found, dict):
        raise LayoutError(f"'{member}' is not a table", 0)
    return found


def read_entries(text: str, member: str) -> dict[str, Any]:
    found = _servers(_document(text), member)
    return dict(found.unwrap()) if found is not None else {}


def same_newlines(old: str, new: str) -> str:
    """``new`` with the lines added to ``old`` ended as ``old``'s are (tomlkit writes ``\\n``)."""
    if newline_of(old) != "\r\n":
        return new
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    middle = re.sub(r"(?<!\r)\n", "\r\n", new[head : len(new) - tail])
    return new[:head] + middle + new[len(new) - tail :]


def _table(value: dict[str, Any]) -> Table:
    table = tomlkit.table()
    for key, item in value.items():
        if isinstance(item, dict):
            inline = tomlkit.inline_table()
            inline.update(item)
            table[key] = inline
        else:
            table[key] = item
    return table


def put_entry(text: str, member: str, key: str, value: dict[str, Any]) -> str:
    """A new entry is appended to the file as its own table (after a blank line); one that is there is replaced
    where it stands."""
    document = _document(text)
    servers = _servers(document, member)
    if servers is not None and key in servers:
        if servers[key].unwrap() == value:
            return text
        servers[key] = _table(value)
        return same_newlines(text, tomlkit.dumps(document))
    alone = tomlkit.document()
    alone.append(member, tomlkit.table(is_super_table=True))
    alone[member][key] = _table(value)
    newline = newline_of(text)
    head = text if not text.strip() or text.endswith("\n") else text + newline
    appended = head + (newline if head.strip() else "") + tomlkit.dumps(alone).replace("\n", newline)
    expected = document.unwrap()
    expected.setdefault(member, {})[key] = value
    try:
        if load(appended) == expected:
            return appended
    except TomlSyntaxError:
        pass
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        document.append(member, servers)
    servers[key] = _table(value)
    return same_newlines(text, tomlkit.dumps(document))


def _header(member: str, key: str) -> re.Pattern[str]:
    name = rf"(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')"
    return re.compile(rf"[ \t]*\[[ \t]*{re.escape(member)}[ \t]*\.[ \t]*{name}[ \t]*(?:\.[^\]\n]*)?\][ \t]*(?:#.*)?")


def _cut_tables(text: str, member: str, key: str) -> str:
    """``text`` without the lines of ``[member.key]`` and its sub-tables (each up to the next table header); a table
    at the end of the file takes the blank line before it along (the one tomlkit put there)."""
    header = _header(member, key)
    lines = text.splitlines(keepends=True)
    cut = [False] * len(lines)
    inside = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith("["):
            inside = header.fullmatch(line.rstrip("\r\n")) is not None
        cut[index] = inside
    if cut and cut[-1]:
        first = len(cut) - 1
        while first > 0 and cut[first - 1]:
            first -= 1
        if first > 0 and lines[first - 1].strip() == "":
            cut[first - 1] = True
    return "".join(line for line, gone in zip(lines, cut, strict=True) if not gone)


def drop_entry(text: str, member: str, key: str) -> str:
    document = _document(text)
    servers = _servers(document, member)
    if servers is None or key not in servers:
        return text
    del servers[key]
    if not servers and getattr(servers, "is_super_table", lambda: False)():
        document.remove(member)
    expected = document.unwrap()
    cut = _cut_tables(text, member, key)
    try:
        if load(cut) == expected:
            return cut
    except TomlSyntaxError:
        pass
    return same_newlines(text, tomlkit.dumps(document))
