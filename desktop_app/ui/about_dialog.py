"""Help > About: the app's name, icon and version, its licence and website, and where this profile lives.

The version and what the app runs on are selectable text, and a Copy button copies one line a bug report can quote,
``MCP Connector Manager 0.1.0 (Python 3.12.3, Qt 6.11.0, Linux-…)``: QMessageBox.about offers neither
(docs/decisions/0033-preferences-about-filter.md). The website is the AppStream metainfo's; while it is a
placeholder address (an example domain, RFC 2606) it is labelled so, not offered as a link.
"""

from __future__ import annotations

import platform
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app import appinfo
from desktop_app.desktop import metainfo
from desktop_app.ui import colours, plain
from desktop_app.ui.icons import app_icon

#: The desktop's keyring in a person's words (the Secret Service is a D-Bus interface that these programs offer).
DESKTOP_KEYRING = "your desktop's keyring (GNOME Keyring, KWallet, KeePassXC\u2026)"


def keyring_words(description: str) -> tuple[str, str]:
    """(where the tokens live, in words; the precise name for a tooltip) from the secret store's description: the
    Secret Service ("Secret Service (org.freedesktop.secrets)") is the desktop's keyring, a named one (macOS
    Keychain, KWallet) is "your keyring (…)", a file or memory store says what it is."""
    if description.startswith("Secret Service"):
        return DESKTOP_KEYRING, f"Through the {description}, over D-Bus"
    if description.startswith("memory"):
        return "the app's memory (nothing is kept when it quits)", ""
    if description.startswith("file "):
        return f"a {description} instead of a keyring", ""
    return f"your keyring ({description})", ""


#: Host names reserved for examples (RFC 2606, RFC 6761): an address there is a placeholder, not a website.
_EXAMPLE_HOSTS = ("example.com", "example.org", "example.net", "example", "invalid", "test", "localhost")


def runtime() -> str:
    """What the app runs on: ``Python 3.12.3, Qt 6.11.0, Linux-…``."""
    return f"Python {platform.python_version()}, Qt {qVersion()}, {platform.platform(terse=True)}"


def version_line() -> str:
    """What the Copy button copies: the app, its version, and what it runs on."""
    return f"{appinfo.APP_NAME} {appinfo.VERSION} ({runtime()})"


def _selectable(text: str, name: str) -> QLabel:
    """Text a person can select with the mouse or the keyboard (and so copy in part)."""
    made = plain.label(text, selectable=True, wrap=True)
    made.setObjectName(name)
    made.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
    )
    return made


def is_placeholder(url: str) -> bool:
    """``url``'s host is an example or reserved name (``mcp-connectors.example.org``): no one's website."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return not host or any(host == name or host.endswith("." + name) for name in _EXAMPLE_HOSTS)


class AboutDialog(QDialog):
    def __init__(self, *, keyring: str, profile: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(f"About {appinfo.APP_NAME}")
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAccessibleName("App icon")
        name = plain.label(appinfo.APP_NAME)
        name.setObjectName("aboutName")
        font = name.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        name.setFont(font)
        self.version = _selectable(f"Version {appinfo.VERSION}", "aboutVersion")
        self.runtime = _selectable(runtime(), "aboutRuntime")
        colours.set_text_colour(self.runtime, colours.secondary(self.runtime))
        where, precise = keyring_words(keyring)
        summary = plain.label(
            f"Connects your AI tools to remote MCP servers: sign-in in your own browser, tokens only in {where}.",
            wrap=True,
        )
        summary.setObjectName("aboutSummary")
        summary.setToolTip(precise)
        head = QVBoxLayout()
        for widget in (name, self.version, self.runtime, summary):
            head.addWidget(widget)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(head, 1)

        facts = QGridLayout()
        facts.addWidget(plain.label("Licence"), 0, 0)
        licence = plain.label(f"{metainfo.PROJECT_LICENSE} licence", selectable=True)
        licence.setObjectName("aboutLicence")
        facts.addWidget(licence, 0, 1)
        facts.addWidget(plain.label("Website"), 1, 0)
        self.website = self._website(metainfo.HOMEPAGE)
        facts.addWidget(self.website, 1, 1)
        facts.addWidget(plain.label("Made by"), 2, 0)
        facts.addWidget(plain.label(metainfo.DEVELOPER_NAME, wrap=True), 2, 1)
        self.profile = profile
        if profile is not None:
            facts.addWidget(plain.label("Profile folder"), 3, 0)
            folder = plain.label(str(profile), selectable=True, wrap=True)
            folder.setObjectName("aboutProfile")
            facts.addWidget(folder, 3, 1)
        facts.setColumnStretch(1, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.copy_button = QPushButton("&Copy version")
        self.copy_button.setObjectName("copyVersion")
        self.copy_button.setToolTip("Copy the version and what the app runs on, to paste into a bug report")
        self.copy_button.clicked.connect(self.copy_version)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.open_folder: QPushButton | None = None
        if profile is not None:
            self.open_folder = QPushButton("Open profile &folder")
            self.open_folder.setObjectName("openProfileFolder")
            self.open_folder.setToolTip("Show the folder with this profile's servers and settings (no secret is there)")
            self.open_folder.clicked.connect(self._open_folder)
            buttons.addButton(self.open_folder, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setDefault(True)
        self.close_button.setFocus()  # not the version's text, which would show a cursor in it

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addSpacing(8)
        layout.addLayout(facts)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self.resize(max(520, self.sizeHint().width()), self.sizeHint().height())

    @staticmethod
    def _website(url: str) -> QLabel:
        if is_placeholder(url):
            made = plain.label(f"{url} (a placeholder: whoever publishes the app sets the real address)", wrap=True)
        else:
            made = QLabel()
            made.setTextFormat(Qt.TextFormat.RichText)
            escaped = url.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            made.setText(f'<a href="{escaped}">{escaped}</a>')
            made.setOpenExternalLinks(True)
        made.setObjectName("aboutWebsite")
        return made

    def copy_version(self) -> None:
        QGuiApplication.clipboard().setText(version_line())
        self.copy_button.setText("Copied")

    def _open_folder(self) -> None:
        if self.profile is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.profile)))
