"""The main window: servers with their accounts beneath, what can be done with the selection, and its history.

Whatever a server or an id_token chose (names, labels, errors) is shown as plain text (:mod:`desktop_app.ui.plain`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QModelIndex, QPoint, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QGuiApplication,
    QHideEvent,
    QKeySequence,
    QShowEvent,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolBar,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from desktop_app import appinfo
from desktop_app.accounts.manager import LoginResult, SignOutResult
from desktop_app.accounts.models import Account, AccountState, Event, Server
from desktop_app.errors import one_line
from desktop_app.ui import plain, text
from desktop_app.ui.controller import Controller, Job, SignInJob
from desktop_app.ui.errors import ErrorReport, describe, show_error
from desktop_app.ui.icons import app_icon, icon
from desktop_app.ui.model import COLUMNS, NAME, ConnectorsModel

#: How often "expires in …" is worded anew while the window is shown (ms).
TICK_MS = 30_000

EMPTY_TITLE = "No servers yet"
EMPTY_TEXT = (
    "<p>Add the address of a remote MCP server (for example <code>https://mcp.example.com/mcp</code>).</p>"
    "<p>The app finds out where you sign in for it and shows you <b>which server is asking which authorization "
    "server for what</b> before anything opens in your browser. Your sign-in is kept in your keyring and renewed "
    "by itself.</p>"
)


class MainWindow(QMainWindow):
    #: Quit was chosen (File > Quit): the app ends even when it lives in the tray.
    sig_quit_requested = Signal()
    #: The window was closed while the app keeps running in the tray.
    sig_hidden_to_tray = Signal()
    #: The window is being shown (at start, or brought out of the tray).
    sig_shown = Signal()

    def __init__(
        self,
        controller: Controller,
        *,
        settings: QSettings | None = None,
        clock: Callable[[], float] = time.time,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(appinfo.APP_NAME)
        self.setWindowIcon(app_icon())
        self.controller = controller
        self.settings = settings
        self.clock = clock
        self.dialogs: list[QWidget] = []
        #: Closing the window hides it (the tray keeps the app running) instead of ending the app.
        self.tray_mode = False
        self._quitting = False

        self.model = ConnectorsModel(busy=controller.busy, clock=clock, parent=self)
        self.tree = QTreeView()
        self.tree.setObjectName("connectorsTree")
        self.tree.setAccessibleName("Servers and accounts")
        self.tree.setModel(self.model)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setAllColumnsShowFocus(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(NAME, 260)
        header.resizeSection(1, 260)
        header.resizeSection(2, 200)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)

        self._build_actions()
        self._build_details()
        self._build_empty()

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("splitter")
        splitter.addWidget(self.tree)
        splitter.addWidget(self.details_tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.splitter = splitter
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(splitter)
        self.setCentralWidget(self.pages)
        self.statusBar().showMessage("Ready")

        self.tree.selectionModel().currentChanged.connect(lambda *_: self._selection_changed())
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.doubleClicked.connect(self._double_clicked)
        controller.sig_changed.connect(self.reload)
        controller.sig_busy_changed.connect(self._busy_changed)
        self.ticker = QTimer(self)
        self.ticker.setInterval(TICK_MS)
        self.ticker.timeout.connect(self._tick)

        self.resize(980, 640)
        self._restore()
        self.reload()

    # -- building --------------------------------------------------------------------------------------------
    def _action(
        self,
        name: str,
        label: str,
        icon_name: str | None,
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None,
        slot: Callable[[], object],
        tip: str,
    ) -> QAction:
        action = QAction(label, self)
        action.setObjectName(name)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut:
            action.setShortcut(shortcut)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        std = QKeySequence.StandardKey
        self.act_add_server = self._action(
            "addServer", "&Add server…", "add", std.New, self.add_server, "Add a remote MCP server by its address"
        )
        self.act_sign_in = self._action(
            "signIn", "&Sign in…", "sign-in", "Ctrl+L", self.sign_in, "Sign in to the selected server or account"
        )
        self.act_add_account = self._action(
            "addAccount",
            "Add another a&ccount…",
            "add-account",
            "Ctrl+Shift+N",
            self.add_account,
            "Sign in to the selected server as someone else",
        )
        self.act_sign_out = self._action(
            "signOut",
            "Sign &out",
            "sign-out",
            None,
            self.sign_out,
            "Revoke and forget the selected account's tokens",
        )
        self.act_remove = self._action(
            "removeServer",
            "&Remove server…",
            "remove",
            std.Delete,
            self.remove_server,
            "Remove the selected server with its accounts",
        )
        self.act_test = self._action(
            "testConnection",
            "&Test connection",
            "test",
            "Ctrl+T",
            self.test_connection,
            "Connect with the selected account and list the server's tools",
        )
        self.act_settings = self._action(
            "serverSettings",
            "Server s&ettings…",
            "settings",
            "Ctrl+,",
            self.open_settings,
            "Registration, scopes and other settings of the selected server",
        )
        self.act_rename = self._action(
            "renameAccount",
            "Re&name account…",
            None,
            "F2",
            self.rename_account,
            "Give the selected account a nickname",
        )
        self.act_diagnostics = self._action(
            "copyDiagnostics",
            "Copy &diagnostics",
            "copy",
            "Ctrl+Shift+C",
            self.copy_diagnostics,
            "Copy a report without any token or secret, to paste into a bug report",
        )
        self.act_quit = self._action("quit", "&Quit", None, std.Quit, self.quit, f"Quit {appinfo.APP_NAME}")
        self.act_about = self._action("about", "&About", None, None, self.about, f"About {appinfo.APP_NAME}")

        toolbar = QToolBar("Main toolbar", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (
            self.act_add_server,
            self.act_sign_in,
            self.act_add_account,
            self.act_sign_out,
            self.act_test,
            self.act_settings,
            self.act_remove,
        ):
            toolbar.addAction(action)
        self.addToolBar(toolbar)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.act_add_server)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        server_menu = menu.addMenu("&Server")
        for action in (self.act_sign_in, self.act_add_account, self.act_test, self.act_settings, self.act_remove):
            server_menu.addAction(action)
        account_menu = menu.addMenu("A&ccount")
        for action in (self.act_sign_in, self.act_sign_out, self.act_rename, self.act_test):
            account_menu.addAction(action)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.act_diagnostics)
        help_menu.addAction(self.act_about)

    def _build_details(self) -> None:
        self.details = plain.label(selectable=True, wrap=True)
        self.details.setObjectName("details")
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setMargin(8)
        self.activity_model = QStandardItemModel(0, 3, self)
        self.activity_model.setHorizontalHeaderLabels(["When", "What", "Detail"])
        self.activity = QTableView()
        self.activity.setObjectName("activity")
        self.activity.setAccessibleName("Activity")
        self.activity.setModel(self.activity_model)
        self.activity.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.activity.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.activity.verticalHeader().setVisible(False)
        self.activity.horizontalHeader().setStretchLastSection(True)
        self.activity.setColumnWidth(0, 140)
        self.activity.setColumnWidth(1, 140)
        self.details_tabs = QTabWidget()
        self.details_tabs.setObjectName("detailsTabs")
        self.details_tabs.addTab(self.details, "Details")
        self.details_tabs.addTab(self.activity, "Activity")

    def _build_empty(self) -> None:
        self.empty = QWidget()
        self.empty.setObjectName("emptyState")
        title = plain.label(EMPTY_TITLE)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body = QLabel(EMPTY_TEXT)
        body.setObjectName("emptyText")
        body.setTextFormat(Qt.TextFormat.RichText)
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        button = QPushButton(icon("add"), "Add server…")
        button.setObjectName("emptyAddServer")
        button.clicked.connect(self.add_server)
        column = QWidget()
        column.setFixedWidth(560)
        inner = QVBoxLayout(column)
        inner.addWidget(title)
        inner.addWidget(body)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(button)
        buttons.addStretch(1)
        inner.addLayout(buttons)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column)
        row.addStretch(1)
        layout = QVBoxLayout(self.empty)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)

    # -- state -------------------------------------------------------------------------------------------------
    def reload(self) -> None:
        self.model.set_snapshot(self.controller.snapshot())
        has_servers = self.model.server_count() > 0
        self.pages.setCurrentIndex(1 if has_servers else 0)
        self.tree.expandAll()
        if has_servers and not self.tree.currentIndex().isValid():
            self.tree.setCurrentIndex(self.model.index(0, 0))
        self._selection_changed()

    def _busy_changed(self, account_id: int) -> None:
        self.model.account_changed(account_id)
        self._selection_changed()

    def _tick(self) -> None:
        self.model.refresh_times()
        self._show_details()

    def selected_server(self) -> Server | None:
        return self.model.server_at(self.tree.currentIndex())

    def selected_account(self) -> Account | None:
        return self.model.account_at(self.tree.currentIndex())

    def _selection_changed(self) -> None:
        server, account = self.selected_server(), self.selected_account()
        busy = account is not None and self.controller.busy(account.id) is not None
        live = [a for a in self._accounts_of(server) if a.state is not AccountState.SIGNED_OUT]
        self.act_sign_in.setText("&Sign in again…" if account is not None else "&Sign in…")
        self.act_sign_in.setEnabled(server is not None and not busy and (account is not None or not live))
        self.act_add_account.setEnabled(server is not None)
        self.act_sign_out.setEnabled(account is not None and not busy and account.state is not AccountState.SIGNED_OUT)
        self.act_rename.setEnabled(account is not None)
        self.act_test.setEnabled(self._test_account() is not None and not busy)
        self.act_settings.setEnabled(server is not None)
        self.act_remove.setEnabled(server is not None)
        self.act_diagnostics.setEnabled(server is not None)
        self._show_details()

    def _accounts_of(self, server: Server | None) -> list[Account]:
        if server is None:
            return []
        parent = self.model.index_of_server(server.id)
        return [
            a
            for row in range(self.model.rowCount(parent))
            if (a := self.model.account_at(self.model.index(row, 0, parent))) is not None
        ]

    def _test_account(self) -> Account | None:
        account = self.selected_account()
        if account is not None:
            return account if account.state is AccountState.SIGNED_IN else None
        return next((a for a in self._accounts_of(self.selected_server()) if a.state is AccountState.SIGNED_IN), None)

    def _show_details(self) -> None:
        server, account = self.selected_server(), self.selected_account()
        now = self.clock()
        if server is None:
            self.details.setText("")
            self._show_events([])
            return
        if account is not None:
            state, _ = text.account_state(account, now, self.controller.busy(account.id))
            lines = [
                one_line(account.display_name),
                f"State: {state}",
                text.account_details(account, now),
                f"Granted scopes: {text.scopes_text(account.scopes)}",
                f"Signed in: {text.when(account.signed_in_at) if account.signed_in_at else 'never'}"
                f" · last renewed: {text.renewed_text(account, now)}",
            ]
            self._show_events(self.controller.events(account=account))
        else:
            summary, _ = text.server_state(self._accounts_of(server))
            lines = [
                one_line(server.name),
                f"Address: {one_line(server.url, 600)}",
                f"Resource: {one_line(server.resource, 600)}",
            ]
            if server.resource_name:
                lines.append(f"Calls itself: {one_line(server.resource_name)}")
            lines.append(summary)
            self._show_events(self.controller.events(server=server))
        self.details.setText("\n".join(lines))

    def _show_events(self, events: list[Event]) -> None:
        self.activity_model.removeRows(0, self.activity_model.rowCount())
        for event in events:
            row = [
                QStandardItem(text.when(event.at)),
                QStandardItem(text.event_kind(event.kind)),
                QStandardItem(one_line(event.detail, 400)),
            ]
            for item in row:
                item.setEditable(False)
            self.activity_model.appendRow(row)

    # -- actions -------------------------------------------------------------------------------------------
    def add_server(self) -> None:
        from desktop_app.ui.add_server_dialog import AddServerDialog

        dialog = AddServerDialog(self.controller, self)
        dialog.accepted.connect(lambda: self._added(dialog.server))
        self._open(dialog)

    def _added(self, server: Server | None) -> None:
        if server is None:
            return
        self.select_server(server.id)
        box: dict[str, Server] = {"server": server}

        def start() -> SignInJob:
            current = self.controller.server(box["server"].id)
            if current is None:  # removed after a failed first try: add it again
                current = self.controller.add_server(server.url, server.name)
                box["server"] = current
            return self.controller.sign_in(current, remove_server_if_abandoned=True)

        self._sign_in_dialog(start, f"Add {one_line(server.name)}")

    def sign_in(self) -> None:
        server, account = self.selected_server(), self.selected_account()
        if server is None:
            return
        if account is not None:
            self._sign_in_dialog(
                lambda: self.controller.sign_in(server, account=account), f"Sign in again as {one_line(account.label)}"
            )
        else:
            self._sign_in_dialog(lambda: self.controller.sign_in(server), f"Sign in to {one_line(server.name)}")

    def add_account(self) -> None:
        server = self.selected_server()
        if server is not None:
            self._sign_in_dialog(
                lambda: self.controller.sign_in(server, new_account=True),
                f"Add another account to {one_line(server.name)}",
            )

    def _sign_in_dialog(self, start: Callable[[], SignInJob], title: str) -> None:
        from desktop_app.ui.signin_dialog import SignInDialog

        dialog = SignInDialog(start, title=title, parent=self)
        dialog.sig_signed_in.connect(self._signed_in)
        self._open(dialog)
        dialog.start()

    def _signed_in(self, result: LoginResult) -> None:
        self.reload()
        self.select_account(result.account.id)
        self.statusBar().showMessage(f"Signed in as {one_line(result.account.display_name)}", 10_000)

    def sign_out(self) -> None:
        account = self.selected_account()
        if account is None:
            return
        server = self.selected_server()

        def go() -> None:
            job = self.controller.sign_out(account)
            job.sig_finished.connect(self._signed_out)
            job.sig_failed.connect(lambda exc: self._failed(job, exc))

        self.confirm(
            f"Sign out {one_line(account.display_name)}?",
            f"The app asks {one_line(server.name if server else 'the server')}'s authorization server to revoke this "
            "account's tokens, then deletes them from your keyring. You can sign in again later.",
            "Sign out",
            go,
        )

    def _signed_out(self, result: SignOutResult) -> None:
        who = one_line(result.account.display_name)
        if result.problems:
            show_error(
                self,
                ErrorReport(
                    "Signed out",
                    f"{who} is signed out on this computer, but the authorization server did not confirm revoking its "
                    "tokens.",
                    "Nothing is left on this computer. If you are worried the tokens could still be used, revoke "
                    "the app's access in your account settings at the authorization server.",
                    "\n".join(result.problems),
                ),
            )
        else:
            revoked = " and ".join(t.replace("_", " ") for t in result.revoked)
            self.statusBar().showMessage(
                f"Signed out {who}" + (f"; the server revoked its {revoked}." if revoked else "."), 10_000
            )

    def remove_server(self) -> None:
        server = self.selected_server()
        if server is None:
            return
        count = len([a for a in self._accounts_of(server) if a.state is not AccountState.SIGNED_OUT])

        def go() -> None:
            job = self.controller.remove_server(server)
            job.sig_finished.connect(lambda problems: self._removed(server, problems))
            job.sig_failed.connect(lambda exc: self._failed(job, exc))

        accounts = f" and sign out its {count} account{'s' if count != 1 else ''}" if count else ""
        self.confirm(
            f"Remove {one_line(server.name)}?",
            f"This will remove the server{accounts}: tokens are revoked where the server allows it and deleted from "
            "your keyring, with the server's settings, approvals and history.",
            "Remove",
            go,
        )

    def _removed(self, server: Server, problems: tuple[str, ...]) -> None:
        message = f"Removed {one_line(server.name)}"
        if problems:
            message += f" (revoking failed: {one_line('; '.join(problems), 300)})"
        self.statusBar().showMessage(message, 10_000)

    def test_connection(self) -> None:
        account = self._test_account()
        if account is None:
            return
        from desktop_app.ui.connection_dialog import ConnectionDialog

        self._open(ConnectionDialog(self.controller, account, self))

    def open_settings(self) -> None:
        server = self.selected_server()
        if server is None:
            return
        from desktop_app.ui.settings_dialog import ServerSettingsDialog

        self._open(ServerSettingsDialog(self.controller, server, self))

    def rename_account(self) -> None:
        account = self.selected_account()
        if account is None:
            return
        ask = QInputDialog(self)
        ask.setObjectName("renameDialog")
        ask.setWindowTitle("Rename account")
        ask.setLabelText(f"Nickname for {one_line(account.label)} (empty: none):")
        plain.dialog(ask)
        ask.setTextValue(account.nickname or "")
        ask.textValueSelected.connect(lambda value: self.controller.set_nickname(account, value.strip() or None))
        self._open(ask)

    def copy_diagnostics(self) -> None:
        report = self.controller.diagnostics(self.selected_server(), self.selected_account())
        QGuiApplication.clipboard().setText(report)
        self.statusBar().showMessage("Diagnostics copied (no token or secret is in them).", 10_000)

    def about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle(f"About {appinfo.APP_NAME}")
        box.setIconPixmap(app_icon().pixmap(64, 64))
        box.setText(f"{appinfo.APP_NAME} {appinfo.VERSION}")
        box.setInformativeText(
            "Connects your AI tools to remote MCP servers: OAuth sign-in in your own browser, tokens only in your "
            f"keyring ({self.controller.accounts.secrets.description})."
        )
        plain.dialog(box)
        self._open(box)

    def _failed(self, job: Job, exc: BaseException) -> None:
        show_error(self, describe(exc, title=job.title, context="\n".join(job.trace.lines())))

    # -- helpers -------------------------------------------------------------------------------------------
    def confirm(self, question: str, explanation: str, action: str, then: Callable[[], None]) -> QMessageBox:
        """Ask without blocking the event loop; ``then`` runs when the person chooses ``action``."""
        box = QMessageBox(self)
        box.setObjectName("confirmBox")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(appinfo.APP_NAME)
        box.setText(question)
        box.setInformativeText(explanation)
        plain.dialog(box)
        yes = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
        yes.setObjectName("confirmButton")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: then() if button is yes else None)
        self._open(box)
        return box

    def _open(self, dialog: QWidget) -> None:
        """Show a dialog window-modally without a nested event loop (``open()``, never ``exec()``)."""
        self.dialogs.append(dialog)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: self.dialogs.remove(dialog) if dialog in self.dialogs else None)
        open_ = getattr(dialog, "open", None)
        if callable(open_):
            open_()
        else:
            dialog.show()

    def select_server(self, server_id: int) -> None:
        self.reload()
        index = self.model.index_of_server(server_id)
        if index.isValid():
            self.tree.setCurrentIndex(index)

    def select_account(self, account_id: int) -> None:
        index = self.model.index_of_account(account_id)
        if index.isValid():
            self.tree.setCurrentIndex(index)

    def _context_menu(self, point: QPoint) -> None:
        index = self.tree.indexAt(point)
        if index.isValid():
            self.tree.setCurrentIndex(index)
        menu = QMenu(self)
        if not index.isValid():
            menu.addAction(self.act_add_server)
        elif self.selected_account() is not None:
            for action in (self.act_sign_in, self.act_test, self.act_rename, self.act_sign_out):
                menu.addAction(action)
            menu.addSeparator()
            menu.addAction(self.act_diagnostics)
        else:
            for action in (self.act_sign_in, self.act_add_account, self.act_test, self.act_settings):
                menu.addAction(action)
            menu.addSeparator()
            menu.addAction(self.act_diagnostics)
            menu.addAction(self.act_remove)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.tree.viewport().mapToGlobal(point))

    def _double_clicked(self, index: QModelIndex) -> None:
        account = self.model.account_at(index)
        if account is not None and account.state is not AccountState.SIGNED_IN:
            self.sign_in()
        elif account is not None:
            self.test_connection()

    # -- geometry ------------------------------------------------------------------------------------------
    def _restore(self) -> None:
        if self.settings is None:
            return
        for key, restore in (
            ("window/geometry", self.restoreGeometry),
            ("window/state", self.restoreState),
            ("window/splitter", self.splitter.restoreState),
            ("window/columns", self.tree.header().restoreState),
        ):
            value = self.settings.value(key)
            if isinstance(value, QByteArray):
                restore(value)

    def save_geometry(self) -> None:
        if self.settings is None:
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.setValue("window/columns", self.tree.header().saveState())
        self.settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.model.refresh_times()
        self.ticker.start()
        self.sig_shown.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_geometry()
        if self.tray_mode and not self._quitting:
            event.ignore()
            self.hide()
            self.ticker.stop()
            self.sig_hidden_to_tray.emit()
            return
        self.ticker.stop()
        super().closeEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self.ticker.stop()
        super().hideEvent(event)

    def quit(self) -> None:
        """End the app (not just hide the window)."""
        self._quitting = True
        self.sig_quit_requested.emit()
        self.close()

    def bring_forward(self) -> None:
        """Show the window in front (a tray click, a second launch)."""
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def sign_in_account(self, account_id: int) -> None:
        """Open the sign-in again of this account (the tray's "Sign in again…" and its notification)."""
        self.bring_forward()
        self.reload()
        self.select_account(account_id)
        if self.selected_account() is not None:
            self.sign_in()
