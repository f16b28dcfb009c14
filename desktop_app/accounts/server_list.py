"""The server list as a file: exported without any secret, imported back as servers with their settings.

A file holds each server's name, address and settings (``ServerSettings``: registration choice, a pre-registered
client's id, scopes, callback port …), never an account, a token, a client secret or an approval: importing it on
another computer adds the servers, and each account is signed in to again there (docs/decisions/0030-window-pass.md).

Reading is strict: a file that is not JSON, not this format, or holds a server this app cannot add is refused as a
whole, naming the line at fault (:class:`ServerListInvalid`), before anything is added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Server, ServerSettings
from desktop_app.errors import ConfigurationError, ConnectorError
from desktop_app.oauth.urls import canonical_resource, require_secure

#: The ``format`` every file says it is (a file of another program is refused by it).
FORMAT = "mcp-connectors server list"
#: The version written; a file of a newer version is refused (its meaning could differ).
VERSION = 1

_REGISTRATIONS = ("automatic", "preregistered", "cimd")


class ServerListInvalid(ConfigurationError):
    """The file cannot be read as a server list. ``line``: the line at fault (1-based), None for the whole file."""

    def __init__(self, message: str, *, line: int | None) -> None:
        super().__init__("server_list_invalid", message, hint="Export the list again, or correct that line.")
        self.line = line


@dataclass(frozen=True, slots=True)
class ListedServer:
    """One server of a file: what adding it again needs. ``line``: where its entry starts."""

    name: str
    url: str
    settings: ServerSettings
    line: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    """``added``: the servers added (with the name each got); ``skipped``: (entry, the server already added with
    that address)."""

    added: tuple[tuple[ListedServer, Server], ...]
    skipped: tuple[tuple[ListedServer, Server], ...]


def export_text(servers: list[Server]) -> str:
    """The list as JSON text: one entry per server, the settings as stored (no secret is among them)."""
    entries = [
        {"name": s.name, "url": s.url, "settings": json.loads(s.settings.to_json())}
        for s in sorted(servers, key=lambda s: (s.name.casefold(), s.id))
    ]
    return json.dumps({"format": FORMAT, "version": VERSION, "servers": entries}, indent=2, ensure_ascii=False) + "\n"


def read_text(text: str) -> list[ListedServer]:
    """The servers of an exported file; :class:`ServerListInvalid` naming the line at fault."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ServerListInvalid(f"Line {exc.lineno}: this is not JSON ({exc.msg}).", line=exc.lineno) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ServerListInvalid(f'This is not a server list of this app (no "format": "{FORMAT}").', line=None)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION or version < 1:
        newer = " (a newer version of the app wrote it)" if isinstance(version, int) and version > VERSION else ""
        raise _at(
            text, "version", f"the list's version {version!r} is not one this app reads{newer}; it reads {VERSION}"
        )
    entries = data.get("servers")
    if not isinstance(entries, list):
        raise _at(text, "servers", 'the list needs a "servers" array')
    lines = _entry_lines(text)
    listed = [_entry(entry, lines[i] if i < len(lines) else 1) for i, entry in enumerate(entries)]
    seen: dict[str, ListedServer] = {}
    for server in listed:
        resource = canonical_resource(server.url)
        if resource in seen:
            raise ServerListInvalid(
                f"Line {server.line}: {server.url} is listed twice (also on line {seen[resource].line}).",
                line=server.line,
            )
        seen[resource] = server
    return listed


def _entry(entry: object, line: int) -> ListedServer:
    def bad(what: str) -> ServerListInvalid:
        return ServerListInvalid(f"Line {line}: {what}.", line=line)

    if not isinstance(entry, dict):
        raise bad("each server must be an object with a name, a url and settings")
    name, url = entry.get("name"), entry.get("url")
    if not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise bad('the server\'s "name" must be a non-empty line of text')
    if not isinstance(url, str) or not url.strip():
        raise bad('the server\'s "url" must be its address')
    try:
        require_secure(canonical_resource(url.strip()), what="MCP server address", configuration=True)
    except ConnectorError as exc:
        raise bad(f"the address cannot be used: {exc.message}") from None
    settings = entry.get("settings", {})
    if not isinstance(settings, dict):
        raise bad('"settings" must be an object')
    problem = _settings_problem(settings)
    if problem:
        raise bad(problem)
    return ListedServer(name.strip(), url.strip(), ServerSettings.from_json(json.dumps(settings)), line)


