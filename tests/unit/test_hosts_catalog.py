"""Where each host keeps its servers on Linux, macOS and Windows, as its documentation says (docs/decisions/0021),
with the variables each host honours; and which hosts count as found."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from desktop_app.hosts.catalog import HOSTS, find_host, is_found, place
from desktop_app.hosts.errors import UnknownHost

LINUX_HOME = PurePosixPath("/home/alice")
MAC_HOME = PurePosixPath("/Users/alice")
WIN_HOME = PureWindowsPath("C:/Users/alice")
APPDATA = {"APPDATA": "C:\\Users\\alice\\AppData\\Roaming"}

EXPECTED = [
    ("claude-desktop", "linux", "/home/alice/.config/Claude/claude_desktop_config.json"),
    ("claude-desktop", "darwin", "/Users/alice/Library/Application Support/Claude/claude_desktop_config.json"),
    ("claude-desktop", "windows", "C:/Users/alice/AppData/Roaming/Claude/claude_desktop_config.json"),
    ("claude-code", "linux", "/home/alice/.claude.json"),
    ("claude-code", "darwin", "/Users/alice/.claude.json"),
    ("claude-code", "windows", "C:/Users/alice/.claude.json"),
    ("vscode", "linux", "/home/alice/.config/Code/User/mcp.json"),
    ("vscode", "darwin", "/Users/alice/Library/Application Support/Code/User/mcp.json"),
    ("vscode", "windows", "C:/Users/alice/AppData/Roaming/Code/User/mcp.json"),
    ("cursor", "linux", "/home/alice/.cursor/mcp.json"),
    ("cursor", "darwin", "/Users/alice/.cursor/mcp.json"),
    ("cursor", "windows", "C:/Users/alice/.cursor/mcp.json"),
    ("windsurf", "linux", "/home/alice/.codeium/windsurf/mcp_config.json"),
    ("windsurf", "darwin", "/Users/alice/.codeium/windsurf/mcp_config.json"),
    ("windsurf", "windows", "C:/Users/alice/.codeium/windsurf/mcp_config.json"),
    ("zed", "linux", "/home/alice/.config/zed/settings.json"),
    ("zed", "darwin", "/Users/alice/.config/zed/settings.json"),
    ("zed", "windows", "C:/Users/alice/AppData/Roaming/Zed/settings.json"),
    ("codex", "linux", "/home/alice/.codex/config.toml"),
    ("codex", "darwin", "/Users/alice/.codex/config.toml"),
    ("codex", "windows", "C:/Users/alice/.codex/config.toml"),
    ("gemini", "linux", "/home/alice/.gemini/settings.json"),
    ("gemini", "darwin", "/Users/alice/.gemini/settings.json"),
    ("gemini", "windows", "C:/Users/alice/.gemini/settings.json"),
    ("goose", "linux", "/home/alice/.config/goose/config.yaml"),
    ("goose", "darwin", "/Users/alice/.config/goose/config.yaml"),
    ("goose", "windows", "C:/Users/alice/AppData/Roaming/Block/goose/config/config.yaml"),
    ("lm-studio", "linux", "/home/alice/.lmstudio/mcp.json"),
    ("lm-studio", "darwin", "/Users/alice/.lmstudio/mcp.json"),
    ("lm-studio", "windows", "C:/Users/alice/.lmstudio/mcp.json"),
]
HOMES = {"linux": LINUX_HOME, "darwin": MAC_HOME, "windows": WIN_HOME}


def test_every_host_has_a_path_on_every_platform() -> None:
    assert {host.id for host in HOSTS} == {case[0] for case in EXPECTED}
    assert len({host.id for host in HOSTS}) == len(HOSTS) == 10


@pytest.mark.parametrize(("host_id", "platform", "path"), EXPECTED)
def test_the_documented_path(host_id: str, platform: str, path: str) -> None:
    environ = APPDATA if platform == "windows" else {}
    spot = place(find_host(host_id), platform=platform, environ=environ, home=HOMES[platform])  # type: ignore[arg-type]
    assert spot.config.as_posix() == path
    assert spot.markers and all(isinstance(m, type(HOMES[platform])) for m in spot.markers)


@pytest.mark.parametrize(
    ("host_id", "environ", "path"),
    [
        ("claude-desktop", {"XDG_CONFIG_HOME": "/xdg"}, "/xdg/Claude/claude_desktop_config.json"),
        ("vscode", {"XDG_CONFIG_HOME": "/xdg"}, "/xdg/Code/User/mcp.json"),
        ("zed", {"XDG_CONFIG_HOME": "/xdg"}, "/xdg/zed/settings.json"),
        ("zed", {"XDG_CONFIG_HOME": "/xdg", "FLATPAK_XDG_CONFIG_HOME": "/flat"}, "/flat/zed/settings.json"),
        ("goose", {"XDG_CONFIG_HOME": "/xdg"}, "/xdg/goose/config.yaml"),
        ("goose", {"GOOSE_PATH_ROOT": "/g"}, "/g/config/config.yaml"),
        ("codex", {"CODEX_HOME": "/c"}, "/c/config.toml"),
        ("claude-code", {"CLAUDE_CONFIG_DIR": "/cc"}, "/cc/.claude.json"),
        # A relative value is not a place (the XDG rule): the default is used.
        ("vscode", {"XDG_CONFIG_HOME": "relative"}, "/home/alice/.config/Code/User/mcp.json"),
        ("codex", {"CODEX_HOME": "relative"}, "/home/alice/.codex/config.toml"),
    ],
)
def test_the_variables_each_host_honours(host_id: str, environ: dict[str, str], path: str) -> None:
    assert place(find_host(host_id), platform="linux", environ=environ, home=LINUX_HOME).config.as_posix() == path


@pytest.mark.parametrize("text", ["claude-code", "Claude Code", "CLAUDE-CODE", " lm-studio ", "LM Studio", "goose"])
def test_a_host_by_id_or_name(text: str) -> None:
    assert find_host(text).id in {"claude-code", "lm-studio", "goose"}


def test_an_unknown_host_names_the_known_ones() -> None:
    with pytest.raises(UnknownHost) as caught:
        find_host("emacs")
    assert caught.value.code == "unknown_host"
    assert "emacs" in caught.value.message
    assert caught.value.known == tuple(host.id for host in HOSTS)


def test_found_means_the_file_or_the_hosts_folder_exists(tmp_path: Path) -> None:
    cursor = place(find_host("cursor"), platform="linux", environ={}, home=tmp_path)
    assert not is_found(cursor)
    (tmp_path / ".cursor").mkdir()
    assert is_found(cursor)
    code = place(find_host("claude-code"), platform="linux", environ={}, home=tmp_path)
    assert not is_found(code)
    (tmp_path / ".claude.json").write_text("{}")
    assert is_found(code)
