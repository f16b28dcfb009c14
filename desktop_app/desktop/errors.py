"""What can go wrong when the app's menu entry, metainfo and icons are written or removed, as data: the file, the
reason, the libraries. The command line (``cli/hints.py``) and the window (``ui/errors.py``) word what to do.

::

    ConfigurationError (desktop_app.errors)
     ├── DesktopUnsupported      not a freedesktop system (macOS, Windows): nothing to write
     ├── InvalidCommand          a command a desktop entry's Exec cannot hold
     ├── ProgramNotFound         no installed ``mcp-connectors`` program for the entry to start
     ├── ForeignDesktopFile      a file where ours goes that ``desktop install`` did not write: never overwritten
     ├── DesktopFilesUnwritable  a folder or file cannot be written or removed (what was done so far is said)
     └── IconsUnavailable        Qt cannot be loaded to render the icons (a library is missing)
"""

from __future__ import annotations

from pathlib import Path

from desktop_app.desktop.libraries import MissingLibrary
from desktop_app.errors import ConfigurationError


class DesktopUnsupported(ConfigurationError):
    def __init__(self, platform: str) -> None:
        super().__init__(
            "desktop_unsupported",
            f"Application menu entries are written on Linux and other freedesktop systems only (this is {platform}).",
        )
        self.platform = platform


class InvalidCommand(ConfigurationError):
    def __init__(self, command: str, reason: str) -> None:
        super().__init__("invalid_command", f"{command!r} cannot be started from a menu entry: {reason}.")
        self.command = command
        self.reason = reason


class ProgramNotFound(ConfigurationError):
    def __init__(self, looked: str) -> None:
        super().__init__(
            "program_not_found", f"Cannot find the installed program for the menu entry to start (looked {looked})."
        )
        self.looked = looked


class ForeignDesktopFile(ConfigurationError):
    """``path`` is where one of our files goes, and holds something ``desktop install`` did not write (or a file it
    wrote that was changed since). It is left as it is."""

    def __init__(self, path: Path, *, removing: bool = False) -> None:
        doing = "removed" if removing else "replaced"
        super().__init__(
            "desktop_file_foreign",
            f"{path} was not written by this app's desktop install (or was changed since): it is not {doing}.",
        )
        self.path = path
        self.removing = removing


class DesktopFilesUnwritable(ConfigurationError):
    def __init__(self, path: Path, reason: str, *, done: tuple[Path, ...] = ()) -> None:
        super().__init__("desktop_files_unwritable", f"Cannot write or remove {path}: {reason}.")
        self.path = path
        self.reason = reason
        #: What was written (or removed) before the failure.
        self.done = done


class IconsUnavailable(ConfigurationError):
    """Qt (which renders the icons) cannot be loaded: ``missing`` names the libraries, when the loader said."""

    def __init__(self, reason: str, *, missing: tuple[MissingLibrary, ...] = ()) -> None:
        super().__init__("icons_unavailable", f"The icons cannot be rendered: Qt cannot be loaded ({reason}).")
        self.reason = reason
        self.missing = missing
