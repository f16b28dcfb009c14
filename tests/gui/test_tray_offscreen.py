"""The tray's words and actions (offscreen: no tray host needed for these)."""

from __future__ import annotations

import pytest

from desktop_app.accounts.models import AccountState
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.signin_dialog import SignInDialog
from desktop_app.ui.tray import ATTENTION, GOOD, Tray
from tests.gui.conftest import SystemBrowser, wait_until

pytestmark = pytest.mark.lab


async def test_notification_click_opens_the_sign_in_of_the_account(
    qtbot, controller: Controller, lab_mcp, system_browser: SystemBrowser
) -> None:
    server = controller.add_server(lab_mcp.url)
    job = controller.sign_in(server)
    job.sig_pairing_requested.connect(lambda _check: job.answer_pairing(True))
    account = (await job.wait()).account
    refresher = BackgroundRefresher(controller)
    tray = Tray(controller, refresher)
    window = MainWindow(controller)
    qtbot.addWidget(window)
    tray.sig_sign_in_requested.connect(window.sign_in_account)
    assert tray.state == GOOD

    system_browser.signs_in = False  # the person will not finish this sign-in: it is cancelled below
    needing = controller.accounts.mark_needs_sign_in(account, "invalid_grant: the grant was revoked")
    controller.sig_changed.emit()
    assert tray.state == ATTENTION
    tray.rebuild_menu()  # (what aboutToShow does)
    assert any(t.endswith("Sign in again…") and "alice@lab.test" in t for t in tray.menu_texts())
    assert "Sign in again: alice@lab.test" in tray.icon.toolTip()

    tray.notify_needs_sign_in((needing,))
    assert tray.last_message == ("Sign in again", "alice@lab.test", 1)
    tray.icon.messageClicked.emit()
    dialog = next(d for d in window.dialogs if isinstance(d, SignInDialog))
    assert dialog.job is not None and dialog.job.server.id == server.id
    job = dialog.job
    await wait_until(lambda: system_browser.opened and len(system_browser.opened) == 2, what="the browser opened")
    assert "login_hint=" in system_browser.opened[-1]
    dialog.reject()
    await wait_until(lambda: not job.running, what="the sign-in cancelled")
    assert job.cancelled
    assert controller.account(account.id).state is AccountState.NEEDS_SIGN_IN  # cancelled: nothing changed
