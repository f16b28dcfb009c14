"""The main window driven as a person would, offscreen, against the lab (oidc-provider + MCP SDK server)."""

from __future__ import annotations

import socket

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QWidget

from desktop_app.accounts.models import AccountState
from desktop_app.ui.add_server_dialog import AddServerDialog
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.signin_dialog import DONE, FAILED, PAIRING, WAITING, SignInDialog
from tests.gui.conftest import SystemBrowser, wait_until

pytestmark = pytest.mark.lab


@pytest.fixture
def window(qtbot, controller: Controller) -> MainWindow:
    made = MainWindow(controller)
    qtbot.addWidget(made)
    made.show()
    return made


def dialog_of(window: MainWindow, kind: type) -> object:
    found = [d for d in window.dialogs if isinstance(d, kind)]
    assert found, f"no {kind.__name__} open (open: {[type(d).__name__ for d in window.dialogs]})"
    return found[-1]


def accounts_listed(window: MainWindow) -> list[tuple[str, str]]:
    model = window.model
    rows = []
    for s in range(model.rowCount()):
        server = model.index(s, 0)
        for a in range(model.rowCount(server)):
            rows.append((model.index(a, 0, server).data(), model.index(a, 1, server).data()))
    return rows


async def add_server(window: MainWindow, qtbot, url: str) -> SignInDialog:
    window.act_add_server.trigger()
    add = dialog_of(window, AddServerDialog)
    assert isinstance(add, AddServerDialog)
    qtbot.keyClicks(add.url, url)
    assert add.continue_button.isEnabled(), add.feedback.text()
    add.continue_button.click()
    dialog = dialog_of(window, SignInDialog)
    assert isinstance(dialog, SignInDialog)
    return dialog


async def confirm(window: MainWindow) -> None:
    box = await wait_until(lambda: next((d for d in window.dialogs if isinstance(d, QMessageBox)), None))
    button = box.findChild(QPushButton, "confirmButton")
    assert button is not None
    button.click()


async def test_add_sign_in_two_accounts_sign_out_remove(
    window: MainWindow, qtbot, lab_mcp, system_browser: SystemBrowser
) -> None:
    assert window.pages.currentWidget() is window.empty  # the empty state explains what to do first

    dialog = await add_server(window, qtbot, lab_mcp.url)
    await wait_until(lambda: dialog.stack.currentIndex() == PAIRING, what="the pairing card")
    assert system_browser.opened == []  # nothing opened before the person approved
    card = dialog.card
    assert lab_mcp.url.rstrip("/") in card.server.text() or lab_mcp.url in card.server.text()
    assert "127.0.0.1" in card.issuer.text() and "<b>" in card.issuer.text()  # the issuer's domain emphasised
    dialog.continue_button.click()
    await wait_until(lambda: dialog.stack.currentIndex() in (DONE, FAILED), what="the sign-in's end")
    assert dialog.stack.currentIndex() == DONE, dialog.error_panel.message.text()
    assert "alice@lab.test" in dialog.done_title.text()
    steps = [dialog.steps.item(i).text() for i in range(dialog.steps.count())]
    assert steps[:2] == ["Asking the server how to sign in", "Registering this app with the authorization server"]
    assert "Waiting for the browser" in steps and steps[-1] == "Saving the sign-in"
    assert accounts_listed(window)[0][0] == "alice@lab.test"
    assert accounts_listed(window)[0][1] == "Signed in"
    assert window.pages.currentWidget() is window.splitter
    dialog.accept()

    # Another account: the pairing is unchanged, so no card; bob signs in.
    system_browser.user = "bob"
    window.select_server(window.model.server_at(window.model.index(0, 0)).id)
    window.act_add_account.trigger()
    second = dialog_of(window, SignInDialog)
    await wait_until(lambda: second.stack.currentIndex() in (DONE, FAILED, PAIRING), what="the second sign-in")
    assert second.stack.currentIndex() == DONE, "no second question for an approved, unchanged pairing"
    assert "prompt=" in system_browser.opened[-1]  # the browser is told to let the person pick someone else
    second.accept()
    assert sorted(label for label, _ in accounts_listed(window)) == ["alice@lab.test", "bob@lab.test"]

    # Sign out alice (confirmed); bob stays signed in.
    alice = next(a for _, accs in window.controller.snapshot() for a in accs if a.label == "alice@lab.test")
    window.select_account(alice.id)
    assert window.act_sign_out.isEnabled()
    window.act_sign_out.trigger()
    await confirm(window)
    await wait_until(lambda: dict(accounts_listed(window))["alice@lab.test"] == "Signed out", what="alice signed out")
    assert dict(accounts_listed(window))["bob@lab.test"].startswith("Signed in")
    assert window.controller.accounts.secrets.get(f"account/{alice.key}") is None

    # Activity of bob shows its sign-in.
    bob = next(a for _, accs in window.controller.snapshot() for a in accs if a.label == "bob@lab.test")
    window.select_account(bob.id)
    kinds = [window.activity_model.item(r, 1).text() for r in range(window.activity_model.rowCount())]
    assert "Signed in" in kinds

    # Remove the server: back to the empty state, nothing left in the keyring.
    window.act_remove.trigger()
    await confirm(window)
    await wait_until(lambda: window.model.rowCount() == 0, what="the server removed")
    assert window.pages.currentWidget() is window.empty
    assert window.controller.accounts.secrets.get(f"account/{bob.key}") is None


