"""What goes into the bundle, shared by the three PyInstaller definitions (``linux.spec``, ``macos.spec``,
``windows.spec``): the entry, the data files, the Python modules left out, and the pruning of what PyInstaller's Qt
hooks collect beyond what the app uses (docs/decisions/0023-bundle-and-deb.md).

PyInstaller's hooks for QtGui/QtWidgets/QtNetwork collect every plugin of their kinds (embedded platforms, evdev
input, TLS back ends, twelve image formats ...) and, on Linux, every system library those plugins link (GTK, X11,
Kerberos, systemd ...). :func:`prune` keeps the plugins listed in :data:`KEPT_QT_PLUGINS`, the Qt libraries
something kept still links, and, on Linux, nothing from the system: those come from the distribution (the ``.deb``
declares them, computed by ``dpkg-shlibdeps``), so that they get its security updates, match its X server and
drivers, and the bundle's file list does not depend on which libraries the build machine happens to have.

Run by PyInstaller from a spec file (``sys.path`` has this folder); plain Python, no PyInstaller import at the top,
so that the unit tests can import it.
"""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

#: The checkout the bundle is built from.
ROOT = Path(__file__).resolve().parents[2]
#: The program's name, folder and executable name in every bundle (``desktop_app.appinfo.COMMAND``).
NAME = "mcp-connectors"
ENTRY = ROOT / "packaging" / "pyinstaller" / "entry.py"
RUNTIME_HOOKS = [ROOT / "packaging" / "pyinstaller" / "rthook_child_environment.py"]
#: Our own PyInstaller hooks (data files PyInstaller's hooks do not collect).
HOOKS = ROOT / "packaging" / "pyinstaller" / "hooks"
#: Files the app reads at run time that must be in the bundle (``_internal/…``): certifi's CA bundle, the Public
#: Suffix List, the icons. packaging/smoke.py checks them.
RUNTIME_DATA = [
    "certifi/cacert.pem",
    "publicsuffixlist/public_suffix_list.dat",
    "desktop_app/resources/icons/app.svg",
]

#: Qt's Python modules the app must never carry (it imports QtCore, QtGui, QtWidgets, QtNetwork, QtSvg only; the
#: list guards against a dependency dragging one in). ``tkinter``: Python's other GUI toolkit.
EXCLUDED_MODULES = [
    *(
        f"PySide6.{module}"
        for module in (
            "QtQml",
            "QtQuick",
            "QtQuickControls2",
            "QtQuickWidgets",
            "QtQuickTest",
            "QtQuick3D",
            "QtWebEngineCore",
            "QtWebEngineWidgets",
            "QtWebEngineQuick",
            "QtWebChannel",
            "QtWebSockets",
            "Qt3DCore",
            "Qt3DRender",
            "Qt3DExtras",
            "QtMultimedia",
            "QtMultimediaWidgets",
            "QtPdf",
            "QtCharts",
            "QtDesigner",
            "QtUiTools",
            "QtHelp",
            "QtOpenGL",
            "QtOpenGLWidgets",
            "QtSql",
            "QtTest",
            "QtPrintSupport",
            "QtDBus",
        )
    ),
    "tkinter",
    # Optional imports of libraries the app's dependencies use when present, found in a development environment
    # (the test extra): httpx's own command line (click, rich, pygments) and anyio's pytest support. Left out, the
    # bundle's contents do not depend on which extras the build's environment has.
    "click",
    "rich",
    "pygments",
    "_pytest",
    "pytest",
]

#: Qt plugins kept, by their name without ``lib`` and extension (the other platforms' names never collide).
#: Everything else PyInstaller's hooks collect is left out: embedded platforms (eglfs, linuxfb, vnc, vkkhrdisplay)
#: and their evdev/tuio input, TLS back ends (the app's HTTPS is httpx's, not Qt's), image formats other than SVG,
#: Wayland compositor-side and legacy shell plugins.
KEPT_QT_PLUGINS = {
    "platforms": {"qxcb", "qwayland", "qoffscreen", "qminimal", "qcocoa", "qwindows"},
    # The GTK theme gives the same look as an install from PyPI on GNOME; the portal one, dialogs and colours.
    "platformthemes": {"qgtk3", "qxdgdesktopportal"},
    "platforminputcontexts": {"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"},
    "iconengines": {"qsvgicon"},
    "imageformats": {"qsvg"},
    "styles": {"qmacstyle", "qmodernwindowsstyle"},
    # QNetworkInformation (desktop_app/ui/refresher.py: renew again when the network comes back).
    "networkinformation": {"qnetworkmanager", "qglib", "qscnetworkreachability", "qnetworklistmanager"},
    "xcbglintegrations": {"qxcb-glx-integration", "qxcb-egl-integration"},
    "wayland-shell-integration": {"xdg-shell"},
    "wayland-decoration-client": {"adwaita", "bradient"},
    "wayland-graphics-integration-client": {"qt-plugin-wayland-egl"},
}

#: A PyInstaller table of contents entry: (name in the bundle, source file, type code).
Entry = tuple[str, str, str]
#: The names of the shared libraries a binary links (``DT_NEEDED``, load commands, imports).
LinkedNames = Callable[[str], Iterable[str]]


