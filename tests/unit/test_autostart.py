"""Start at login: the XDG autostart entry written, read and removed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app import appinfo
from desktop_app.app import autostart
from desktop_app.desktop import entry
from desktop_app.desktop.errors import ProgramNotFound


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


def test_exec_line_quotes_paths_with_spaces_as_the_desktop_entry_spec_says() -> None:
    """Double quotes (a shell's single quotes are a reserved character there, not a quote), built by the same
    builder as the menu entry, named after the same app id."""
    text = entry.desktop_entry(["/opt/My Apps/mcp-connectors", "--hidden"], autostart=True)
    assert 'Exec="/opt/My Apps/mcp-connectors" --hidden' in text
    assert "X-GNOME-Autostart-enabled=true" in text and f"Icon={appinfo.APP_ID}" in text
    assert autostart.entry_path({"HOME": "/home/x"}).name == entry.FILE_NAME == f"{appinfo.APP_ID}.desktop"


def test_the_autostart_entry_starts_the_program_the_menu_entry_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(autostart, "installed_program", lambda: "/opt/mcp connectors/mcp-connectors")
    path = autostart.set_enabled(True, {"XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert 'Exec="/opt/mcp connectors/mcp-connectors" --hidden' in path.read_text()
    validator = shutil.which("desktop-file-validate")
    assert validator, "desktop-file-validate is not installed (Debian: desktop-file-utils; tests/setup-and-run.sh)"
    result = subprocess.run([validator, str(path)], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_without_an_installed_program_the_entry_runs_this_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    def nowhere() -> str:
        raise ProgramNotFound("nowhere")

    monkeypatch.setattr(autostart, "installed_program", nowhere)
    assert autostart.command() == [sys.executable, "-m", "desktop_app.app", "--hidden"]


def test_relative_xdg_config_home_is_ignored(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": "relative/dir", "HOME": str(tmp_path)}
    assert autostart.entry_path(env) == tmp_path / ".config" / "autostart" / f"{appinfo.APP_ID}.desktop"