async def test_waiting_page_copy_link_open_again_cancel(
    window: MainWindow, qtbot, lab_mcp, system_browser: SystemBrowser
) -> None:
    system_browser.signs_in = False  # the person has not finished in the browser
    dialog = await add_server(window, qtbot, lab_mcp.url)
    await wait_until(lambda: dialog.stack.currentIndex() == PAIRING)
    dialog.continue_button.click()
    await wait_until(lambda: dialog.stack.currentIndex() == WAITING, what="the waiting page")
    dialog.copy_link.click()
    assert QGuiApplication.clipboard().text() == system_browser.opened[0]
    dialog.open_again.click()
    assert system_browser.opened == [system_browser.opened[0]] * 2
    job = dialog.job
    assert job is not None
    dialog.cancel_waiting.click()
    await wait_until(lambda: not job.running, what="the sign-in cancelled")
    assert job.cancelled
    # It was being added: cancelling the first sign-in leaves no half-added server behind.
    await wait_until(lambda: window.model.rowCount() == 0, what="the abandoned server removed")


async def test_unreachable_server_says_so_and_leaves_nothing(window: MainWindow, qtbot) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mcp"
    dialog = await add_server(window, qtbot, url)
    await wait_until(lambda: dialog.stack.currentIndex() == FAILED, what="the failure page")
    message = dialog.error_panel.message.text()
    assert f"127.0.0.1:{port}" in message, message
    assert dialog.failed_title.text() == "Adding 127.0.0.1 did not work"  # what was being done (issue 17 item 5)
    assert dialog.error_panel.hint.text().startswith("What you can do:")
    assert dialog.error_panel.report is not None and "Error:" in dialog.error_panel.report.details
    await wait_until(lambda: window.model.rowCount() == 0, what="the abandoned server removed")
    # "Try again" really tries again (and fails the same way).
    dialog.retry.click()
    await wait_until(
        lambda: dialog.stack.currentIndex() == FAILED and dialog.job is not None and not dialog.job.running,
        what="the second failure",
    )


async def test_address_is_checked_as_it_is_typed(window: MainWindow, qtbot) -> None:
    window.act_add_server.trigger()
    add = dialog_of(window, AddServerDialog)
    assert isinstance(add, AddServerDialog)
    assert not add.continue_button.isEnabled()
    qtbot.keyClicks(add.url, "http://mcp.example.com/mcp")
    assert not add.continue_button.isEnabled()
    add.reveal()  # the person paused: what is wrong is said (add_server_dialog's tests: not before)
    assert "https" in add.feedback.text() and "mcp.example.com" in add.feedback.text()
    add.url.setText("mcp.example.com")
    add.reveal()
    assert "Did you mean https://mcp.example.com" in add.feedback.text()
    add.url.setText("http://127.0.0.1:9/mcp")
    assert add.continue_button.isEnabled() and "this computer" in add.feedback.text()
    add.reject()


async def test_declining_the_pairing_closes_without_an_error(
    window: MainWindow, qtbot, lab_mcp, system_browser: SystemBrowser
) -> None:
    dialog = await add_server(window, qtbot, lab_mcp.url)
    await wait_until(lambda: dialog.stack.currentIndex() == PAIRING)
    job = dialog.job
    assert job is not None
    dialog.decline_button.click()
    await wait_until(lambda: not job.running)
    assert system_browser.opened == []
    assert not [d for d in window.dialogs if isinstance(d, QMessageBox)]
    await wait_until(lambda: window.model.rowCount() == 0)
    assert QApplication.activeModalWidget() is None or not isinstance(QApplication.activeModalWidget(), SignInDialog)


