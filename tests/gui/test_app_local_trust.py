"""The app as a real process: its single-instance socket in the runtime directory (issue 12 item 7), a profile folder
others may write in refused with a message and exit code 6 (item 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sockets in folders, owners and modes: POSIX")

#: Starts the app as `mcp-connectors` would; once it runs, lists the runtime directory and closes every window.
DRIVER = """
import os, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import desktop_app.app.main as app_main

app = QApplication(sys.argv[:1])
seen, runtime = [], []

def look_then_close():
    runtime.extend(sorted(os.listdir(os.environ["XDG_RUNTIME_DIR"])))
    for widget in app.topLevelWidgets():
        if widget.isVisible():
            seen.append(widget.objectName() or type(widget).__name__)
            widget.close()

QTimer.singleShot(400, look_then_close)
status = app_main.main()
print("seen:", ",".join(sorted(seen)))
print("runtime:", ",".join(runtime))
sys.exit(status)
"""


def run_app(home: Path, runtime: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MCP_CONNECTORS_HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "QT_QPA_PLATFORM": "offscreen",
    }
    return subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def runtime(tmp_path: Path) -> Path:
    made = tmp_path / "runtime"
    made.mkdir(mode=0o700)
    return made


def test_the_app_listens_in_the_runtime_dir(tmp_path: Path, runtime: Path) -> None:
    result = run_app(tmp_path / "profile", runtime)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "seen: mainWindow" in result.stdout
    assert "runtime: mcp-connectors-" in result.stdout  # the socket, while the app ran
    assert not (tmp_path / "profile" / "run").exists()


def test_the_app_refuses_a_profile_others_may_write_in(tmp_path: Path, runtime: Path) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    profile.chmod(0o777)
    result = run_app(profile, runtime)
    assert result.returncode == 6, (result.returncode, result.stderr[-2000:])
    assert "seen: QMessageBox" in result.stdout
    assert list(profile.iterdir()) == []
