"""The main window from the keyboard and on first launch (issue 17 items 4, 12, 16): Enter on a row does its main
action, Sign out and Close window have shortcuts, F2 renames what is selected; an empty window shows no greyed-out
toolbar, the toolbar loses nothing behind "»" at 800 px with a 1.5x font, and the status bar never says "Ready"."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QMessageBox, QToolBar

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, Identity, Server, ServerSettings
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.ui import list_columns
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model import SCOPES
from desktop_app.ui.rename_dialog import RenameDialog
from tests.gui.conftest import wait_until
from tests.helpers.records import store_sign_in


def sign_in(accounts: Accounts, server: Server, who: str) -> Account:
    now = time.time()
    tokens = TokenSet(f"at-{uuid.uuid4().hex}", "https://as.example", "c", server.resource, ("files",), now, now + 3600)
    identity = Identity(f"sub-{who}", who, "id_token", who)
    return store_sign_in(accounts, server.id, tokens, now=now, key=uuid.uuid4().hex, identity=identity)


@pytest.fixture
def files(accounts: Accounts) -> tuple[Server, Account, Account]:
    """Server ``files`` with alice (signed in) and bob (needs a sign-in)."""
    url = "https://files.example/mcp"
    server = accounts.registry.add_server(url=url, resource=url, name="files", settings=ServerSettings(), now=0)
    alice, bob = sign_in(accounts, server, "alice@files"), sign_in(accounts, server, "bob@files")
    bob = accounts.mark_needs_sign_in(bob, "The refresh token was refused.")
    return server, alice, bob


@pytest.fixture
async def window(qtbot, controller: Controller) -> MainWindow:
    made = MainWindow(controller)
    qtbot.addWidget(made)
    made.show()
    made.activateWindow()
    await wait_until(lambda: QApplication.activeWindow() is made, what="the window active")
    return made


class Calls:
    def __init__(self, window: MainWindow) -> None:
        self.made: list[str] = []
        window.sign_in = lambda: self.made.append("sign in")  # type: ignore[method-assign]
        window.test_connection = lambda: self.made.append("test")  # type: ignore[method-assign]


async def test_enter_on_a_row_does_its_main_action(
    qtbot, window: MainWindow, files: tuple[Server, Account, Account]
) -> None:
    server, alice, bob = files
    window.reload()
    calls = Calls(window)
    window.tree.setFocus()
    window.select_account(bob.id)
    qtbot.keyClick(window.tree, Qt.Key.Key_Return)
    window.select_account(alice.id)
    qtbot.keyClick(window.tree, Qt.Key.Key_Enter)
    assert calls.made == ["sign in", "test"]
    window.select_server(server.id)
    index = window.tree.currentIndex()
    assert window.tree.isExpanded(index)
    qtbot.keyClick(window.tree, Qt.Key.Key_Return)
    assert not window.tree.isExpanded(index) and calls.made == ["sign in", "test"]


async def test_enter_on_a_server_without_a_live_account_signs_in(qtbot, window: MainWindow, accounts: Accounts) -> None:
    url = "https://empty.example/mcp"
    server = accounts.registry.add_server(url=url, resource=url, name="empty", settings=ServerSettings(), now=0)
    window.select_server(server.id)
    calls = Calls(window)
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key.Key_Return)
    assert calls.made == ["sign in"]


async def test_sign_out_has_a_shortcut(qtbot, window: MainWindow, files: tuple[Server, Account, Account]) -> None:
    _, alice, _ = files
    window.reload()
    window.select_account(alice.id)
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    box: QMessageBox = await wait_until(
        lambda: next((d for d in window.dialogs if isinstance(d, QMessageBox) and d.isVisible()), None),
        what="the sign-out question",
    )
    assert box.text() == "Sign out alice@files?"
    box.button(QMessageBox.StandardButton.Cancel).click()


async def test_ctrl_w_closes_the_window_to_the_tray(qtbot, window: MainWindow) -> None:
    window.tray_mode = True
    hidden: list[bool] = []
    window.sig_hidden_to_tray.connect(lambda: hidden.append(True))
    qtbot.keyClick(window.tree, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert hidden == [True] and not window.isVisible()


async def focused(ask: RenameDialog) -> None:
    """The dialog is the active window with its field focused (as on a desktop; offscreen the window's tree may
    keep the focus, and with it the tree's Enter shortcut)."""
    ask.activateWindow()
    ask.edit.setFocus()
    await wait_until(lambda: QApplication.focusWidget() is ask.edit, what="the name field focused")


async def test_f2_renames_what_is_selected(
    qtbot, window: MainWindow, accounts: Accounts, files: tuple[Server, Account, Account]
) -> None:
    server, alice, _ = files
    window.reload()
    window.select_server(server.id)
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key.Key_F2)
    ask: RenameDialog = await wait_until(
        lambda: next((d for d in window.dialogs if isinstance(d, RenameDialog) and d.isVisible()), None),
        what="the rename question",
    )
    assert ask.windowTitle() == "Rename server" and ask.edit.text() == "files"
    assert ask.edit.selectedText() == "files"  # typing replaces the current name
    await focused(ask)
    qtbot.keyClicks(ask.edit, "Lab files")
    qtbot.keyClick(ask.edit, Qt.Key.Key_Return)  # Enter renames
    await wait_until(lambda: window.model.index(0, 0).data() == "Lab files", what="the new name listed")
    assert accounts.registry.server(server.id).name == "Lab files"  # type: ignore[union-attr]

    window.select_account(alice.id)
    window.activateWindow()
    window.tree.setFocus()
    await wait_until(lambda: QApplication.focusWidget() is window.tree, what="the list focused again")
    qtbot.keyClick(window.tree, Qt.Key.Key_F2)
    ask = await wait_until(
        lambda: next((d for d in window.dialogs if isinstance(d, RenameDialog) and d.isVisible()), None),
        what="the nickname question",
    )
    assert ask.windowTitle() == "Rename account"
    ask.reject()


