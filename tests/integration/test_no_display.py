"""``mcp-connectors`` on a machine without a screen: the real entry point in a fresh process, and real Qt failing
where it would (no display named, a display nobody answers at, a platform plugin or a GUI library the loader cannot
load). Each ends with one message and exit status 7, never Qt's abort; the command line keeps working."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYSIDE6 = Path(__import__("PySide6").__file__).parent
EXIT_NO_WINDOW = 7
FOOTER = [
    "  The command line works without a display: mcp-connectors --help",
    "  (exit status 7: the window cannot open here)",
]


def environment(**extra: str) -> dict[str, str]:
    """This environment without any display (nor a platform chosen for Qt), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.pop("XDG_SESSION_TYPE", None)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run(env: Mapping[str, str], *argv: str, module: str = "desktop_app") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *argv], capture_output=True, text=True, timeout=120, env=dict(env)
    )


def unused_display() -> str:
    """An X display number no server listens on here."""
    sockets = Path("/tmp/.X11-unix")  # noqa: S108  (where X servers put their sockets; only looked at)
    number = next(n for n in range(917, 1100) if not (sockets / f"X{n}").exists())
    return f":{number}"


@pytest.mark.parametrize("argv", [[], ["--hidden"], ["-v", "--hidden"]])
def test_no_display_one_message_and_status_7(argv: list[str]) -> None:
    result = run(environment(), *argv)
    assert result.returncode == EXIT_NO_WINDOW, result.stderr
    assert result.stderr.splitlines() == [
        "mcp-connectors: no display found, so the window cannot open (neither DISPLAY nor WAYLAND_DISPLAY is set).",
        "  The command line works without a display: mcp-connectors --help",
        "  To use the window, start mcp-connectors in a desktop session (or over SSH with X forwarding: ssh -X).",
        "  (exit status 7: the window cannot open here)",
    ]
    assert result.stdout == ""


def test_the_command_line_works_without_a_display() -> None:
    env = environment()
    helped = run(env, "--help")
    assert helped.returncode == 0 and "connect" in helped.stdout
    assert "7 the window cannot open here" in " ".join(helped.stdout.split())
    assert run(env, "--version").stdout.strip() == "mcp-connectors 0.1.0"
    listed = run(env, "list", "--json")
    assert listed.returncode == 0, listed.stderr


def test_the_window_s_own_entry_says_the_same() -> None:
    result = run(environment(), module="desktop_app.app")
    assert result.returncode == EXIT_NO_WINDOW
    assert result.stderr.startswith("mcp-connectors: no display found")


def test_a_platform_asked_for_without_its_display() -> None:
    result = run(environment(QT_QPA_PLATFORM="xcb"))
    assert result.returncode == EXIT_NO_WINDOW
    assert result.stderr.splitlines()[0] == (
        "mcp-connectors: no display found, so the window cannot open (QT_QPA_PLATFORM=xcb asks for a display and "
        "none is named)."
    )


def test_a_display_nobody_answers_at() -> None:
    """Real Qt tries and fails ("could not connect to display", then its abort): the app's message instead."""
    display = unused_display()
    result = run(environment(DISPLAY=display))
    assert result.returncode == EXIT_NO_WINDOW, (result.returncode, result.stderr)
    assert result.stderr.splitlines() == [
        f"mcp-connectors: cannot reach the display (DISPLAY={display}), so the window cannot open.",
        "  Check that the desktop session is running and that the variable names its display.",
        *FOOTER,
    ]


def test_a_platform_plugin_library_the_loader_refuses(tmp_path: Path) -> None:
    """Qt's xcb plugin cannot be loaded: a broken libxcb-cursor.so.0 comes first on the library path."""
    (tmp_path / "libxcb-cursor.so.0").write_bytes(b"")
    result = run(environment(DISPLAY=unused_display(), LD_LIBRARY_PATH=str(tmp_path)))
    assert result.returncode == EXIT_NO_WINDOW, (result.returncode, result.stderr)
    assert result.stderr.splitlines() == [
        "mcp-connectors: the window cannot open: Qt's xcb platform plugin needs libraries that cannot be loaded: "
        "libxcb-cursor.so.0.",
        "  Install them: sudo apt install --reinstall libxcb-cursor0",
        *FOOTER,
    ]


