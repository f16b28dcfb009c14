"""A host's configuration text, whatever its format: the servers it lists, and the text with one entry put or
removed. Every edit is parsed again and must hold exactly the old data with that one change; a parse error is
:class:`~desktop_app.hosts.errors.HostConfigUnreadable` naming the file, the line and the column."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from desktop_app.hosts import json_edit, toml_edit, yaml_edit
from desktop_app.hosts.catalog import Host
from desktop_app.hosts.errors import HostConfigUnreadable
from desktop_app.hosts.json_edit import LayoutError
from desktop_app.hosts.jsonc import JsonSyntaxError, line_column, parse


@contextlib.contextmanager
def _as_config_error(path: Path, text: str) -> Iterator[None]:
    try:
        yield
    except JsonSyntaxError as exc:
        line, column = line_column(text, exc.position)
        raise HostConfigUnreadable(path, exc.reason, line=line, column=column) from None
    except (toml_edit.TomlSyntaxError, yaml_edit.YamlSyntaxError) as exc:
        raise HostConfigUnreadable(path, exc.reason, line=exc.line, column=exc.column) from None
    except LayoutError as exc:
        if not exc.position:
            raise HostConfigUnreadable(path, exc.reason) from None
        line, column = line_column(text, exc.position)
        raise HostConfigUnreadable(path, exc.reason, line=line, column=column) from None


def _load(host: Host, text: str) -> Any:
    if host.format == "toml":
        return toml_edit.load(text)
    if host.format == "yaml":
        return yaml_edit.load(text)
    root = parse(text, comments=host.format == "jsonc")
    return root.value if root is not None else None


def entries(host: Host, text: str, path: Path) -> dict[str, Any]:
    """The host's servers table in ``text`` (read from ``path``): entry name → entry."""
    with _as_config_error(path, text):
        if host.format == "toml":
            return toml_edit.read_entries(text, host.member)
        if host.format == "yaml":
            return yaml_edit.read_entries(text, host.member)
        return json_edit.read_entries(text, host.member, comments=host.format == "jsonc")


def _without_empty(data: Any, member: str) -> Any:
    if isinstance(data, dict) and not data.get(member, True):
        return {k: v for k, v in data.items() if k != member}
    return data if data is not None else {}


def _checked(host: Host, before: str, after: str, path: Path, key: str, value: dict[str, Any] | None) -> str:
    """``after``, once it is known to parse to ``before``'s data with ``key`` set to ``value`` (or removed)."""
    if after == before:
        return after
    with _as_config_error(path, before):
        old = _load(host, before)
    expected = dict(old) if isinstance(old, dict) else {}
    table = dict(expected.get(host.member) or {})
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value
    expected[host.member] = table
    with _as_config_error(path, after):
        new = _load(host, after)
    if _without_empty(new, host.member) != _without_empty(expected, host.member):
        raise AssertionError(f"editing {path} would have changed more than the entry {key!r}")
    return after


def with_entry(host: Host, text: str, path: Path, key: str, value: dict[str, Any]) -> str:
    """``text`` with the entry ``key`` set to ``value`` (the same text when it already is)."""
    with _as_config_error(path, text):
        if host.format == "toml":
            after = toml_edit.put_entry(text, host.member, key, value)
        elif host.format == "yaml":
            after = yaml_edit.put_entry(text, host.member, key, value)
        else:
            after = json_edit.put_entry(text, host.member, key, value, comments=host.format == "jsonc")
    return _checked(host, text, after, path, key, value)


def without_entry(host: Host, text: str, path: Path, key: str) -> str:
    """``text`` without the entry ``key`` (the same text when it has none)."""
    with _as_config_error(path, text):
        if host.format == "toml":
            after = toml_edit.drop_entry(text, host.member, key)
        elif host.format == "yaml":
            after = yaml_edit.drop_entry(text, host.member, key)
        else:
            after = json_edit.drop_entry(text, host.member, key, comments=host.format == "jsonc")
    return _checked(host, text, after, path, key, None)
