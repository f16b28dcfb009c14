"""What the PyInstaller definitions put in the bundle (packaging/pyinstaller/bundle_contents.py): the Qt plugins kept,
the Qt libraries pruned by what links them, the system's libraries left to the distribution (docs/decisions/0023)."""

from __future__ import annotations

import importlib.util
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location(
    "bundle_contents", ROOT / "packaging" / "pyinstaller" / "bundle_contents.py"
)
assert _SPEC is not None and _SPEC.loader is not None
contents = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(contents)

WHEELS = Path(sysconfig.get_path("platlib"))
QT = WHEELS / "PySide6" / "Qt"
PYTHON_LIBRARY = "/opt/python/lib/libpython3.11.so.1.0"

#: What each (fake) source file links.
LINKS = {
    str(WHEELS / "PySide6" / "QtWidgets.abi3.so"): ["libQt6Widgets.so.6", "libQt6Core.so.6", "libc.so.6"],
    str(QT / "lib" / "libQt6Widgets.so.6"): ["libQt6Gui.so.6", "libQt6Core.so.6"],
    str(QT / "lib" / "libQt6Gui.so.6"): ["libQt6Core.so.6", "libX11.so.6"],
    str(QT / "lib" / "libQt6XcbQpa.so.6"): ["libQt6Gui.so.6", "libxcb-cursor.so.0"],
    str(QT / "plugins" / "platforms" / "libqxcb.so"): ["libQt6XcbQpa.so.6"],
    str(QT / "plugins" / "platforms" / "libqeglfs.so"): ["libQt6EglFSDeviceIntegration.so.6"],
    str(QT / "lib" / "libQt6EglFSDeviceIntegration.so.6"): ["libQt6Gui.so.6"],
}


def linked(source: str) -> list[str]:
    return LINKS.get(source, [])


def qt_lib(name: str) -> tuple[str, str, str]:
    return (f"PySide6/Qt/lib/{name}", str(QT / "lib" / name), "BINARY")


def plugin(kind: str, name: str) -> tuple[str, str, str]:
    return (f"PySide6/Qt/plugins/{kind}/{name}", str(QT / "plugins" / kind / name), "BINARY")


BINARIES = [
    ("PySide6/QtWidgets.abi3.so", str(WHEELS / "PySide6" / "QtWidgets.abi3.so"), "EXTENSION"),
    qt_lib("libQt6Core.so.6"),
    qt_lib("libQt6Gui.so.6"),
    qt_lib("libQt6Widgets.so.6"),
    qt_lib("libQt6XcbQpa.so.6"),
    qt_lib("libQt6EglFSDeviceIntegration.so.6"),
    ("libQt6EglFSDeviceIntegration.so.6", "PySide6/Qt/lib/libQt6EglFSDeviceIntegration.so.6", "SYMLINK"),
    ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
    plugin("platforms", "libqxcb.so"),
    plugin("platforms", "libqeglfs.so"),
    plugin("imageformats", "libqsvg.so"),
    plugin("imageformats", "libqjpeg.so"),
    ("libX11.so.6", "/usr/lib/x86_64-linux-gnu/libX11.so.6", "BINARY"),
    ("libxcb-cursor.so.0", "/lib/x86_64-linux-gnu/libxcb-cursor.so.0", "BINARY"),
    ("libpython3.11.so.1.0", PYTHON_LIBRARY, "BINARY"),
    ("_cffi_backend.cpython-311-x86_64-linux-gnu.so", str(WHEELS / "_cffi_backend.so"), "EXTENSION"),
]


def names(entries: list[tuple[str, str, str]]) -> set[str]:
    return {entry[0] for entry in entries}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", ("platforms", "qxcb")),
        ("PySide6\\Qt\\plugins\\platforms\\qwindows.dll", ("platforms", "qwindows")),
        (
            "PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
            ("xcbglintegrations", "qxcb-glx-integration"),
        ),
        ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", ("platforms", "qcocoa")),
        ("PySide6/Qt/lib/libQt6Gui.so.6", None),
        ("libqxcb.so", None),
        ("certifi/cacert.pem", None),
    ],
)
def test_a_qt_plugin_is_named_by_kind_and_stem(name: str, expected: tuple[str, str] | None) -> None:
    assert contents.plugin_of(name) == expected