async def test_a_taken_name_is_said_in_the_dialog_which_stays_open(
    qtbot, window: MainWindow, accounts: Accounts, files: tuple[Server, Account, Account]
) -> None:
    server, _, _ = files
    url = "https://mail.example/mcp"
    accounts.registry.add_server(url=url, resource=url, name="mail", settings=ServerSettings(), now=0)
    window.select_server(server.id)
    window.act_rename_server.trigger()
    ask: RenameDialog = await wait_until(
        lambda: next((d for d in window.dialogs if isinstance(d, RenameDialog) and d.isVisible()), None)
    )
    await focused(ask)
    ask.edit.setText("Mail")
    qtbot.keyClick(ask.edit, Qt.Key.Key_Return)
    assert ask.isVisible() and ask.feedback.isVisible()
    assert "A server named 'mail' already exists" in ask.feedback.text()
    assert ask.edit.text() == "Mail"  # nothing lost
    assert not window.findChildren(QMessageBox, "errorBox")  # said inline, not in a second box
    assert accounts.registry.server(server.id).name == "files"  # type: ignore[union-attr]
    ask.reject()


def _overflow(toolbar: QToolBar) -> bool:
    """Whether an action is hidden behind the toolbar's "»" (its button is not shown on the toolbar)."""
    return any(not toolbar.widgetForAction(action).isVisible() for action in toolbar.actions())


async def test_first_launch_shows_no_greyed_toolbar_and_no_ready(
    window: MainWindow, accounts: Accounts, files: tuple[Server, Account, Account]
) -> None:
    accounts.registry.remove_server(files[0].id)
    window.reload()
    assert window.pages.currentWidget() is window.empty
    assert window.toolbar is not None and not window.toolbar.isVisible()
    assert window.statusBar().currentMessage() == ""
    url = "https://again.example/mcp"
    accounts.registry.add_server(url=url, resource=url, name="again", settings=ServerSettings(), now=0)
    window.reload()
    assert window.toolbar.isVisible()


async def test_the_toolbar_fits_800_px_with_a_large_font(
    window: MainWindow, files: tuple[Server, Account, Account]
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    font = app.font()
    large = QFont(font)
    large.setPointSizeF(font.pointSizeF() * 1.5)
    app.setFont(large)
    try:
        window.reload()
        window.resize(800, 600)
        await wait_until(lambda: window.width() == 800, what="800 px wide")
        toolbar = window.toolbar
        assert toolbar is not None
        await wait_until(lambda: toolbar.width() > 0)
        assert not _overflow(toolbar)
        window.resize(300, 600)
        await wait_until(lambda: _overflow(toolbar), what="the check sees an overflow")
    finally:
        app.setFont(font)


async def test_the_server_list_goes_to_a_file_and_comes_back(
    window: MainWindow, accounts: Accounts, files: tuple[Server, Account, Account], tmp_path: Path
) -> None:
    server, _, _ = files
    path = tmp_path / "servers.json"
    window.server_file.export_to(str(path))
    assert "Exported 1 server to" in window.statusBar().currentMessage()
    assert "alice" not in path.read_text(encoding="utf-8")
    accounts.registry.remove_server(server.id)
    window.reload()
    window.server_file.import_from(str(path))
    assert "Added 1 server. Sign in to each to use it." in window.statusBar().currentMessage()
    assert window.model.index(0, 0).data() == "files" and window.model.rowCount(window.model.index(0, 0)) == 0
    path.write_text('{"format": "mcp-connectors server list", "version": 1,\n "servers": 3}', encoding="utf-8")
    window.server_file.import_from(str(path))
    error: QMessageBox = await wait_until(
        lambda: next((d for d in window.findChildren(QMessageBox, "errorBox") if d.isVisible()), None)
    )
    assert error.text().startswith("Line 2:")


async def test_the_scopes_column_is_hidden_until_shown_from_the_header(
    window: MainWindow, files: tuple[Server, Account, Account]
) -> None:
    header = window.tree.header()
    assert header.isSectionHidden(SCOPES)
    menu = list_columns.menu(header)
    show = next(a for a in menu.actions() if a.text() == "Show scopes")
    assert not show.isChecked()
    show.trigger()
    assert not header.isSectionHidden(SCOPES)
