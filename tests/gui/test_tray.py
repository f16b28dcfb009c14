"""The tray on a real X display (Xvfb) with a real tray host (Debian's trayer): the icon embeds, the menu lists
the accounts, the window starts hidden with --hidden, a second launch brings the first forward, Quit ends the app."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.storage.profile import open_accounts
from tests.lab.accounts import sign_in

pytestmark = pytest.mark.lab

#: Runs the real app (desktop_app.app.main) and reports what a person would see, then quits through the tray.
DRIVER = r"""
import json, os, subprocess, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
import desktop_app.app.main as app_main
from desktop_app.ui.tray import Tray
from desktop_app.ui.main_window import MainWindow

app = QApplication(sys.argv[:1])
SIGN_IN_MODULE = "desktop_app.accounts.identity"
report = {}
state = {"tries": 0}

def window():
    return next(w for w in app.topLevelWidgets() if isinstance(w, MainWindow))

def look():
    tray = app.findChild(Tray)
    state["tries"] += 1
    if tray is None or (tray.icon.geometry().width() == 0 and state["tries"] < 100):
        QTimer.singleShot(100, look)  # the tray host embeds the icon asynchronously
        return
    report["available"] = QSystemTrayIcon.isSystemTrayAvailable()
    report["icon_width"] = tray.icon.geometry().width()
    report["window_visible_at_start"] = window().isVisible()
    tray.rebuild_menu()
    report["menu"] = tray.menu_texts()
    report["state"] = tray.state
    report["sign_in_modules_while_hidden"] = SIGN_IN_MODULE in sys.modules
    second = subprocess.run([sys.executable, "-m", "desktop_app.app"], capture_output=True, text=True, timeout=30)
    report["second_launch"] = [second.returncode, second.stderr.strip()[-300:]]
    QTimer.singleShot(300, after_second)

def after_second():
    report["window_visible_after_second_launch"] = window().isVisible()
    state["waits"] = 0
    prepared()

def prepared():
    # Shown: the first sign-in's modules are now loaded off the GUI thread (Controller.prepare).
    state["waits"] += 1
    if SIGN_IN_MODULE not in sys.modules and state["waits"] < 100:
        QTimer.singleShot(100, prepared)
        return
    report["sign_in_modules_once_shown"] = SIGN_IN_MODULE in sys.modules
    window().close()
    report["window_visible_after_close"] = window().isVisible()
    app.findChild(Tray).sig_quit_requested.emit()

QTimer.singleShot(200, look)
status = app_main.main(["--hidden"])
print(json.dumps(report))
sys.exit(status)
"""


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed: run tests/setup-and-run.sh as root (it installs xvfb and trayer)")
    return path


@pytest.fixture(scope="module")
def display_with_tray() -> Iterator[str]:
    """A private X display (Xvfb) with trayer as its system tray; yields DISPLAY."""
    xvfb = _need("Xvfb")
    trayer = _need("trayer")
    read, write = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    display = f":{number}"
    host = subprocess.Popen(
        [trayer, "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "24"],
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(0.5)  # trayer claims the tray selection right after it starts
    try:
        yield display
    finally:
        for process in (host, server):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


def test_tray_embeds_lists_accounts_single_instance_and_quit(display_with_tray: str, lab_mcp, tmp_path: Path) -> None:
    import json

    accounts = open_accounts()
    sign_in(accounts, lab_mcp.url, "alice")
    sign_in(accounts, lab_mcp.url, "bob")
    accounts.registry.close()
    env = {**os.environ, "DISPLAY": display_with_tray, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True, timeout=90, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["available"] is True
    assert report["icon_width"] > 0, "the icon did not embed in the tray"
    assert report["window_visible_at_start"] is False  # --hidden: only the tray
    menu = "\n".join(report["menu"])
    assert "alice@lab.test" in menu and "bob@lab.test" in menu and "Signed in · expires in" in menu
    assert {"Open Connector Manager", "Pause background renewal", "Quit"} <= set(report["menu"])
    assert report["state"] == "good"
    assert report["second_launch"][0] == 0 and "already running" in report["second_launch"][1]
    assert report["window_visible_after_second_launch"] is True  # the first instance came forward
    # The sign-in engine is imported with the app (issue 13: imports at the top); what that costs at rest is measured
    # by benchmarks/tray_idle.py against its memory target, not asserted here.
    assert report["sign_in_modules_once_shown"] is True
    assert report["window_visible_after_close"] is False  # closing the window keeps the app in the tray
