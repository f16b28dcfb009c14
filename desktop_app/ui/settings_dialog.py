"""A server's settings: how this app registers, what it asks for, where the browser returns; reset the registration.

Every choice has one sentence that says what it does and when to change it, in a person's words first; the precise
OAuth term follows in brackets in the secondary text and in the choice's tooltip, for whoever was told it by an
administrator (docs/decisions/0031-words-and-access.md). Problems are found as the person edits:
OK stays disabled and a line under the form names the value at fault. Nothing is written until OK; "Reset client
registration…" acts at once (after asking), because it changes what the app remembers, not a setting.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.accounts.models import RegistrationChoice, Server, ServerSettings
from desktop_app.errors import ConfigurationError, ConnectorError, one_line
from desktop_app.oauth.registration import validate_client_metadata_url
from desktop_app.ui import colours, plain
from desktop_app.ui.controller import Controller
from desktop_app.ui.errors import describe, show_error

#: How a pre-registered client's secret is sent (the token endpoint authentication method; None: as the server's
#: metadata says): (a person's words, the value, the precise term for the tooltip).
CLIENT_AUTH_CHOICES: tuple[tuple[str, str | None, str], ...] = (
    ("Automatic", None, "As the authorization server's metadata advertises (token_endpoint_auth_methods_supported)"),
    ("No secret", "none", "A public client: token endpoint authentication method 'none'"),
    ("In a header", "client_secret_basic", "HTTP Basic authentication: 'client_secret_basic'"),
    ("In the form", "client_secret_post", "In the request body: 'client_secret_post'"),
)
#: The words of each method, for the problem line.
_AUTH_WORDS = {value: words for words, value, _ in CLIENT_AUTH_CHOICES}
#: Methods that send the client secret: they need one.
SECRET_METHODS = frozenset({"client_secret_basic", "client_secret_post"})

#: A scope is printable ASCII without space, double quote or backslash (RFC 6749 §3.3).
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

MIN_FIXED_PORT = 1024
MAX_PORT = 65535

KEEP_STORED_HINT = "stored — leave empty to keep"

#: Room left around the dialog on the screen: the window frame, its title bar and the desktop's panel.
SCREEN_MARGIN = QSize(32, 64)


def _explanation(text: str) -> QLabel:
    label = plain.label(text, wrap=True)
    # Secondary text that still reaches 4.5:1 in light and dark themes (the placeholder grey does not).
    colours.set_text_colour(label, colours.secondary(label))
    return label


def _precise(button: QWidget, term: str) -> None:
    """The precise term of a choice in its tooltip (its explanation, read by screen readers, ends with it too)."""
    button.setToolTip(term)


def _indented(*widgets: QWidget) -> QWidget:
    """Widgets under a radio button, indented so they read as belonging to it."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(24, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def parse_scopes(text: str) -> tuple[tuple[str, ...] | None, str | None]:
    """(the scopes, or None for "what the server asks for"; the problem naming the bad scope, or None)."""
    scopes = tuple(text.split())
    for scope in scopes:
        if not _SCOPE_TOKEN.fullmatch(scope):
            return None, (
                f"The scope {one_line(scope, 100)!r} cannot be requested: scopes are separated by spaces and "
                'contain no quote (") or backslash (\\).'
            )
    return (scopes or None), None


