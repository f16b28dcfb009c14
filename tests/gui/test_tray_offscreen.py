"""The tray against the lab (offscreen: no tray host needed): its tooltip counts, its notifications name the account
and its server, a click opens what the last notification was about and nothing stale, and its menu's rows reach the
window (sign in again, sign out after asking, renew now, add server, preferences)."""

from __future__ import annotations

import time

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState
from desktop_app.ui import tray_links
from desktop_app.ui.add_server_dialog import AddServerDialog
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.signin_dialog import SignInDialog
from desktop_app.ui.tray import ATTENTION, GOOD, Click, Tray
from tests.gui.conftest import SystemBrowser, wait_until
from tests.lab.accounts import sign_in

pytestmark = pytest.mark.lab


class Messages:
    """Stands for the desktop's notification server: what the tray shows."""

    def __init__(self, tray: Tray) -> None:
        self.shown: list[tuple[str, str]] = []
        tray.icon.showMessage = lambda title, text, *_rest: self.shown.append((title, text))  # type: ignore[method-assign]


@pytest.fixture
def two(accounts: Accounts, lab_mcp) -> tuple[Account, Account]:
    """alice and bob signed in to the lab (named "Lab tickets")."""
    alice, bob = sign_in(accounts, lab_mcp.url, "alice"), sign_in(accounts, lab_mcp.url, "bob")
    server = accounts.registry.server(alice.server_id)
    assert server is not None
    accounts.registry.update_server(server.id, name="Lab tickets")
    return alice, bob


def tray_and_window(qtbot, controller: Controller) -> tuple[Tray, MainWindow, Messages]:
    tray = Tray(controller, BackgroundRefresher(controller), live=lambda: [])
    window = MainWindow(controller, hosts=lambda: [], live=lambda: [])
    qtbot.addWidget(window)
    tray_links.link(tray, window)
    return tray, window, Messages(tray)


def row(tray: Tray, name: str) -> QAction:
    """The menu's row (in the menu or a server's submenu) named ``name``, the menu built as it opens."""
    tray.rebuild_menu()  # (what aboutToShow does)
    found = [a for menu in (tray.menu, *tray.menu.findChildren(QMenu)) for a in menu.actions()]
    match = next((a for a in found if a.objectName() == name), None)
    assert match is not None, f"no row {name} in {tray.menu_texts()}"
    return match


async def sign_in_again_opened(window: MainWindow, browser: SystemBrowser, user: str) -> None:
    """The window shows the sign-in again of ``user``'s account, its browser page asks for them; then cancelled."""
    dialog = next(d for d in window.dialogs if isinstance(d, SignInDialog))
    assert dialog.job is not None and dialog.job.title == f"Signing in again as {user}@lab.test"
    job = dialog.job
    await wait_until(lambda: browser.opened, what="the browser opened")
    assert f"login_hint={user}" in browser.opened[-1]
    dialog.reject()
    await wait_until(lambda: not job.running, what="the sign-in cancelled")


async def test_the_notification_names_the_server_and_its_click_opens_that_sign_in(
    qtbot, two: tuple[Account, Account], controller: Controller, system_browser: SystemBrowser
) -> None:
    alice, bob = two
    tray, window, messages = tray_and_window(qtbot, controller)
    assert tray.state == GOOD
    assert tray.icon.toolTip().splitlines()[1] == "2 signed in"

    system_browser.signs_in = False  # the person will not finish this sign-in: it is cancelled below
    needing = controller.accounts.mark_needs_sign_in(alice, "invalid_grant: the grant was revoked")
    controller.sig_changed.emit()
    assert tray.state == ATTENTION
    assert tray.icon.toolTip().splitlines()[1] == "1 signed in · 1 needs sign-in"
    tray.rebuild_menu()  # (what aboutToShow does)
    assert "    alice@lab.test — Needs sign-in" in tray.menu_texts()
    assert "Sign in again as alice@lab.test on Lab tickets…" in tray.menu_texts()

    tray.notify_needs_sign_in((needing,))
    assert messages.shown[-1] == (
        "Sign in again to Lab tickets",
        "alice@lab.test on Lab tickets must sign in again. Click to sign in.",
    )
    assert "invalid_grant" not in messages.shown[-1][1]  # no protocol word reaches a person
    assert tray.last_message == ("Sign in again to Lab tickets", "alice@lab.test", 1)
    tray.icon.messageClicked.emit()
    await sign_in_again_opened(window, system_browser, "alice")
    assert controller.account(alice.id).state is AccountState.NEEDS_SIGN_IN  # cancelled: nothing changed
    assert bob.id != alice.id


