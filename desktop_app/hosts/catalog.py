"""The MCP hosts a connector can be put into: where each keeps its servers, in which format, in which shape.

Each place was read in the host's own documentation or source (docs/decisions/0021-host-configs.md has the
addresses). :func:`place` is pure: the platform, the environment and the home folder are given, so every platform's
paths are tested on any machine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Literal

from desktop_app.hosts.errors import UnknownHost

#: How a host's file is written: JSON (no comments: the host's parser refuses them), JSON with comments and trailing
#: commas, TOML, YAML.
Format = Literal["json", "jsonc", "toml", "yaml"]
#: The members of a stdio server's entry (see :mod:`desktop_app.hosts.entries`).
Shape = Literal["plain", "typed", "zed", "goose"]
Platform = Literal["linux", "darwin", "windows"]


@dataclass(frozen=True, slots=True)
class Place:
    """Where a host keeps its servers on one machine. ``markers``: what exists once the host was installed or run
    (its folder); the host is "found" when the file or one of them exists."""

    config: PurePath
    markers: tuple[PurePath, ...]


@dataclass(frozen=True, slots=True)
class Host:
    id: str
    name: str
    format: Format
    #: The top-level member whose table maps entry names to servers.
    member: str
    shape: Shape
    #: Where the host documents the file (for the person, and for docs/decisions/0021).
    docs: str
    locate: Callable[[Platform, Mapping[str, str], PurePath], Place]


def _absolute(environ: Mapping[str, str], name: str, home: PurePath) -> PurePath | None:
    """An environment variable naming a folder, when it is absolute (the XDG rule: a relative one is ignored)."""
    value = environ.get(name, "")
    path = type(home)(value) if value else None
    return path if path is not None and path.is_absolute() else None


def xdg_config(environ: Mapping[str, str], home: PurePath) -> PurePath:
    return _absolute(environ, "XDG_CONFIG_HOME", home) or home / ".config"


def appdata(environ: Mapping[str, str], home: PurePath) -> PurePath:
    return _absolute(environ, "APPDATA", home) or home / "AppData" / "Roaming"


def _in(folder: PurePath, name: str) -> Place:
    return Place(folder / name, (folder,))


def _claude_desktop(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    if platform == "darwin":
        folder = home / "Library" / "Application Support" / "Claude"
    elif platform == "windows":
        folder = appdata(environ, home) / "Claude"
    else:  # no Linux build from Anthropic: the community builds keep Electron's folder under XDG_CONFIG_HOME
        folder = xdg_config(environ, home) / "Claude"
    return _in(folder, "claude_desktop_config.json")


def _claude_code(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    folder = _absolute(environ, "CLAUDE_CONFIG_DIR", home)
    if folder is not None:
        return Place(folder / ".claude.json", (folder,))
    return Place(home / ".claude.json", (home / ".claude",))


def _vscode(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    if platform == "darwin":
        base = home / "Library" / "Application Support"
    elif platform == "windows":
        base = appdata(environ, home)
    else:
        base = xdg_config(environ, home)
    return _in(base / "Code" / "User", "mcp.json")


def _cursor(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    return _in(home / ".cursor", "mcp.json")


def _windsurf(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    return _in(home / ".codeium" / "windsurf", "mcp_config.json")


def _zed(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    if platform == "windows":
        folder = appdata(environ, home) / "Zed"
    elif platform == "darwin":
        folder = home / ".config" / "zed"
    else:
        folder = (_absolute(environ, "FLATPAK_XDG_CONFIG_HOME", home) or xdg_config(environ, home)) / "zed"
    return _in(folder, "settings.json")


def _codex(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    return _in(_absolute(environ, "CODEX_HOME", home) or home / ".codex", "config.toml")


def _gemini(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    return _in(home / ".gemini", "settings.json")


def _goose(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    root = _absolute(environ, "GOOSE_PATH_ROOT", home)
    if root is not None:
        folder = root / "config"
    elif platform == "windows":
        folder = appdata(environ, home) / "Block" / "goose" / "config"
    else:  # Linux and macOS alike (goose takes the XDG layout on both)
        folder = xdg_config(environ, home) / "goose"
    return _in(folder, "config.yaml")


def _lm_studio(platform: Platform, environ: Mapping[str, str], home: PurePath) -> Place:
    return _in(home / ".lmstudio", "mcp.json")


HOSTS: tuple[Host, ...] = (
    Host(
        "claude-desktop",
        "Claude Desktop",
        "json",
        "mcpServers",
        "plain",
        "https://modelcontextprotocol.io/quickstart/user",
        _claude_desktop,
    ),
    Host(
        "claude-code", "Claude Code", "json", "mcpServers", "typed", "https://code.claude.com/docs/en/mcp", _claude_code
    ),
    Host(
        "vscode",
        "VS Code",
        "jsonc",
        "servers",
        "typed",
        "https://code.visualstudio.com/docs/copilot/reference/mcp-configuration",
        _vscode,
    ),
    Host("cursor", "Cursor", "json", "mcpServers", "plain", "https://cursor.com/docs/context/mcp", _cursor),
    Host(
        "windsurf",
        "Windsurf",
        "json",
        "mcpServers",
        "plain",
        "https://docs.windsurf.com/windsurf/cascade/mcp",
        _windsurf,
    ),
    Host("zed", "Zed", "jsonc", "context_servers", "zed", "https://zed.dev/docs/ai/mcp", _zed),
    Host(
        "codex",
        "Codex CLI",
        "toml",
        "mcp_servers",
        "plain",
        "https://github.com/openai/codex/blob/main/docs/config.md",
        _codex,
    ),
    Host(
        "gemini",
        "Gemini CLI",
        "jsonc",
        "mcpServers",
        "plain",
        "https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md",
        _gemini,
    ),
    Host(
        "goose",
        "Goose",
        "yaml",
        "extensions",
        "goose",
        "https://block.github.io/goose/docs/guides/config-files",
        _goose,
    ),
    Host("lm-studio", "LM Studio", "json", "mcpServers", "plain", "https://lmstudio.ai/docs/app/mcp", _lm_studio),
)


def find_host(text: str) -> Host:
    """A host by its id or its name, in any case (``claude-code``, ``Claude Code``, ``lm-studio``)."""
    wanted = text.strip().casefold().replace(" ", "-")
    for host in HOSTS:
        if wanted in (host.id, host.name.casefold().replace(" ", "-")):
            return host
    known = tuple(host.id for host in HOSTS)
    raise UnknownHost(f"No MCP host called {text!r} (hosts: {', '.join(known)}).", known=known)


def this_platform(name: str = sys.platform) -> Platform:
    if name == "darwin":
        return "darwin"
    if name.startswith("win"):
        return "windows"
    return "linux"


def place(
    host: Host,
    *,
    platform: Platform | None = None,
    environ: Mapping[str, str] | None = None,
    home: PurePath | None = None,
) -> Place:
    """Where ``host`` keeps its servers: on this machine by default, or on the platform, environment and home given
    (a Windows home as a :class:`~pathlib.PureWindowsPath`)."""
    chosen = platform or this_platform()
    if home is None:
        home = Path.home() if platform is None else (PureWindowsPath if chosen == "windows" else PurePosixPath)("~")
    return host.locate(chosen, os.environ if environ is None else environ, home)


def is_found(spot: Place) -> bool:
    """The host's file exists, or its folder does (it was installed or run here)."""
    return any(Path(path).exists() for path in (spot.config, *spot.markers))
