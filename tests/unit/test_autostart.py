"""Start at login: the XDG autostart entry written, read and removed."""

from __future__ import annotations

from pathlib import Path

from desktop_app import appinfo
from desktop_app.app import autostart


def test_autostart_entry_round_trip(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}
    assert not autostart.is_enabled(env)
    path = autostart.set_enabled(True, env)
    assert path == tmp_path / "config" / "autostart" / f"{appinfo.APP_ID}.desktop"
    text = path.read_text()
    assert "[Desktop Entry]" in text and "Type=Application" in text and f"Name={appinfo.APP_NAME}" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line.endswith(" --hidden")
    assert autostart.is_enabled(env)
    autostart.set_enabled(False, env)
    assert not autostart.is_enabled(env) and not path.exists()
    autostart.set_enabled(False, env)  # removing twice is fine


def test_exec_line_quotes_paths_with_spaces() -> None:
    entry = autostart.desktop_entry(["/opt/My Apps/mcp-connectors", "--hidden"])
    assert "Exec='/opt/My Apps/mcp-connectors' --hidden" in entry


def test_relative_xdg_config_home_is_ignored(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": "relative/dir", "HOME": str(tmp_path)}
    assert autostart.entry_path(env) == tmp_path / ".config" / "autostart" / f"{appinfo.APP_ID}.desktop"
