"""The filter above the list (issue 17 item 16): shown from six servers on (and after Ctrl+F at any count), it keeps
the servers whose name or address, or whose accounts' labels, hold what is typed (case ignored); the selection and
the details follow; nothing kept says so with a Clear button; Escape clears."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState, Server, ServerSettings
from desktop_app.ui.controller import Controller
from desktop_app.ui.list_filter import SHOWN_FROM, kept_rows
from desktop_app.ui.main_window import MainWindow
from tests.gui.conftest import wait_until
from tests.gui.test_window_keys import sign_in

NAMES = ("Mail", "Files", "Calendar", "Tickets", "Wiki", "Chat", "Billing")


def add(accounts: Accounts, name: str) -> Server:
    url = f"https://{name.lower()}.example/mcp"
    return accounts.registry.add_server(url=url, resource=url, name=name, settings=ServerSettings(), now=0)


@pytest.fixture
def servers(accounts: Accounts) -> dict[str, Server]:
    """Seven servers; Files has alice and bob@corp, Chat has carol."""
    made = {name: add(accounts, name) for name in NAMES}
    sign_in(accounts, made["Files"], "alice@files")
    sign_in(accounts, made["Files"], "bob@corp")
    sign_in(accounts, made["Chat"], "carol@chat")
    return made


@pytest.fixture
async def window(qtbot, controller: Controller) -> MainWindow:
    made = MainWindow(controller, hosts=lambda: [], live=lambda: [])
    qtbot.addWidget(made)
    made.show()
    made.activateWindow()
    await wait_until(lambda: QApplication.activeWindow() is made, what="the window active")
    return made


def shown(window: MainWindow) -> dict[str, list[str]]:
    """What the list shows: each server row kept, with its account rows kept."""
    tree, model = window.tree, window.model
    result: dict[str, list[str]] = {}
    for row in range(model.rowCount()):
        if tree.isRowHidden(row, QModelIndex()):
            continue
        index = model.index(row, 0)
        server = model.server_at(index)
        assert server is not None
        result[server.name] = [
            account.label
            for r in range(model.rowCount(index))
            if not tree.isRowHidden(r, index) and (account := model.account_at(model.index(r, 0, index))) is not None
        ]
    return result


def details(window: MainWindow) -> str:
    return window.details_tabs.details.text()


def test_what_a_filter_keeps() -> None:
    server = Server(1, "https://mail.example/mcp", "https://mail.example/mcp", "Mail", None, ServerSettings(), 0)

    def account(label: str, nickname: str | None = None) -> Account:
        return Account(
            id=1,
            key="k",
            server_id=1,
            issuer="https://as.example",
            client_id="c",
            subject="s",
            label=label,
            identity_source="id_token",
            login_hint=None,
            nickname=nickname,
            state=AccountState.SIGNED_IN,
            scopes=(),
            expires_at=None,
            has_refresh_token=False,
            created_at=0,
            signed_in_at=None,
            last_refresh=None,
        )

    alice, bob = account("alice@corp"), account("bob@home", nickname="Work box")
    assert kept_rows(server, [alice, bob], "") == (True, [True, True])
    assert kept_rows(server, [alice, bob], "MAIL") == (True, [True, True])  # the server: with all its accounts
    assert kept_rows(server, [alice, bob], "mail.example") == (True, [True, True])  # its address
    assert kept_rows(server, [alice, bob], " Corp ") == (True, [True, False])  # an account: just that one
    assert kept_rows(server, [alice, bob], "work") == (True, [False, True])  # a nickname
    assert kept_rows(server, [alice, bob], "zzz") == (False, [False, False])


async def test_typing_filters_and_the_selection_and_details_follow(
    qtbot, window: MainWindow, servers: dict[str, Server]
) -> None:
    window.reload()
    field = window.list_filter.field
    assert len(servers) > SHOWN_FROM and field.isVisible()
    assert len(shown(window)) == 7
    window.select_server(servers["Wiki"].id)

    qtbot.keyClicks(field, "FIL")  # case ignored; Wiki is left out, so the first row kept becomes current
    assert shown(window) == {"Files": ["alice@files", "bob@corp"]}
    assert window.selected_server() == servers["Files"] and window.selected_account() is None
    assert details(window).startswith("Files\n")

    field.clear()
    qtbot.keyClicks(field, "corp")  # an account's label: its server with that account only
    assert shown(window) == {"Files": ["bob@corp"]}
    bob = window.model.account_at(window.model.index(1, 0, window.model.index_of_server(servers["Files"].id)))
    assert bob is not None
    window.select_account(bob.id)
    assert details(window).startswith("bob@corp\n")

    field.clear()
    qtbot.keyClicks(field, "chat.example")  # an address
    assert shown(window) == {"Chat": ["carol@chat"]}
    assert window.selected_server() == servers["Chat"]

    window.controller.sig_changed.emit()  # a reload (a change elsewhere) keeps the filter
    assert shown(window) == {"Chat": ["carol@chat"]}

    qtbot.keyClick(field, Qt.Key.Key_Down)  # Down (or Enter) goes on to the rows kept
    assert window.tree.hasFocus()


async def test_nothing_kept_says_so_and_clear_brings_every_row_back(
    qtbot, window: MainWindow, servers: dict[str, Server]
) -> None:
    window.reload()
    flt = window.list_filter
    qtbot.keyClicks(flt.field, "zzz")
    assert shown(window) == {}
    assert flt.pages.currentWidget() is flt.nothing and flt.nothing.isVisible() and not window.tree.isVisible()
    assert flt.nothing_text.text() == "No server matches \u201czzz\u201d."
    assert window.selected_server() is None and details(window) == ""
    assert not window.act_settings.isEnabled()  # nothing selected: nothing to act on
    # No empty Details/Activity/Tools tabs under the message: it has the window's height to itself.
    assert flt.nothing_matches() and not window.details_tabs.isVisible()
    await wait_until(lambda: flt.nothing.height() > window.splitter.height() * 3 // 4, what="the message's height")

    for _ in range(3):  # Backspace until something matches again: the list and the details come back
        qtbot.keyClick(flt.field, Qt.Key.Key_Backspace)
    assert flt.field.text() == "" and window.tree.isVisible() and window.details_tabs.isVisible()
    assert window.selected_server() is not None and details(window) != ""

    qtbot.keyClicks(flt.field, "wikz")  # "wik" keeps Wiki (the details show it); the "z" keeps nothing
    assert not window.details_tabs.isVisible()
    qtbot.keyClick(flt.field, Qt.Key.Key_Backspace)
    assert shown(window) == {"Wiki": []} and window.details_tabs.isVisible() and details(window).startswith("Wiki\n")
    qtbot.keyClick(flt.field, Qt.Key.Key_Z)
    assert not window.details_tabs.isVisible()

    qtbot.mouseClick(flt.clear_button, Qt.MouseButton.LeftButton)
    assert flt.field.text() == "" and len(shown(window)) == 7 and window.tree.isVisible()
    assert window.details_tabs.isVisible() and not flt.nothing_matches()
    assert window.selected_server() is not None and window.tree.hasFocus()


async def test_ctrl_f_focuses_the_field_and_escape_clears_it(
    qtbot, window: MainWindow, servers: dict[str, Server]
) -> None:
    window.reload()
    field = window.list_filter.field
    window.tree.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    await wait_until(field.hasFocus, what="the field focused")
    qtbot.keyClicks(field, "wiki")
    assert shown(window) == {"Wiki": []}
    qtbot.keyClick(field, Qt.Key.Key_Escape)
    assert field.text() == "" and len(shown(window)) == 7
    assert field.isVisible()  # seven servers: the field stays
    assert window.tree.hasFocus()


async def test_with_a_handful_of_servers_the_field_shows_only_after_ctrl_f(
    qtbot, window: MainWindow, accounts: Accounts
) -> None:
    for name in NAMES[:SHOWN_FROM]:
        add(accounts, name)
    window.reload()
    bar, field = window.list_filter.bar, window.list_filter.field
    assert not bar.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    await wait_until(field.hasFocus, what="the field focused")
    assert bar.isVisible()
    qtbot.keyClicks(field, "tick")
    assert shown(window) == {"Tickets": []}
    qtbot.keyClick(field, Qt.Key.Key_Escape)
    assert not bar.isVisible() and len(shown(window)) == SHOWN_FROM

    add(accounts, "Chat")  # a sixth: the field shows by itself
    window.controller.sig_changed.emit()
    assert bar.isVisible()
