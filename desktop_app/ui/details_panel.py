"""The lower half of the main window: the selected server's or account's details, its history (Activity), and for
an account its connector's tools (``ui.tools_tab``, added by the window).

An account that only a new sign-in can help (it needs one, has expired without a refresh token, or was signed
out) has a "Sign in again" button under its details (issue 17 item 10), as GNOME Online Accounts puts its "Sign In"
in the account's page. Whatever a server or an id_token chose (names, labels, event details) is shown as plain text.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.accounts.models import Account, AccountState, Event, Server
from desktop_app.errors import one_line
from desktop_app.ui import plain, text
from desktop_app.ui.account_form import account_form, needs_sign_in
from desktop_app.ui.activity import activity_rows
from desktop_app.ui.icons import icon
from desktop_app.ui.table_fit import ColumnFit
from desktop_app.ui.tools_tab import ToolsTab


class DetailsPanel(QTabWidget):
    """Two tabs: "Details" (a selectable plain-text summary, and "Sign in again" when that is what helps) and
    "Activity" (a read-only table of events)."""

    #: "Sign in again" was pressed for this account id.
    sig_sign_in_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsTabs")
        self.details = plain.label(selectable=True, wrap=True)
        self.details.setObjectName("details")
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setMargin(8)
        self.sign_in_again = QPushButton(icon("sign-in"), "Sign in again")
        self.sign_in_again.setObjectName("detailsSignInAgain")
        self.sign_in_again.setVisible(False)
        self.sign_in_again.clicked.connect(self._sign_in_clicked)
        self._account_id: int | None = None
        #: The Details tab: the text, then the button (left, under what it is about).
        self.details_page = QWidget()
        self.details_page.setObjectName("detailsPage")
        page = QVBoxLayout(self.details_page)
        page.setContentsMargins(0, 0, 0, 0)
        page.setSpacing(0)
        page.addWidget(self.details)
        row = QHBoxLayout()
        row.setContentsMargins(8, 0, 8, 8)  # under the text (the label's margin is 8)
        row.addWidget(self.sign_in_again)
        row.addStretch(1)
        page.addLayout(row)
        page.addStretch(1)
        self.activity_model = QStandardItemModel(0, 3, self)
        self.activity_model.setHorizontalHeaderLabels(["When", "What", "Detail"])
        self.activity = QTableView()
        self.activity.setObjectName("activity")
        self.activity.setAccessibleName("Activity")
        self.activity.setModel(self.activity_model)
        self.activity.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.activity.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.activity.verticalHeader().setVisible(False)
        self.activity.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        # "What" holds a sentence ("alice@lab.test: renewed, access until 14:05"): as wide as it is, up to 60
        # characters of the font, and less when Detail (stretching) would get fewer than 30; cut text is elided,
        # its tooltip whole.
        self.activity_columns = ColumnFit(self.activity, {1: 60}, 30)
        self.addTab(self.details_page, "Details")
        self.addTab(self.activity, "Activity")
        self.tools: ToolsTab | None = None

    def add_tools(self, tools: ToolsTab) -> None:
        """The Tools tab; its label counts the tools waiting for a review."""
        self.tools = tools
        self.addTab(tools, "Tools")
        tools.sig_waiting_changed.connect(
            lambda count: self.setTabText(self.indexOf(tools), f"Tools ({count} to review)" if count else "Tools")
        )

    def _sign_in_clicked(self) -> None:
        if self._account_id is not None:
            self.sig_sign_in_requested.emit(self._account_id)

    def _offer_sign_in(self, account: Account | None, *, now: float = 0.0, busy: str | None = None) -> None:
        """The button for an account only a sign-in can help (disabled while something is being done with it)."""
        wanted = account is not None and (account.state is AccountState.SIGNED_OUT or needs_sign_in(account, now))
        self._account_id = account.id if account is not None and wanted else None
        self.sign_in_again.setVisible(wanted)
        self.sign_in_again.setEnabled(busy is None)
        if account is not None and wanted:
            self.sign_in_again.setAccessibleName(f"Sign in again as {one_line(account.label, 80)}")

    def show_nothing(self) -> None:
        self._offer_sign_in(None)
        self.details.setText("")
        self._show_events([])
        if self.tools is not None:
            self.tools.show_nothing()

    def show_account(
        self,
        account: Account,
        *,
        now: float,
        busy: str | None,
        events: list[Event],
        hosts: list[str] | None = None,
        in_use: list[tuple[str, float]] | None = None,
    ) -> None:
        """``busy``: what is being done with the account right now (its state reads that), else None; ``hosts``: the
        AI tools whose configuration has its connector (None: not known); ``in_use``: the programs running its
        connector now, with when each started it."""
        state, _ = text.account_state(account, now, busy)
        self._offer_sign_in(account, now=now, busy=busy)
        lines = [one_line(account.display_name), "", *account_form(account, state, now)]
        if hosts is not None:
            used = ", ".join(one_line(h) for h in hosts) if hosts else "no AI tool yet (Account > Use in…)"
            lines.append(f"Used in: {used}")
        if in_use:
            running = ", ".join(f"{one_line(name, 60)} (since {text.when(since)})" for name, since in in_use)
            lines.append(f"In use now by: {running}")
        self._show_events(events)
        self.details.setText("\n".join(lines))

    def show_server(
        self, server: Server, *, accounts: list[Account], events: list[Event], identity: str | None = None
    ) -> None:
        """``identity``: what the window knows of the server's identity key (None: nothing to say)."""
        summary, _ = text.server_state(accounts)
        self._offer_sign_in(None)
        lines = [one_line(server.name), "", f"Address: {one_line(server.url, 600)}"]
        if server.resource.rstrip("/") != server.url.strip().rstrip("/"):  # the same URL is said once
            lines.append(f"Resource: {one_line(server.resource, 600)}")
        if server.resource_name:
            lines.append(f"Calls itself: {one_line(server.resource_name)}")
        lines.append(f"Accounts: {summary}")
        if identity:
            lines.append(identity)
        self._show_events(events, {a.id: a.display_name for a in accounts})
        if self.tools is not None:
            self.tools.show_nothing("Select one of its accounts to see the tools its connector may use.")
        self.details.setText("\n".join(lines))

    def _show_events(self, events: list[Event], names: dict[int, str] | None = None) -> None:
        """``names``: for a server's list, its accounts' names by id (each row says whose it is)."""
        self.activity_model.removeRows(0, self.activity_model.rowCount())
        for line in activity_rows(events, names):
            row = [QStandardItem(line.when), QStandardItem(line.what), QStandardItem(line.detail)]
            for item in row[1:]:
                item.setToolTip(plain.tooltip(item.text()))  # the whole of what a narrow column cuts
            for item in row:
                item.setEditable(False)
            self.activity_model.appendRow(row)
        self.activity_columns.fit()
