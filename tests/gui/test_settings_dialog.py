"""The server settings dialog: every field saved and read back, problems named as the person edits, the client secret
kept in the keyring only, and "Reset client registration" against the lab."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, Server, ServerSettings
from desktop_app.ui.controller import Controller
from desktop_app.ui.settings_dialog import KEEP_STORED_HINT, ServerSettingsDialog
from tests.gui.conftest import wait_until
from tests.gui.sizes import SMALL_SCREEN, large_font, shown_whole, text_fits
from tests.lab.accounts import sign_in

SECRET = "s3cret-Zq9wX-value"  # a test value: it must end up in the keyring only
CIMD_URL = "https://app.example.com/clients/mcp-connector.json"


@pytest.fixture
def server(controller: Controller) -> Server:
    return controller.add_server("https://mcp.example.com/mcp")


def open_dialog(qtbot, dialog_parent: QWidget, controller: Controller, server: Server) -> ServerSettingsDialog:
    dialog = ServerSettingsDialog(controller, server, dialog_parent)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def saved(controller: Controller, server: Server) -> ServerSettings:
    current = controller.server(server.id)
    assert current is not None
    return current.settings


def choose_auth(dialog: ServerSettingsDialog, method: str | None) -> None:
    index = dialog.client_auth.findData(method) if method else 0
    assert index >= 0
    dialog.client_auth.setCurrentIndex(index)


def files_hold(text: str) -> list[str]:
    """The files of the test's profile that contain ``text``."""
    home = Path(os.environ["MCP_CONNECTORS_HOME"])
    return [str(p) for p in home.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


async def test_a_new_server_shows_the_defaults_and_saves_them_unchanged(
    qtbot, dialog_parent, controller: Controller, server
):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    assert dialog.windowTitle() == f"Settings — {server.name}"
    assert dialog.automatic.isChecked() and dialog.port_any.isChecked()
    assert dialog.send_resource.isChecked() and dialog.request_identity.isChecked()
    assert dialog.scopes.text() == "" and dialog.scopes.placeholderText() == "what the server asks for"
    assert not dialog.preregistered_fields.isVisible() and not dialog.cimd_fields.isVisible()  # only the chosen one's
    assert not dialog.port.isEnabled()
    assert dialog.ok_button.isEnabled() and not dialog.problem.isVisible()
    dialog.ok_button.click()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert saved(controller, server) == ServerSettings()
    assert not controller.has_client_secret(server)


async def test_a_pre_registered_client_and_every_other_field_round_trip(
    qtbot, dialog_parent, controller: Controller, server
):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    dialog.preregistered.click()
    assert dialog.preregistered_fields.isVisible()
    qtbot.keyClicks(dialog.client_id, "my-client")
    qtbot.keyClicks(dialog.client_secret, SECRET)
    choose_auth(dialog, "client_secret_post")
    qtbot.keyClicks(dialog.scopes, "mcp:tools   mcp:admin")
    dialog.send_resource.click()
    dialog.request_identity.click()
    dialog.port_fixed.click()
    assert dialog.port.isEnabled()
    dialog.port.setValue(49152)
    assert dialog.ok_button.isEnabled(), dialog.problem.text()
    dialog.ok_button.click()
    assert dialog.result() == QDialog.DialogCode.Accepted

    settings = saved(controller, server)
    assert settings == ServerSettings(
        registration="preregistered",
        client_id="my-client",
        client_auth="client_secret_post",
        scopes=("mcp:tools", "mcp:admin"),
        send_resource=False,
        request_identity=False,
        callback_port=49152,
    )
    # The secret is in the keyring, where signing in reads it, and nowhere else.
    assert controller.has_client_secret(server)
    current = controller.server(server.id)
    assert current is not None
    options = controller.accounts.sign_in_options(current)
    assert options.preregistered is not None and options.preregistered.client_secret == SECRET
    assert SECRET not in settings.to_json()
    assert files_hold(SECRET) == []
    assert files_hold("my-client")  # the scan does see what the profile's files hold

    # Reopened: every value shown again, the secret only as "stored".
    again = open_dialog(qtbot, dialog_parent, controller, current)
    assert again.preregistered.isChecked() and again.client_id.text() == "my-client"
    assert again.client_auth.currentData() == "client_secret_post"
    assert again.scopes.text() == "mcp:tools mcp:admin"
    assert not again.send_resource.isChecked() and not again.request_identity.isChecked()
    assert again.port_fixed.isChecked() and again.port.value() == 49152
    assert again.client_secret.text() == "" and again.client_secret.placeholderText() == KEEP_STORED_HINT
    assert again.client_secret.echoMode() is QLineEdit.EchoMode.Password
    assert all(SECRET not in edit.text() for edit in again.findChildren(QLineEdit))
    assert again.remove_secret.isVisibleTo(again)
    # OK without typing a secret keeps the stored one.
    again.ok_button.click()
    assert controller.has_client_secret(server)
    assert saved(controller, server) == settings


async def test_the_stored_secret_is_replaced_or_removed(qtbot, dialog_parent, controller: Controller, server):
    controller.save_settings(
        server, ServerSettings(registration="preregistered", client_id="my-client"), client_secret=SECRET
    )
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    qtbot.keyClicks(dialog.client_secret, "another-secret-value")
    dialog.ok_button.click()
    current = controller.server(server.id)
    assert current is not None
    options = controller.accounts.sign_in_options(current)
    assert options.preregistered is not None and options.preregistered.client_secret == "another-secret-value"

    dialog = open_dialog(qtbot, dialog_parent, controller, current)
    dialog.remove_secret.click()
    assert not dialog.client_secret.isEnabled()
    dialog.ok_button.click()
    assert not controller.has_client_secret(server)
    assert saved(controller, server).client_id == "my-client"
    dialog = open_dialog(qtbot, dialog_parent, controller, current)
    assert dialog.client_secret.placeholderText() != KEEP_STORED_HINT and not dialog.remove_secret.isVisibleTo(dialog)


async def test_a_metadata_document_url_round_trips(qtbot, dialog_parent, controller: Controller, server):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    dialog.cimd.click()
    assert dialog.cimd_fields.isVisible() and not dialog.preregistered_fields.isVisible()
    qtbot.keyClicks(dialog.metadata_url, CIMD_URL)
    assert dialog.ok_button.isEnabled(), dialog.problem.text()
    dialog.ok_button.click()
    assert saved(controller, server) == ServerSettings(registration="cimd", client_metadata_url=CIMD_URL)
    current = controller.server(server.id)
    assert current is not None
    again = open_dialog(qtbot, dialog_parent, controller, current)
    assert again.cimd.isChecked() and again.metadata_url.text() == CIMD_URL


async def test_going_back_to_automatic_keeps_nothing_of_the_other_methods(
    qtbot, dialog_parent, controller: Controller, server
):
    controller.save_settings(
        server,
        ServerSettings(registration="preregistered", client_id="my-client", client_auth="client_secret_basic"),
        client_secret=SECRET,
    )
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    dialog.automatic.click()
    dialog.ok_button.click()
    assert saved(controller, server) == ServerSettings()
    assert not controller.has_client_secret(server)  # the secret of a client no longer used is deleted


async def test_a_pre_registered_client_without_its_id_cannot_be_saved(
    qtbot, dialog_parent, controller: Controller, server
):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    dialog.preregistered.click()
    assert not dialog.ok_button.isEnabled()
    assert dialog.problem.isVisible() and "client id" in dialog.problem.text()
    qtbot.keyClicks(dialog.client_id, "my-client")
    assert dialog.ok_button.isEnabled() and not dialog.problem.isVisible()
    # A method that sends the secret needs one.
    choose_auth(dialog, "client_secret_basic")
    assert not dialog.ok_button.isEnabled()
    assert "client_secret_basic" in dialog.problem.text() and "secret" in dialog.problem.text()
    qtbot.keyClicks(dialog.client_secret, SECRET)
    assert dialog.ok_button.isEnabled()
    assert SECRET not in dialog.problem.text()
    # Clicking OK while a problem is shown saves nothing (the button is disabled; Enter does nothing either).
    dialog.client_id.clear()
    assert not dialog.ok_button.isEnabled()
    dialog.save()
    assert dialog.isVisible() and saved(controller, server) == ServerSettings()
    assert not controller.has_client_secret(server)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://app.example.com/client.json", "https"),
        ("https://app.example.com/", "path"),
        ("https://app.example.com/a/../client.json", "dot segments"),
    ],
)
async def test_an_invalid_metadata_document_url_is_named(
    qtbot, dialog_parent, controller: Controller, server, url, problem
):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    dialog.cimd.click()
    assert not dialog.ok_button.isEnabled() and "Enter the https address" in dialog.problem.text()
    qtbot.keyClicks(dialog.metadata_url, url)
    assert not dialog.ok_button.isEnabled()
    assert url in dialog.problem.text() and problem in dialog.problem.text()
    dialog.save()
    assert saved(controller, server) == ServerSettings()
    dialog.automatic.click()  # the URL only matters for its method
    assert dialog.ok_button.isEnabled() and not dialog.problem.isVisible()