def data_files() -> list[tuple[str, str]]:
    """``(source, folder in the bundle)``: the icons as the package ``desktop_app.resources`` (pyproject maps the
    top-level ``resources/`` there; :mod:`desktop_app.ui.icons` finds them with ``importlib.resources``)."""
    return [(str(ROOT / "resources"), "desktop_app/resources")]


def plugin_of(name: str) -> tuple[str, str] | None:
    """``(kind, plugin)`` of a Qt plugin's name in the bundle (``PySide6/Qt/plugins/platforms/libqxcb.so`` →
    ``("platforms", "qxcb")``); None for anything else."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if len(parts) < 4 or parts[-4:-2] != ("Qt", "plugins"):
        return None
    stem = parts[-1].split(".")[0]
    stem = stem[3:] if stem.startswith("lib") else stem
    return parts[-2], stem


def is_kept_plugin(name: str) -> bool:
    found = plugin_of(name)
    return found is None or found[1] in KEPT_QT_PLUGINS.get(found[0], set())


def is_qt_library(name: str) -> bool:
    """One of Qt's own libraries, wherever PyInstaller put it (``libQt6Gui.so.6``, ``Qt6Gui.dll``); not a PySide6
    module. macOS frameworks are not recognised, so never pruned."""
    return PurePosixPath(name.replace("\\", "/")).name.startswith(("libQt6", "Qt6"))


def python_owned_sources() -> list[Path]:
    """Where the files that belong with this Python live: its site-packages (the wheels: Qt, cryptography ...) and
    its standard library. Anything else a binary links is the system's."""
    paths = {sysconfig.get_path(key) for key in ("purelib", "platlib", "stdlib", "platstdlib")}
    return [Path(path).resolve() for path in paths if path]


def from_the_system(source: str, python_library: str | None, owned: Iterable[Path]) -> bool:
    """A shared library that is the distribution's, not Python's or a wheel's (Linux only)."""
    path = Path(source).resolve()
    if python_library is not None and path == Path(python_library).resolve():
        return False
    return not any(path.is_relative_to(root) for root in owned)


def prune(
    binaries: list[Entry],
    datas: list[Entry],
    *,
    linked: LinkedNames,
    platform: str = sys.platform,
    python_library: str | None = None,
) -> tuple[list[Entry], list[Entry], list[str]]:
    """``binaries`` and ``datas`` without the Qt plugins not kept, the Qt libraries nothing kept links, and (Linux)
    the system's libraries; and the names left out, sorted, for the build's report. ``linked``: the names of the
    libraries a binary (a source path) links."""
    owned = python_owned_sources()
    dropped: set[str] = set()
    kept: list[Entry] = []
    for entry in binaries:
        name, source, kind = entry
        systems = (
            platform.startswith("linux")
            and kind == "BINARY"
            and not is_qt_library(name)
            and from_the_system(source, python_library, owned)
        )
        if systems or not is_kept_plugin(name):
            dropped.add(name)
        else:
            kept.append(entry)
    # The Qt libraries still needed: those reachable by links from everything kept that is not a Qt library. A
    # library may be there twice: the file, and a link to it PyInstaller adds at the top (type SYMLINK).
    qt_sources = {base_name(e[0]): e[1] for e in kept if is_qt_library(e[0]) and e[2] != "SYMLINK"}
    needed: set[str] = set()
    pending = [entry[1] for entry in kept if not is_qt_library(entry[0]) and entry[2] != "SYMLINK"]
    while pending:
        for library in linked(pending.pop()):
            base = base_name(library)
            if base in qt_sources and base not in needed:
                needed.add(base)
                pending.append(qt_sources[base])
    unneeded = set(qt_sources) - needed
    dropped.update(e[0] for e in kept if is_qt_library(e[0]) and base_name(e[0]) in unneeded and e[2] != "SYMLINK")
    gone = {base_name(name) for name in dropped}
    kept = [e for e in kept if e[0] not in dropped and not (e[2] == "SYMLINK" and base_name(e[0]) in gone)]
    kept_datas = [e for e in datas if is_kept_plugin(e[0]) and not (e[2] == "SYMLINK" and base_name(e[0]) in gone)]
    return kept, kept_datas, sorted(dropped)


def base_name(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name


def top_level_modules(pure: Iterable[Entry], binaries: Iterable[Entry]) -> list[str]:
    """The top-level names of the Python modules carried: pure ones, and extension modules outside the standard
    library's folder (``PySide6/QtCore.abi3.so`` → ``PySide6``, ``_cffi_backend.cpython-311-….so``)."""
    names = {name.split(".")[0] for name, _source, _kind in pure}
    for name, _source, kind in binaries:
        if kind == "EXTENSION" and not name.startswith("python3"):
            names.add(PurePosixPath(name.replace("\\", "/")).parts[0].split(".")[0])
    return sorted(names)


def check_sources(pure: Iterable[Entry]) -> None:
    """Fail the build when the app's modules were found anywhere but in this checkout (an editable install of
    another checkout, an installed wheel): the bundle must be built from the commit at hand."""
    strays = [
        source
        for name, source, _kind in pure
        if name.split(".")[0] == "desktop_app" and not Path(source).resolve().is_relative_to(ROOT)
    ]
    if strays:
        raise SystemExit(f"desktop_app modules found outside {ROOT}: {strays[:3]} — run the build from this checkout")
