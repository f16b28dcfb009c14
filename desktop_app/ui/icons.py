"""Icons: the desktop theme's where it has one, else the SVGs bundled in ``resources/icons`` (crisp at any scale).

``resources/`` is installed as the package ``desktop_app.resources`` (pyproject's package-dir), so the same
``importlib.resources`` lookup works from a source checkout, an editable install and a wheel.
"""

from __future__ import annotations

import functools
from importlib import resources

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

#: Our icon name → the freedesktop theme name tried first (toolbar actions only: state icons are always ours).
THEME_NAMES = {
    "add": "list-add",
    "sign-in": "system-log-in",
    "sign-out": "system-log-out",
    "remove": "edit-delete",
    "copy": "edit-copy",
    "settings": "preferences-system",
}


def icon_path(name: str) -> str:
    path = resources.files("desktop_app.resources").joinpath("icons", f"{name}.svg")
    if not path.is_file():
        raise FileNotFoundError(f"No bundled icon {name!r} ({path}).")
    return str(path)


@functools.cache
def icon(name: str) -> QIcon:
    """A toolbar/menu icon: the theme's if it has it, else ours."""
    bundled = QIcon(icon_path(name))
    theme = THEME_NAMES.get(name)
    return QIcon.fromTheme(theme, bundled) if theme else bundled


#: The state icons: filled badges with a white glyph and a white rim, readable on a light or dark row and on the
#: selection highlight (issue 17 item 10).
STATE_ICONS = ("good", "attention", "problem", "working", "idle")


@functools.cache
def tone_icon(name: str) -> QIcon:
    """A state icon (good, attention, problem, working, idle) or ``server``: always the bundled one, so states
    look the same on every desktop. A selected row draws it as it is: Qt would otherwise tint it with the
    highlight colour (``QStyle.generatedIconPixmap``), which washes an amber badge out on a blue highlight."""
    path = icon_path(name)
    made = QIcon(path)
    made.addFile(path, QSize(), QIcon.Mode.Selected)
    return made


def app_icon() -> QIcon:
    return tone_icon("app")


def badged_app_icon(badge: str | None) -> QIcon:
    """The app icon with a state icon as a badge in its corner (the tray's), drawn crisp at the usual tray sizes."""
    app = QSvgRenderer(icon_path("app"))
    mark = QSvgRenderer(icon_path(badge)) if badge is not None else None
    result = QIcon()
    for size in (16, 22, 24, 32, 48, 64):
        pixmap = QPixmap(QSize(size, size))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        app.render(painter, QRectF(0, 0, size, size))
        if mark is not None:
            b = size * 0.6
            mark.render(painter, QRectF(size - b, size - b, b, b))  # its own white rim and dark edge set it apart
        painter.end()
        result.addPixmap(pixmap)
    return result
