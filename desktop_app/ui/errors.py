"""One way to show a problem: a short message, what the person can do, and details they can copy.

:func:`describe` turns any exception into an :class:`ErrorReport` (the engine's ``message`` and ``hint``, or
general words for its kind); :class:`ErrorPanel` shows one inside a dialog, :func:`show_error` as a message box.
Details are redacted again before they are shown: a bug report pasted from here carries no secret.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from desktop_app import appinfo
from desktop_app.desktop.errors import DesktopFilesUnwritable, ForeignDesktopFile, IconsUnavailable, ProgramNotFound
from desktop_app.desktop.libraries import apt_install
from desktop_app.errors import (
    AccountRemoved,
    ConfigurationError,
    ConnectorError,
    MorePermissionsNeeded,
    NoRegistrationPath,
    ProtocolViolation,
    ReviewOutdated,
    ServerExists,
    SignInRequired,
    StorageError,
    TransientError,
    UnknownTool,
    UserActionRequired,
    WrongAccount,
    one_line,
)
from desktop_app.hosts.errors import EntryNameTaken, HostConfigUnreadable, HostConfigUnwritable, NotAConnector
from desktop_app.oauth.redact import redact
from desktop_app.tools.identity_errors import KeyPinMoved, NothingToAccept
from desktop_app.ui import plain

#: What a person can do, when nothing more specific is known, by the kind of error (the first that matches).
DEFAULT_HINTS: tuple[tuple[type[ConnectorError], str], ...] = (
    (UserActionRequired, "Sign in again, or choose another account."),
    (TransientError, "Nothing was lost. Check the network connection and try again in a moment."),
    (ProtocolViolation, "This is a problem on the server's side: send the details below to whoever runs it."),
    (ConfigurationError, "Check what you entered, then try again."),
    (StorageError, "Check that the keyring and the app's data folder are available, then try again."),
)


def window_hint(exc: ConnectorError) -> str:
    """What the person can do, in the window's words: its own for what the engine reports as data, else the
    engine's hint, else the general words for the kind of error."""
    if isinstance(exc, AccountRemoved):
        return "Reload the list; the account was removed (perhaps from the command line)."
    if isinstance(exc, SignInRequired) and exc.account_id is not None:
        return "Select the account and choose Sign in again."
    if isinstance(exc, ServerExists):
        return "Select that server in the list to sign in or add an account."
    if isinstance(exc, NoRegistrationPath):
        return "Ask its administrator for a client id and enter it in the server's settings."
    if isinstance(exc, ReviewOutdated):
        return "Open the review again: it shows the new change; approve it once you have looked at it."
    if isinstance(exc, KeyPinMoved):
        return "Load the tools again to see which key is pinned now, then decide."
    if isinstance(exc, NothingToAccept):
        return "Nothing to do: load the tools again to see the server's identity as it is now."
    if isinstance(exc, UnknownTool):
        return "Load the connector's tools again: the list changed."
    if isinstance(exc, MorePermissionsNeeded):
        return "Select the account and choose Sign in again to grant them."
    if isinstance(exc, WrongAccount) and not exc.hint:
        if exc.found is None:
            return f"Sign in as {exc.expected}."
        return f"Sign in as {exc.expected}, or add {exc.found} as another account."
    if isinstance(exc, HostConfigUnreadable):
        return "Fix the file there (the AI tool cannot read it either), then try again."
    if isinstance(exc, HostConfigUnwritable):
        return "Check that you may write the file and its folder (or close the AI tool), then try again."
    if isinstance(exc, EntryNameTaken):
        return "That tool already has a server of this name: rename or remove it there, then try again."
    if isinstance(exc, NotAConnector):
        return "Only this app's connectors are removed; edit the tool's file to remove other servers."
    if isinstance(exc, ForeignDesktopFile):
        return "Move that file away (or delete it if you do not need it), then choose Add to the application menu."
    if isinstance(exc, DesktopFilesUnwritable):
        return "Check that you may write that folder (your data folder), then try again."
    if isinstance(exc, IconsUnavailable):
        command = apt_install(exc.missing)
        if command is None:
            return "Reinstall the app, then try again."
        return f"Install what Qt needs ({command}), then try again."
    if isinstance(exc, ProgramNotFound):
        return f"Install the app again so that the '{appinfo.COMMAND}' program exists, then try again."
    if exc.hint:
        return exc.hint
    return next((words for kind, words in DEFAULT_HINTS if isinstance(exc, kind)), "Try again.")


