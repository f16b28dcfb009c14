"""Every window and dialog, walked widget by widget: each interactive widget has an accessible name (what a screen
reader says), and no label's text is clipped with a 1.5x font (issue 17, items 13 and 14).

The names are the ones assistive technology gets: ``QAccessible``'s, which Qt derives from a button's text, a form
label's buddy or ``setAccessibleName``. A label is clipped when it is given less room than its text needs
(``sizeHint``, or ``heightForWidth`` for a wrapped one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from PySide6.QtGui import QAccessible, QFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop_app.errors import ServerExists
from desktop_app.ui.add_server_dialog import AddServerDialog
from desktop_app.ui.controller import Controller
from desktop_app.ui.errors import ErrorPanel, describe
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.rename_dialog import RenameDialog, server_name_problem
from desktop_app.ui.settings_dialog import ServerSettingsDialog

INTERACTIVE = (
    QAbstractButton,
    QLineEdit,
    QAbstractItemView,
    QComboBox,
    QAbstractSpinBox,
    QPlainTextEdit,
    QTextEdit,
)


def unnamed(top: QWidget) -> list[str]:
    """The visible interactive widgets under ``top`` a screen reader has no name for."""
    missing = []
    for widget in top.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or not widget.isVisibleTo(top):
            continue
        if isinstance(widget.parent(), QComboBox | QAbstractSpinBox):
            continue  # a combo box's own list, a spin box's line edit: named through their owner
        face = QAccessible.queryAccessibleInterface(widget)
        name = face.text(QAccessible.Text.Name) if face is not None else ""
        if not (name or widget.accessibleName()).strip():
            missing.append(f"{type(widget).__name__} {widget.objectName() or '(no object name)'}")
    return missing


def clipped(top: QWidget) -> list[str]:
    """The visible labels under ``top`` given less room than their text needs."""
    found = []
    for label in top.findChildren(QLabel):
        if not label.isVisibleTo(top) or not label.text() or not label.pixmap().isNull():
            continue
        size = label.size()
        if label.wordWrap():
            need_height = label.heightForWidth(size.width())
            if need_height > size.height() + 1:
                found.append(
                    f"{label.objectName() or label.text()[:40]!r}: {size.height()} px high, needs {need_height}"
                )
        else:
            hint = label.sizeHint()
            if hint.width() > size.width() + 1 or hint.height() > size.height() + 1:
                found.append(
                    f"{label.objectName() or label.text()[:40]!r}: {size.width()}x{size.height()}, needs "
                    f"{hint.width()}x{hint.height()}"
                )
    return found


@contextmanager
def larger_font(factor: float) -> Iterator[None]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    saved = app.font()
    bigger = QFont(saved)
    bigger.setPointSizeF(saved.pointSizeF() * factor)
    app.setFont(bigger)
    try:
        yield
    finally:
        app.setFont(saved)


def opened(qtbot: QtBot, make: Callable[[], QWidget]) -> QWidget:
    widget = make()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def window(qtbot: QtBot, controller: Controller) -> MainWindow:
    made = MainWindow(controller)
    qtbot.addWidget(made)
    made.resize(1000, 650)
    made.show()
    return made


def states(window: MainWindow, controller: Controller) -> dict[str, Callable[[], QWidget]]:
    """What the walk opens: the empty window, then the dialogs that need no sign-in."""
    server = controller.add_server("https://mcp.example.test/mcp", "Example")
    panel_report = describe(ServerExists("Already added as Example.", name="Example", url=server.url), title="t")

    def error_panel() -> QWidget:
        panel = ErrorPanel()
        panel.handles = window.ERROR_ACTIONS
        panel.show_report(panel_report)
        return panel

    return {
        "add server": lambda: AddServerDialog(controller, parent=window),
        "server settings": lambda: ServerSettingsDialog(controller, server, parent=window),
        "error panel": error_panel,
        "rename": lambda: RenameDialog(
            "Rename server", "New name for Example:", "Example", check=server_name_problem, apply=print, parent=window
        ),
    }


async def test_the_empty_window_names_every_control(window: MainWindow, qtbot: QtBot) -> None:
    qtbot.waitExposed(window)
    assert unnamed(window) == []


async def test_every_dialog_names_every_control(window: MainWindow, controller: Controller, qtbot: QtBot) -> None:
    missing = {what: unnamed(opened(qtbot, make)) for what, make in states(window, controller).items()}
    assert {what: names for what, names in missing.items() if names} == {}


async def test_the_empty_window_clips_nothing_with_a_larger_font(window: MainWindow, qtbot: QtBot) -> None:
    with larger_font(1.5):
        qtbot.waitExposed(window)
        assert clipped(window) == []


@pytest.mark.parametrize(
    "what",
    [
        "add server",
        "server settings",
        "error panel",
        "rename",
    ],
)
async def test_no_dialog_clips_text_with_a_larger_font(
    window: MainWindow, controller: Controller, qtbot: QtBot, what: str
) -> None:
    """At its own size (what it opens at) with a 1.5x font."""
    with larger_font(1.5):
        dialog = opened(qtbot, states(window, controller)[what])
        dialog.adjustSize()
        assert clipped(dialog) == []
