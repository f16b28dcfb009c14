"""One entry of a YAML file's servers map (Goose's ``extensions``) put, replaced or removed, every other byte kept.

``ruamel.yaml`` (round-trip mode) parses the file and says on which line each key starts; the edit is a splice of
whole lines: the entry's lines are replaced, removed, or new ones inserted after the map's last entry, indented as
its other entries are, ended as the file's lines are. The result is parsed again and must hold exactly what was
meant; when it does not (a map written in flow style, ``extensions: {a: ...}``), the whole document is written by
ruamel's round-trip dumper instead, which keeps comments and key order but may change spacing and quoting.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from desktop_app.hosts.json_edit import LayoutError, newline_of


class YamlSyntaxError(ValueError):
    def __init__(self, reason: str, line: int | None, column: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=2, offset=0)  # goose writes serde_yaml's layout: "args:\n- a"
    yaml.width = 4096
    yaml.default_flow_style = False
    return yaml


def _load(text: str) -> Any:
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "not YAML"
        raise YamlSyntaxError(reason, mark.line + 1 if mark else None, mark.column + 1 if mark else None) from None
    except YAMLError as exc:
        raise YamlSyntaxError(str(exc).splitlines()[0] if str(exc) else "not YAML", None, None) from None


def plain(value: Any) -> Any:
    """ruamel's round-trip values as plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def load(text: str) -> Any:
    return plain(_load(text))


def _servers(data: Any, member: str) -> CommentedMap | None:
    if data is None:
        return None
    if not isinstance(data, CommentedMap):
        raise LayoutError("the file holds no YAML mapping", 0)
    found = data.get(member)
    if found is not None and not isinstance(found, CommentedMap):
        line = data.lc.key(member)[0] if member in data else 0
        raise LayoutError(f"'{member}' is not a mapping (line {line + 1})", 0)
    return found


def read_entries(text: str, member: str) -> dict[str, Any]:
    found = _servers(_load(text), member)
    return plain(found) if found is not None else {}


def _render(key: str, value: dict[str, Any], indent: int, newline: str) -> list[str]:
    stream = io.StringIO()
    _yaml().dump({key: value}, stream)
    return [" " * indent + line + newline for line in stream.getvalue().splitlines()]


def _is_content(line: str, indent: int) -> bool:
    """A line that belongs to a block indented more than ``indent`` (not blank, not a comment of its own)."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#") and len(line) - len(line.lstrip(" ")) > indent


def _block_end(lines: list[str], first: int, indent: int) -> int:
    """One past the last content line of the block that starts after line ``first`` and is indented more than
    ``indent``; trailing blank and comment lines stay outside."""
    end = first + 1
    for index in range(first + 1, len(lines)):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not _is_content(lines[index], indent):
            break
        end = index + 1
    return end


def _spliced(text: str, data: Any, member: str, key: str, value: dict[str, Any] | None) -> str | None:
    """The line splice for the edit, or None when the layout is not one this knows (flow style, no block)."""
    newline = newline_of(text)
    lines = text.splitlines(keepends=True)
    servers = _servers(data, member)
    if data is None or member not in data:
        if value is None:
            return text
        head = text if not text or text.endswith("\n") else text + newline
        return head + f"{member}:{newline}" + "".join(_render(key, value, 2, newline))
    member_line, member_column = data.lc.key(member)
    if servers is None or not servers or servers.fa.flow_style():
        if value is None:
            return text
        if servers and servers.fa.flow_style():
            return None
        line = lines[member_line]
        comment = line[line.index("#") :].rstrip("\r\n") if "#" in line else ""
        head = " " * member_column + f"{member}:" + (f" {comment}" if comment else "") + newline
        return "".join(
            [*lines[:member_line], head, *_render(key, value, member_column + 2, newline), *lines[member_line + 1 :]]
        )
    keys = list(servers)
    indent = servers.lc.key(keys[0])[1]
    if key in servers:
        start = servers.lc.key(key)[0]
        end = _block_end(lines, start, indent)
        if value is None and len(keys) == 1:  # the map becomes empty: {} keeps it a map
            line = lines[member_line].rstrip("\r\n")
            head = line[: line.index(":", member_column) + 1] + " {}" + newline
            return "".join([*lines[:member_line], head, *lines[end:]])
        new = _render(key, value, indent, newline) if value is not None else []
        return "".join([*lines[:start], *new, *lines[end:]])
    if value is None:
        return text
    end = _block_end(lines, member_line, member_column)
    before = lines[:end]
    if before and not before[-1].endswith("\n"):
        before[-1] += newline
    return "".join([*before, *_render(key, value, indent, newline), *lines[end:]])


def _edit(text: str, member: str, key: str, value: dict[str, Any] | None) -> str:
    data = _load(text)
    servers = _servers(data, member)
    current = plain(servers) if servers is not None else {}
    if (value is None and key not in current) or (value is not None and current.get(key) == value):
        return text
    expected = plain(data) if data is not None else {}
    table = dict(current)
    if value is None:
        table.pop(key)
    else:
        table[key] = value
    expected[member] = table
    spliced = _spliced(text, data, member, key, value)
    if spliced is not None and load(spliced) == expected:
        return spliced
    if data is None:
        data = CommentedMap()
    if servers is None:
        servers = data[member] = CommentedMap()
    if value is None:
        del servers[key]
    else:
        servers[key] = value
    stream = io.StringIO()
    _yaml().dump(data, stream)
    return stream.getvalue().replace("\n", newline_of(text))


def put_entry(text: str, member: str, key: str, value: dict[str, Any]) -> str:
    return _edit(text, member, key, value)


def drop_entry(text: str, member: str, key: str) -> str:
    return _edit(text, member, key, None)
