"""Whether the window can open, decided before Qt aborts: the environment read as Qt reads it, Qt's messages and the
loader's understood, and each library named with the Debian package that provides it (checked against this
machine's dpkg and against what the installed Qt plugins link)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from desktop_app.app import display
from desktop_app.app.display import NoWindow
from desktop_app.desktop import libraries
from desktop_app.desktop.libraries import DEBIAN_PACKAGES, MissingLibrary, missing

PYSIDE6 = Path(__import__("PySide6").__file__).parent
PLUGINS = PYSIDE6 / "Qt" / "plugins"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, NoWindow("no_display")),
        ({"DISPLAY": ":0"}, None),
        ({"WAYLAND_DISPLAY": "wayland-0"}, None),
        ({"DISPLAY": ""}, NoWindow("no_display")),
        ({"QT_QPA_PLATFORM": "offscreen"}, None),
        ({"QT_QPA_PLATFORM": "vnc"}, None),
        ({"QT_QPA_PLATFORM": "xcb"}, NoWindow("no_display", ("xcb",))),
        ({"QT_QPA_PLATFORM": "xcb:nograb", "DISPLAY": ":1"}, None),
        ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":1"}, NoWindow("no_display", ("wayland",))),
        ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":1"}, None),
        ({"QT_QPA_PLATFORM": "wayland;offscreen"}, None),
        ({"QT_QPA_PLATFORM": "someday-platform"}, None),  # not ours to judge: Qt says
    ],
)
def test_the_environment_alone(environ: dict[str, str], expected: NoWindow | None) -> None:
    assert display.before_qt(environ, platform="linux") == expected


def test_wayland_without_its_variable_uses_the_default_socket(tmp_path: Path) -> None:
    environ = {"QT_QPA_PLATFORM": "wayland", "XDG_RUNTIME_DIR": str(tmp_path)}
    assert display.before_qt(environ, platform="linux") == NoWindow("no_display", ("wayland",))
    (tmp_path / "wayland-0").touch()
    assert display.before_qt(environ, platform="linux") is None


def test_macos_and_windows_always_have_their_window_system() -> None:
    assert display.before_qt({}, platform="darwin") is None
    assert display.before_qt({}, platform="win32") is None


QT_NO_DISPLAY = [
    "could not connect to display ",
    "From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb platform plugin.",
    'Could not load the Qt platform plugin "xcb" in "" even though it was found.',
    "This application failed to start because no Qt platform plugin could be initialized. Reinstalling the "
    "application may fix this problem.\n\nAvailable platform plugins are: minimal, offscreen, xcb.\n",
]


def test_qt_failing_to_reach_the_display_is_not_taken_for_a_missing_library() -> None:
    """Qt mentions libxcb-cursor0 whenever xcb fails: the plugin's real libraries decide (all there here)."""
    problem = display.after_qt_failed(QT_NO_DISPLAY, {"DISPLAY": ":99"}, PLUGINS)
    assert (problem.reason, problem.platforms, problem.missing) == ("display_unreachable", ("xcb",), ())
    said = display.message(problem, {"DISPLAY": ":99"})
    assert said.startswith("mcp-connectors: cannot reach the display (DISPLAY=:99), so the window cannot open.")
    assert "mcp-connectors --help" in said and "(exit status 7" in said
    assert "libxcb-cursor" not in said


def test_a_missing_plugin_library_is_named_with_its_package(tmp_path: Path) -> None:
    """ldd's report of the plugin, as it is on a machine without libxcb-cursor0 (the seam: a stand-in ldd)."""
    plugin = tmp_path / "platforms" / "libqxcb.so"
    plugin.parent.mkdir()
    plugin.write_bytes(b"\x7fELF")
    ldd = tmp_path / "ldd"
    ldd.write_text(
        "#!/bin/sh\n"
        "printf '\\tlibxcb-cursor.so.0 => not found\\n\\tlibxcb-icccm.so.4 => not found\\n'\n"
        "printf '\\tlibX11.so.6 => /lib/x86_64-linux-gnu/libX11.so.6 (0x0)\\n\\tlibxcb-cursor.so.0 => not found\\n'\n"
    )
    ldd.chmod(0o755)
    found = libraries.missing_libraries(plugin, ldd=str(ldd))
    assert found == (missing("libxcb-cursor.so.0"), missing("libxcb-icccm.so.4"))
    assert libraries.apt_install(found) == "sudo apt install libxcb-cursor0 libxcb-icccm4"
    problem = NoWindow("missing_libraries", ("xcb",), found)
    said = display.message(problem, {"DISPLAY": ":0"})
    assert said.splitlines() == [
        "mcp-connectors: the window cannot open: Qt's xcb platform plugin needs libraries that are not installed: "
        "libxcb-cursor.so.0, libxcb-icccm.so.4.",
        "  Install them: sudo apt install libxcb-cursor0 libxcb-icccm4",
        "  The command line works without a display: mcp-connectors --help",
        "  (exit status 7: the window cannot open here)",
    ]


