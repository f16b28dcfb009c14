"""The main window's size and place, its splitter and its columns, kept in the app's QSettings between runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow


def restore(window: MainWindow) -> None:
    if window.settings is None:
        return
    for key, restore_ in (
        ("window/geometry", window.restoreGeometry),
        ("window/state", window.restoreState),
        ("window/splitter", window.splitter.restoreState),
        ("window/columns", window.tree.header().restoreState),
    ):
        value = window.settings.value(key)
        if isinstance(value, QByteArray):
            restore_(value)


def save(window: MainWindow) -> None:
    if window.settings is None:
        return
    window.settings.setValue("window/geometry", window.saveGeometry())
    window.settings.setValue("window/state", window.saveState())
    window.settings.setValue("window/splitter", window.splitter.saveState())
    window.settings.setValue("window/columns", window.tree.header().saveState())
    window.settings.sync()
