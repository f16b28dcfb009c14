"""What a server or an id_token chose is shown as the characters it is, never as markup (issue 12 item 2).

Qt reads a label in its default format, every tooltip and the labels of a QMessageBox or QInputDialog as rich text
when ``Qt::mightBeRichText`` says so, and a menu item's ``&`` as a shortcut. ``shown_*`` below compute what the
person would see, by Qt's own rules, and the tests look for the hostile text there, character for character.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QMenu, QMessageBox

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState, Identity, Server, ServerSettings
from desktop_app.errors import ProtocolViolation, one_line
from desktop_app.mcp import ServerInfo, Tool
from desktop_app.storage.profile import open_accounts
from desktop_app.ui import plain
from desktop_app.ui.connection_dialog import NAME_COLUMN, ConnectionDialog, tools_model
from desktop_app.ui.controller import ConnectionReport, Controller
from desktop_app.ui.errors import ErrorPanel, describe
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.model import NAME, ConnectorsModel
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.rename_dialog import RenameDialog
from desktop_app.ui.tray import Tray
from tests.helpers.records import sign_in_record

BOLD = "<b>x</b>"
IMAGE = '<img src="/etc/hostname">'
LINK = '<a href="https://evil.example/">Click to re-verify</a>'
#: A name with every kind: markup, an entity, and an ampersand a menu would take for a shortcut.
HOSTILE = f"R&D {BOLD} {IMAGE} &amp; {LINK}"
SHOWN = one_line(HOSTILE)


def shown_label(label: QLabel) -> str:
    """What a QLabel displays: its text as markup when its format (or Qt's guess) is rich text."""
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(label.text())
    )
    return shown_rich(label.text()) if rich else label.text()


def shown_tooltip(tip: str) -> str:
    """What a tooltip displays: QToolTip renders it as rich text when Qt guesses it is."""
    return shown_rich(tip) if QtGui.Qt.mightBeRichText(tip) else tip


def shown_rich(text: str) -> str:
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def shown_in_menu(text: str) -> str:
    """What a menu item displays: ``&&`` is one ``&``; ``&x`` is ``x`` (underlined, a shortcut)."""
    return re.sub(r"&(.)", r"\1", text)


def hostile_server(n: int = 1) -> Server:
    """Named ``HOSTILE`` by the person (perhaps pasted); calling itself ``Docs HOSTILE`` in its metadata."""
    url = "https://mcp.example/mcp"
    return Server(n, url, url, HOSTILE, f"Docs {HOSTILE}", ServerSettings(), 0.0)


@pytest.fixture
def hostile_accounts() -> Iterator[tuple[Accounts, Account]]:
    """This test's profile with a server and a signed-in account whose every name is hostile (file secret store:
    no secret is written)."""
    accounts = open_accounts(secret_store="file")
    now = time.time()
    server = accounts.registry.add_server(
        url="https://mcp.example/mcp",
        resource="https://mcp.example/mcp",
        name=HOSTILE,
        settings=ServerSettings(),
        now=now,
    )
    account = accounts.registry.save_sign_in(
        sign_in_record(
            server.id,
            uuid.uuid4().hex,
            now=now,
            issuer="https://as.example",
            client_id="client",
            identity=Identity("sub", HOSTILE, "id_token", "alice@example.com"),
            scopes=("read",),
            expires_at=now + 3600,
            event_detail=f"as {HOSTILE}",
        )
    )
    yield accounts, account
    accounts.registry.close()


@pytest.fixture
async def hostile_controller(
    qapp: QApplication, hostile_accounts: tuple[Accounts, Account]
) -> AsyncIterator[Controller]:
    made = Controller(hostile_accounts[0])
    yield made
    await made.aclose()


