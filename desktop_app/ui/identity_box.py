"""The server's identity at the top of a connector's Tools tab (ext-auth pull request 17; docs/decisions/0026).

Without asking the server, the window knows the key pinned for it (or that none is). A live check (loading the
tools) says more: not attested, verified with the key's fingerprint, or a changed key that refuses every tool until
the person accepts it. Accepting asks first, showing the pinned and the new fingerprint side by side, then pins the
new key with :func:`~desktop_app.tools.identity.accept_new_key` (a compare-and-swap on the fingerprint shown).
Publisher and DNS statements are shown as claims, in the window's words (:mod:`desktop_app.ui.tool_words`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QPushButton, QWidget

from desktop_app import appinfo
from desktop_app.errors import ConnectorError, one_line
from desktop_app.tools.identity import accept_new_key
from desktop_app.tools.identity_pins import KeyPin
from desktop_app.ui import plain
from desktop_app.ui.controller import Controller
from desktop_app.ui.errors import describe, show_error
from desktop_app.ui.tool_check import ToolCheck, key_pins
from desktop_app.ui.tool_words import identity_lines, identity_tip, refusal_words, stored_identity_line


def stored_identity(controller: Controller, server_id: int) -> str | None:
    """The server's identity as far as the window knows without asking it (None: it cannot be read now)."""
    try:
        return stored_identity_line(key_pins(controller.accounts).key_pin(server_id))
    except ConnectorError:
        return None


class IdentityBox(QWidget):
    #: The person accepted the server's new key (the tools are worth loading again).
    sig_accepted = Signal()

    def __init__(
        self, controller: Controller, open_dialog: Callable[[QWidget], None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("identityBox")
        self.controller = controller
        self.open_dialog = open_dialog
        self.check: ToolCheck | None = None
        self.text = plain.label(wrap=True, selectable=True, parent=self)
        self.text.setObjectName("identityText")
        self.accept_button = QPushButton("Accept the new key…", self)
        self.accept_button.setObjectName("acceptKey")
        self.accept_button.setToolTip("Pin the key the server shows now, after comparing both fingerprints")
        self.accept_button.clicked.connect(self.ask_to_accept)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.accept_button)
        self.show_nothing()

    def show_nothing(self) -> None:
        self.check = None
        self.text.setText("")
        self.text.setToolTip("")
        self.accept_button.setVisible(False)

    def show_stored(self, pin: KeyPin | None) -> None:
        """What is known without asking the server: its pinned key, or none."""
        self.check = None
        self.text.setText(stored_identity_line(pin))
        self.text.setToolTip(identity_tip(None) if pin is None else "")
        self.accept_button.setVisible(False)

    def show_check(self, check: ToolCheck) -> None:
        """What the last live check found (with the way to accept a changed key)."""
        self.check = check
        self.text.setText("\n".join(identity_lines(check.assessment)))
        self.text.setToolTip(identity_tip(check.assessment.attestation.status))
        self.accept_button.setVisible(check.assessment.attestation.status == "key_changed")

    def ask_to_accept(self) -> QMessageBox | None:
        check = self.check
        if check is None or check.assessment.attestation.status != "key_changed":
            return None
        found = check.assessment.attestation
        server = one_line(check.server.name, 80)
        new = found.fingerprint or "none: the server no longer proves its identity (the pin is forgotten)"
        box = QMessageBox(self.window())
        box.setObjectName("acceptKeyBox")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(appinfo.APP_NAME)
        box.setText(f"Accept the new key of {server}?")
        box.setInformativeText(
            f"Why it is refused: {refusal_words(found.server_refused or '')}.\n\n"
            f"Pinned key:        {found.pinned_fingerprint}\n"
            f"Server's key now:  {new}\n\n"
            "Accept only if you expected this change: compare both fingerprints with whoever runs the server. "
            "A server that pretends to be this one would show a key of its own."
        )
        plain.dialog(box)
        yes = box.addButton("Accept the new key", QMessageBox.ButtonRole.DestructiveRole)
        yes.setObjectName("confirmButton")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self.accept_key(check) if button is yes else None)
        self.open_dialog(box)
        return box

    def accept_key(self, check: ToolCheck) -> KeyPin | None:
        """Pin the key ``check`` found (only while the pinned one is still the one shown)."""
        accounts = self.controller.accounts
        try:
            pin = accept_new_key(
                check.server.id, check.server.name, check.assessment, key_pins(accounts), now=accounts.clock()
            )
        except ConnectorError as exc:
            show_error(self.window(), describe(exc, title=f"Accepting the new key of {check.server.name}"))
            return None
        self.check = None
        self.accept_button.setVisible(False)
        self.text.setText(stored_identity_line(pin))
        self.text.setToolTip("")
        self.sig_accepted.emit()
        return pin
