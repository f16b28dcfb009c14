"""The window and the desktop's menu: Help > "Add to the application menu" while the menu has no entry for the app,
doing what ``desktop install`` does; and, on a real X display (Xvfb), the window's WM_CLASS is what the entry's
``StartupWMClass`` says, so the desktop matches the running window to its entry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from desktop_app import appinfo
from desktop_app.desktop import entry, installer
from desktop_app.desktop.files import ENTRY, png_icon
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.menu_entry import MenuEntryOffer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The person's data folder (empty), and system folders without the app."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "system"))
    return tmp_path / "share"


@pytest.fixture
def window(qtbot, controller: Controller, data: Path) -> MainWindow:
    made = MainWindow(controller, hosts=list, live=list)
    qtbot.addWidget(made)
    made.show()
    return made


def help_menu(window: QMainWindow) -> QMenu:
    menus = [a.menu() for a in window.menuBar().actions() if a.menu() is not None]
    found = next((m for m in menus if isinstance(m, QMenu) and m.title() == "&Help"), None)
    assert found is not None
    return found


def offered(window: QMainWindow) -> bool:
    """What the person sees on opening Help: the item, when it is shown."""
    menu = help_menu(window)
    menu.aboutToShow.emit()
    return any(a.objectName() == "addToApplicationMenu" and a.isVisible() for a in menu.actions())


async def test_help_offers_the_menu_entry_while_it_is_missing_and_adds_it(window: MainWindow, data: Path) -> None:
    assert offered(window)
    window.menu_entry.action.trigger()
    written = data.joinpath(ENTRY)
    assert written.is_file()
    assert entry.value_of(written.read_text(), "TryExec") == installer.installed_program()
    assert data.joinpath(png_icon(256)).is_file()
    assert "is in the application menu now" in window.statusBar().currentMessage()
    assert not offered(window)
    installer.remove()  # taken out from the command line meanwhile: offered again when Help opens next
    assert offered(window)


async def test_not_offered_when_a_package_brought_the_entry(window: MainWindow, data: Path) -> None:
    system = Path(os.environ["XDG_DATA_DIRS"]).joinpath(ENTRY)
    system.parent.mkdir(parents=True)
    system.write_text(entry.desktop_entry([sys.executable]))
    assert not offered(window)
    system.write_text(entry.desktop_entry(["/nowhere/mcp-connectors"]))  # its program gone: the menu hides it
    assert offered(window)


async def test_a_file_in_the_way_is_said_and_kept(qtbot, window: MainWindow, data: Path) -> None:
    theirs = data.joinpath(png_icon(48))
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"my own icon")
    window.menu_entry.action.trigger()
    box = window.findChild(QMessageBox, "errorBox")
    assert box is not None and box.isVisible()
    assert f"{theirs} was not written by this app's desktop install" in box.text()
    assert "Move that file away" in box.informativeText()
    assert theirs.read_bytes() == b"my own icon" and not data.joinpath(ENTRY).exists()
    assert offered(window)
    box.close()


def test_never_offered_where_there_is_no_freedesktop_menu(qtbot) -> None:
    made = QMainWindow()
    qtbot.addWidget(made)
    menu = made.menuBar().addMenu("&Help")
    offer = MenuEntryOffer(menu, made, supported=lambda: False, status=lambda: pytest.fail("not asked"))
    menu.aboutToShow.emit()
    assert not offer.action.isVisible()


# -- on a real X display ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    xvfb = subprocess.run(["sh", "-c", "command -v Xvfb"], capture_output=True, text=True).stdout.strip()
    if not xvfb:
        pytest.fail("Xvfb is not installed: run tests/setup-and-run.sh as root (it installs xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


#: The real app on the display; once its window shows, reads the window's WM_CLASS (Xlib's XGetClassHint) and quits.
DRIVER = r"""
import ctypes, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import desktop_app.app.main as app_main
from desktop_app.ui.main_window import MainWindow

class ClassHint(ctypes.Structure):
    _fields_ = [("res_name", ctypes.c_char_p), ("res_class", ctypes.c_char_p)]

x11 = ctypes.CDLL("libX11.so.6")
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
x11.XGetClassHint.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ClassHint)]
app = QApplication(sys.argv[:1])

def look():
    window = next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()), None)
    if window is None:
        QTimer.singleShot(100, look)
        return
    hint = ClassHint()
    x11.XGetClassHint(x11.XOpenDisplay(None), int(window.winId()), ctypes.byref(hint))
    print("WM_CLASS", (hint.res_name or b"").decode(), (hint.res_class or b"").decode(), flush=True)
    window.sig_quit_requested.emit()

QTimer.singleShot(200, look)
sys.exit(app_main.main([]))
"""


def test_the_window_s_class_is_the_entry_s_startup_wm_class(x_display: str, tmp_path: Path) -> None:
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    env["MCP_CONNECTORS_HOME"] = str(tmp_path / "profile")
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("WM_CLASS "))
    _, _instance, window_class = line.split(" ")
    assert window_class == entry.WM_CLASS == appinfo.COMMAND
    assert entry.value_of(entry.desktop_entry(["mcp-connectors"]), "StartupWMClass") == window_class
