"""The main window: servers with their accounts beneath, what can be done with the selection, and its history.

The window holds the tree and runs the commands. Its actions, toolbar and menus are in ``ui.window_actions``, the
tabs under the tree in ``ui.details_panel`` (a connector's tools in ``ui.tools_tab``), the filter above the tree in
``ui.list_filter``, the removals in ``ui.removals``, signing out in ``ui.sign_outs``, the page shown before any server
in ``ui.empty_state``, Preferences and About in ``ui.preferences`` and ``ui.about_dialog``, its size and place in
``ui.window_geometry``. Whatever a server or an id_token chose (names, labels, errors) is shown as plain text
(:mod:`desktop_app.ui.plain`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPoint, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QHideEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QTreeView,
    QWidget,
)

from desktop_app import appinfo
from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.bridge.presence import LiveBridge, live_bridges
from desktop_app.hosts.installer import HostState, connectors_of, survey
from desktop_app.storage.paths import data_dir
from desktop_app.ui import list_columns, plain, sign_ins, sign_outs, window_geometry
from desktop_app.ui.about_dialog import AboutDialog
from desktop_app.ui.add_server_dialog import AddServerDialog
from desktop_app.ui.connection_dialog import ConnectionDialog
from desktop_app.ui.controller import Controller
from desktop_app.ui.details_panel import DetailsPanel
from desktop_app.ui.empty_state import EmptyState
from desktop_app.ui.errors import ActionKind, ErrorAction, describe, show_error
from desktop_app.ui.icons import app_icon
from desktop_app.ui.identity_box import stored_identity
from desktop_app.ui.jobs import Job, SignInJob
from desktop_app.ui.keyring_offer import KeyringOffer
from desktop_app.ui.list_filter import ListFilter
from desktop_app.ui.menu_entry import MenuEntryOffer
from desktop_app.ui.model import COLUMNS, NAME, ConnectorsModel
from desktop_app.ui.preferences import Autostart, PreferencesDialog
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.removals import Removals
from desktop_app.ui.server_file import ServerFile
from desktop_app.ui.settings_dialog import ServerSettingsDialog
from desktop_app.ui.tools_tab import ToolsTab
from desktop_app.ui.use_in_dialog import UseInDialog
from desktop_app.ui.window_actions import ClickedOn, WindowActions

#: How often "expires in …" is worded anew while the window is shown (ms).
TICK_MS = 30_000


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
        hosts: Callable[[], list[HostState]] = survey,
        live: Callable[[], list[LiveBridge]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(appinfo.APP_NAME)
        self.setWindowIcon(app_icon())
        self.controller = controller
        self.settings = settings
        self.clock = clock
        #: The AI tools on this computer and the connectors in their files (read again when asked).
        self.hosts = hosts
        #: The bridges running now: which connectors an AI tool is using (``desktop_app.bridge.presence``).
        self.live = live if live is not None else lambda: live_bridges(data_dir())
        self.dialogs: list[QWidget] = []
        #: Closing the window hides it (the tray keeps the app running) instead of ending the app.
        self.tray_mode = False
        self._quitting = False
        #: Handed in by the app (``app.main``): the running background renewal, and start at login where supported.
        self.refresher: BackgroundRefresher | None = None
        self.autostart: Autostart | None = None

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
        list_columns.install(header)

        self.window_actions = WindowActions.create(self, self)
        help_menu = self.window_actions.install(self)
        #: Help > Add to the application menu, while the desktop's menu has no entry for the app.
        self.menu_entry = MenuEntryOffer(help_menu, self)
        # Each command by its own name too (tests, benchmarks and the screenshot script trigger them).
        self.act_add_server = self.window_actions.add_server
        self.act_sign_in = self.window_actions.sign_in
        self.act_add_account = self.window_actions.add_account
        self.act_sign_out = self.window_actions.sign_out
        self.act_remove_account = self.window_actions.remove_account
        self.act_remove = self.window_actions.remove
        self.act_test = self.window_actions.test
        self.act_settings = self.window_actions.settings
        self.act_rename = self.window_actions.rename
        self.act_rename_server = self.window_actions.rename_server
        self.act_export = self.window_actions.export_servers
        self.act_import = self.window_actions.import_servers
        self.act_close = self.window_actions.close
        self.act_use_in = self.window_actions.use_in
        self.act_diagnostics = self.window_actions.diagnostics
        self.act_quit = self.window_actions.quit
        self.act_about = self.window_actions.about
        self.act_preferences = self.window_actions.preferences
        self.act_find = self.window_actions.find
        self.removals = Removals(self)
        self.server_file = ServerFile(self)
        self.toolbar = self.findChild(QToolBar, "mainToolbar")
        self.details_tabs = DetailsPanel()
        self.tools_tab = ToolsTab(controller, self._open)
        self.details_tabs.add_tools(self.tools_tab)
        self.details_tabs.sig_sign_in_requested.connect(self.sign_in_account)
        self.details = self.details_tabs.details
        self.activity_model = self.details_tabs.activity_model
        self.empty = EmptyState()
        self.empty.sig_add_server_requested.connect(self.add_server)
        self.keyring_offer = KeyringOffer(controller, self.empty, self)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("splitter")
        self.list_filter = ListFilter(self.tree, self.model)
        # Nothing kept: no empty Details/Activity/Tools tabs under "No server matches"; they come back with a match.
        self.list_filter.sig_nothing_matches.connect(lambda nothing: self.details_tabs.setVisible(not nothing))
        splitter.addWidget(self.list_filter)
        splitter.addWidget(self.details_tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.splitter = splitter
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(splitter)
        self.setCentralWidget(self.pages)
        # The status bar says what just happened, or nothing (never "Ready").
        self.statusBar().setObjectName("statusBar")
        # Enter on a row does its main action (docs/decisions/0030-window-pass.md); only while the tree has focus.
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            enter = QShortcut(QKeySequence(key), self.tree, context=Qt.ShortcutContext.WidgetShortcut)
            enter.activated.connect(self.main_action)

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

    # -- state -------------------------------------------------------------------------------------------------
    def reload(self) -> None:
        self.model.set_snapshot(self.controller.snapshot())
        has_servers = self.model.server_count() > 0
        self.pages.setCurrentIndex(1 if has_servers else 0)
        # An empty window has one thing to do, the empty page's "Add server": no row of greyed-out buttons above it.
        if self.toolbar is not None:
            self.toolbar.setVisible(has_servers)
        self.tree.expandAll()
        self.list_filter.apply()  # hides what the filter leaves out; a row it keeps is current
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
        live = any(a.state is not AccountState.SIGNED_OUT for a in self._accounts_of(server))
        testable = self._test_account() is not None
        self.window_actions.follow_selection(server, account, busy=busy, live=live, testable=testable)
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
        if server is None:
            self.details_tabs.show_nothing()
        elif account is not None:
            self.details_tabs.show_account(
                account,
                now=self.clock(),
                busy=self.controller.busy(account.id),
                events=self.controller.events(account=account),
                hosts=[host.name for host, _ in connectors_of(self.hosts(), server.id, account.id)],
                in_use=[(b.launched_by, b.started_at) for b in self.live() if b.account_id == account.id],
            )
            self.tools_tab.show_connector(server, account)
        else:
            self.details_tabs.show_server(
                server,
                accounts=self._accounts_of(server),
                events=self.controller.events(server=server),
                identity=stored_identity(self.controller, server.id),
            )

    # -- actions -------------------------------------------------------------------------------------------
    def add_server(self) -> None:
        dialog = AddServerDialog(self.controller, self)
        dialog.accepted.connect(lambda: sign_ins.added(self, dialog.server))
        self._open(dialog)

    def sign_in(self) -> None:
        sign_ins.sign_in(self)

    def add_account(self) -> None:
        sign_ins.add_account(self)

    def _sign_in_dialog(self, start: Callable[[], SignInJob], title: str, failed: str | None = None) -> None:
        sign_ins.open_dialog(self, start, title, failed)

    def sign_out(self) -> None:
        sign_outs.sign_out(self)

    def remove_account(self) -> None:
        self.removals.remove_account()

    def remove_server(self) -> None:
        self.removals.remove_server()

    def use_in(self) -> None:
        server, account = self.selected_server(), self.selected_account()
        if server is None or account is None:
            return
        dialog = UseInDialog(server, account, self, hosts=self.hosts)
        dialog.sig_hosts_changed.connect(lambda _names: self._show_details())
        self._open(dialog)

    def test_connection(self) -> None:
        account = self._test_account()
        if account is None:
            return
        self._open(ConnectionDialog(self.controller, account, self))

    def open_settings(self) -> None:
        server = self.selected_server()
        if server is None:
            return
        self._open(ServerSettingsDialog(self.controller, server, self))

    def rename_account(self) -> None:
        self.server_file.rename_account()

    def rename_server(self) -> None:
        self.server_file.rename_server()

    def export_servers(self) -> None:
        self.server_file.export_servers()

    def import_servers(self) -> None:
        self.server_file.import_servers()

    def open_preferences(self) -> None:
        """Preferences (Ctrl+, File > Preferences…, the tray's "Preferences…"): the one already open comes forward."""
        self.bring_forward()
        opened = next((d for d in self.dialogs if isinstance(d, PreferencesDialog)), None)
        if opened is not None:
            opened.raise_()
            opened.activateWindow()
            return
        registry = self.controller.accounts.registry
        tools, refresher, autostart = self.controller.tool_control, self.refresher, self.autostart
        self._open(
            PreferencesDialog(
                registry, tools, refresher=refresher, autostart=autostart, tray=self.tray_mode, parent=self
            )
        )

    def filter_list(self) -> None:
        self.list_filter.focus()

    def review_tools(self, account_id: int) -> None:
        """Open the window at this connector's tools and their review (the tray's "waiting for your review")."""
        self.bring_forward()
        self.reload()
        self.select_account(account_id)
        if self.selected_account() is not None:
            self.details_tabs.setCurrentWidget(self.tools_tab)
            self.tools_tab.review()

    def copy_diagnostics(self) -> None:
        report = self.controller.diagnostics(self.selected_server(), self.selected_account())
        QGuiApplication.clipboard().setText(report)
        self.statusBar().showMessage("Diagnostics copied (no token or secret is in them).", 10_000)

    def about(self) -> None:
        keyring = self.controller.accounts.secrets.description
        path = self.controller.accounts.registry.path
        profile = path.parent if path.is_absolute() else None  # an in-memory registry has no folder
        self._open(AboutDialog(keyring=keyring, profile=profile, parent=self))

    def _failed(self, job: Job, exc: BaseException) -> None:
        report = describe(exc, title=job.title, context="\n".join(job.trace.lines()))
        show_error(self, report, self.error_action, self.ERROR_ACTIONS)

    #: The buttons an error may offer that the window carries out (ui/errors.py, ADR 0031).
    ERROR_ACTIONS: frozenset[ActionKind] = frozenset(
        {"add_account", "show_server", "sign_in_again", "open_settings", "use_file_store"}
    )

    def error_action(self, action: ErrorAction) -> None:
        """Do what an error's button offers, on the selected server unless the action names one."""
        if action.server is not None:
            found = next((s for s, _ in self.controller.snapshot() if s.name == action.server), None)
            if found is not None:
                self.select_server(found.id)
        if action.account_id is not None:
            self.select_account(action.account_id)
        if action.kind == "add_account":
            self.add_account()
        elif action.kind == "sign_in_again":
            self.sign_in()
        elif action.kind == "open_settings":
            self.act_settings.trigger()
        elif action.kind == "use_file_store":
            self.keyring_offer.switch()

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
        on: ClickedOn = "nothing"
        if index.isValid():
            on = "account" if self.selected_account() is not None else "server"
        menu = self.window_actions.context_menu(self, on)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.tree.viewport().mapToGlobal(point))

    def _double_clicked(self, index: QModelIndex) -> None:
        if self.model.account_at(index) is not None:
            self.main_action()

    def main_action(self) -> None:
        """Enter (or a double click) on a row: an account that needs a sign-in is signed in again, a signed-in one is
        tested; a server without a live account is signed in to, one with accounts opens or closes."""
        server, account = self.selected_server(), self.selected_account()
        if server is None or (account is not None and self.controller.busy(account.id) is not None):
            return
        if account is not None:
            if account.state is AccountState.SIGNED_IN:
                self.test_connection()
            else:
                self.sign_in()
        elif not any(a.state is not AccountState.SIGNED_OUT for a in self._accounts_of(server)):
            self.sign_in()
        else:
            index = self.tree.currentIndex().siblingAtColumn(0)
            self.tree.setExpanded(index, not self.tree.isExpanded(index))

    # -- geometry ------------------------------------------------------------------------------------------
    def _restore(self) -> None:
        window_geometry.restore(self)

    def save_geometry(self) -> None:
        window_geometry.save(self)

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

    def step_up(self, account_id: int, scopes: list[str], host: str) -> None:
        """A connector needs more permissions: the sign-in again of that account with ``scopes`` added."""
        sign_ins.step_up(self, account_id, scopes, host)

    def sign_in_account(self, account_id: int) -> None:
        """Open the sign-in again of this account (the tray's "Sign in again…" and its notification)."""
        self.bring_forward()
        self.reload()
        self.select_account(account_id)
        if self.selected_account() is not None:
            self.sign_in()
