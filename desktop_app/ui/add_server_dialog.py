"""Add a server: its address, checked as the person types, and an optional name.

Checked softly (GNOME HIG, inline validation): Continue is enabled only for a usable address, but what is wrong is
said only once the person pauses (:data:`PAUSE_MS`), leaves the field or presses Enter, never mid-word."""

from __future__ import annotations

from itertools import pairwise
from urllib.parse import urlsplit

from PySide6.QtCore import QSize, QTimer
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.accounts.models import Server
from desktop_app.errors import ConnectorError, one_line
from desktop_app.oauth.urls import address_with_scheme, canonical_resource, require_secure
from desktop_app.ui import colours, plain
from desktop_app.ui.controller import Controller

#: How long typing pauses before what is wrong with the address is said.
PAUSE_MS = 900
#: Said under the field while an unusable address is still being typed.
TYPING_HINT = "Enter the server's address, for example https://mcp.example.com/mcp."
#: The dialog's width in average characters of its font (a larger font widens it): what is said under the field
#: keeps an address on one line. At least :data:`NARROWEST_CHARS`; never beyond the screen.
WIDTH_CHARS = 90
NARROWEST_CHARS = 60
#: Room left around the dialog on the screen: the frame, its title bar and the desktop's panel.
SCREEN_MARGIN = QSize(32, 64)


def check_address(text: str) -> tuple[str | None, str]:
    """(the canonical address or None, what to tell the person). Pure: tested without a window."""
    text = text.strip()
    if not text:
        return None, "Enter the server's address, for example https://mcp.example.com/mcp."
    if any(c.isspace() for c in text):
        return None, "The address contains a space; copy it again from the server's documentation."
    guess = address_with_scheme(text)
    if guess is not None:
        # The suggestion on a line of its own, so that the address is not broken in two at a slash.
        return None, f"Addresses start with https://.\nDid you mean {one_line(guess, 300)}?"
    try:
        resource = canonical_resource(text)
        require_secure(resource, what="server address", configuration=True)
    except ConnectorError as exc:
        return None, one_line(exc.message, 400) + (f" {exc.hint}" if exc.hint else "")
    note = ""
    if urlsplit(resource).scheme == "http":
        note = " Plain http is accepted because the server is on this computer."
    return resource, f"The app will connect to {one_line(resource, 400)}.{note}"


class AddServerDialog(QDialog):
    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("addServerDialog")
        self.setWindowTitle("Add a server")
        self.controller = controller
        self.server: Server | None = None

        intro = plain.label(
            "Enter the address of a remote MCP server. Next, the app finds out where you sign in for it and shows "
            "you who is asking for what, before anything opens in your browser.",
            wrap=True,
        )
        self.url = QLineEdit()
        self.url.setObjectName("urlEdit")
        self.url.setPlaceholderText("https://mcp.example.com/mcp")
        self.url.setAccessibleName("Server address")
        self.url.setClearButtonEnabled(True)
        self.name = QLineEdit()
        self.name.setObjectName("nameEdit")
        self.name.setPlaceholderText("optional: its host name is used")
        self.name.setAccessibleName("Name")
        self.feedback = plain.label(selectable=True, wrap=True)
        self.feedback.setObjectName("urlFeedback")

        form = QFormLayout()
        url_label = plain.label("&Address:")
        url_label.setBuddy(self.url)
        name_label = plain.label("&Name:")
        name_label.setBuddy(self.name)
        form.addRow(url_label, self.url)
        form.addRow("", self.feedback)
        form.addRow(name_label, self.name)

        # Continue is the one default: Enter continues when the address is valid and does nothing otherwise (a
        # disabled default button swallows it), never Cancel. No button becomes default by taking the focus.
        self.buttons = QDialogButtonBox()
        self.continue_button = self.buttons.addButton("Continue", QDialogButtonBox.ButtonRole.AcceptRole)
        self.continue_button.setObjectName("continueButton")
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        assert cancel is not None
        self.cancel_button: QPushButton = cancel
        self.cancel_button.setObjectName("cancelButton")
        for button in (self.continue_button, self.cancel_button):
            button.setAutoDefault(False)
        self.continue_button.setDefault(True)
        self.buttons.accepted.connect(self._add)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.pause = QTimer(self)
        self.pause.setObjectName("addressPause")
        self.pause.setSingleShot(True)
        self.pause.setInterval(PAUSE_MS)
        self.pause.timeout.connect(self.reveal)
        self.url.textChanged.connect(self._validate)
        self.url.editingFinished.connect(self.reveal)  # Enter, or the focus left the field
        self._validate("")
        self.url.setFocus()
        self._fit()

    def _fit(self) -> None:
        """:data:`WIDTH_CHARS` of its font wide and as tall as its wrapped text then is, within the screen."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        free = screen.availableGeometry().size() - SCREEN_MARGIN if screen is not None else QSize(1248, 656)
        chars = self.fontMetrics().averageCharWidth()
        self.setMinimumWidth(min(chars * NARROWEST_CHARS, free.width()))
        width = min(chars * WIDTH_CHARS, free.width())
        layout = self.layout()
        height = layout.heightForWidth(width) if layout is not None and layout.hasHeightForWidth() else -1
        self.resize(QSize(width, height if height >= 0 else self.sizeHint().height()).boundedTo(free))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # The style decides where the buttons sit (Continue left of Cancel, or right of it): Tab follows the screen.
        visible = sorted(self.buttons.buttons(), key=lambda button: button.mapTo(self, button.rect().topLeft()).x())
        chain: list[QWidget] = [self.url, self.name, *visible]
        for before, after in pairwise(chain):
            QWidget.setTabOrder(before, after)

    def _validate(self, text: str) -> None:
        """While typing: Continue follows the address; a problem waits for a pause (no red mid-word)."""
        resource, message = check_address(text)
        self.continue_button.setEnabled(resource is not None)
        self.pause.stop()
        if resource is not None or not text.strip():
            self._say(message, problem=False)  # the address it will use, or (nothing typed) a quiet example
        else:
            self._say(TYPING_HINT, problem=False)
            self.pause.start()

    def reveal(self) -> None:
        """The person paused, left the field or pressed Enter: say what is wrong with the address, if anything."""
        self.pause.stop()
        text = self.url.text()
        resource, message = check_address(text)
        self._say(message, problem=resource is None and bool(text.strip()))

    def shows_problem(self) -> bool:
        """Whether the line under the address shows a problem (in the problem colour)."""
        return bool(self.feedback.styleSheet())

    def _say(self, message: str, *, problem: bool) -> None:
        self.feedback.setText(message)
        self.feedback.setStyleSheet(colours.style(colours.problem(self)) if problem else "")
        self.url.setAccessibleDescription(message)

    def _add(self) -> None:
        resource, _ = check_address(self.url.text())
        if resource is None:
            self.reveal()
            return
        try:
            self.server = self.controller.add_server(self.url.text().strip(), self.name.text().strip() or None)
        except ConnectorError as exc:
            self._say(one_line(exc.message, 400) + (f" {exc.hint}" if exc.hint else ""), problem=True)
            return
        self.accept()
