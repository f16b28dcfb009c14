"""The filter above the list of servers: shown once there are more than :data:`SHOWN_FROM` servers (and at any count
after Ctrl+F), it keeps the rows whose server name, address or account label holds the typed text, ignoring case.

Rows are hidden in the tree itself (``QTreeView.setRowHidden``) rather than through a ``QSortFilterProxyModel``: the
window, its removals, renames and tests find rows by the model's own indexes (``index_of_server``, ``server_at``),
and a proxy would have to be mapped at each of those places (docs/decisions/0033-preferences-about-filter.md).

A server whose name or address matches is kept with all its accounts; otherwise it is kept with just the accounts
that match. When the current row is hidden the first row kept becomes current (the details follow); when nothing is
kept the list gives way to "No server matches 'x'" with a Clear button, and :attr:`ListFilter.sig_nothing_matches`
tells the window, which hides the details below until something matches (empty tabs are no answer to a filter).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QStackedWidget, QTreeView, QVBoxLayout, QWidget

from desktop_app.accounts.models import Account, Server
from desktop_app.errors import one_line
from desktop_app.ui import plain
from desktop_app.ui.model import ConnectorsModel

#: The filter field shows by itself when there are more servers than this (a handful fits on one look).
SHOWN_FROM = 5


def account_matches(account: Account, needle: str) -> bool:
    return any(needle in (text or "").casefold() for text in (account.label, account.nickname, account.display_name))


def server_matches(server: Server, needle: str) -> bool:
    return needle in server.name.casefold() or needle in server.url.casefold()


def kept_rows(server: Server, accounts: Sequence[Account], text: str) -> tuple[bool, list[bool]]:
    """(whether the server's row stays, whether each account's row stays) for the filter ``text``."""
    needle = text.strip().casefold()
    if not needle or server_matches(server, needle):
        return True, [True] * len(accounts)
    each = [account_matches(account, needle) for account in accounts]
    return any(each), each


class ListFilter(QWidget):
    """The filter field, and in place of the tree, the page saying nothing matches."""

    #: True when the filter keeps no row (the "No server matches" page is shown), False when rows show again.
    sig_nothing_matches = Signal(bool)

    def __init__(self, tree: QTreeView, model: ConnectorsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("listFilter")
        self.tree = tree
        self.model = model
        #: Ctrl+F showed the field although there are few servers: it hides again when emptied with Escape.
        self._asked = False
        self.field = QLineEdit()
        self.field.setObjectName("filterField")
        self.field.setPlaceholderText("Filter servers and accounts (Ctrl+F)")
        self.field.setAccessibleName("Filter servers and accounts")
        self.field.setClearButtonEnabled(True)
        self.field.textChanged.connect(lambda _text: self.apply())
        self.field.installEventFilter(self)
        self.bar = QWidget()
        self.bar.setObjectName("filterBar")
        bar = QHBoxLayout(self.bar)
        bar.setContentsMargins(0, 0, 0, 4)
        bar.addWidget(self.field)

        self.nothing = QWidget()
        self.nothing.setObjectName("filterNoMatch")
        self.nothing_text = plain.label(wrap=True)
        self.nothing_text.setObjectName("filterNoMatchText")
        self.nothing_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.clear_button = QPushButton("C&lear filter")
        self.clear_button.setObjectName("filterClear")
        self.clear_button.clicked.connect(self.clear)
        nothing = QVBoxLayout(self.nothing)
        nothing.addStretch(1)
        nothing.addWidget(self.nothing_text)
        nothing.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignHCenter)
        nothing.addStretch(2)

        self.pages = QStackedWidget()
        self.pages.addWidget(tree)
        self.pages.addWidget(self.nothing)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.bar)
        layout.addWidget(self.pages)
        self.bar.setVisible(False)

    # -- what is shown -------------------------------------------------------------------------------------
    def text(self) -> str:
        return self.field.text().strip()

    def apply(self) -> None:
        """Hide the rows the filter leaves out, keep a kept row current, and show the list or "No server matches"."""
        text = self.text()
        kept = 0
        for row in range(self.model.rowCount()):
            index = self.model.index(row, 0)
            server = self.model.server_at(index)
            if server is None:
                continue
            accounts = list(self._accounts(index))
            keep_server, keep_accounts = kept_rows(server, accounts, text)
            self.tree.setRowHidden(row, QModelIndex(), not keep_server)
            for account_row, keep in enumerate(keep_accounts):
                self.tree.setRowHidden(account_row, index, not keep)
            kept += keep_server
        self.bar.setVisible(self._asked or bool(text) or self.model.server_count() > SHOWN_FROM)
        if kept == 0 and text:
            self.nothing_text.setText(f"No server matches \u201c{one_line(text, 80)}\u201d.")
            self._show(self.nothing)
            if self.tree.currentIndex().isValid():
                self.tree.setCurrentIndex(QModelIndex())
            return
        self._show(self.tree)
        if not self.shown(self.tree.currentIndex()):
            self.tree.setCurrentIndex(self.first_shown())

    def nothing_matches(self) -> bool:
        """The filter keeps no row: the "No server matches" page is shown in place of the list."""
        return self.pages.currentWidget() is self.nothing

    def _show(self, page: QWidget) -> None:
        """Show the list or the "No server matches" page; say so when that changes."""
        if self.pages.currentWidget() is not page:
            self.pages.setCurrentWidget(page)
            self.sig_nothing_matches.emit(page is self.nothing)

    def _accounts(self, server_index: QModelIndex) -> Iterable[Account]:
        for row in range(self.model.rowCount(server_index)):
            account = self.model.account_at(self.model.index(row, 0, server_index))
            if account is not None:
                yield account

    def shown(self, index: QModelIndex) -> bool:
        """``index`` is a row the filter keeps (and its server's row too)."""
        if not index.isValid():
            return False
        parent = index.parent()
        if parent.isValid() and self.tree.isRowHidden(parent.row(), QModelIndex()):
            return False
        return not self.tree.isRowHidden(index.row(), parent)

    def first_shown(self) -> QModelIndex:
        for row in range(self.model.rowCount()):
            if not self.tree.isRowHidden(row, QModelIndex()):
                return self.model.index(row, 0)
        return QModelIndex()

    # -- keys ----------------------------------------------------------------------------------------------
    def focus(self) -> None:
        """Ctrl+F: show the field (at any count of servers) and put the cursor in it, its text selected."""
        self._asked = True
        self.bar.setVisible(True)
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def clear(self) -> None:
        """Escape or Clear: every row again; the field hides if only Ctrl+F showed it; the list gets the focus."""
        self._asked = False
        self.field.clear()
        self.apply()
        self.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.field and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_Escape:
                self.clear()
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Down) and self.tree.isVisible():
                self.tree.setFocus(Qt.FocusReason.OtherFocusReason)  # Enter or Down: on to the rows kept
                return True
        return super().eventFilter(watched, event)