@dataclass(frozen=True, slots=True)
class ErrorReport:
    title: str
    message: str
    hint: str
    details: str


def describe(exc: BaseException, *, title: str, context: str = "") -> ErrorReport:
    """The words for ``exc``; ``context`` (e.g. a redacted trace of what ran) goes into the details."""
    if isinstance(exc, ConnectorError):
        message = one_line(exc.message, 600)
        hint = window_hint(exc)
        detail_lines = [f"Error: {type(exc).__name__} ({exc.code})", f"Message: {exc.message}"]
        if exc.url:
            detail_lines.append(f"URL: {exc.url}")
    else:
        message = "Something went wrong inside the app."
        hint = "Try again. If it happens again, please report it with the details below."
        detail_lines = ["".join(traceback.format_exception(exc)).rstrip()]
    detail_lines.insert(0, f"{appinfo.APP_NAME} {appinfo.VERSION}: {title}")
    if context:
        detail_lines += ["", context]
    return ErrorReport(title, message, hint, redact("\n".join(detail_lines)))


class ErrorPanel(QWidget):
    """A problem shown in place (the sign-in dialog's last page, the connection test)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorPanel")
        icon = QLabel(self)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(32, 32))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.message = plain.label(selectable=True, wrap=True, parent=self)
        self.message.setObjectName("errorMessage")
        font = self.message.font()
        font.setBold(True)
        self.message.setFont(font)
        self.hint = plain.label(wrap=True, parent=self)
        self.hint.setObjectName("errorHint")
        self.details = QPlainTextEdit(self)
        self.details.setObjectName("errorDetails")
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Error details")
        self.details.setVisible(False)
        self.toggle = QPushButton("Show details", self)
        self.toggle.setCheckable(True)
        self.toggle.toggled.connect(self._toggle)
        self.copy = QPushButton("Copy details", self)
        self.copy.setToolTip("Copy the details (no token or secret is in them) to paste into a bug report")
        self.copy.clicked.connect(self.copy_details)

        text = QVBoxLayout()
        text.addWidget(self.message)
        text.addWidget(self.hint)
        buttons = QHBoxLayout()
        buttons.addWidget(self.toggle)
        buttons.addWidget(self.copy)
        buttons.addStretch(1)
        text.addLayout(buttons)
        text.addWidget(self.details, 10)
        text.addStretch(1)  # with the details hidden, spare height goes below, not between the lines
        row = QHBoxLayout(self)
        row.addWidget(icon)
        row.addLayout(text, 1)
        self.report: ErrorReport | None = None

    def show_report(self, report: ErrorReport) -> None:
        self.report = report
        self.message.setText(report.message)
        self.hint.setText(f"What you can do: {report.hint}")
        self.details.setPlainText(report.details)
        self.setAccessibleDescription(f"{report.message} {report.hint}")

    def _toggle(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.toggle.setText("Hide details" if shown else "Show details")

    def copy_details(self) -> None:
        if self.report is not None:
            QGuiApplication.clipboard().setText(self.report.details)


def show_error(parent: QWidget | None, report: ErrorReport) -> QMessageBox:
    """A non-blocking message box (``open()``, never ``exec()``: the event loop keeps running)."""
    box = QMessageBox(parent)
    box.setObjectName("errorBox")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(report.title)
    box.setText(report.message)
    box.setInformativeText(f"What you can do: {report.hint}")
    box.setDetailedText(report.details)
    plain.dialog(box)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
