"""The app's entry point: a real process opens the window on the person's profile and exits cleanly when closed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

#: Starts the app as `mcp-connectors` would, closes every window shortly after they appear, reports what it saw.
DRIVER = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import desktop_app.app.main as app_main

app = QApplication(sys.argv[:1])
seen = []

def close_all():
    for widget in app.topLevelWidgets():
        if widget.isVisible():
            seen.append(widget.objectName() or type(widget).__name__)
            widget.close()

QTimer.singleShot(400, close_all)
status = app_main.main()
print("seen:", ",".join(sorted(seen)))
print("title:", app.applicationDisplayName())
sys.exit(status)
"""


def run_app(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MCP_CONNECTORS_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True, timeout=60, env=env)


def test_app_opens_the_window_and_exits_when_it_is_closed(tmp_path: Path) -> None:
    result = run_app(tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "seen: mainWindow" in result.stdout
    assert "title: MCP Connector Manager" in result.stdout
    assert (tmp_path / "profile" / "registry.sqlite3").exists() or any((tmp_path / "profile").iterdir())


def test_app_says_why_when_the_profile_cannot_be_opened(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the profile folder should be")
    result = run_app(blocker)
    assert result.returncode == 6, (result.returncode, result.stderr[-2000:])
    assert "seen: QMessageBox" in result.stdout


#: Starts the app (its window shown), says UP once the loop runs, and reports how main() ended.
SIGNAL_DRIVER = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import desktop_app.app.main as app_main

app = QApplication(sys.argv[:1])
QTimer.singleShot(300, lambda: print("UP", flush=True))
status = app_main.main()
print("main returned", status, flush=True)
import signal
restored = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and signal.set_wakeup_fd(-1) == -1
print("signals restored", restored, flush=True)
sys.exit(status)
"""


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_ends_the_app_as_quit_does(tmp_path: Path, signal_name: str) -> None:
    """The session ending (SIGTERM), Ctrl-C in a terminal (SIGINT), a closed terminal (SIGHUP): the app quits
    through its own quit path (renewals in flight are stored first), not by being killed half-way."""
    env = {**os.environ, "MCP_CONNECTORS_HOME": str(tmp_path / "profile"), "QT_QPA_PLATFORM": "offscreen"}
    process = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_DRIVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "UP"
        process.send_signal(getattr(signal, signal_name))
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, (process.returncode, err[-2000:])
    assert "main returned 0" in out
    assert "signals restored True" in out  # main() leaves no handler or wakeup fd behind (its socket is closed)
