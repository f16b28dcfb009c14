"""The build definitions this machine cannot run (macOS, Windows) are at least well-formed: the PyInstaller specs
compile, and the LaunchAgent template gives a property list that starts the app hidden at login."""

from __future__ import annotations

import plistlib
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from desktop_app.appinfo import APP_ID

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


@pytest.mark.parametrize("name", ["linux.spec", "macos.spec", "windows.spec"])
def test_the_pyinstaller_definitions_compile(name: str) -> None:
    path = PACKAGING / "pyinstaller" / name
    compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_the_launch_agent_starts_the_app_hidden_at_login_and_only_then() -> None:
    program = "/Applications/R&D <tools>/MCP Connector Manager.app/Contents/MacOS/mcp-connectors"
    template = (PACKAGING / "macos" / "launch-agent.plist").read_text(encoding="utf-8")
    agent = plistlib.loads(template.format(app_id=APP_ID, program=escape(program)).encode("utf-8"))
    assert agent["Label"] == APP_ID
    assert agent["ProgramArguments"] == [program, "--hidden"]
    assert agent["RunAtLoad"] is True
    assert "KeepAlive" not in agent  # Quit means quit until the next login
    assert agent["LimitLoadToSessionType"] == "Aqua"  # a graphical session, not an SSH login