async def test_a_click_opens_what_the_last_notification_was_about_as_it_is_now(
    qtbot, two: tuple[Account, Account], controller: Controller, system_browser: SystemBrowser
) -> None:
    alice, bob = two
    tray, window, messages = tray_and_window(qtbot, controller)
    system_browser.signs_in = False
    opened: list[tuple[str, int]] = []
    tray.sig_sign_in_requested.connect(lambda a: opened.append(("sign in", a)))
    tray.sig_show_account_requested.connect(lambda a: opened.append(("show", a)))
    tray.sig_open_requested.connect(lambda: opened.append(("open", 0)))
    tray.sig_sign_in_requested.disconnect(window.sign_in_account)  # only what the click asks is looked at here

    both = (
        controller.accounts.mark_needs_sign_in(alice, "revoked"),
        controller.accounts.mark_needs_sign_in(bob, "revoked"),
    )
    tray.notify_needs_sign_in(both)
    assert messages.shown[-1][1] == (
        "alice@lab.test on Lab tickets and 1 more account must sign in again. "
        "Click to sign in (starting with alice@lab.test)."
    )
    assert messages.shown[-1][0] == tray.last_message[0] == "2 accounts must sign in again"
    # alice signed in again elsewhere (the command line) before the click: bob's sign-in opens, not hers.
    controller.accounts.registry.set_state(
        alice.id, AccountState.SIGNED_IN, now=time.time(), event_kind="signed_in_again", detail=""
    )
    tray.icon.messageClicked.emit()
    assert opened == [("sign in", bob.id)]
    # Both fine now: the click opens the window at the first, never a sign-in nobody needs.
    controller.accounts.registry.set_state(
        bob.id, AccountState.SIGNED_IN, now=time.time(), event_kind="signed_in_again", detail=""
    )
    tray.icon.messageClicked.emit()
    assert opened[-1] == ("show", alice.id)
    # A later notification about something else replaces what a click opens.
    tray.tell("MCP Connector Manager", "Still running in the tray.", Click("open"))
    tray.icon.messageClicked.emit()
    assert opened[-1] == ("open", 0)


async def test_sign_out_from_the_tray_asks_first_in_the_window(
    qtbot, two: tuple[Account, Account], controller: Controller
) -> None:
    alice, bob = two
    tray, window, _messages = tray_and_window(qtbot, controller)
    window.select_account(bob.id)  # something else selected: the tray's request must not act on it
    row(tray, f"signOut_{alice.id}").trigger()
    box = next(d for d in window.dialogs if isinstance(d, QMessageBox))
    assert box.text() == "Sign out alice@lab.test?"
    assert window.selected_account().id == alice.id and window.isVisible()
    box.reject()
    assert controller.account(alice.id).state is AccountState.SIGNED_IN  # nothing without the answer

    row(tray, f"signOut_{alice.id}").trigger()
    box = next(d for d in window.dialogs if isinstance(d, QMessageBox) and d.isVisible())
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    confirm = next(b for b in box.buttons() if b.objectName() == "confirmButton")
    confirm.click()
    await wait_until(lambda: controller.account(alice.id).state is AccountState.SIGNED_OUT, what="signed out")
    assert controller.account(bob.id).state is AccountState.SIGNED_IN


async def test_renew_now_renews_and_says_so(qtbot, two: tuple[Account, Account], controller: Controller) -> None:
    alice, _bob = two
    tray, _window, messages = tray_and_window(qtbot, controller)
    before = controller.account(alice.id)
    row(tray, f"renew_{alice.id}").trigger()
    assert controller.busy(alice.id) == "Renewing"
    await wait_until(lambda: messages.shown, what="the message")
    title, words = messages.shown[-1]
    assert title == "Renewed" and words.startswith("alice@lab.test on Lab tickets is renewed; access expires in ")
    after = controller.account(alice.id)
    assert after.last_refresh is not None and after.last_refresh != before.last_refresh
    assert tray.click == Click("account", (alice.id,))


async def test_add_server_and_preferences_reach_the_window(
    qtbot, two: tuple[Account, Account], controller: Controller
) -> None:
    tray, window, _messages = tray_and_window(qtbot, controller)
    asked: list[str] = []
    tray.sig_preferences_requested.connect(lambda: asked.append("preferences"))
    row(tray, "addServer").trigger()
    assert any(isinstance(d, AddServerDialog) for d in window.dialogs) and window.isVisible()
    row(tray, "preferences").trigger()
    assert asked == ["preferences"]
