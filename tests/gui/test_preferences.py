"""Preferences (issue 17 item 16): Ctrl+, opens it; each control writes through at once and changes what the app
does (the login entry written in XDG_CONFIG_HOME, background renewal paused, a notification kind no longer shown,
the bridge's start setting, the defaults for new tools); reopened, it shows what is stored; what cannot apply here
is explained, not a dead check box; it fits 1280x720 with a 1.5x font."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QCheckBox, QLabel, QMessageBox

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, ServerSettings
from desktop_app.app import autostart
from desktop_app.bridge.app_link import START_APP_SETTING
from desktop_app.desktop import entry
from desktop_app.tools.model import ToolSettings
from desktop_app.ui import notify_settings
from desktop_app.ui.controller import Controller
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.preferences import WIDTH_CHARS, PreferencesDialog
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.tray import Tray
from tests.gui.conftest import wait_until
from tests.gui.sizes import SMALL_SCREEN, large_font, shown_whole, text_fits
from tests.gui.test_window_keys import sign_in


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
async def window(qtbot, controller: Controller, config_home: Path) -> MainWindow:
    """The window as the app wires it on Linux with a tray: the refresher and start at login handed in."""
    made = MainWindow(controller, hosts=lambda: [], live=lambda: [])
    qtbot.addWidget(made)
    made.refresher = BackgroundRefresher(controller, parent=made)
    made.autostart = autostart
    made.tray_mode = True
    made.show()
    made.activateWindow()
    await wait_until(lambda: QApplication.activeWindow() is made, what="the window active")
    return made


def opened(window: MainWindow) -> PreferencesDialog:
    found = [d for d in window.dialogs if isinstance(d, PreferencesDialog)]
    assert len(found) == 1
    return found[0]


def box(dialog: PreferencesDialog, name: str) -> QCheckBox:
    found = dialog.findChild(QCheckBox, name)
    assert found is not None, name
    return found


def signed_in(accounts: Accounts) -> Account:
    url = "https://files.example/mcp"
    server = accounts.registry.add_server(url=url, resource=url, name="files", settings=ServerSettings(), now=0)
    return sign_in(accounts, server, "alice@files")


async def test_each_preference_writes_through_and_is_read_back(
    qtbot, window: MainWindow, controller: Controller, config_home: Path
) -> None:
    registry = controller.accounts.registry
    refresher = window.refresher
    assert refresher is not None
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    await wait_until(lambda: any(isinstance(d, PreferencesDialog) for d in window.dialogs), what="Preferences")
    dialog = opened(window)
    assert dialog.windowTitle() == "Preferences" and dialog.close_button is not None
    defaults = {
        name: box(dialog, name).isChecked()
        for name in ("startAtLogin", "startForAiTools", "pauseRenewal", "notifySignIn", "notifyReviews")
    }
    assert defaults == {
        "startAtLogin": False,
        "startForAiTools": True,
        "pauseRenewal": False,
        "notifySignIn": True,
        "notifyReviews": True,
    }
    entry_file = config_home / "autostart" / entry.FILE_NAME

    box(dialog, "startAtLogin").click()
    assert entry_file.is_file() and autostart.HIDDEN_FLAG in entry_file.read_text(encoding="utf-8")
    box(dialog, "startForAiTools").click()
    assert registry.get_setting(START_APP_SETTING) == "off"
    box(dialog, "pauseRenewal").click()
    assert refresher.paused
    box(dialog, "notifyExpiring").click()
    assert not notify_settings.allowed(registry, "expiring") and notify_settings.allowed(registry, "sign_in")
    box(dialog, "destructiveOff").click()
    assert controller.tool_control.settings() == ToolSettings(destructive_off=True, new_need_approval=True)

    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)  # nothing more to save: Close is all
    await wait_until(lambda: dialog not in window.dialogs, what="Preferences closed")
    window.act_preferences.trigger()
    again = opened(window)
    assert again is not dialog
    stored = {
        name: box(again, name).isChecked()
        for name in ("startAtLogin", "startForAiTools", "pauseRenewal", "notifyExpiring", "destructiveOff")
    }
    assert stored == dict.fromkeys(stored, True) | {"startForAiTools": False, "notifyExpiring": False}

    box(again, "startAtLogin").click()  # and back
    assert not entry_file.exists()
    box(again, "pauseRenewal").click()
    assert not refresher.paused
    window.open_preferences()  # the tray's "Preferences…" while it is open: the same window, not a second
    assert opened(window) is again
    again.reject()


async def test_the_pause_check_box_follows_the_tray(qtbot, window: MainWindow) -> None:
    window.open_preferences()
    dialog = opened(window)
    assert window.refresher is not None
    window.refresher.set_paused(True)  # the tray's "Pause background renewal"
    assert box(dialog, "pauseRenewal").isChecked()
    window.refresher.set_paused(False)
    assert not box(dialog, "pauseRenewal").isChecked()
    dialog.reject()


async def test_a_notification_turned_off_is_not_shown(
    qtbot, window: MainWindow, controller: Controller, accounts: Accounts
) -> None:
    account = signed_in(accounts)
    assert window.refresher is not None
    tray = Tray(controller, window.refresher, live=lambda: [])
    shown: list[str] = []
    tray.icon.showMessage = lambda title, *_rest: shown.append(title)  # type: ignore[method-assign]
    window.open_preferences()
    dialog = opened(window)

    box(dialog, "notifySignIn").click()
    box(dialog, "notifyExpiring").click()
    needing = accounts.mark_needs_sign_in(account, "The refresh token was refused.")
    window.refresher.sig_needs_sign_in.emit((needing,))
    window.refresher.sig_expiring.emit((account,))
    assert shown == [] and tray.last_message is None
    assert "1 needs sign-in" in tray.icon.toolTip()  # the icon still says it

    box(dialog, "notifyReviews").click()
    controller.tool_control.observe(account.id, [{"name": "echo", "inputSchema": {"type": "object"}}])
    controller.tool_control.observe(
        account.id, [{"name": "echo", "description": "Now mails.", "inputSchema": {"type": "object"}}]
    )
    controller.sig_changed.emit()
    assert shown == [] and tray.reviews.waiting  # waiting, counted, not announced

    box(dialog, "notifySignIn").click()  # on again
    window.refresher.sig_needs_sign_in.emit((needing,))
    assert len(shown) == 1 and shown[0].startswith("Sign in again")
    dialog.reject()


async def test_what_cannot_apply_here_is_explained_not_a_dead_check_box(
    qtbot, window: MainWindow, config_home: Path
) -> None:
    window.autostart = None  # not Linux: no login entry written by this version
    window.tray_mode = False  # no tray on this desktop: no notifications at all
    window.refresher = None
    window.open_preferences()
    dialog = opened(window)
    names = {b.objectName() for b in dialog.findChildren(QCheckBox)}
    assert "startAtLogin" not in names and not names & {"notifySignIn", "notifyReviews", "notifyExpiring"}
    assert "startForAiTools" in names and "destructiveOff" in names
    for name in ("startAtLoginUnsupported", "notificationsUnavailable"):
        note = dialog.findChild(QLabel, name)
        assert note is not None and note.isVisible() and note.text()
    assert not (config_home / "autostart").exists()
    dialog.reject()


async def test_a_login_entry_that_cannot_be_written_is_said_and_the_box_goes_back(
    qtbot, window: MainWindow, config_home: Path
) -> None:
    config_home.parent.mkdir(parents=True, exist_ok=True)
    config_home.write_text("not a folder", encoding="utf-8")  # so the autostart folder cannot be made
    window.open_preferences()
    dialog = opened(window)
    start = box(dialog, "startAtLogin")
    start.click()
    assert not start.isChecked()
    message = next(m for m in dialog.findChildren(QMessageBox) if m.isVisible())
    assert "could not write its login entry" in message.text()
    assert str(config_home / "autostart") in message.informativeText()
    message.reject()
    dialog.reject()


async def test_preferences_fit_a_small_screen_with_a_large_font(qtbot, window: MainWindow) -> None:
    with large_font():
        window.open_preferences()
        dialog = opened(window)
        await wait_until(dialog.isVisible, what="Preferences shown")
        screen = dialog.screen().availableGeometry().size()
        assert dialog.width() <= screen.width() and dialog.height() <= screen.height()  # opens within the screen
        assert dialog.minimumSizeHint().boundedTo(SMALL_SCREEN) == dialog.minimumSizeHint()
        dialog.resize(dialog.size().boundedTo(SMALL_SCREEN))
        await wait_until(lambda: dialog.height() <= SMALL_SCREEN.height(), what="resized")
        assert shown_whole(dialog.close_button, dialog) and text_fits(dialog.close_button, "Close")
        assert dialog.scroll_area.horizontalScrollBar().maximum() == 0  # nothing cut at the right edge
        for check in dialog.findChildren(QCheckBox):
            assert text_fits(check, check.text()), check.objectName()
        dialog.reject()


async def test_preferences_open_wide_enough_that_explanations_wrap_in_few_lines(qtbot, window: MainWindow) -> None:
    window.open_preferences()
    dialog = opened(window)
    await wait_until(dialog.isVisible, what="Preferences shown")
    page = dialog.scroll_area.widget()
    wide = min(dialog.fontMetrics().averageCharWidth() * WIDTH_CHARS, dialog.screen().availableGeometry().width() - 100)
    assert page is not None and page.width() >= wide  # not the narrowest width its wrapped labels allow
    dialog.reject()


def test_ctrl_comma_is_preferences_and_server_settings_moved_to_alt_return(qtbot, controller: Controller) -> None:
    window = MainWindow(controller, hosts=lambda: [], live=lambda: [])
    qtbot.addWidget(window)
    assert window.act_preferences.shortcut().toString() == "Ctrl+,"
    assert window.act_settings.shortcut().toString() == "Alt+Return"
    menus = {a.text(): [b.objectName() for b in a.menu().actions()] for a in window.menuBar().actions()}
    assert "preferences" in menus["&File"] and "toolDefaults" not in menus["&File"]
