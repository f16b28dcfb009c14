"""The app's desktop entry (freedesktop Desktop Entry Specification, version 1.4: the newest Debian 12's
``desktop-file-validate`` knows): the one builder of the menu entry and of the autostart entry, and the quoting of
the command they run.

The menu entry is named after the app id (``<APP_ID>.desktop``), so that a Wayland compositor matches the window
(Qt sends ``QGuiApplication.desktopFileName``, the app id, as its xdg-shell app id) and ``StartupWMClass`` matches
it on X11 (Qt sets the class of ``WM_CLASS`` to the application name, ``mcp-connectors``; tests/gui check it on
Xvfb). ``TryExec`` is the program itself (a path, not a command line: never quoted), absolute or looked up on
``PATH`` as for ``Exec``: an entry whose program was uninstalled (a removed virtual environment) leaves the menu
instead of failing when chosen.
"""

from __future__ import annotations

from collections.abc import Sequence

from desktop_app import appinfo
from desktop_app.desktop.errors import InvalidCommand

FILE_NAME = f"{appinfo.APP_ID}.desktop"
#: The class of the window's ``WM_CLASS`` on X11: Qt uses ``QCoreApplication.applicationName``.
WM_CLASS = appinfo.COMMAND
COMMENT = "Connect AI tools to remote MCP servers with your own sign-in"
AUTOSTART_COMMENT = "Keeps your MCP connectors signed in (tray)"
#: One main category: two (``Network;Utility;``) list the app twice in some menus (desktop-file-validate's hint).
CATEGORIES = ("Network",)
KEYWORDS = ("MCP", "OAuth", "AI", "LLM", "connector", "sign-in", "token", "Claude")

#: Characters that make an argument need quotes (spec, "The Exec key").
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
#: Inside quotes, these take a backslash.
_ESCAPED_IN_QUOTES = frozenset('"`$\\')


def _quoted(argument: str) -> str:
    argument = argument.replace("%", "%%")  # a literal percent sign, not a field code
    if argument and not _RESERVED.intersection(argument):
        return argument
    inner = "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in argument)
    return f'"{inner}"'


def exec_line(argv: Sequence[str]) -> str:
    """``argv`` as the value of ``Exec``: each argument quoted when it holds a reserved character, ``%`` doubled,
    then every backslash doubled again (the general escape rule for string values applies before the quoting rule,
    so a literal backslash is four). Raises :class:`InvalidCommand` for what a desktop entry cannot hold: a control
    character (a line break would end the value), an ``=`` in the program's name, an empty command."""
    if not argv or not argv[0]:
        raise InvalidCommand("", "no program")
    for argument in argv:
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in argument):
            raise InvalidCommand(argument, "it contains a control character")
    if "=" in argv[0]:
        raise InvalidCommand(argv[0], "a program's name in a desktop entry may not contain '='")
    return " ".join(_quoted(argument) for argument in argv).replace("\\", "\\\\")


def _string(value: str) -> str:
    """A plain string value (``TryExec``: a path, not a command line): only the general escape rule applies."""
    exec_line([value])  # the same refusals
    return value.replace("\\", "\\\\")


def _list(values: Sequence[str]) -> str:
    return "".join(f"{value};" for value in values)


def desktop_entry(argv: Sequence[str], *, autostart: bool = False, extra: Sequence[tuple[str, str]] = ()) -> str:
    """The desktop entry that starts ``argv``: the menu entry, or (``autostart``) the one the session starts at login
    (``argv`` then ends with ``--hidden``). ``extra``: more keys (``X-…``) at the end."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        f"Name={appinfo.APP_NAME}",
        f"Comment={AUTOSTART_COMMENT if autostart else COMMENT}",
        f"Icon={appinfo.APP_ID}",
        f"Exec={exec_line(argv)}",
        f"TryExec={_string(argv[0])}",
        "Terminal=false",
    ]
    if autostart:
        lines.append("X-GNOME-Autostart-enabled=true")
    else:
        lines += [
            f"Categories={_list(CATEGORIES)}",
            f"Keywords={_list(KEYWORDS)}",
            "StartupNotify=true",
            f"StartupWMClass={WM_CLASS}",
            # Version 1.5's SingleMainWindow, in the name desktops read before it (GNOME Shell reads both).
            "X-GNOME-SingleWindow=true",
        ]
    lines += [f"{key}={value}" for key, value in extra]
    return "\n".join(lines) + "\n"


def value_of(text: str, key: str) -> str | None:
    """The value of ``key`` in the ``[Desktop Entry]`` group of ``text`` (a desktop file), unescaped no further."""
    group = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            group = stripped
        elif group == "[Desktop Entry]" and "=" in line:
            name, _, value = line.partition("=")
            if name.strip() == key:
                return value.strip()
    return None