async def test_a_scope_with_a_quote_is_named(qtbot, dialog_parent, controller: Controller, server):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    qtbot.keyClicks(dialog.scopes, 'mcp:tools mcp:"admin')
    assert not dialog.ok_button.isEnabled() and 'mcp:"admin' in dialog.problem.text()
    dialog.scopes.clear()
    assert dialog.ok_button.isEnabled()


async def test_a_failed_save_is_shown_and_the_dialog_stays_open(qtbot, dialog_parent, controller: Controller, server):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    qtbot.keyClicks(dialog.scopes, "mcp:tools")
    controller.accounts.registry.remove_server(server.id)  # gone behind the dialog's back (another process)
    dialog.ok_button.click()
    box = dialog.error_box
    assert box is not None and box.isVisible()
    assert box.text() and "What you can do:" in box.informativeText()
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    box.close()


async def test_every_input_has_a_name_and_a_label(qtbot, dialog_parent, controller: Controller, server):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    buddies = {id(label.buddy()) for label in dialog.findChildren(QLabel) if label.buddy() is not None}
    inputs = [*dialog.findChildren(QLineEdit), *dialog.findChildren(QComboBox), *dialog.findChildren(QSpinBox)]
    inputs = [w for w in inputs if w.objectName() != "qt_spinbox_lineedit"]  # the spin box's own editor
    assert {w.objectName() for w in inputs} == {
        "clientIdEdit",
        "clientSecretEdit",
        "clientMetadataUrlEdit",
        "scopesEdit",
        "clientAuthCombo",
        "portSpin",
    }
    for widget in inputs:
        assert widget.accessibleName(), widget.objectName()
        assert id(widget) in buddies, f"{widget.objectName()} has no label"
    for button in (dialog.automatic, dialog.preregistered, dialog.cimd, dialog.send_resource, dialog.port_fixed):
        assert "&" in button.text()  # reachable with Alt+letter
        assert button.accessibleDescription() or button.accessibleName()


