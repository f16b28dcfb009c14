"""One way to show a problem: a short message, what the person can do, and details they can copy.

:func:`describe` turns any exception into an :class:`ErrorReport`: the window's own words where the error's code or
data says what happened (:func:`window_words`: "You cancelled the sign-in", "login.example.com is having trouble (it
answered 503)"), else the engine's ``message``; what helps (:func:`window_hint`: never a command line, ADR 0031);
the things the window can do about it as :class:`ErrorAction` buttons; whether trying again can help. The
engine's words stay in the details. :class:`ErrorPanel` shows a report inside a dialog, :func:`show_error` as a
message box. Details are redacted again before they are shown: a bug report pasted from here carries no secret.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, Signal
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
    AuthorizationDenied,
    ConfigurationError,
    ConnectorError,
    GrantExpired,
    InvalidClient,
    MorePermissionsNeeded,
    NoRegistrationPath,
    ProtocolViolation,
    ReviewOutdated,
    SecretStoreError,
    SecretStoreInUse,
    ServerExists,
    ServerUnavailable,
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
from desktop_app.storage.keyring_backends import FILE_STORE_HINT
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


#: Who answered, when the error does not say: the words stand where a host name would.
SOMEONE = "The server"

#: What the window can do about an error, as a button beside it (the window connects each kind).
ActionKind = Literal["add_account", "show_server", "sign_in_again", "open_settings", "use_file_store"]

#: The warning shown before the secret store becomes a file (the action's label ends in "…": it asks first).
FILE_STORE_WARNING = (
    "Your sign-ins will be kept in a file in the app's data folder that is not encrypted: anyone who can read your "
    "files (another program you run, a backup) can use your accounts. Use it only where no keyring can run."
)


@dataclass(frozen=True, slots=True)
class ErrorAction:
    """A button beside an error: ``kind`` says what the window does, ``server`` (its name) and ``account_id`` to
    what; ``warning``: what the window says, and asks, before it does it."""

    kind: ActionKind
    label: str
    server: str | None = None
    account_id: int | None = None
    warning: str = ""


#: The way out of a missing keyring, wherever it is offered (an error's button, the empty page: ui/keyring_offer.py).
USE_FILE_STORE = ErrorAction("use_file_store", "Use an unencrypted file instead…", warning=FILE_STORE_WARNING)


def host_of(url: str | None) -> str:
    """The host name a person recognises (``login.example.com``), or empty."""
    try:
        return (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return ""


def _status(message: str) -> str:
    found = re.search(r"\bHTTP (\d{3})\b", message)
    return found.group(1) if found else ""


#: The window's words for what a code of these classes says happened (data by code, as cli/hints.py has; the branches
#: are the classes). Each takes the host a person recognises and the HTTP status the message names, if any.
_DENIED_WORDS: dict[str, Callable[[str], str]] = {
    "access_denied": lambda host: (
        "You cancelled the sign-in." if host == SOMEONE else f"You cancelled the sign-in at {host}."
    ),
}
_TROUBLE_WORDS: dict[str, Callable[[str, str], str]] = {
    "rate_limited": lambda host, status: (
        f"{host} is busy (it answered {status or 429}: too many requests); try again in a minute."
    ),
    "server_unavailable": lambda host, status: (
        f"{host} is having trouble{f' (it answered {status})' if status else ''}; try again later."
    ),
    "temporarily_unavailable": lambda host, status: (
        f"{host} is having trouble (it says it cannot sign you in right now); try again later."
    ),
    "server_error": lambda host, status: (
        f"{host} is having trouble (it says it cannot sign you in right now); try again later."
    ),
}
#: Codes that mean the person chose it (no warning icon, no "problem").
_CHOSEN = {"access_denied": True}
#: A keyring that is missing (not locked, not refusing): the unencrypted file store is the way out.
_FILE_STORE_HELPS = {"keyring_unavailable": True}
#: Codes outside the transient classes where trying the same thing again can help.
_RETRY_HELPS = {"sign_in_timeout": True, "state_mismatch": True, "database_busy": True}


def window_words(exc: ConnectorError) -> str | None:
    """The window's own message where the code says what happened in words a person uses; None: the engine's."""
    host = host_of(exc.url) or SOMEONE
    if isinstance(exc, AuthorizationDenied):
        denied = _DENIED_WORDS.get(exc.code)
        return denied(host) if denied else f"{host} wants you to sign in (or choose an account) in the browser."
    trouble = _TROUBLE_WORDS.get(exc.code) if isinstance(exc, ServerUnavailable) else None
    if trouble is not None:
        return trouble(host, _status(exc.message))
    if isinstance(exc, GrantExpired):
        return f"{host} no longer accepts this sign-in (it ended, or was withdrawn)."
    if isinstance(exc, InvalidClient):
        return f"{host} no longer recognises this app (it may have forgotten the app's registration)."
    return None


def _words_hint(exc: ConnectorError) -> str | None:
    """What helps, for the errors :func:`window_words` words itself."""
    if isinstance(exc, AuthorizationDenied):
        return (
            "Nothing was changed. Sign in again when you are ready."
            if _CHOSEN.get(exc.code, False)
            else "Sign in again: the browser will ask you."
        )
    if isinstance(exc, ServerUnavailable):
        return "Nothing was lost: your sign-ins are kept. Try again in a few minutes."
    if isinstance(exc, GrantExpired):
        return "Sign in again."
    if isinstance(exc, InvalidClient):
        return "Reset the registration in the server's settings, then sign in again."
    return None


def _is_command(text: str) -> bool:
    """Command-line advice: the program's name, or an option (``--secret-store``)."""
    return (
        f"{appinfo.COMMAND} " in text or f"'{appinfo.COMMAND}" in text or re.search(r"(^|\s)--[a-z]", text) is not None
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
    if isinstance(exc, SecretStoreInUse):
        return (
            f"Nothing was changed. Sign-ins are never copied from one place to another: sign those accounts out "
            f"first (in the {exc.current} store they are kept in), or keep using it."
        )
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
    words = _words_hint(exc)
    if words is not None:
        return words
    if isinstance(exc, SecretStoreError) and exc.hint and FILE_STORE_HINT in exc.hint:
        kept = exc.hint.replace(f", {FILE_STORE_HINT}", "").replace(FILE_STORE_HINT, "").rstrip(" ,.")
        return f"{kept}, or use an unencrypted file instead." if kept else "Use an unencrypted file instead."
    if exc.hint and not _is_command(exc.hint):
        return exc.hint
    return next((words for kind, words in DEFAULT_HINTS if isinstance(exc, kind)), "Try again.")


def actions_for(exc: ConnectorError) -> tuple[ErrorAction, ...]:
    """What the window can do about ``exc``, as buttons (the window's counterpart of the command line's commands)."""
    if isinstance(exc, WrongAccount) and exc.found is not None:
        return (ErrorAction("add_account", f"Add {one_line(exc.found, 80)} as another account"),)
    if isinstance(exc, ServerExists):
        return (ErrorAction("show_server", f"Show {one_line(exc.name, 80)}", server=exc.name),)
    if isinstance(exc, SignInRequired) and exc.account_id is not None and not isinstance(exc, AccountRemoved):
        return (ErrorAction("sign_in_again", "Sign in again", server=exc.server, account_id=exc.account_id),)
    if isinstance(exc, MorePermissionsNeeded):
        return (ErrorAction("sign_in_again", "Sign in again", server=exc.server, account_id=exc.account_id),)
    if isinstance(exc, NoRegistrationPath | InvalidClient):
        return (ErrorAction("open_settings", "Open the server's settings"),)
    if isinstance(exc, SecretStoreError) and _FILE_STORE_HELPS.get(exc.code, False):
        return (USE_FILE_STORE,)
    return ()


def retry_helps(exc: BaseException) -> bool:
    """Whether "Try again" can help (and so may be the default button): a network or server trouble, a cancelled
    or timed-out sign-in; not a mistake that the same request would make again."""
    if isinstance(exc, TransientError | AuthorizationDenied):
        return True
    return isinstance(exc, ConnectorError) and _RETRY_HELPS.get(exc.code, False)


@dataclass(frozen=True, slots=True)
class ErrorReport:
    title: str
    message: str
    hint: str
    details: str
    #: What the window offers to do, as buttons beside the message.
    actions: tuple[ErrorAction, ...] = ()
    #: Whether trying the same thing again can help ("Try again" is the default button only then).
    retry_helps: bool = False
    #: False: nothing went wrong, the person chose it (a cancelled sign-in): shown without a warning icon.
    problem: bool = True


def describe(exc: BaseException, *, title: str, context: str = "") -> ErrorReport:
    """The words for ``exc``; ``context`` (e.g. a redacted trace of what ran) goes into the details."""
    actions: tuple[ErrorAction, ...] = ()
    if isinstance(exc, ConnectorError):
        message = window_words(exc) or one_line(exc.message, 600)
        hint = window_hint(exc)
        actions = actions_for(exc)
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
    chosen = isinstance(exc, AuthorizationDenied) and _CHOSEN.get(exc.code, False)
    return ErrorReport(
        title, message, hint, redact("\n".join(detail_lines)), actions, retry_helps(exc), problem=not chosen
    )


class ErrorPanel(QWidget):
    """A problem shown in place (the sign-in dialog's last page, the connection test), with the report's actions as
    buttons: a click emits :attr:`sig_action` (after the person confirmed an action that has a warning)."""

    #: An :class:`ErrorAction` the person chose.
    sig_action = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorPanel")
        self.icon = icon = QLabel(self)
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        icon.setAccessibleName("Problem")
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
        self.action_buttons: list[QPushButton] = []
        #: The kinds of action whoever shows the panel connected to :attr:`sig_action` (only those are offered).
        self.handles: frozenset[ActionKind] = frozenset()
        self._action_row = QHBoxLayout()
        self.toggle = QPushButton("Show details", self)
        self.toggle.setCheckable(True)
        self.toggle.toggled.connect(self._toggle)
        self.copy = QPushButton("Copy details", self)
        self.copy.setToolTip("Copy the details (no token or secret is in them) to paste into a bug report")
        self.copy.clicked.connect(self.copy_details)

        text = QVBoxLayout()
        text.addWidget(self.message)
        text.addWidget(self.hint)
        text.addLayout(self._action_row)
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
        kind = (
            QStyle.StandardPixmap.SP_MessageBoxWarning
            if report.problem
            else QStyle.StandardPixmap.SP_MessageBoxInformation
        )
        self.icon.setPixmap(self.style().standardIcon(kind).pixmap(32, 32))
        self.icon.setAccessibleName("Problem" if report.problem else "Information")
        self.message.setText(report.message)
        self.message.setAccessibleName(report.message)
        self.hint.setText(f"What you can do: {report.hint}")
        self.hint.setAccessibleName(self.hint.text())
        self.details.setPlainText(report.details)
        self.setAccessibleName(report.message)
        self.setAccessibleDescription(f"{report.message} {report.hint}")
        while self._action_row.count():
            taken = self._action_row.takeAt(0)
            widget = taken.widget() if taken is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.action_buttons = []
        for action in (a for a in report.actions if a.kind in self.handles):
            button = QPushButton(action.label, self)
            button.setObjectName(f"errorAction_{action.kind}")
            button.setToolTip(plain.tooltip(action.warning))
            button.clicked.connect(lambda _checked=False, chosen=action: self._chosen(chosen))
            self._action_row.addWidget(button)
            self.action_buttons.append(button)
        if self.action_buttons:
            self._action_row.addStretch(1)

    def _chosen(self, action: ErrorAction) -> None:
        confirm_action(self, action, lambda: self.sig_action.emit(action))

    def _toggle(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.toggle.setText("Hide details" if shown else "Show details")

    def copy_details(self) -> None:
        if self.report is not None:
            QGuiApplication.clipboard().setText(self.report.details)


def confirm_action(parent: QWidget | None, action: ErrorAction, then: Callable[[], None]) -> QMessageBox | None:
    """Run ``then`` for ``action``: at once, or after the person read its warning and chose to go on (non-blocking;
    the box is returned)."""
    if not action.warning:
        then()
        return None
    box = QMessageBox(parent)
    box.setObjectName("actionWarning")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(action.label.rstrip("…"))
    box.setText(action.warning)
    plain.dialog(box)
    go = box.addButton(action.label.rstrip("…"), QMessageBox.ButtonRole.AcceptRole)
    go.setObjectName("confirmButton")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    go.clicked.connect(then)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def show_error(
    parent: QWidget | None,
    report: ErrorReport,
    on_action: Callable[[ErrorAction], None] | None = None,
    handles: frozenset[ActionKind] = frozenset(),
) -> QMessageBox:
    """A non-blocking message box (``open()``, never ``exec()``: the event loop keeps running); the report's actions
    of the kinds ``on_action`` ``handles`` are buttons in it."""
    box = QMessageBox(parent)
    box.setObjectName("errorBox")
    box.setIcon(QMessageBox.Icon.Warning if report.problem else QMessageBox.Icon.Information)
    box.setWindowTitle(report.title)
    box.setText(report.message)
    box.setInformativeText(f"What you can do: {report.hint}")
    box.setDetailedText(report.details)
    plain.dialog(box)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    if on_action is not None:
        for action in (a for a in report.actions if a.kind in handles):
            button = box.addButton(action.label, QMessageBox.ButtonRole.ActionRole)
            button.setObjectName(f"errorAction_{action.kind}")
            button.clicked.connect(
                lambda _checked=False, chosen=action: confirm_action(parent, chosen, lambda: on_action(chosen))
            )
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
