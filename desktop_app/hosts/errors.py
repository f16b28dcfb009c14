"""What can go wrong when connectors are put into an MCP host's configuration, as data: the file, the line, the
host, the entry. The command line (``cli/hints.py``) and the window word what the person can do.

::

    ConfigurationError (desktop_app.errors)
     ├── UnknownHost            no host is called that (``known``: the ids there are)
     ├── HostConfigUnreadable   the host's file cannot be parsed, or its servers member has the wrong shape
     ├── HostConfigUnwritable   the host's file or folder cannot be written (nothing was changed)
     ├── InvalidEntryName       a name no host accepts for an entry
     ├── EntryNameTaken         the host already has an entry of that name that is not this connector
     ├── NotAConnector          the entry named is not one of ours: it is never removed
     └── BridgeNotFound         no ``mcp-connectors`` program to write into an entry
"""

from __future__ import annotations

from pathlib import Path

from desktop_app.errors import ConfigurationError


class UnknownHost(ConfigurationError):
    def __init__(self, message: str, *, known: tuple[str, ...]) -> None:
        super().__init__("unknown_host", message)
        self.known = known


class HostConfigUnreadable(ConfigurationError):
    """``path`` cannot be used: its text does not parse (``line``/``column``, 1-based, where the parser stopped), or
    the member that holds the servers is not a table. Nothing is written to a file in this state."""

    def __init__(self, path: Path, reason: str, *, line: int | None = None, column: int | None = None) -> None:
        where = f", line {line}" if line is not None else ""
        where += f", column {column}" if line is not None and column is not None else ""
        super().__init__("host_config_unreadable", f"{path}{where}: {reason}. Nothing was changed.")
        self.path = path
        self.reason = reason
        self.line = line
        self.column = column


class HostConfigUnwritable(ConfigurationError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__("host_config_unwritable", f"Cannot write {path}: {reason}. Nothing was changed.")
        self.path = path
        self.reason = reason


class InvalidEntryName(ConfigurationError):
    def __init__(self, name: str) -> None:
        super().__init__(
            "invalid_entry_name",
            f"{name!r} cannot be an entry name: use 1 to 64 lower-case letters, digits, '-' or '_', starting with a "
            "letter or digit.",
        )
        self.name = name


class EntryNameTaken(ConfigurationError):
    """``host`` has an entry ``name`` in ``path`` that is something else (another server, or another account)."""

    def __init__(self, *, host: str, name: str, path: Path, ours: bool) -> None:
        what = "another connector" if ours else "a server that is not a connector of this app"
        super().__init__("entry_name_taken", f"{host} already has an entry {name!r} in {path}: it is {what}.")
        self.host = host
        self.name = name
        self.path = path
        self.ours = ours


class NotAConnector(ConfigurationError):
    def __init__(self, *, host: str, name: str, path: Path) -> None:
        super().__init__(
            "not_a_connector", f"The entry {name!r} of {host} ({path}) is not a connector of this app: left alone."
        )
        self.host = host
        self.name = name
        self.path = path


class BridgeNotFound(ConfigurationError):
    def __init__(self, message: str) -> None:
        super().__init__("bridge_not_found", message)
