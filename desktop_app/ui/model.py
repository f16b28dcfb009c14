"""The servers-and-accounts tree the main window shows: servers at the top, their accounts beneath.

The model is fed snapshots (``set_snapshot``) and turns the difference into row insertions, removals and
``dataChanged`` so views keep their selection, expansion and scroll position while accounts refresh. It reads
nothing itself: the controller is its only source. Names are shown as plain text (item views draw them so);
tooltips, which Qt would read as rich text, go through :func:`desktop_app.ui.plain.tooltip`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, overload

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from desktop_app.accounts.models import Account, Server
from desktop_app.errors import one_line
from desktop_app.ui import plain, text
from desktop_app.ui.account_form import account_form
from desktop_app.ui.icons import tone_icon
from desktop_app.ui.text import Tone

Index = QModelIndex | QPersistentModelIndex

#: Columns of the tree.
COLUMNS = ("Server / account", "State", "Scopes", "Last renewed")
NAME, STATE, SCOPES, RENEWED = range(4)

#: Roles beyond Qt's: the value behind a row.
SERVER_ROLE = Qt.ItemDataRole.UserRole + 1
ACCOUNT_ROLE = Qt.ItemDataRole.UserRole + 2
TONE_ROLE = Qt.ItemDataRole.UserRole + 3

#: internalId of a server row (account rows carry their server's id, which is ≥ 1).
_SERVER_ROW = 0

Snapshot = Sequence[tuple[Server, Sequence[Account]]]


class ConnectorsModel(QAbstractItemModel):
    def __init__(
        self,
        *,
        busy: Callable[[int], str | None] = lambda _id: None,
        clock: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._busy = busy
        self._clock = clock
        self._servers: list[Server] = []
        self._accounts: dict[int, list[Account]] = {}

    # -- feeding -------------------------------------------------------------------------------------------
    def set_snapshot(self, snapshot: Snapshot) -> None:
        """Make the model show ``snapshot`` with the fewest changes (falls back to a reset when rows moved)."""
        new_servers = [server for server, _ in snapshot]
        new_accounts = {server.id: list(accounts) for server, accounts in snapshot}
        if not self._sync_servers(new_servers, new_accounts):
            self.beginResetModel()
            self._servers = new_servers
            self._accounts = new_accounts
            self.endResetModel()
            return
        for row, server in enumerate(new_servers):
            self._servers[row] = server
            self._emit_row_changed(self.index(row, 0))
            if not self._sync_accounts(row, new_accounts[server.id]):
                self.beginResetModel()
                self._servers = new_servers
                self._accounts = new_accounts
                self.endResetModel()
                return

    def _sync_servers(self, new: list[Server], new_accounts: dict[int, list[Account]]) -> bool:
        old_ids = [s.id for s in self._servers]
        new_ids = [s.id for s in new]
        if not _same_order(old_ids, new_ids):
            return False
        keep = set(new_ids)
        for row in reversed(range(len(old_ids))):
            if old_ids[row] not in keep:
                self.beginRemoveRows(QModelIndex(), row, row)
                removed = self._servers.pop(row)
                self._accounts.pop(removed.id, None)
                self.endRemoveRows()
        had = set(old_ids)
        for row, server in enumerate(new):
            if server.id not in had:
                self.beginInsertRows(QModelIndex(), row, row)
                self._servers.insert(row, server)
                self._accounts[server.id] = list(new_accounts[server.id])
                self.endInsertRows()
        return True

    def _sync_accounts(self, server_row: int, new: list[Account]) -> bool:
        server = self._servers[server_row]
        parent = self.index(server_row, 0)
        current = self._accounts.setdefault(server.id, [])
        old_ids = [a.id for a in current]
        new_ids = [a.id for a in new]
        if not _same_order(old_ids, new_ids):
            return False
        keep = set(new_ids)
        for row in reversed(range(len(old_ids))):
            if old_ids[row] not in keep:
                self.beginRemoveRows(parent, row, row)
                current.pop(row)
                self.endRemoveRows()
        had = set(old_ids)
        for row, account in enumerate(new):
            if account.id not in had:
                self.beginInsertRows(parent, row, row)
                current.insert(row, account)
                self.endInsertRows()
            else:
                current[row] = account
                self._emit_row_changed(self.index(row, 0, parent))
        return True

    def _emit_row_changed(self, first: QModelIndex) -> None:
        last = first.siblingAtColumn(len(COLUMNS) - 1)
        self.dataChanged.emit(first, last)

    def refresh_times(self) -> None:
        """Time passed: "expires in …" and "… ago" are worded anew (rows unchanged)."""
        for row, server in enumerate(self._servers):
            parent = self.index(row, 0)
            count = len(self._accounts.get(server.id, []))
            if count:
                self.dataChanged.emit(self.index(0, STATE, parent), self.index(count - 1, RENEWED, parent))

    def account_changed(self, account_id: int) -> None:
        """One account's busy wording changed (its row is redrawn)."""
        index = self.index_of_account(account_id)
        if index.isValid():
            self._emit_row_changed(index)
            self._emit_row_changed(index.parent())

    # -- lookups -------------------------------------------------------------------------------------------
    def index_of_server(self, server_id: int) -> QModelIndex:
        for row, server in enumerate(self._servers):
            if server.id == server_id:
                return self.index(row, 0)
        return QModelIndex()

    def index_of_account(self, account_id: int) -> QModelIndex:
        for server_row, server in enumerate(self._servers):
            for row, account in enumerate(self._accounts.get(server.id, [])):
                if account.id == account_id:
                    return self.index(row, 0, self.index(server_row, 0))
        return QModelIndex()

    def server_at(self, index: Index) -> Server | None:
        """The server of a row: the row itself, or the server an account row belongs to."""
        if not index.isValid():
            return None
        if index.internalId() == _SERVER_ROW:
            return self._servers[index.row()] if index.row() < len(self._servers) else None
        return next((s for s in self._servers if s.id == index.internalId()), None)

    def account_at(self, index: Index) -> Account | None:
        if not index.isValid() or index.internalId() == _SERVER_ROW:
            return None
        accounts = self._accounts.get(index.internalId(), [])
        return accounts[index.row()] if index.row() < len(accounts) else None

    def server_count(self) -> int:
        return len(self._servers)

    # -- QAbstractItemModel --------------------------------------------------------------------------------
    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, _SERVER_ROW)
        if parent.internalId() != _SERVER_ROW:
            return QModelIndex()  # accounts have no children
        server = self._servers[parent.row()]
        return self.createIndex(row, column, server.id)

    @overload
    def parent(self, /) -> QObject | None: ...
    @overload
    def parent(self, child: Index, /) -> QModelIndex: ...
    def parent(self, child: Index | None = None, /) -> QModelIndex | QObject | None:
        if child is None:
            return super().parent()
        if not child.isValid() or child.internalId() == _SERVER_ROW:
            return QModelIndex()
        for row, server in enumerate(self._servers):
            if server.id == child.internalId():
                return self.createIndex(row, 0, _SERVER_ROW)
        return QModelIndex()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._servers)
        if parent.column() != 0 or parent.internalId() != _SERVER_ROW:
            return 0
        if parent.row() >= len(self._servers):
            return 0
        return len(self._accounts.get(self._servers[parent.row()].id, []))

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return self.rowCount(parent) > 0

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.internalId() != _SERVER_ROW:
            flags |= Qt.ItemFlag.ItemNeverHasChildren
        return flags

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        account = self.account_at(index)
        if account is not None:
            return self._account_data(account, index.column(), role)
        server = self.server_at(index)
        if server is None:
            return None
        return self._server_data(server, index.column(), role)

    def _server_data(self, server: Server, column: int, role: int) -> Any:
        accounts = self._accounts.get(server.id, [])
        if role == SERVER_ROLE:
            return server
        summary, tone = text.server_state(accounts)
        if role == TONE_ROLE:
            return tone.value
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if column == NAME:
                return one_line(server.name)
            if column == STATE:
                return summary
            return ""
        if role == Qt.ItemDataRole.ToolTipRole and column in (NAME, STATE):
            lines = [one_line(server.resource, 400)]
            if server.resource_name and server.resource_name != server.name:
                lines.append(one_line(server.resource_name))
            return plain.tooltip("\n".join(lines))
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            return tone_icon("server")
        if role == Qt.ItemDataRole.FontRole and column == NAME:
            font = QFont()
            font.setBold(True)
            return font
        return None

    def _account_data(self, account: Account, column: int, role: int) -> Any:
        if role == ACCOUNT_ROLE:
            return account
        if role == SERVER_ROLE:
            return next((s for s in self._servers if s.id == account.server_id), None)
        now = self._clock()
        state, tone = text.account_state(account, now, self._busy(account.id))
        if role == TONE_ROLE:
            return tone.value
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if column == NAME:
                return one_line(account.display_name)
            if column == STATE:
                return list_state(state, tone)
            if column == SCOPES:
                return text.scopes_text(account.scopes)
            if column == RENEWED:
                return text.renewed_text(account, now)
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain.tooltip("\n".join(account_form(account, state, now)))
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            return tone_icon(tone.value)
        return None


def list_state(state: str, tone: Tone) -> str:
    """The State column's words: a healthy account is "Signed in" (renewing is the app's job; the expiry and the last
    renewal are in its details and tooltip); anything a person may need to act on keeps its whole sentence."""
    return "Signed in" if tone is Tone.GOOD else state


def _same_order(old: list[int], new: list[int]) -> bool:
    """Whether the ids both lists share are in the same order (then removals + insertions get from old to new)."""
    shared_new = set(new)
    shared_old = set(old)
    return [i for i in old if i in shared_new] == [i for i in new if i in shared_old]