def _settings_problem(settings: dict[str, Any]) -> str | None:
    """What is wrong with a settings object (unknown keys are ignored: a newer app may add some)."""
    registration = settings.get("registration", "automatic")
    if registration not in _REGISTRATIONS:
        return f'"registration" must be one of {", ".join(_REGISTRATIONS)}'
    for key in ("client_id", "client_auth", "client_metadata_url"):
        if settings.get(key) is not None and not isinstance(settings[key], str):
            return f'"{key}" must be text or null'
    scopes = settings.get("scopes")
    if scopes is not None and not (isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)):
        return '"scopes" must be a list of texts or null'
    for key in ("send_resource", "request_identity"):
        if key in settings and not isinstance(settings[key], bool):
            return f'"{key}" must be true or false'
    port = settings.get("callback_port", 0)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        return '"callback_port" must be a port number (0 for any free port)'
    return None


def _at(text: str, key: str, what: str) -> ServerListInvalid:
    """The refusal of the top-level ``key``'s value, on its line when it is there."""
    line = _line_of_key(text, key)
    if line is None:
        return ServerListInvalid(what[:1].upper() + what[1:] + ".", line=None)
    return ServerListInvalid(f"Line {line}: {what}.", line=line)


def _line_of_key(text: str, key: str) -> int | None:
    """The line of the top-level object's ``key`` (None when it is missing; the text is valid JSON)."""
    found = _top_level(text).get(key)
    return text.count("\n", 0, found[0]) + 1 if found else None


def _entry_lines(text: str) -> list[int]:
    """The line where each entry of the top-level ``servers`` array starts (the text is valid JSON)."""
    found = _top_level(text).get("servers")
    if found is None:
        return []
    decoder = json.JSONDecoder()
    lines: list[int] = []
    index = _skip(text, found[1] + 1)  # past "["
    while text[index] != "]":
        lines.append(text.count("\n", 0, index) + 1)
        _, index = decoder.raw_decode(text, index)
        index = _skip(text, index)
        if text[index] == ",":
            index = _skip(text, index + 1)
    return lines


def _top_level(text: str) -> dict[str, tuple[int, int]]:
    """Where each key of the top-level object starts, and where its value starts (a later duplicate wins, as in
    ``json.loads``). The text is valid JSON with an object at the top."""
    decoder = json.JSONDecoder()
    keys: dict[str, tuple[int, int]] = {}
    index = _skip(text, _skip(text, 0) + 1)  # past "{"
    while text[index] != "}":
        start = index
        name, index = decoder.raw_decode(text, index)
        value = _skip(text, _skip(text, index) + 1)  # past the colon
        keys[name] = (start, value)
        _, index = decoder.raw_decode(text, value)
        index = _skip(text, index)
        if text[index] == ",":
            index = _skip(text, index + 1)
    return keys


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def import_servers(accounts: Accounts, listed: list[ListedServer]) -> ImportResult:
    """Add each listed server with its settings; one whose address is added already is skipped (its settings are
    left as they are), a name another server has gets a free one (``name 2``). No account, token or secret."""
    added: list[tuple[ListedServer, Server]] = []
    skipped: list[tuple[ListedServer, Server]] = []
    for entry in listed:
        existing = _same_address(accounts.registry.servers(), entry.url)
        if existing is not None:
            skipped.append((entry, existing))
            continue
        taken = {s.name.casefold() for s in accounts.registry.servers()}
        name, n = entry.name, 2
        while name.casefold() in taken:
            name, n = f"{entry.name} {n}", n + 1
        added.append((entry, accounts.add_server(entry.url, name=name, settings=entry.settings)))
    return ImportResult(tuple(added), tuple(skipped))


def _same_address(servers: list[Server], url: str) -> Server | None:
    """The server added already with this address (with or without a trailing slash, as ``add_server`` reads it)."""
    resource = canonical_resource(url)
    variants = {resource, resource.rstrip("/"), resource.rstrip("/") + "/"}
    return next((s for s in servers if s.resource in variants), None)
