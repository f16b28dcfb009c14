"""Help > About (issue 17 item 16): the version as selectable text and a Copy button with what a bug report needs,
the licence of pyproject.toml, the website (a placeholder said to be one), the profile folder; it fits 1280x720
with a 1.5x font."""

from __future__ import annotations

import platform
import tomllib
from pathlib import Path

from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QApplication, QLabel

from desktop_app import appinfo
from desktop_app.ui.about_dialog import DESKTOP_KEYRING, AboutDialog, is_placeholder, keyring_words, version_line
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from tests.gui.conftest import wait_until
from tests.gui.sizes import SMALL_SCREEN, large_font, shown_whole, text_fits

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def open_about(qtbot, controller: Controller) -> tuple[MainWindow, AboutDialog]:
    window = MainWindow(controller, hosts=lambda: [], live=lambda: [])
    qtbot.addWidget(window)
    window.show()
    window.act_about.trigger()
    dialog = next(d for d in window.dialogs if isinstance(d, AboutDialog))
    return window, dialog


async def test_the_version_is_selectable_and_copied_with_what_it_runs_on(qtbot, controller: Controller) -> None:
    _window, dialog = open_about(qtbot, controller)
    expected = (
        f"MCP Connector Manager {appinfo.VERSION} "
        f"(Python {platform.python_version()}, Qt {qVersion()}, {platform.platform(terse=True)})"
    )
    assert version_line() == expected
    assert dialog.version.text() == f"Version {appinfo.VERSION}"
    assert dialog.runtime.text() == expected.split(" (", 1)[1].removesuffix(")")
    for label in (dialog.version, dialog.runtime):
        flags = label.textInteractionFlags()
        assert flags & Qt.TextInteractionFlag.TextSelectableByMouse
        assert flags & Qt.TextInteractionFlag.TextSelectableByKeyboard
    QApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == expected
    assert dialog.copy_button.text() == "Copied"
    dialog.reject()


async def test_licence_website_and_profile(qtbot, controller: Controller) -> None:
    _window, dialog = open_about(qtbot, controller)
    licence = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["license"]["text"]
    shown = dialog.findChild(QLabel, "aboutLicence")
    assert shown is not None and shown.text() == f"{licence} licence"
    website = dialog.findChild(QLabel, "aboutWebsite")
    assert website is not None
    assert website.text().startswith("https://mcp-connectors.example.org/ (a placeholder")  # not offered as a link
    assert website.textFormat() == Qt.TextFormat.PlainText
    profile = dialog.findChild(QLabel, "aboutProfile")
    assert profile is not None and profile.text() == str(controller.accounts.registry.path.parent)
    assert dialog.open_folder is not None
    dialog.reject()


def test_a_real_website_is_a_link_and_its_address_is_escaped(qtbot) -> None:
    assert is_placeholder("https://mcp-connectors.example.org/") and is_placeholder("https://x.test/")
    assert not is_placeholder("https://github.com/mcp-connectors/manager")
    made = AboutDialog._website('https://github.com/a?b=1&c="<x>"')
    qtbot.addWidget(made)
    assert made.textFormat() == Qt.TextFormat.RichText and made.openExternalLinks()
    assert "<x>" not in made.text() and "&amp;c=&quot;&lt;x&gt;&quot;" in made.text()


async def test_about_fits_a_small_screen_with_a_large_font(qtbot, controller: Controller) -> None:
    with large_font():
        _window, dialog = open_about(qtbot, controller)
        await wait_until(dialog.isVisible, what="About shown")
        assert dialog.width() <= SMALL_SCREEN.width() and dialog.height() <= SMALL_SCREEN.height()
        for button in (dialog.copy_button, dialog.close_button, dialog.open_folder):
            assert button is not None and shown_whole(button, dialog) and text_fits(button, button.text())
        dialog.reject()


async def test_the_keyring_is_named_in_words_and_the_d_bus_name_only_in_a_tooltip(
    qtbot, controller: Controller
) -> None:
    _window, dialog = open_about(qtbot, controller)
    summary = dialog.findChild(QLabel, "aboutSummary")
    assert summary is not None  # the suite's keyring is a real Secret Service
    assert summary.text().endswith(f"tokens only in {DESKTOP_KEYRING}.")
    assert "org.freedesktop.secrets" not in summary.text() and "org.freedesktop.secrets" in summary.toolTip()
    dialog.reject()
    assert keyring_words("macOS Keychain") == ("your keyring (macOS Keychain)", "")
    assert (
        keyring_words("file /p/secrets.json (not encrypted)")[0]
        == "a file /p/secrets.json (not encrypted) instead of a keyring"
    )
