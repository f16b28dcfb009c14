"""Help > "Add to the application menu": offered while the desktop's menu has no entry for the app (a pip or pipx
install, whose package brought none), and doing what ``mcp-connectors desktop install`` does."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu

from desktop_app import appinfo
from desktop_app.desktop import installer
from desktop_app.desktop.installer import Installed, MenuEntry
from desktop_app.errors import ConnectorError
from desktop_app.ui.errors import describe, show_error

TITLE = "Adding to the application menu"


class MenuEntryOffer(QObject):
    """The action in ``menu``, shown only when :func:`installer.status` finds the entry missing, checked again each
    time the menu opens (the person may have run ``desktop install`` or ``desktop remove`` meanwhile)."""

    #: The entry, icons and metainfo were written.
    sig_added = Signal(object)

    def __init__(
        self,
        menu: QMenu,
        window: QMainWindow,
        *,
        status: Callable[[], MenuEntry] = installer.status,
        install: Callable[[], Installed] = installer.install,
        supported: Callable[[], bool] = installer.supported,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.status = status
        self.install = install
        self.supported = supported
        self.action = QAction("Add to the application &menu", window)
        self.action.setObjectName("addToApplicationMenu")
        tip = f"Put {appinfo.APP_NAME} into your desktop's application menu, with its icon"
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)
        self.action.triggered.connect(lambda _checked=False: self.add())
        menu.addSeparator()
        menu.addAction(self.action)
        menu.aboutToShow.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.action.setVisible(self._missing())

    def _missing(self) -> bool:
        if not self.supported():
            return False
        try:
            return self.status().missing
        except ConnectorError:
            return False

    def add(self) -> None:
        try:
            done = self.install()
        except ConnectorError as exc:
            show_error(self.window, describe(exc, title=TITLE))
            return
        self.refresh()
        self.window.statusBar().showMessage(f"{appinfo.APP_NAME} is in the application menu now.", 10_000)
        self.sig_added.emit(done)
