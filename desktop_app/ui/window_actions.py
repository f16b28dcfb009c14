"""The main window's commands: one QAction each, shared by the toolbar, the menu bar and the context menu, and
enabled for what the selection allows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QWidget

from desktop_app import appinfo
from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.ui.icons import icon

Shortcut = QKeySequence | QKeySequence.StandardKey | str | None
#: Where a right click landed: on no row, an account's row or a server's row.
ClickedOn = Literal["nothing", "account", "server"]


class Commands(Protocol):
    """What the actions run (the main window's slots)."""

    def add_server(self) -> None: ...
    def sign_in(self) -> None: ...
    def add_account(self) -> None: ...
    def sign_out(self) -> None: ...
    def remove_account(self) -> None: ...
    def remove_server(self) -> None: ...
    def test_connection(self) -> None: ...
    def open_settings(self) -> None: ...
    def rename_account(self) -> None: ...
    def rename_server(self) -> None: ...
    def export_servers(self) -> None: ...
    def import_servers(self) -> None: ...
    def close(self) -> bool: ...
    def use_in(self) -> None: ...
    def copy_diagnostics(self) -> None: ...
    def open_preferences(self) -> None: ...
    def filter_list(self) -> None: ...
    def quit(self) -> None: ...
    def about(self) -> None: ...


def _action(
    parent: QWidget,
    name: str,
    label: str,
    icon_name: str | None,
    shortcut: Shortcut,
    slot: Callable[[], object],
    tip: str,
) -> QAction:
    action = QAction(label, parent)
    action.setObjectName(name)
    if icon_name:
        action.setIcon(icon(icon_name))
    if shortcut:
        action.setShortcut(shortcut)
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    return action


@dataclass(frozen=True, slots=True)
class WindowActions:
    add_server: QAction
    sign_in: QAction
    add_account: QAction
    sign_out: QAction
    remove_account: QAction
    remove: QAction
    test: QAction
    settings: QAction
    rename: QAction
    rename_server: QAction
    use_in: QAction
    diagnostics: QAction
    preferences: QAction
    find: QAction
    export_servers: QAction
    import_servers: QAction
    close: QAction
    quit: QAction
    about: QAction

    @classmethod
    def create(cls, parent: QWidget, commands: Commands) -> WindowActions:
        std = QKeySequence.StandardKey
        return cls(
            add_server=_action(
                parent,
                "addServer",
                "&Add server…",
                "add",
                std.New,
                commands.add_server,
                "Add a remote MCP server by its address",
            ),
            sign_in=_action(
                parent,
                "signIn",
                "&Sign in…",
                "sign-in",
                "Ctrl+L",
                commands.sign_in,
                "Sign in to the selected server or account",
            ),
            add_account=_action(
                parent,
                "addAccount",
                "Add another a&ccount…",
                "add-account",
                "Ctrl+Shift+N",
                commands.add_account,
                "Sign in to the selected server as someone else",
            ),
            sign_out=_action(
                parent,
                "signOut",
                "Sign &out",
                "sign-out",
                "Ctrl+Shift+L",
                commands.sign_out,
                "Revoke and forget the selected account's tokens",
            ),
            remove_account=_action(
                parent,
                "removeAccount",
                "Re&move account…",
                "remove",
                None,  # Delete, while an account is selected (follow_selection)
                commands.remove_account,
                "Revoke and forget the selected account with its history; the server stays",
            ),
            remove=_action(
                parent,
                "removeServer",
                "&Remove server…",
                "remove",
                std.Delete,
                commands.remove_server,
                "Remove the selected server with its accounts",
            ),
            test=_action(
                parent,
                "testConnection",
                "&Test connection",
                "test",
                "Ctrl+T",
                commands.test_connection,
                "Connect with the selected account and list the server's tools",
            ),
            settings=_action(
                parent,
                "serverSettings",
                "Server s&ettings…",
                "settings",
                "Alt+Return",  # Properties in Nautilus and Dolphin; Ctrl+, is Preferences
                commands.open_settings,
                "Registration, scopes and other settings of the selected server",
            ),
            rename=_action(
                parent,
                "renameAccount",
                "Re&name account…",
                None,
                None,  # F2, while an account is selected (follow_selection)
                commands.rename_account,
                "Give the selected account a nickname",
            ),
            rename_server=_action(
                parent,
                "renameServer",
                "Re&name server…",
                None,
                "F2",
                commands.rename_server,
                "Give the selected server another name (its accounts and settings stay)",
            ),
            use_in=_action(
                parent,
                "useIn",
                "&Use in…",
                None,
                None,
                commands.use_in,
                "Choose the AI tools (Claude, VS Code, Cursor …) that use the selected account",
            ),
            diagnostics=_action(
                parent,
                "copyDiagnostics",
                "Copy &diagnostics",
                "copy",
                "Ctrl+Shift+C",
                commands.copy_diagnostics,
                "Copy a report without any token or secret, to paste into a bug report",
            ),
            preferences=_action(
                parent,
                "preferences",
                "&Preferences…",
                None,
                "Ctrl+,",  # GNOME's and KDE's (the theme's StandardKey.Preferences may be none)
                commands.open_preferences,
                "Start at login, background renewal, notifications and the defaults for new tools",
            ),
            find=_action(
                parent,
                "find",
                "&Filter the list",
                None,
                std.Find,
                commands.filter_list,
                "Show only the servers and accounts whose name, address or label holds what you type",
            ),
            export_servers=_action(
                parent,
                "exportServers",
                "&Export server list…",
                None,
                None,
                commands.export_servers,
                "Save the servers' names, addresses and settings to a file (no account, token or secret)",
            ),
            import_servers=_action(
                parent,
                "importServers",
                "&Import server list…",
                None,
                None,
                commands.import_servers,
                "Add the servers of an exported list (servers already added are skipped)",
            ),
            close=_action(
                parent,
                "closeWindow",
                "&Close window",
                None,
                "Ctrl+W",  # what GNOME and KDE use (the offscreen and other themes' Close may be Ctrl+F4 only)
                commands.close,
                "Close the window (the app keeps renewing sign-ins in the tray, when there is one)",
            ),
            quit=_action(parent, "quit", "&Quit", None, std.Quit, commands.quit, f"Quit {appinfo.APP_NAME}"),
            about=_action(parent, "about", "&About", None, None, commands.about, f"About {appinfo.APP_NAME}"),
        )

    def install(self, window: QMainWindow) -> QMenu:
        """The toolbar and the menu bar of ``window``. Returns the Help menu (``ui.menu_entry`` adds to it)."""
        toolbar = QToolBar("Main toolbar", window)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        # The few a person uses most; the rest are in the menus and the context menu. Seven with their labels did not
        # fit 800 px and hid the last behind "»" (issue 17 item 12).
        for action in (self.add_server, self.sign_in, self.test, self.settings):
            toolbar.addAction(action)
        window.addToolBar(toolbar)

        menu = window.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.add_server)
        file_menu.addAction(self.import_servers)
        file_menu.addAction(self.export_servers)
        file_menu.addSeparator()
        file_menu.addAction(self.preferences)
        file_menu.addSeparator()
        file_menu.addAction(self.close)
        file_menu.addAction(self.quit)
        window.addAction(self.find)  # Ctrl+F, in no menu: the field above the list is where filtering is seen
        server_menu = menu.addMenu("&Server")
        for action in (self.sign_in, self.add_account, self.test, self.settings, self.rename_server, self.remove):
            server_menu.addAction(action)
        account_menu = menu.addMenu("A&ccount")
        for action in (self.sign_in, self.sign_out, self.rename, self.use_in, self.test):
            account_menu.addAction(action)
        account_menu.addSeparator()
        account_menu.addAction(self.remove_account)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.diagnostics)
        help_menu.addAction(self.about)
        return help_menu

    def context_menu(self, parent: QWidget, on: ClickedOn) -> QMenu:
        """The menu for a right click on an empty spot, an account's row or a server's row."""
        menu = QMenu(parent)
        if on == "nothing":
            menu.addAction(self.add_server)
        elif on == "account":
            for action in (self.sign_in, self.test, self.rename, self.use_in, self.sign_out):
                menu.addAction(action)
            menu.addSeparator()
            menu.addAction(self.diagnostics)
            menu.addAction(self.remove_account)
        else:
            for action in (self.sign_in, self.add_account, self.test, self.settings, self.rename_server):
                menu.addAction(action)
            menu.addSeparator()
            menu.addAction(self.diagnostics)
            menu.addAction(self.remove)
        return menu

    def follow_selection(
        self, server: Server | None, account: Account | None, *, busy: bool, live: bool, testable: bool
    ) -> None:
        """Enable what can be done with the selection. ``busy``: the selected account is being worked on; ``live``:
        the selected server has an account that is not signed out; ``testable``: there is an account to test with."""
        self.sign_in.setText("&Sign in again…" if account is not None else "&Sign in…")
        self.sign_in.setEnabled(server is not None and not busy and (account is not None or not live))
        self.add_account.setEnabled(server is not None)
        self.sign_out.setEnabled(account is not None and not busy and account.state is not AccountState.SIGNED_OUT)
        self.rename.setEnabled(account is not None)
        self.use_in.setEnabled(account is not None)
        self.test.setEnabled(testable and not busy)
        self.settings.setEnabled(server is not None)
        self.remove.setEnabled(server is not None)
        self.remove_account.setEnabled(account is not None and not busy)
        # The Delete key acts on what is selected: an account's row removes the account, a server's the server. One
        # action holds it at a time (two would make it ambiguous, and Qt would run neither).
        delete = QKeySequence(QKeySequence.StandardKey.Delete)
        self.remove_account.setShortcut(delete if account is not None else QKeySequence())
        self.remove.setShortcut(QKeySequence() if account is not None else delete)
        # F2 renames what is selected, the same way.
        f2 = QKeySequence(Qt.Key.Key_F2)
        self.rename.setShortcut(f2 if account is not None else QKeySequence())
        self.rename_server.setShortcut(QKeySequence() if account is not None else f2)
        self.rename_server.setEnabled(server is not None)
        self.diagnostics.setEnabled(server is not None)
