"""Where the app keeps its files: the platform's data directory, or ``MCP_CONNECTORS_HOME`` for a separate profile."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from desktop_app.appinfo import APP_NAME
from desktop_app.errors import StorageError

HOME_VARIABLE = "MCP_CONNECTORS_HOME"
#: The directory name on Linux (lower case by XDG habit); macOS and Windows use the app's display name.
LINUX_DIR_NAME = "mcp-connectors"


def data_dir(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The profile directory (not created here): ``MCP_CONNECTORS_HOME`` when set, else the platform's default.

    Linux: ``$XDG_DATA_HOME/mcp-connectors`` (``~/.local/share/mcp-connectors``); macOS:
    ``~/Library/Application Support/MCP Connector Manager``; Windows: ``%LOCALAPPDATA%\\MCP Connector Manager``.
    """
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    override = env.get(HOME_VARIABLE)
    if override:
        return Path(override).expanduser()
    home = Path(env.get("HOME") or Path.home())
    if plat == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    if plat.startswith("win"):
        local = env.get("LOCALAPPDATA") or env.get("APPDATA")
        return (Path(local) if local else home / "AppData" / "Local") / APP_NAME
    xdg = env.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / LINUX_DIR_NAME


def ensure_private_dir(path: Path) -> Path:
    """Create the directory (and parents) if missing; new directories are private to the user (0700).

    Raises :class:`StorageError` naming the folder when it cannot be (a file in its place, no permission, ...).
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        reason = "a file is in its place" if isinstance(exc, FileExistsError) else (exc.strerror or type(exc).__name__)
        raise StorageError(
            "data_dir_unusable",
            f"The app's data folder {path} cannot be used: {reason}.",
            hint=f"Make it a folder you can write to, or set {HOME_VARIABLE} to another folder.",
        ) from exc
    return path
