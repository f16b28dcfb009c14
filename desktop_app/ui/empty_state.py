"""What the main window shows before any server is added: what the app does, and the one thing to do first; and,
when the keyring is missing, that first (ui/keyring_offer.py: a warning box with the way out)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.errors import one_line
from desktop_app.ui import colours, plain
from desktop_app.ui.icons import icon

EMPTY_TITLE = "No servers yet"
EMPTY_TEXT = (
    "<p>Add the address of a remote MCP server (for example <code>https://mcp.example.com/mcp</code>).</p>"
    "<p>The app finds out where you sign in for it and shows you <b>which server is asking which authorization "
    "server for what</b> before anything opens in your browser. Your sign-in is kept in your keyring and renewed "
    "by itself.</p>"
)


class EmptyState(QWidget):
    """A centred column: a title, the explanation and an "Add server…" button."""

    #: The "Add server…" button was clicked.
    sig_add_server_requested = Signal()
    #: "Use an unencrypted file instead…" was clicked (the window asks before it switches).
    sig_use_file_store = Signal()
    #: "Check again" was clicked (the keyring may be running now).
    sig_check_keyring = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        title = plain.label(EMPTY_TITLE)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body = QLabel(EMPTY_TEXT)
        body.setObjectName("emptyText")
        body.setTextFormat(Qt.TextFormat.RichText)
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        button = QPushButton(icon("add"), "Add server…")
        button.setObjectName("emptyAddServer")
        suggested(button)
        button.clicked.connect(self.sig_add_server_requested)
        column = QWidget()
        column.setFixedWidth(560)
        inner = QVBoxLayout(column)
        inner.addWidget(title)
        inner.addWidget(self._keyring_box())
        inner.addWidget(body)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(button)
        buttons.addStretch(1)
        inner.addLayout(buttons)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)

    def _keyring_box(self) -> QWidget:
        """A missing keyring: a framed warning and its two ways out (hidden until :meth:`show_keyring_missing`)."""
        self.keyring_warning = plain.label(wrap=True)
        self.keyring_warning.setObjectName("keyringMissing")
        self.keyring_warning.setFrameShape(QFrame.Shape.StyledPanel)
        self.keyring_warning.setStyleSheet(colours.warning_box(self.keyring_warning))
        self.use_file = QPushButton("Use an unencrypted file instead…")
        self.use_file.setObjectName("emptyUseFileStore")
        self.use_file.clicked.connect(self.sig_use_file_store)
        self.check_again = QPushButton("Check again")
        self.check_again.setObjectName("emptyCheckKeyring")
        self.check_again.clicked.connect(self.sig_check_keyring)
        box = QWidget()
        box.setObjectName("keyringBox")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.addWidget(self.keyring_warning)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.check_again)
        buttons.addWidget(self.use_file)
        layout.addLayout(buttons)
        box.setVisible(False)
        self.keyring_box = box
        return box

    def show_keyring_missing(self, text: str | None) -> None:
        """Say that the keyring is missing (``text``), or nothing (None: it is there, or the file store is used)."""
        self.keyring_box.setVisible(text is not None)
        self.keyring_warning.setText(text or "")
        self.keyring_warning.setAccessibleName(one_line(text or "", 600))


def suggested(button: QPushButton) -> None:
    """The page's one primary action, as GNOME's "suggested action" and KDE's default button look: filled with the
    palette's highlight, its label in the highlight's text colour when that reads (WCAG AA) or else black or white,
    bold, taller than a plain button, and the default (Enter presses it)."""
    palette = button.palette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        palette.setColor(group, QPalette.ColorRole.Button, palette.color(group, QPalette.ColorRole.Highlight))
        ground = palette.color(group, QPalette.ColorRole.Highlight)
        label = colours.text_on(ground, palette.color(group, QPalette.ColorRole.HighlightedText))
        palette.setColor(group, QPalette.ColorRole.ButtonText, label)
    button.setPalette(palette)
    font = button.font()
    font.setBold(True)
    button.setFont(font)
    button.setMinimumHeight(button.fontMetrics().height() * 2 + 8)
    button.setMinimumWidth(button.fontMetrics().averageCharWidth() * 22)
    button.setDefault(True)