async def test_account_states_and_model(window: MainWindow, qtmodeltester, lab_mcp) -> None:
    server = window.controller.add_server(lab_mcp.url)
    job = window.controller.sign_in(server)
    job.sig_pairing_requested.connect(lambda _check: job.answer_pairing(True))
    result = await job.wait()
    qtmodeltester.check(window.model, force_py=True)
    window.controller.accounts.mark_needs_sign_in(result.account, "the grant was revoked at the server")
    window.reload()
    assert accounts_listed(window)[0][1] == "Needs sign-in"
    window.select_account(result.account.id)
    assert "the grant was revoked" in window.details.text()
    assert window.act_sign_in.text() == "&Sign in again…" and window.act_sign_in.isEnabled()
    assert not window.act_test.isEnabled()
    assert window.controller.account(result.account.id).state is AccountState.NEEDS_SIGN_IN


async def test_sign_in_again_heals_an_account_and_diagnostics_hold_no_secret(
    window: MainWindow, lab_mcp, system_browser: SystemBrowser
) -> None:
    server = window.controller.add_server(lab_mcp.url)
    job = window.controller.sign_in(server)
    job.sig_pairing_requested.connect(lambda _check: job.answer_pairing(True))
    account = (await job.wait()).account
    window.controller.accounts.mark_needs_sign_in(account, "the grant was revoked at the server")
    window.reload()
    window.select_account(account.id)
    window.act_sign_in.trigger()
    dialog = dialog_of(window, SignInDialog)
    await wait_until(lambda: dialog.stack.currentIndex() in (DONE, FAILED), what="the sign-in again")
    assert dialog.stack.currentIndex() == DONE, dialog.error_panel.message.text()
    assert "Signed in again as alice@lab.test" in dialog.done_title.text()
    assert "login_hint=" in system_browser.opened[-1]
    assert accounts_listed(window) == [("alice@lab.test", accounts_listed(window)[0][1])]
    assert accounts_listed(window)[0][1].startswith("Signed in")

    tokens = window.controller.accounts.secrets.get(f"account/{account.key}")
    assert tokens is not None
    window.copy_diagnostics()
    report = QGuiApplication.clipboard().text()
    assert "alice@lab.test" in report and lab_mcp.url.split("://")[1].split("/")[0] in report
    for secret in (tokens["access_token"], tokens["refresh_token"]):
        assert secret and secret not in report
    assert "eyJ" not in report


async def test_window_geometry_is_remembered(qtbot, controller: Controller, tmp_path) -> None:
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    first = MainWindow(controller, settings=settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(777, 555)
    first.close()
    second = MainWindow(controller, settings=QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (777, 555)


@pytest.mark.parametrize("step", ["test", "use_in"])
async def test_the_sign_ins_next_steps_open_the_test_or_use_in_for_that_account(
    window: MainWindow, qtbot, lab_mcp, system_browser: SystemBrowser, step: str
) -> None:
    from desktop_app.ui.connection_dialog import ConnectionDialog
    from desktop_app.ui.use_in_dialog import UseInDialog

    dialog = await add_server(window, qtbot, lab_mcp.url)
    await wait_until(lambda: dialog.stack.currentIndex() == PAIRING, what="the pairing card")
    dialog.continue_button.click()
    await wait_until(lambda: dialog.stack.currentIndex() in (DONE, FAILED), what="the sign-in's end")
    assert dialog.stack.currentIndex() == DONE, dialog.error_panel.message.text()
    assert dialog.test_button.isVisible() and dialog.use_in_button.isVisible()
    window.select_server(window.model.server_at(window.model.index(0, 0)).id)  # the server row, not the account
    (dialog.test_button if step == "test" else dialog.use_in_button).click()
    opened = dialog_of(window, ConnectionDialog if step == "test" else UseInDialog)
    assert window.selected_account() is not None and window.selected_account().label == "alice@lab.test"
    if isinstance(opened, ConnectionDialog):
        assert opened.account.label == "alice@lab.test"
        await wait_until(lambda: opened.stack.currentIndex() != 0, what="the test's end")
    assert isinstance(opened, QWidget)
    opened.close()