class ServerSettingsDialog(QDialog):
    def __init__(self, controller: Controller, server: Server, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.server = controller.server(server.id) or server
        self.setObjectName("serverSettingsDialog")
        self.setWindowTitle(f"Settings — {one_line(self.server.name)}")
        self.setMinimumWidth(600)
        self.secret_stored = controller.has_client_secret(self.server)
        #: The open confirmation / error box (tests find it here; it deletes itself when closed).
        self.reset_box: QMessageBox | None = None
        self.error_box: QMessageBox | None = None

        # The groups scroll when the screen is short (a large font, a small screen); the problem line and OK/Cancel
        # stay in view below them.
        content = QWidget()
        content.setObjectName("settingsContent")
        groups = QVBoxLayout(content)
        groups.setContentsMargins(0, 0, 0, 0)
        groups.addWidget(self._build_registration())
        groups.addWidget(self._build_sign_in())
        groups.addWidget(self._build_callback())
        groups.addWidget(self._build_reset())
        groups.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("settingsScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # narrow screens only
        self.scroll_area.setWidget(content)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scroll_area, 1)
        self.problem = plain.label(selectable=True, wrap=True)
        self.problem.setObjectName("problemLabel")
        self.problem.setStyleSheet(colours.style(colours.problem(self)))
        layout.addWidget(self.problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert ok is not None
        self.ok_button: QPushButton = ok
        self.ok_button.setObjectName("okButton")
        self.ok_button.setDefault(True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self._load(self.server.settings)
        for edit in (self.client_id, self.client_secret, self.metadata_url, self.scopes):
            edit.textChanged.connect(self._changed)
        for check in (self.remove_secret, self.send_resource, self.request_identity):
            check.toggled.connect(self._changed)
        self.registration.idToggled.connect(self._changed)
        self.port_choice.idToggled.connect(self._changed)
        self.client_auth.currentIndexChanged.connect(self._changed)
        self.port.valueChanged.connect(self._changed)
        self._changed()
        self._fit_to_screen()

    def _fit_to_screen(self) -> None:
        """Open at the size the content wants, but never larger than the screen's free area (the groups scroll)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        free = screen.availableGeometry().size() if screen is not None else QSize(1280, 720)
        content = self.scroll_area.widget()
        layout = self.layout()
        assert content is not None and layout is not None
        margins = layout.contentsMargins()
        below = self.buttons.sizeHint().height() + 2 * layout.spacing()
        if self.problem.isVisibleTo(self):
            below += self.problem.sizeHint().height() + layout.spacing()
        wanted = QSize(
            max(
                self.minimumWidth(),
                content.sizeHint().width() + self.scroll_area.verticalScrollBar().sizeHint().width(),
            )
            + margins.left()
            + margins.right(),
            content.sizeHint().height() + below + margins.top() + margins.bottom(),
        )
        self.resize(wanted.boundedTo(free - SCREEN_MARGIN))

    # -- building ------------------------------------------------------------------------------------------
    def _build_registration(self) -> QGroupBox:
        group = QGroupBox("How this app introduces itself")
        intro = _explanation(
            "When you sign in, the server's sign-in service (its authorization server) needs to know which app asks."
        )

        self.automatic = QRadioButton("&Automatic (recommended)")
        self.automatic.setObjectName("registrationAutomatic")
        automatic_text = (
            "The app describes itself at its own public address where the sign-in service accepts that, and "
            "otherwise registers itself there. (OAuth: a Client ID Metadata Document, else dynamic client "
            "registration.)"
        )
        self.automatic.setAccessibleDescription(automatic_text)
        _precise(self.automatic, "Client ID Metadata Document, else dynamic client registration (RFC 7591)")

        self.preregistered = QRadioButton("&With an id from the administrator")
        self.preregistered.setObjectName("registrationPreregistered")
        preregistered_text = (
            "Use the client id (and secret, if any) that the server's administrator gave you. (OAuth: a "
            "pre-registered client.)"
        )
        self.preregistered.setAccessibleDescription(preregistered_text)
        _precise(self.preregistered, "A pre-registered OAuth client")
        self.client_id = QLineEdit()
        self.client_id.setObjectName("clientIdEdit")
        self.client_id.setAccessibleName("Client id")
        self.client_secret = QLineEdit()
        self.client_secret.setObjectName("clientSecretEdit")
        self.client_secret.setAccessibleName("Client secret")
        self.client_secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.client_secret.setPlaceholderText(KEEP_STORED_HINT if self.secret_stored else "only if you were given one")
        self.remove_secret = QCheckBox("Re&move stored secret")
        self.remove_secret.setObjectName("removeSecretCheck")
        self.remove_secret.setAccessibleName("Remove stored secret")
        self.remove_secret.setVisible(self.secret_stored)
        self.remove_secret.toggled.connect(lambda checked: self.client_secret.clear() if checked else None)
        self.client_auth = QComboBox()
        self.client_auth.setObjectName("clientAuthCombo")
        self.client_auth.setAccessibleName("How the secret is sent")
        self.client_auth.setToolTip("The token endpoint authentication method")
        for words, value, term in CLIENT_AUTH_CHOICES:
            self.client_auth.addItem(words, value)
            self.client_auth.setItemData(self.client_auth.count() - 1, term, Qt.ItemDataRole.ToolTipRole)
        # Short words: the closed box shows its choice whole at any font size.
        self.client_auth.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        secret_row = QHBoxLayout()
        secret_row.setContentsMargins(0, 0, 0, 0)
        secret_row.addWidget(self.client_secret, 1)
        secret_row.addWidget(self.remove_secret)
        pre_form = QFormLayout()
        pre_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # a long label goes above its field
        pre_form.addRow(self._buddy("Client &ID:", self.client_id), self.client_id)
        pre_form.addRow(self._buddy("Client s&ecret:", self.client_secret), secret_row)
        auth_row = QHBoxLayout()
        auth_row.setContentsMargins(0, 0, 0, 0)
        auth_row.addWidget(self.client_auth)
        auth_row.addStretch(1)
        pre_form.addRow(self._buddy("How the secret is sen&t:", self.client_auth), auth_row)
        pre_form.addRow(
            "",
            _explanation(
                "Keep Automatic unless the administrator told you how the secret is sent. (OAuth: the token "
                "endpoint authentication method.)"
            ),
        )
        self.preregistered_fields = QWidget()
        self.preregistered_fields.setLayout(pre_form)
        pre_form.setContentsMargins(0, 0, 0, 0)

        self.cimd = QRadioButton("With a &description you publish")
        self.cimd.setObjectName("registrationCimd")
        cimd_text = (
            "Use a description of this app that you publish yourself: its https address is the app's client id. "
            "(OAuth: a Client ID Metadata Document.)"
        )
        self.cimd.setAccessibleDescription(cimd_text)
        _precise(self.cimd, "Client ID Metadata Document URL")
        self.metadata_url = QLineEdit()
        self.metadata_url.setObjectName("clientMetadataUrlEdit")
        self.metadata_url.setAccessibleName("Address of the description")
        self.metadata_url.setPlaceholderText("https://example.com/my-client.json")
        cimd_form = QFormLayout()
        cimd_form.setContentsMargins(0, 0, 0, 0)
        cimd_form.addRow(self._buddy("Its &URL:", self.metadata_url), self.metadata_url)
        self.cimd_fields = QWidget()
        self.cimd_fields.setLayout(cimd_form)

        self.registration = QButtonGroup(self)
        self.registration.addButton(self.automatic, 0)
        self.registration.addButton(self.preregistered, 1)
        self.registration.addButton(self.cimd, 2)

        # Only the chosen option's explanation and fields are shown (``_changed``): the others are one line each.
        self.automatic_box = _indented(_explanation(automatic_text))
        self.preregistered_box = _indented(_explanation(preregistered_text), self.preregistered_fields)
        self.cimd_box = _indented(_explanation(cimd_text), self.cimd_fields)
        layout = QVBoxLayout(group)
        layout.addWidget(intro)
        layout.addWidget(self.automatic)
        layout.addWidget(self.automatic_box)
        layout.addWidget(self.preregistered)
        layout.addWidget(self.preregistered_box)
        layout.addWidget(self.cimd)
        layout.addWidget(self.cimd_box)
        return group

    def _build_sign_in(self) -> QGroupBox:
        group = QGroupBox("What the sign-in asks for")
        self.scopes = QLineEdit()
        self.scopes.setObjectName("scopesEdit")
        self.scopes.setAccessibleName("Permissions")
        self.scopes.setPlaceholderText("what the server asks for")
        self.scopes.setToolTip("OAuth scopes, separated by spaces")
        scopes_text = (
            "The permissions to ask for, by the names the server gives them, separated by spaces. Leave empty to "
            "ask for what the server says it needs. (OAuth: scopes.)"
        )
        self.scopes.setAccessibleDescription(scopes_text)
        self.send_resource = QCheckBox("&Restrict the sign-in to this server")
        self.send_resource.setObjectName("sendResourceCheck")
        self.send_resource.setAccessibleName("Restrict the sign-in to this server")
        _precise(self.send_resource, "The OAuth resource parameter (resource indicator, RFC 8707)")
        resource_text = (
            "Tells the sign-in service which server the sign-in is for, so what it grants works only there. Turn it "
            "off only for a sign-in service that refuses it. (OAuth: the resource parameter.)"
        )
        self.send_resource.setAccessibleDescription(resource_text)
        self.request_identity = QCheckBox("Ask which a&ccount you signed in with")
        self.request_identity.setObjectName("requestIdentityCheck")
        self.request_identity.setAccessibleName("Ask which account you signed in with")
        _precise(self.request_identity, "The OpenID Connect 'openid' scope")
        identity_text = (
            "Where the sign-in service offers it, so the app can show which account you used. (OpenID Connect: the "
            "openid scope.)"
        )
        self.request_identity.setAccessibleDescription(identity_text)

        form = QFormLayout(group)
        form.addRow(self._buddy("&Permissions:", self.scopes), self.scopes)
        form.addRow("", _explanation(scopes_text))
        form.addRow(self.send_resource)
        form.addRow(_indented(_explanation(resource_text)))
        form.addRow(self.request_identity)
        form.addRow(_indented(_explanation(identity_text)))
        return group

    def _build_callback(self) -> QGroupBox:
        group = QGroupBox("Where the browser returns")
        explain = (
            "After you sign in, your browser comes back to this app at http://127.0.0.1 on a port of this computer. "
            "Choose a fixed port only for a sign-in service that needs the exact address."
        )
        self.port_any = QRadioButton("Any &free port (recommended)")
        self.port_any.setObjectName("portAnyRadio")
        self.port_any.setAccessibleDescription(explain)
        self.port_fixed = QRadioButton("Fi&xed port")
        self.port_fixed.setObjectName("portFixedRadio")
        self.port_fixed.setAccessibleDescription(explain)
        self.port = QSpinBox()
        self.port.setObjectName("portSpin")
        self.port.setAccessibleName("Fixed callback port")
        self.port.setRange(MIN_FIXED_PORT, MAX_PORT)
        self.port.setValue(8765)
        self.port_choice = QButtonGroup(self)
        self.port_choice.addButton(self.port_any, 0)
        self.port_choice.addButton(self.port_fixed, 1)
        row = QHBoxLayout()
        row.addWidget(self.port_any)
        row.addSpacing(24)
        row.addWidget(self.port_fixed)
        row.addWidget(self._buddy("P&ort:", self.port))
        row.addWidget(self.port)
        row.addStretch(1)
        layout = QVBoxLayout(group)
        layout.addWidget(_explanation(explain))
        layout.addLayout(row)
        return group

    def _build_reset(self) -> QGroupBox:
        group = QGroupBox("Start again at the sign-in service")
        self.reset_button = QPushButton("Forget this app's re&gistration…")
        self.reset_button.setObjectName("resetRegistrationButton")
        self.reset_button.setAutoDefault(False)
        reset_text = (
            "Forgets how this app is registered with the sign-in service, so the next sign-in registers anew. "
            "Accounts already signed in keep working."
        )
        self.reset_button.setAccessibleDescription(reset_text)
        self.reset_button.clicked.connect(self.confirm_reset)
        self.reset_result = plain.label(selectable=True, wrap=True)
        self.reset_result.setObjectName("resetResult")
        self.reset_result.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(self.reset_button)
        row.addStretch(1)
        layout = QVBoxLayout(group)
        layout.addWidget(_explanation(reset_text))
        layout.addLayout(row)
        layout.addWidget(self.reset_result)
        return group

    def _buddy(self, text: str, widget: QWidget) -> QLabel:
        label = plain.label(text)
        label.setBuddy(widget)
        return label

    # -- values --------------------------------------------------------------------------------------------
    def _load(self, settings: ServerSettings) -> None:
        button: QAbstractButton = {
            "automatic": self.automatic,
            "preregistered": self.preregistered,
            "cimd": self.cimd,
        }[settings.registration]
        button.setChecked(True)
        self.client_id.setText(settings.client_id or "")
        index = self.client_auth.findData(settings.client_auth) if settings.client_auth else 0
        self.client_auth.setCurrentIndex(max(index, 0))
        self.metadata_url.setText(settings.client_metadata_url or "")
        self.scopes.setText(" ".join(settings.scopes) if settings.scopes else "")
        self.send_resource.setChecked(settings.send_resource)
        self.request_identity.setChecked(settings.request_identity)
        if settings.callback_port:
            self.port.setMinimum(min(MIN_FIXED_PORT, settings.callback_port))
            self.port.setValue(settings.callback_port)
            self.port_fixed.setChecked(True)
        else:
            self.port_any.setChecked(True)

    def _registration(self) -> RegistrationChoice:
        if self.preregistered.isChecked():
            return "preregistered"
        if self.cimd.isChecked():
            return "cimd"
        return "automatic"

    def collect(self) -> tuple[ServerSettings | None, str | bool | None, str]:
        """(the settings, or None while a value is wrong; the client secret argument for ``save_settings``;
        the problem to show, or "")."""
        registration = self._registration()
        scopes, problem = parse_scopes(self.scopes.text())
        client_id: str | None = None
        client_auth: str | None = None
        metadata_url: str | None = None
        typed_secret = self.client_secret.text() if self.client_secret.text().strip() else ""
        secret: str | bool | None = False
        if registration == "preregistered":
            client_id = self.client_id.text().strip() or None
            data = self.client_auth.currentData()
            client_auth = data if isinstance(data, str) else None
            if self.remove_secret.isChecked() and self.secret_stored:
                secret = None
            elif typed_secret:
                secret = typed_secret
            has_secret = bool(typed_secret) or (self.secret_stored and secret is not None)
            if client_id is None:
                problem = "Enter the client id of the pre-registered client (its administrator gives it to you)."
            elif client_auth in SECRET_METHODS and not has_secret:
                problem = (
                    f"“{_AUTH_WORDS.get(client_auth, client_auth)}” sends a client secret ({client_auth}): enter "
                    "the client secret, or choose another way to send it."
                )
        else:
            # Only the chosen method's values are kept; a secret of a client no longer used is deleted.
            secret = None if self.secret_stored else False
            if registration == "cimd":
                url = self.metadata_url.text().strip()
                if not url:
                    problem = "Enter the https address of the description you publish."
                else:
                    try:
                        metadata_url = validate_client_metadata_url(url)
                    except ConfigurationError as exc:
                        problem = one_line(exc.message, 400)
        if problem:
            return None, False, problem
        settings = ServerSettings(
            registration=registration,
            client_id=client_id,
            client_auth=client_auth,
            client_metadata_url=metadata_url,
            scopes=scopes,
            send_resource=self.send_resource.isChecked(),
            request_identity=self.request_identity.isChecked(),
            callback_port=self.port.value() if self.port_fixed.isChecked() else 0,
        )
        return settings, secret, ""

    def _changed(self, *_: object) -> None:
        pre = self.preregistered.isChecked()
        self.automatic_box.setVisible(self.automatic.isChecked())
        self.preregistered_box.setVisible(pre)
        self.cimd_box.setVisible(self.cimd.isChecked())
        self.client_secret.setEnabled(pre and not self.remove_secret.isChecked())
        self.port.setEnabled(self.port_fixed.isChecked())
        settings, _secret, problem = self.collect()
        self.ok_button.setEnabled(settings is not None)
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))

    # -- actions -------------------------------------------------------------------------------------------
    def save(self) -> None:
        settings, secret, problem = self.collect()
        if settings is None:
            self.problem.setText(problem)
            return
        try:
            self.server = self.controller.save_settings(self.server, settings, client_secret=secret)
        except ConnectorError as exc:
            self.error_box = show_error(self, describe(exc, title="The settings could not be saved"))
            return
        self.accept()

    def confirm_reset(self) -> None:
        box = QMessageBox(self)
        box.setObjectName("confirmResetBox")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Reset client registration")
        box.setText(f"Forget this app's registration for {one_line(self.server.name)}?")
        box.setInformativeText(
            "The next sign-in registers the app with the authorization server again (and asks you to approve the "
            "new pairing). Accounts already signed in keep working."
        )
        plain.dialog(box)
        yes = box.addButton("Reset", QMessageBox.ButtonRole.DestructiveRole)
        yes.setObjectName("confirmButton")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: self.reset_registration() if button is yes else None)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(self._reset_box_gone)
        self.reset_box = box
        box.open()

    def _reset_box_gone(self, *_: object) -> None:
        self.reset_box = None

    def reset_registration(self) -> None:
        try:
            issuers = self.controller.reset_registration(self.server)
        except ConnectorError as exc:
            self.error_box = show_error(self, describe(exc, title="The registration could not be reset"))
            return
        if issuers:
            where = ", ".join(one_line(issuer, 300) for issuer in issuers)
            self.reset_result.setText(f"Forgot this app's registration at {where}. The next sign-in registers again.")
        else:
            self.reset_result.setText("There was no registration to forget: nobody has signed in to this server yet.")
        self.reset_result.setVisible(True)
