"""Whether the window can open here, and one clear message when it cannot, instead of Qt's abort.

Three moments, each with its own evidence (docs/decisions/0022):

1. Before Qt is loaded (:func:`before_qt`): the environment names no display for the platform Qt would use (no
   ``DISPLAY``/``WAYLAND_DISPLAY``, or ``QT_QPA_PLATFORM=xcb`` without ``DISPLAY``). A platform that draws on no
   display (``offscreen``, ``vnc``, ``eglfs`` …) or one this module does not know is Qt's to judge.
2. Qt's GUI modules cannot be imported (:func:`after_import_failed`): a library they link against is missing, as on
   a server without ``libgl1``.
3. ``QApplication`` cannot start a platform plugin (:func:`after_qt_failed`, from Qt's messages; see
   :mod:`desktop_app.app.qt_start`): the plugin's libraries are missing (Qt ≥ 6.5's xcb plugin needs
   ``libxcb-cursor0``), or the display named cannot be reached.

The words are here too: the message is printed before there is a window to show it in. Exit status
:data:`EXIT_NO_WINDOW` (7), also named in the message. The command line never comes here: it works without a display.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from desktop_app.appinfo import COMMAND
from desktop_app.desktop.libraries import MissingLibrary, apt_install, from_loader_message, missing_libraries
from desktop_app.errors import one_line, terminal_text

#: The window cannot open here: no display, or a library Qt needs is missing (README, "Exit codes").
EXIT_NO_WINDOW = 7

#: Qt platforms that draw on a display server, and the variable that names it.
DISPLAY_VARIABLES = {
    "xcb": "DISPLAY",
    "wayland": "WAYLAND_DISPLAY",
    "wayland-egl": "WAYLAND_DISPLAY",
    "wayland-brcm": "WAYLAND_DISPLAY",
}
#: What Qt says when a platform plugin fails to load or to start.
_PLUGIN_FAILED = re.compile(r'Could not (?:load|find) the Qt platform plugin "(?P<name>[^"]+)"')
_UNREACHABLE = ("could not connect to display", "Failed to create wl_display")

Reason = Literal["no_display", "display_unreachable", "missing_libraries", "platform_failed"]


@dataclass(frozen=True, slots=True)
class NoWindow:
    """Why the window cannot open here. ``platforms``: what Qt was, or would be, asked for (``QT_QPA_PLATFORM``'s
    names, or the plugins that failed); ``missing``: libraries that cannot be loaded; ``detail``: Qt's last words."""

    reason: Reason
    platforms: tuple[str, ...] = ()
    missing: tuple[MissingLibrary, ...] = ()
    detail: str = ""


def requested_platforms(environ: Mapping[str, str]) -> tuple[str, ...]:
    """``QT_QPA_PLATFORM``'s platforms in order (``wayland;xcb``), without their options (``xcb:nograb``)."""
    value = environ.get("QT_QPA_PLATFORM", "")
    return tuple(part.split(":")[0].strip() for part in value.split(";") if part.split(":")[0].strip())


def _has_display(platform: str, environ: Mapping[str, str]) -> bool:
    variable = DISPLAY_VARIABLES[platform]
    if environ.get(variable):
        return True
    # A Wayland client without WAYLAND_DISPLAY connects to "wayland-0" in the runtime folder.
    runtime = environ.get("XDG_RUNTIME_DIR")
    return variable == "WAYLAND_DISPLAY" and bool(runtime) and os.path.exists(os.path.join(runtime or "", "wayland-0"))


def before_qt(environ: Mapping[str, str], *, platform: str = sys.platform) -> NoWindow | None:
    """What the environment alone says: None when Qt may try (a display is named, or a platform needs none)."""
    if platform == "darwin" or platform.startswith(("win", "cygwin", "msys")):
        return None  # the window system is always there
    requested = requested_platforms(environ)
    if requested:
        if any(name not in DISPLAY_VARIABLES or _has_display(name, environ) for name in requested):
            return None
        return NoWindow("no_display", requested)
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return NoWindow("no_display")