def test_the_loader_s_words_are_understood() -> None:
    assert libraries.from_loader_message("libGL.so.1: cannot open shared object file: No such file or directory") == (
        MissingLibrary("libGL.so.1", "libgl1")
    )
    damaged = libraries.from_loader_message("/usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0: file too short")
    assert damaged == MissingLibrary("libxcb-cursor.so.0", "libxcb-cursor0", True, "file too short")
    assert libraries.apt_install([damaged]) == "sudo apt install --reinstall libxcb-cursor0"
    assert libraries.from_loader_message("No module named 'PySide6.QtWidgets'") is None
    unknown = libraries.from_loader_message("libfuture.so.9: cannot open shared object file: No such file")
    assert unknown == MissingLibrary("libfuture.so.9", None)
    assert libraries.apt_install([unknown]) is None
    said = display.message(NoWindow("missing_libraries", (), (unknown,)), {})
    assert "Find the package of libfuture.so.9 with: apt-file search libfuture.so.9" in said


def test_an_import_error_that_is_no_library_problem_is_not_hidden() -> None:
    assert display.after_import_failed(ImportError("cannot import name 'X' from 'PySide6'"), {}) is None
    with pytest.raises(ImportError, match="cannot import name"):
        display.refuse_import(ImportError("cannot import name 'X' from 'PySide6'"))


def test_without_a_display_the_display_is_said_first_and_the_libraries_after() -> None:
    problem = display.after_import_failed(
        ImportError("libGL.so.1: cannot open shared object file: No such file or directory"), {}
    )
    assert problem is not None and problem.reason == "no_display"
    said = display.message(problem, {})
    assert said.startswith(
        "mcp-connectors: no display found, so the window cannot open (neither DISPLAY nor WAYLAND_DISPLAY is set)."
    )
    # On this machine ldd finds QtWidgets' libraries: the loader's own report names the one it missed.
    assert "  On a desktop it will also need: sudo apt install libgl1" in said.splitlines()


def test_text_from_the_environment_is_printed_inert() -> None:
    problem = NoWindow("display_unreachable", ("xcb",))
    said = display.message(problem, {"DISPLAY": ":0\x1b]0;owned\x07\nfake line"})
    assert "\x1b" not in said and "\x07" not in said and "fake line" in said.splitlines()[0]


def installed_qt_libraries() -> set[str]:
    """Every library the installed Qt GUI modules and platform plugins load from outside PySide6 (ldd)."""
    binaries = [
        PLUGINS / "platforms" / "libqxcb.so",
        PLUGINS / "platforms" / "libqwayland.so",
        PLUGINS / "platforms" / "libqoffscreen.so",
        *PYSIDE6.glob("QtWidgets.*so"),
        *PYSIDE6.glob("QtSvg.*so"),
        *PYSIDE6.glob("QtDBus.*so"),
    ]
    names: set[str] = set()
    for binary in binaries:
        if not binary.is_file():
            continue
        output = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
        for line in output.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "=>" and "PySide6" not in parts[2] and "shiboken6" not in parts[2]:
                names.add(parts[0])
    return names


#: The C and C++ runtime: on every Debian system, never what is missing.
RUNTIME = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "libstdc++.so.6", "libgcc_s.so.1", "librt.so.1"}


def test_every_library_the_installed_qt_needs_has_its_package_named() -> None:
    """A PySide6 that starts needing another library fails here, until the table names its package."""
    needed = installed_qt_libraries() - RUNTIME
    assert needed, "ldd found nothing: is PySide6 installed?"
    assert needed - set(DEBIAN_PACKAGES) == set()
    assert {"libxcb-cursor.so.0", "libGL.so.1", "libxkbcommon-x11.so.0"} <= needed


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian system")
def test_the_table_names_the_packages_dpkg_knows() -> None:
    """Checked on the libraries installed here (the suite's machine has the ones Qt needs)."""
    wrong = {}
    for soname, package in DEBIAN_PACKAGES.items():
        result = subprocess.run(["dpkg", "-S", f"*/{soname}"], capture_output=True, text=True, check=False)
        owners = {line.split(":")[0] for line in result.stdout.splitlines()}
        if owners and package not in owners:
            wrong[soname] = (package, sorted(owners))
    assert wrong == {}