def test_the_helpers_keep_every_character(qapp: QApplication) -> None:
    label = plain.label(HOSTILE)
    assert label.textFormat() == Qt.TextFormat.PlainText and shown_label(label) == HOSTILE
    tip = plain.tooltip(f"line one {BOLD}\n{HOSTILE}")
    assert "&lt;b&gt;" in tip and "<b>" not in tip
    assert shown_tooltip(tip) == f"line one {BOLD}\n{HOSTILE}"
    assert plain.tooltip("") == ""
    assert shown_in_menu(plain.action(HOSTILE)) == HOSTILE
    assert not set("<>&") & set(plain.shell(HOSTILE))


def test_names_and_tooltips_in_the_list_are_the_literal_text(qapp: QApplication) -> None:
    """The server's name and the account label (from an id_token) in the list, and their tooltips."""
    server = hostile_server()
    account = Account(
        id=1,
        key="k1",
        server_id=1,
        issuer="https://as.example",
        client_id="c",
        subject="sub",
        label=HOSTILE,
        identity_source="id_token",
        login_hint=None,
        nickname=HOSTILE,
        state=AccountState.SIGNED_IN,
        scopes=("read",),
        expires_at=time.time() + 3600,
        has_refresh_token=True,
        created_at=0.0,
        signed_in_at=0.0,
        last_refresh=None,
        last_error=f"invalid_grant: {HOSTILE}",
    )
    model = ConnectorsModel()
    model.set_snapshot([(server, [account])])
    server_row = model.index(0, NAME)
    account_row = model.index(0, NAME, server_row)
    assert server_row.data() == SHOWN
    assert account_row.data() == SHOWN
    for row in (server_row, account_row):
        tip = row.data(Qt.ItemDataRole.ToolTipRole)
        assert "&lt;b&gt;" in tip and "<b>" not in tip and "<img" not in tip and "<a " not in tip
        assert SHOWN in shown_tooltip(tip)
    assert f"Who: {SHOWN}" in shown_tooltip(account_row.data(Qt.ItemDataRole.ToolTipRole))


def test_tool_names_are_the_literal_text(qapp: QApplication) -> None:
    tools = (Tool(HOSTILE, None, f"{BOLD} first line\nsecond", {}), Tool("plain_tool", None, None, {}))
    model = tools_model(tools)
    assert model.index(0, NAME_COLUMN).data() == SHOWN
    assert model.index(0, NAME_COLUMN + 1).data() == f"{BOLD} first line"
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            tip = model.index(row, column).data(Qt.ItemDataRole.ToolTipRole)
            # The whole description as a tooltip: the server's markup escaped, shown as the literal text.
            assert tip is None or ("<b>" not in tip and "<img" not in tip and "<a " not in tip)
    description_tip = model.index(0, NAME_COLUMN + 1).data(Qt.ItemDataRole.ToolTipRole)
    assert description_tip is not None and "&lt;b&gt;" in description_tip
    assert shown_tooltip(description_tip).startswith(f"{BOLD} first line")


async def test_the_window_shows_server_and_account_names_as_text(
    qtbot: Any, hostile_controller: Controller, hostile_accounts: tuple[Accounts, Account]
) -> None:
    window = MainWindow(hostile_controller)
    qtbot.addWidget(window)
    account = hostile_accounts[1]
    window.select_server(account.server_id)
    assert window.details.textFormat() == Qt.TextFormat.PlainText
    assert SHOWN in shown_label(window.details)
    window.select_account(account.id)
    assert SHOWN in shown_label(window.details)
    activity = window.activity_model
    assert any(SHOWN in activity.index(r, 2).data() for r in range(activity.rowCount()))

    window.rename_account()
    ask = next(d for d in window.dialogs if isinstance(d, RenameDialog))
    labels = [label for label in ask.findChildren(QLabel) if label.text()]
    assert labels and all(label.textFormat() == Qt.TextFormat.PlainText for label in labels)
    assert any(f"Nickname for {SHOWN}" in shown_label(label) for label in labels)
    ask.reject()

    window.sign_out()
    box = next(d for d in window.dialogs if isinstance(d, QMessageBox))
    texts = [shown_label(label) for label in box.findChildren(QLabel)]
    assert any(f"Sign out {SHOWN}?" == t for t in texts)
    assert any(SHOWN in t and "authorization server" in t for t in texts)
    box.reject()