async def test_reset_with_nothing_registered_says_so(qtbot, dialog_parent, controller: Controller, server):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    dialog.reset_button.click()
    box = dialog.reset_box
    assert box is not None and box.isVisible()
    confirm = box.findChild(QPushButton, "confirmButton")
    assert confirm is not None
    confirm.click()
    assert "no registration to forget" in dialog.reset_result.text()


@pytest.fixture
def alice(accounts: Accounts, lab_mcp) -> Account:
    """alice signed in to the lab (synchronously, before the test's loop runs)."""
    return sign_in(accounts, lab_mcp.url, "alice")


def current_registrations(controller: Controller, issuer: str) -> list[str]:
    return [r.client_id for r in controller.accounts.registry.registrations() if r.issuer == issuer and r.current]


@pytest.mark.lab
async def test_reset_registration_forgets_it_and_the_next_sign_in_registers_again(
    qtbot, dialog_parent, alice: Account, controller: Controller, system_browser
):
    server = controller.server(alice.server_id)
    assert server is not None
    assert current_registrations(controller, alice.issuer) == [alice.client_id]
    dialog = open_dialog(qtbot, dialog_parent, controller, server)

    # Asked first; Cancel forgets nothing.
    dialog.reset_button.click()
    box = dialog.reset_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    assert cancel is not None
    cancel.click()
    await wait_until(lambda: dialog.reset_box is None, what="the question to close")
    assert current_registrations(controller, alice.issuer) == [alice.client_id]
    assert dialog.reset_result.text() == "" and not dialog.reset_result.isVisibleTo(dialog)

    dialog.reset_button.click()
    box = dialog.reset_box
    assert box is not None
    confirm = box.findChild(QPushButton, "confirmButton")
    assert confirm is not None
    confirm.click()
    assert current_registrations(controller, alice.issuer) == []
    assert alice.issuer in dialog.reset_result.text() and "Forgot" in dialog.reset_result.text()
    assert dialog.reset_result.isVisibleTo(dialog)
    # The account keeps the registration it was issued for.
    assert controller.account(alice.id) is not None

    job = controller.sign_in(server, new_account=True)
    job.sig_pairing_requested.connect(lambda check: job.answer_pairing(True))
    result = await job.wait()
    assert result.account.client_id != alice.client_id
    assert current_registrations(controller, alice.issuer) == [result.account.client_id]


