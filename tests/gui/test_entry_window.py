"""``mcp-connectors -v --hidden`` through the program's entry: the app starts (in the tray when there is one, else
its window shows), logs at INFO, and quits as Quit does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The entry as `mcp-connectors -v --hidden` runs it; once the loop runs, says what is visible and asks to quit.
DRIVER = """
import logging, os, signal, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from desktop_app.__main__ import main

app = QApplication(sys.argv[:1])
seen = []

def look_and_quit():
    seen.extend(w.objectName() or type(w).__name__ for w in app.topLevelWidgets() if w.isVisible())
    os.kill(os.getpid(), signal.SIGTERM)

QTimer.singleShot(400, look_and_quit)
status = main(["-v", "--hidden"])
print("level:", logging.getLevelName(logging.getLogger().level))
print("seen:", ",".join(sorted(seen)))
sys.exit(status)
"""


def test_verbose_and_hidden_start_the_app(tmp_path: Path) -> None:
    env = {**os.environ, "MCP_CONNECTORS_HOME": str(tmp_path / "profile"), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("MCP_CONNECTORS_DEBUG", None)
    result = subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "unrecognized arguments" not in result.stderr
    assert "level: INFO" in result.stdout
    assert "INFO desktop_app.app.main: Signal SIGTERM: quitting" in result.stderr  # -v: the window logs at INFO
    assert (tmp_path / "profile" / "registry.sqlite3").exists()
