"""Start at login, hidden in the tray: an XDG autostart entry on Linux, named and built as the menu entry is
(:mod:`desktop_app.desktop.entry`: the same app id, the same quoting of the command).

macOS (a LaunchAgent plist in ~/Library/LaunchAgents running ``mcp-connectors --hidden``) and Windows (a value under
``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``) are documented in docs/decisions/0012 and not written by
this version: :func:`supported` is False there and the menu item is hidden.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from desktop_app.desktop import entry
from desktop_app.desktop.errors import ProgramNotFound
from desktop_app.desktop.installer import installed_program

HIDDEN_FLAG = "--hidden"


def supported(platform: str | None = None) -> bool:
    return (platform or sys.platform).startswith("linux")


def entry_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    config = env.get("XDG_CONFIG_HOME")
    base = Path(config) if config and Path(config).is_absolute() else Path(env.get("HOME") or Path.home()) / ".config"
    return base / "autostart" / entry.FILE_NAME


def command() -> list[str]:
    """How the entry starts the app: the installed program as the menu entry starts it (the bundle, or the
    ``mcp-connectors`` beside this interpreter, or on ``PATH``), else this interpreter."""
    try:
        return [installed_program(), HIDDEN_FLAG]
    except ProgramNotFound:
        return [sys.executable, "-m", "desktop_app.app", HIDDEN_FLAG]


def is_enabled(environ: Mapping[str, str] | None = None) -> bool:
    return entry_path(environ).is_file()


def set_enabled(enabled: bool, environ: Mapping[str, str] | None = None) -> Path:
    path = entry_path(environ)
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry.desktop_entry(command(), autostart=True), encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
    return path