async def test_the_connection_test_shows_what_the_server_said_as_text(
    qtbot: Any, hostile_controller: Controller, hostile_accounts: tuple[Accounts, Account]
) -> None:
    account = hostile_accounts[1]
    dialog = ConnectionDialog(hostile_controller, account)  # not shown: no test runs
    qtbot.addWidget(dialog)
    info = ServerInfo(name=HOSTILE, version=BOLD, protocol_version="2025-06-18", capabilities={}, title=LINK)
    tools = (Tool(HOSTILE, None, IMAGE, {}),)
    dialog._on_finished(ConnectionReport(info, tools, account))
    for label, expected in (
        (dialog.result_title, f"Connected to {SHOWN}"),
        (dialog.server_info_name, f"{LINK} ({SHOWN})"),
        (dialog.server_info_version, BOLD),
        (dialog.account_label, SHOWN),
    ):
        assert label.textFormat() == Qt.TextFormat.PlainText
        assert shown_label(label) == expected
    assert dialog.tools_model.index(0, NAME_COLUMN).data() == SHOWN


def test_an_error_description_is_shown_as_text(qtbot: Any) -> None:
    panel = ErrorPanel()
    qtbot.addWidget(panel)
    panel.show_report(describe(ProtocolViolation("oauth_error", f"The server answered {HOSTILE}"), title="Test"))
    assert shown_label(panel.message) == one_line(f"The server answered {HOSTILE}", 600)


async def test_the_tray_menu_tooltip_and_notifications_carry_no_markup_and_no_shortcut(
    hostile_controller: Controller, hostile_accounts: tuple[Accounts, Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    refresher = BackgroundRefresher(hostile_controller)
    tray = Tray(hostile_controller, refresher)
    try:
        tray_texts_are_plain(tray, hostile_controller, hostile_accounts, monkeypatch)
    finally:
        # Gone before the next test: a tray icon and its menu left to the garbage collector can go at any moment.
        refresher.stop()
        tray.icon.hide()
        tray.menu.deleteLater()
        tray.deleteLater()
        QApplication.processEvents()


def tray_texts_are_plain(
    tray: Tray,
    hostile_controller: Controller,
    hostile_accounts: tuple[Accounts, Account],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tray.rebuild_menu()
    menus = (tray.menu, *tray.menu.findChildren(QMenu))  # the menu and each server's submenu
    shown = [shown_in_menu(a.text()) for menu in menus for a in menu.actions() if not a.isSeparator()]
    assert one_line(HOSTILE, 60) in shown  # the server's submenu
    assert any(t.startswith(f"{one_line(HOSTILE, 60)} — ") for t in shown)  # its account's row

    account = hostile_controller.accounts.mark_needs_sign_in(hostile_accounts[1], f"invalid_grant {LINK}")
    hostile_controller.sig_changed.emit()
    assert not set("<>&") & set(tray.icon.toolTip())
    assert "1 needs sign-in" in tray.icon.toolTip()
    tray.rebuild_menu()
    urgent = [a.text() for a in tray.menu.actions() if a.objectName().startswith("urgentSignIn_")]
    assert [shown_in_menu(t) for t in urgent] == [
        f"Sign in again as {one_line(HOSTILE, 60)} on {one_line(HOSTILE, 60)}…"
    ]

    said: list[tuple[str, str]] = []

    def show_message(title: str, message: str, *_: object) -> None:
        said.append((title, message))

    monkeypatch.setattr(tray.icon, "showMessage", show_message)
    tray.notify_needs_sign_in((account,))
    tray.notify_expiring((account,))
    assert len(said) == 2
    for title, message in said:
        assert not set("<>&") & set(title + message)
        assert "R\uff06D \u2039b\u203ax\u2039/b\u203a" in message  # the name, with look-alikes
