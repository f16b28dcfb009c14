"""A missing keyring at start, and "Use an unencrypted file instead…" carried out where it is offered (issue 17
item 6). A missing Secret Service is a private D-Bus session bus of its own with no keyring daemon on it; a present
one is the suite's private gnome-keyring (tests/lab/secret_service.py)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from desktop_app.accounts.manager import Accounts
from desktop_app.errors import SecretStoreError
from desktop_app.storage.file_vault import FileVault
from desktop_app.storage.keyring_vault import KeyringVault
from desktop_app.storage.profile_stores import SECRET_STORE_SETTING
from desktop_app.ui.controller import Controller
from desktop_app.ui.errors import FILE_STORE_WARNING, USE_FILE_STORE, describe
from desktop_app.ui.file_store import missing_keyring
from desktop_app.ui.keyring_offer import KEYRING_MISSING
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.signin_dialog import DONE, FAILED, PAIRING
from tests.gui.conftest import SystemBrowser, wait_until
from tests.gui.test_main_window import add_server
from tests.lab.secret_service import _BUS_CONFIG, PrivateSecretService, _name_has_owner, _wait
from tests.lab.servers import RunningMcpServer


@pytest.fixture
def no_secret_service(secret_service: PrivateSecretService) -> Iterator[str]:
    """A session bus that nobody offers the Secret Service on (after ``secret_service``, so that its own teardown
    talks to the real keyring again)."""
    root = Path(tempfile.mkdtemp(prefix="mcpc-nokeyring-"))
    socket = root / "bus"
    (root / "bus.conf").write_text(_BUS_CONFIG.format(socket=socket))
    log = root / "bus.log"
    with log.open("ab") as out:
        bus = subprocess.Popen(
            ["dbus-daemon", "--nofork", "--nopidfile", f"--config-file={root / 'bus.conf'}"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    address = f"unix:path={socket}"
    kept = os.environ["DBUS_SESSION_BUS_ADDRESS"]
    try:
        _wait("dbus-daemon", lambda: _name_has_owner(address, "org.freedesktop.DBus"), [bus], log)
        # Set and restored here, not with monkeypatch: restored before ``secret_service`` unlocks its keyring again.
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        yield address
    finally:
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = kept
        bus.kill()
        bus.wait()


def opened(qtbot: QtBot, controller: Controller) -> MainWindow:
    window = MainWindow(controller, hosts=list, live=list)
    qtbot.addWidget(window)
    window.show()
    # The window is painted before anything asks D-Bus: the check starts once the event loop runs.
    assert window.keyring_offer.check_job is None
    return window


def warning_box(window: MainWindow) -> QMessageBox:
    (box,) = visible_boxes(window, "actionWarning")
    return box


def test_missing_is_told_apart_from_present(
    no_secret_service: str, profile: Accounts, secret_service: PrivateSecretService
) -> None:
    vault = KeyringVault(profile.registry.profile_id())
    found = missing_keyring(vault)
    assert isinstance(found, SecretStoreError) and [a.kind for a in describe(found, title="t").actions] == [
        "use_file_store"
    ]
    vault.close()


def test_a_present_keyring_locked_or_not_is_not_missing(
    profile: Accounts, secret_service: PrivateSecretService
) -> None:
    vault = KeyringVault(profile.registry.profile_id())
    assert missing_keyring(vault) is None
    secret_service.lock()
    assert missing_keyring(vault) is None  # locked is not missing, and asking did not unlock it
    assert secret_service.is_locked()
    vault.close()
    assert missing_keyring(FileVault(profile.registry.path.parent / "secrets.json")) is None


async def test_a_missing_keyring_is_said_on_the_empty_page_at_start(
    no_secret_service: str, qtbot: QtBot, controller: Controller
) -> None:
    window = opened(qtbot, controller)
    assert window.pages.currentWidget() is window.empty and window.empty.keyring_box.isHidden()
    await wait_until(lambda: window.keyring_offer.check_job is not None and not window.keyring_offer.check_job.running)
    empty = window.empty
    assert not empty.keyring_box.isHidden()
    assert empty.keyring_warning.text() == KEYRING_MISSING
    assert "gnome-keyring" in KEYRING_MISSING and "not encrypted" in KEYRING_MISSING
    assert empty.keyring_warning.accessibleName() == KEYRING_MISSING  # read as its words, not "Warning"
    assert empty.use_file.text() == "Use an unencrypted file instead…"


async def test_a_keyring_that_is_there_is_not_mentioned(qtbot: QtBot, controller: Controller) -> None:
    window = opened(qtbot, controller)
    await wait_until(lambda: window.keyring_offer.check_job is not None and not window.keyring_offer.check_job.running)
    assert window.empty.keyring_box.isHidden()


async def test_the_empty_page_switches_to_the_file_store_after_the_warning_and_a_sign_in_then_works(
    no_secret_service: str,
    qtbot: QtBot,
    controller: Controller,
    lab_mcp: RunningMcpServer,
    system_browser: SystemBrowser,
) -> None:
    window = opened(qtbot, controller)
    await wait_until(lambda: not window.empty.keyring_box.isHidden(), what="the missing keyring said")
    # The sign-in fails as it did before the switch: no keyring to keep it in.
    dialog = await add_server(window, qtbot, lab_mcp.url)
    await wait_until(lambda: dialog.stack.currentIndex() == FAILED, what="the failure page")
    (button,) = [b for b in dialog.error_panel.action_buttons if b.objectName() == "errorAction_use_file_store"]
    button.click()
    box = warning_box(window)
    assert box.text() == FILE_STORE_WARNING
    assert controller.accounts.registry.get_setting(SECRET_STORE_SETTING) is None  # nothing before the confirmation
    confirm = box.findChild(QPushButton, "confirmButton")
    assert confirm is not None
    confirm.click()
    await wait_until(lambda: isinstance(controller.accounts.secrets, FileVault), what="the file store in use")
    assert controller.accounts.registry.get_setting(SECRET_STORE_SETTING) == "file"  # as --secret-store file
    assert "not encrypted" in window.statusBar().currentMessage()
    assert window.empty.keyring_box.isHidden()
    # The sign-in dialog stayed; trying again now works, on the file store.
    assert dialog.isVisible()
    dialog.retry.click()
    await wait_until(lambda: dialog.stack.currentIndex() in (PAIRING, DONE, FAILED), what="the second try")
    if dialog.stack.currentIndex() == PAIRING:
        dialog.continue_button.click()
    await wait_until(lambda: dialog.stack.currentIndex() in (DONE, FAILED), what="the sign-in's end")
    assert dialog.stack.currentIndex() == DONE, dialog.error_panel.message.text()
    secrets_file = controller.accounts.registry.path.parent / "secrets.json"
    assert secrets_file.exists() and "account/" in secrets_file.read_text()


async def test_the_switch_is_refused_in_words_while_accounts_live_in_the_keyring(
    qtbot: QtBot, controller: Controller, lab_mcp: RunningMcpServer, system_browser: SystemBrowser
) -> None:
    window = opened(qtbot, controller)
    job = controller.sign_in(controller.add_server(lab_mcp.url))
    job.sig_pairing_requested.connect(lambda _check: job.answer_pairing(True))
    await job.wait()
    window.error_action(USE_FILE_STORE)  # an error's button, after its warning (ui/errors.py asks first)
    switch = window.keyring_offer.switch_job
    assert switch is not None
    await wait_until(lambda: not switch.running, what="the switch refused")
    (box,) = visible_boxes(window, "errorBox")
    assert "alice@lab.test" in box.text() and "keyring store" in box.text()
    assert "sign those accounts out first" in box.informativeText()
    assert controller.accounts.registry.get_setting(SECRET_STORE_SETTING) is None
    assert isinstance(controller.accounts.secrets, KeyringVault)


def visible_boxes(window: QWidget, name: str) -> list[QMessageBox]:
    return [b for b in window.findChildren(QMessageBox, name) if b.isVisible()]
