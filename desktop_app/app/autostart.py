"""Start at login, hidden in the tray: an XDG autostart entry on Linux.

macOS (a LaunchAgent plist in ~/Library/LaunchAgents running ``mcp-connectors --hidden``) and Windows (a value under
``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``) are documented in docs/decisions/0012 and not written by
this version: :func:`supported` is False there and the menu item is hidden.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from desktop_app import appinfo

HIDDEN_FLAG = "--hidden"


def supported(platform: str | None = None) -> bool:
    return (platform or sys.platform).startswith("linux")


def entry_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    config = env.get("XDG_CONFIG_HOME")
    base = Path(config) if config and Path(config).is_absolute() else Path(env.get("HOME") or Path.home()) / ".config"
    return base / "autostart" / f"{appinfo.APP_ID}.desktop"


def command() -> list[str]:
    """How the entry starts the app: the installed command when there is one, else this interpreter."""
    installed = shutil.which(appinfo.COMMAND)
    if installed:
        return [installed, HIDDEN_FLAG]
    return [sys.executable, "-m", "desktop_app.app", HIDDEN_FLAG]


def desktop_entry(argv: list[str]) -> str:
    exec_line = " ".join(shlex.quote(part) for part in argv)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={appinfo.APP_NAME}\n"
        "Comment=Keeps your MCP connectors signed in (tray)\n"
        f"Exec={exec_line}\n"
        f"Icon={appinfo.APP_ID}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def is_enabled(environ: Mapping[str, str] | None = None) -> bool:
    return entry_path(environ).is_file()


def set_enabled(enabled: bool, environ: Mapping[str, str] | None = None) -> Path:
    path = entry_path(environ)
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(desktop_entry(command()), encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
    return path