def test_linux_keeps_the_plugins_used_and_the_qt_libraries_they_link() -> None:
    kept, _datas, dropped = contents.prune(
        list(BINARIES), [], linked=linked, platform="linux", python_library=PYTHON_LIBRARY
    )
    assert names(kept) == {
        "PySide6/QtWidgets.abi3.so",
        "PySide6/Qt/lib/libQt6Core.so.6",
        "PySide6/Qt/lib/libQt6Gui.so.6",
        "PySide6/Qt/lib/libQt6Widgets.so.6",
        "PySide6/Qt/lib/libQt6XcbQpa.so.6",  # linked by the xcb plugin only
        "libQt6Gui.so.6",  # PyInstaller's link to a library kept
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/imageformats/libqsvg.so",
        "libpython3.11.so.1.0",  # Python's own library, wherever it lives
        "_cffi_backend.cpython-311-x86_64-linux-gnu.so",
    }
    assert set(dropped) == {
        "PySide6/Qt/plugins/platforms/libqeglfs.so",
        "PySide6/Qt/plugins/imageformats/libqjpeg.so",
        "PySide6/Qt/lib/libQt6EglFSDeviceIntegration.so.6",  # only the eglfs plugin linked it
        "libX11.so.6",  # the system's: the package depends on it
        "libxcb-cursor.so.0",
    }
    assert dropped == sorted(dropped)


def test_the_link_to_a_dropped_library_goes_too() -> None:
    kept, _datas, _dropped = contents.prune(list(BINARIES), [], linked=linked, platform="linux")
    assert "libQt6EglFSDeviceIntegration.so.6" not in names(kept)


def test_outside_linux_the_system_libraries_are_pyinstallers_business() -> None:
    kept, _datas, dropped = contents.prune(list(BINARIES), [], linked=linked, platform="win32")
    assert {"libX11.so.6", "libxcb-cursor.so.0"} <= names(kept)
    assert "libX11.so.6" not in dropped


def test_plugins_collected_as_data_are_pruned_alike() -> None:
    datas = [
        ("PySide6/Qt/plugins/platforms/libqvnc.so", str(QT / "plugins" / "platforms" / "libqvnc.so"), "DATA"),
        ("desktop_app/resources/icons/app.svg", str(ROOT / "resources" / "icons" / "app.svg"), "DATA"),
    ]
    _kept, kept_datas, _dropped = contents.prune([], datas, linked=linked, platform="linux")
    assert names(kept_datas) == {"desktop_app/resources/icons/app.svg"}


def test_the_top_level_modules_carried_include_extension_modules_outside_the_standard_library() -> None:
    pure = [("httpx._client", "/x/httpx/_client.py", "PYMODULE"), ("desktop_app.ui", "/x/ui.py", "PYMODULE")]
    binaries = [
        ("PySide6/QtCore.abi3.so", "/x/QtCore.abi3.so", "EXTENSION"),
        ("_cffi_backend.cpython-311-x86_64-linux-gnu.so", "/x/_cffi_backend.so", "EXTENSION"),
        ("python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so", "/x/_ssl.so", "EXTENSION"),
        ("libQt6Core.so.6", "/x/libQt6Core.so.6", "BINARY"),
    ]
    assert contents.top_level_modules(pure, binaries) == ["PySide6", "_cffi_backend", "desktop_app", "httpx"]


def test_the_apps_modules_must_come_from_this_checkout(tmp_path: Path) -> None:
    contents.check_sources([("desktop_app.ui", str(ROOT / "desktop_app" / "ui" / "__init__.py"), "PYMODULE")])
    with pytest.raises(SystemExit, match="outside"):
        contents.check_sources([("desktop_app.ui", str(tmp_path / "desktop_app" / "ui" / "__init__.py"), "PYMODULE")])


def test_no_qt_module_the_app_does_not_use_can_come_in() -> None:
    for module in ("PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PySide6.Qt3DCore"):
        assert module in contents.EXCLUDED_MODULES
    used = {"QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtSvg"}
    assert not {f"PySide6.{module}" for module in used} & set(contents.EXCLUDED_MODULES)