def platform_plugin(name: str, environ: Mapping[str, str], plugins: Path | None) -> Path | None:
    """Where Qt finds the platform plugin ``name``: ``QT_QPA_PLATFORM_PLUGIN_PATH``, ``QT_PLUGIN_PATH``'s folders,
    then Qt's own ``plugins`` folder, as Qt looks."""
    folders = [Path(p) for p in environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p]
    folders += [Path(p) / "platforms" for p in environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    if plugins is not None:
        folders.append(plugins / "platforms")
    return next((f / f"libq{name}.so" for f in folders if (f / f"libq{name}.so").is_file()), None)


def after_qt_failed(messages: Sequence[str], environ: Mapping[str, str], plugins: Path | None) -> NoWindow:
    """Why ``QApplication`` could not start, from what Qt said while it tried (``plugins``: Qt's plugins folder)."""
    said = "\n".join(messages)
    failed = tuple(dict.fromkeys(m.group("name") for m in _PLUGIN_FAILED.finditer(said)))
    detail = messages[-1].strip().splitlines()[0] if messages and messages[-1].strip() else ""
    missing: list[MissingLibrary] = []
    for name in failed:
        plugin = platform_plugin(name, environ, plugins)
        if plugin is not None:
            missing += [lib for lib in missing_libraries(plugin) if lib not in missing]
    if missing:
        return NoWindow("missing_libraries", failed, tuple(missing), detail)
    if any(words in said for words in _UNREACHABLE):
        return NoWindow("display_unreachable", failed, (), detail)
    return NoWindow("platform_failed", failed, (), detail)


def _qt_module(name: str) -> Path | None:
    """The file of PySide6's extension module ``name`` (``QtWidgets``), found without loading it."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return next(iter(sorted(folder.glob(f"{name}.*so"))), None)


def after_import_failed(exc: ImportError, environ: Mapping[str, str]) -> NoWindow | None:
    """Why Qt's GUI modules cannot be imported, when a shared library is the reason (None: another reason). Every
    library they need that is missing is named (``ldd`` on QtWidgets), not only the first the loader met."""
    stopped = from_loader_message(str(exc))
    if stopped is None:
        return None
    module = _qt_module("QtWidgets")
    missing = (missing_libraries(module) if module is not None else ()) or (stopped,)
    no_display = before_qt(environ)
    if no_display is not None:
        return NoWindow("no_display", no_display.platforms, missing, str(exc))
    return NoWindow("missing_libraries", (), missing, str(exc))


# -- words -------------------------------------------------------------------------------------------------------


def _names(libraries: Sequence[MissingLibrary]) -> str:
    return one_line(", ".join(library.soname for library in libraries), 1000)


def _install_line(libraries: Sequence[MissingLibrary], *, later: bool = False) -> str:
    command = apt_install(libraries)
    unknown = [library.soname for library in libraries if library.package is None]
    lines = []
    if command:
        lines.append(f"{'On a desktop it will also need' if later else 'Install them'}: {command}")
    if unknown:
        lines.append(f"Find the package of {one_line(', '.join(unknown))} with: apt-file search {one_line(unknown[0])}")
    return "\n  ".join(lines)


def message(problem: NoWindow, environ: Mapping[str, str]) -> str:
    """The whole message, its first line saying what is wrong, the next ones what to do."""
    helpline = f"The command line works without a display: {COMMAND} --help"
    status = f"(exit status {EXIT_NO_WINDOW}: the window cannot open here)"
    if problem.reason == "no_display":
        if problem.platforms:
            asked = one_line(";".join(problem.platforms))
            why = f"QT_QPA_PLATFORM={asked} asks for a display and none is named"
        else:
            why = "neither DISPLAY nor WAYLAND_DISPLAY is set"
        lines = [
            f"{COMMAND}: no display found, so the window cannot open ({why}).",
            helpline,
            f"To use the window, start {COMMAND} in a desktop session (or over SSH with X forwarding: ssh -X).",
        ]
        if problem.missing:
            lines.append(_install_line(problem.missing, later=True))
    elif problem.reason == "missing_libraries":
        what = f"Qt's {one_line('/'.join(problem.platforms))} platform plugin" if problem.platforms else "Qt"
        damaged = [library for library in problem.missing if library.damaged]
        state = "cannot be loaded" if damaged else "are not installed"
        lines = [
            f"{COMMAND}: the window cannot open: {what} needs libraries that {state}: {_names(problem.missing)}.",
            _install_line(problem.missing),
            helpline,
        ]
    elif problem.reason == "display_unreachable":
        named = ", ".join(f"{v}={environ[v]}" for v in ("DISPLAY", "WAYLAND_DISPLAY") if environ.get(v))
        lines = [
            f"{COMMAND}: cannot reach the display ({one_line(named) or 'none named'}), so the window cannot open.",
            "Check that the desktop session is running and that the variable names its display.",
            helpline,
        ]
    else:
        platform = environ.get("QT_QPA_PLATFORM")
        plugins = one_line("/".join(problem.platforms)) or "none found"
        said = f": {one_line(problem.detail).rstrip('.')}" if problem.detail else ""
        lines = [
            f"{COMMAND}: Qt could not start a platform plugin ({plugins}), so the window cannot open{said}.",
            f"Check QT_QPA_PLATFORM (now {one_line(platform)!r})."
            if platform
            else "Reinstall the app, then try again.",
            helpline,
        ]
    return "\n  ".join(line for line in [*lines, status] if line)


def refuse(problem: NoWindow, environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> int:
    """Print the message (stderr) and return :data:`EXIT_NO_WINDOW`."""
    out = stream or sys.stderr
    print(terminal_text(message(problem, os.environ if environ is None else environ)), file=out, flush=True)
    return EXIT_NO_WINDOW


def refuse_import(exc: ImportError) -> int:
    """For the program's entry, when importing the window failed: the message and its status when a library is
    missing; any other import failure is raised again (a bug, with its traceback)."""
    problem = after_import_failed(exc, os.environ)
    if problem is None:
        raise exc
    return refuse(problem)
