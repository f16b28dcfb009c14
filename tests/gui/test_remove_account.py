"""Removing one account from the window (issue 14 §3, issue 17 item 4): Account > Remove account… and the Delete key
on an account's row ask first, naming the account and what happens; the server stays; AI tools that still list the
account's connector are offered to be cleaned, as after removing a server; background renewal forgets the account.
The Delete key on a server's row still removes the server. HOME and XDG_CONFIG_HOME point at the test's own folder."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, Identity, Server, ServerSettings, account_secret_key
from desktop_app.hosts.catalog import find_host
from desktop_app.hosts.entries import Launch
from desktop_app.hosts.installer import install, state_of
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.refresher import BackgroundRefresher
from tests.gui.conftest import wait_until
from tests.helpers.records import store_sign_in


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    (folder / ".cursor").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / ".config"))
    for name in ("CODEX_HOME", "CLAUDE_CONFIG_DIR", "GOOSE_PATH_ROOT", "FLATPAK_XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    return folder


def sign_in(accounts: Accounts, server: Server, who: str, nickname: str) -> Account:
    now = time.time()
    tokens = TokenSet(f"at-{uuid.uuid4().hex}", "https://as.example", "c", server.resource, ("files",), now, now + 3600)
    identity = Identity(f"sub-{who}", who, "id_token", who)
    account = store_sign_in(accounts, server.id, tokens, now=now, key=uuid.uuid4().hex, identity=identity)
    return accounts.set_nickname(account, nickname)


@pytest.fixture
def two_accounts(accounts: Accounts) -> tuple[Server, Account, Account]:
    url = "https://files.example/mcp"
    server = accounts.registry.add_server(
        url=url, resource=url, name="files", settings=ServerSettings(), now=time.time()
    )
    return server, sign_in(accounts, server, "alice@work.example", "Work"), sign_in(accounts, server, "a@home", "Home")


def put_in_cursor(account: Account) -> None:
    env = {"MCP_CONNECTORS_HOME": os.environ["MCP_CONNECTORS_HOME"]} if os.environ.get("MCP_CONNECTORS_HOME") else {}
    run = Launch("/opt/app/bin/mcp-connectors", ("bridge", str(account.server_id), "--account", str(account.id)), env)
    install(
        find_host("cursor"),
        run,
        server_id=account.server_id,
        account_id=account.id,
        name=None,
        default_name="files-work",
        description="d",
    )


@pytest.fixture
async def window(qtbot, controller: Controller, home: Path) -> MainWindow:
    made = MainWindow(controller)
    qtbot.addWidget(made)
    made.show()
    made.activateWindow()
    await wait_until(lambda: QApplication.activeWindow() is made, what="the window active")
    return made


async def question(window: MainWindow) -> QMessageBox:
    box: QMessageBox = await wait_until(
        lambda: next((d for d in window.dialogs if isinstance(d, QMessageBox) and d.isVisible()), None),
        what="a question",
    )
    return box


async def answer(window: MainWindow, box: QMessageBox, *, yes: bool) -> None:
    button = box.findChild(QPushButton, "confirmButton") if yes else box.button(QMessageBox.StandardButton.Cancel)
    assert button is not None
    button.click()
    await wait_until(lambda: box not in window.dialogs or not box.isVisible(), what="the question closed")


def listed(window: MainWindow) -> list[str]:
    model = window.model
    return [
        model.index(row, 0, model.index(s, 0)).data()
        for s in range(model.rowCount())
        for row in range(model.rowCount(model.index(s, 0)))
    ]


async def test_delete_on_an_account_row_removes_that_account_and_offers_to_take_its_connector_out(
    qtbot, window: MainWindow, accounts: Accounts, home: Path, two_accounts: tuple[Server, Account, Account]
) -> None:
    _, work, home_account = two_accounts
    put_in_cursor(work)
    window.reload()
    refresher = BackgroundRefresher(window.controller)
    refresher.start()
    assert refresher.plan.entry(work.id) is not None
    window.select_account(work.id)
    assert window.act_remove_account.isEnabled()

    qtbot.keyClick(window.tree, Qt.Key.Key_Delete)
    box = await question(window)
    assert box.text() == "Remove Work (alice@work.example) from files?"
    assert "revoked where the server allows it" in box.informativeText()
    assert "files stays, with its settings and its other accounts" in box.informativeText()
    await answer(window, box, yes=True)

    offer = await question(window)
    assert offer.text() == "Also remove its connectors from Cursor?"
    assert "still list Work (alice@work.example)" in offer.informativeText()
    assert accounts.registry.account(work.id) is None
    assert accounts.secrets.get(account_secret_key(work.key)) is None
    assert listed(window) == ["Home (a@home)"]
    assert refresher.plan.entry(work.id) is None and refresher.plan.entry(home_account.id) is not None
    assert "Removed Work (alice@work.example) from files" in window.statusBar().currentMessage()
    await answer(window, offer, yes=True)
    await wait_until(lambda: state_of(find_host("cursor")).connectors == (), what="the entry taken out")
    refresher.stop()


async def test_the_last_account_goes_the_server_stays_and_nothing_is_offered(
    window: MainWindow, accounts: Accounts, two_accounts: tuple[Server, Account, Account]
) -> None:
    server, work, home_account = two_accounts
    for account in (work, home_account):
        window.reload()
        window.select_account(account.id)
        window.act_remove_account.trigger()
        await answer(window, await question(window), yes=True)
        await wait_until(lambda a=account: a.display_name not in listed(window), what="the account removed")
        assert accounts.registry.account(account.id) is None
    assert window.model.rowCount() == 1 and listed(window) == []
    assert window.selected_server() == server
    assert not [d for d in window.dialogs if isinstance(d, QMessageBox) and d.isVisible()]  # no host lists them


async def test_a_signed_out_account_is_said_to_have_nothing_to_revoke_and_cancel_keeps_it(
    window: MainWindow, accounts: Accounts, two_accounts: tuple[Server, Account, Account]
) -> None:
    _, work, _ = two_accounts
    accounts.secrets.delete(account_secret_key(work.key))
    accounts.registry.set_state(work.id, work.state.SIGNED_OUT, now=time.time(), event_kind="signed_out", detail="")
    window.reload()
    window.select_account(work.id)
    window.act_remove_account.trigger()
    box = await question(window)
    assert box.informativeText().startswith("It is signed out, so no token is left to revoke")
    await answer(window, box, yes=False)
    assert accounts.registry.account(work.id) is not None


async def test_delete_on_a_server_row_still_offers_to_remove_the_server(
    qtbot, window: MainWindow, accounts: Accounts, two_accounts: tuple[Server, Account, Account]
) -> None:
    server, _, _ = two_accounts
    window.select_server(server.id)
    assert not window.act_remove_account.isEnabled()
    qtbot.keyClick(window.tree, Qt.Key.Key_Delete)
    box = await question(window)
    assert box.text() == "Remove files?"
    await answer(window, box, yes=False)
    assert len(accounts.registry.accounts(server.id)) == 2