async def test_it_fits_a_1280x720_screen_with_a_large_font(qtbot, dialog_parent, controller: Controller, server):
    """Issue 17 item 2: only the chosen option's fields are shown, the rest scrolls; OK/Cancel stay in view and the
    client id is never squeezed away."""
    controller.save_settings(server, ServerSettings(registration="preregistered", client_id="abc"), client_secret=False)
    with large_font():
        dialog = open_dialog(qtbot, dialog_parent, controller, server)
        screen = dialog.screen().availableGeometry().size()
        assert dialog.width() <= screen.width() and dialog.height() <= screen.height()  # opens within the screen
        assert dialog.minimumSizeHint().boundedTo(SMALL_SCREEN) == dialog.minimumSizeHint()
        dialog.resize(dialog.size().boundedTo(SMALL_SCREEN))
        for chosen in (dialog.preregistered, dialog.cimd, dialog.automatic, dialog.preregistered):
            chosen.click()
            for button in (dialog.ok_button, dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)):
                assert shown_whole(button, dialog) and text_fits(button, button.text())
        assert dialog.scroll_area.horizontalScrollBar().maximum() == 0  # nothing cut at the right edge
        dialog.scroll_area.ensureWidgetVisible(dialog.client_id)
        wide = dialog.client_id.fontMetrics().horizontalAdvance("x" * 20)
        assert dialog.client_id.isVisible() and dialog.client_id.width() >= wide
        assert not dialog.cimd_fields.isVisible() and not dialog.automatic_box.isVisible()
        dialog.client_id.clear()  # the problem line appears: OK still in view
        assert dialog.problem.isVisible() and shown_whole(dialog.ok_button, dialog)


PROTOCOL_WORDS = ("metadata document", "resource parameter", "openid", "token endpoint", "scope", "dynamic registr")


async def test_choices_are_in_a_persons_words_with_the_precise_term_beside(
    qtbot, dialog_parent, controller: Controller, server
):
    dialog = open_dialog(qtbot, dialog_parent, controller, server)
    choices = (dialog.automatic, dialog.preregistered, dialog.cimd, dialog.send_resource, dialog.request_identity)
    labels = [label.text() for label in dialog.findChildren(QLabel) if label.buddy() is not None]
    titles = [box.title() for box in dialog.findChildren(QGroupBox)]
    for text in [*(c.text() for c in choices), *labels, *titles]:
        assert not any(word in text.lower() for word in PROTOCOL_WORDS), text
    for choice in choices:
        assert choice.toolTip(), choice.objectName()  # the precise term, for whoever was told it
    assert "Client ID Metadata Document" in dialog.cimd.toolTip()
    assert "resource" in dialog.send_resource.toolTip() and "openid" in dialog.request_identity.toolTip()
    for index in range(dialog.client_auth.count()):
        assert dialog.client_auth.itemData(index, Qt.ItemDataRole.ToolTipRole)
        assert not any(word in dialog.client_auth.itemText(index).lower() for word in PROTOCOL_WORDS)
    assert "client_secret_post" in dialog.client_auth.itemData(3, Qt.ItemDataRole.ToolTipRole)


async def test_how_the_secret_is_sent_is_shown_whole_with_a_large_font(
    qtbot, dialog_parent, controller: Controller, server
):
    controller.save_settings(server, ServerSettings(registration="preregistered", client_id="abc"), client_secret=False)
    with large_font():
        dialog = open_dialog(qtbot, dialog_parent, controller, server)
        dialog.resize(dialog.size().boundedTo(SMALL_SCREEN))
        combo = dialog.client_auth
        dialog.scroll_area.ensureWidgetVisible(combo)
        for index in range(combo.count()):
            combo.setCurrentIndex(index)
            text = combo.currentText()
            # The text plus the drop-down arrow's room: the closed box shows its choice whole.
            assert combo.width() >= combo.fontMetrics().horizontalAdvance(text) + 20, (text, combo.width())
            assert combo.width() >= combo.sizeHint().width(), text
            assert shown_whole(combo, dialog)
