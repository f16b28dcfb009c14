"""What the main window shows before any server is added: what the app does, and the one thing to do first."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.ui import plain
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
        button.clicked.connect(self.sig_add_server_requested)
        column = QWidget()
        column.setFixedWidth(560)
        inner = QVBoxLayout(column)
        inner.addWidget(title)
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