#: The entry, with one library more in the table of packages (the seam for a library missing outright).
WITH_PACKAGE = """
import sys
from desktop_app.desktop import libraries
libraries.DEBIAN_PACKAGES["libxcb-cursoX.so.0"] = "libxcb-cursor0"
from desktop_app.__main__ import main
sys.exit(main([]))
"""


def test_a_platform_plugin_library_that_is_not_installed(tmp_path: Path) -> None:
    """A copy of Qt's xcb plugin that needs a library no system has (its name changed in the file), loaded by real
    Qt: what a machine without libxcb-cursor0 sees."""
    original = (PYSIDE6 / "Qt" / "plugins" / "platforms" / "libqxcb.so").read_bytes()
    assert original.count(b"libxcb-cursor.so.0\0") == 1
    plugin = tmp_path / "platforms" / "libqxcb.so"
    plugin.parent.mkdir()
    plugin.write_bytes(original.replace(b"libxcb-cursor.so.0\0", b"libxcb-cursoX.so.0\0"))
    env = environment(DISPLAY=unused_display(), QT_QPA_PLATFORM_PLUGIN_PATH=str(plugin.parent))
    result = subprocess.run([sys.executable, "-c", WITH_PACKAGE], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == EXIT_NO_WINDOW, (result.returncode, result.stderr)
    assert result.stderr.splitlines() == [
        "mcp-connectors: the window cannot open: Qt's xcb platform plugin needs libraries that are not installed: "
        "libxcb-cursoX.so.0.",
        "  Install them: sudo apt install libxcb-cursor0",
        *FOOTER,
    ]
    unknown = run(env)  # without the table's help: how to find the package
    assert unknown.returncode == EXIT_NO_WINDOW
    assert "  Find the package of libxcb-cursoX.so.0 with: apt-file search libxcb-cursoX.so.0" in unknown.stderr


@pytest.mark.parametrize("module", ["desktop_app", "desktop_app.app"])
def test_qt_s_gui_libraries_the_loader_refuses(tmp_path: Path, module: str) -> None:
    """Importing the window fails (a broken libGL.so.1, as on a server without libgl1): no traceback."""
    (tmp_path / "libGL.so.1").write_bytes(b"")
    result = run(environment(DISPLAY=unused_display(), LD_LIBRARY_PATH=str(tmp_path)), module=module)
    assert result.returncode == EXIT_NO_WINDOW, (result.returncode, result.stderr)
    assert result.stderr.splitlines() == [
        "mcp-connectors: the window cannot open: Qt needs libraries that cannot be loaded: libGL.so.1.",
        "  Install them: sudo apt install --reinstall libgl1",
        *FOOTER,
    ]
    # With no display either, the display comes first; the libraries are said for later.
    result = run(environment(LD_LIBRARY_PATH=str(tmp_path)), module=module)
    assert result.returncode == EXIT_NO_WINDOW
    assert "  On a desktop it will also need: sudo apt install --reinstall libgl1" in result.stderr.splitlines()


#: QApplication made as the app makes it: what platform it started on.
QT_START = """
import sys
from PySide6.QtWidgets import QApplication
from desktop_app.app.qt_start import without_abort
app = without_abort(lambda: QApplication(sys.argv[:1]))
print("platform", app.platformName())
"""


def test_what_qt_says_on_the_way_to_a_start_is_still_said(tmp_path: Path) -> None:
    """Wayland is tried first and cannot start, offscreen then does: the app starts, and Qt's warning about Wayland
    is printed as Qt prints it (held only while Qt might still fail)."""
    env = environment(QT_QPA_PLATFORM="wayland;offscreen", XDG_RUNTIME_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", QT_START], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "platform offscreen"
    assert 'qt.qpa.plugin: Could not load the Qt platform plugin "wayland"' in result.stderr
