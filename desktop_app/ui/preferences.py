"""Preferences: the app's few settings in one window, each applied the moment it changes (GNOME HIG "Preferences",
KDE's settings dialog without Apply), with a Close button. Ctrl+, or File > Preferences… opens it, and so does the
tray's "Preferences…" (``MainWindow.open_preferences``).

Every control reads what is stored when the window opens and writes through at once: start at login (an XDG
autostart entry, ``desktop_app.app.autostart``, handed in by the app), starting when an AI tool uses a connector
(``bridge.app_link.START_APP_SETTING``), pausing background renewal (the running ``BackgroundRefresher``, as the
tray's item), which notifications the tray shows (:mod:`desktop_app.ui.notify_settings`) and the defaults for new
tools (:class:`~desktop_app.ui.tool_defaults.ToolDefaultsSection`). A setting that cannot apply here is not shown as
a dead check box: a line says why instead (docs/decisions/0033-preferences-about-filter.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QMargins, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGroupBox,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop_app.bridge.app_link import START_APP_SETTING
from desktop_app.errors import ConnectorError
from desktop_app.tools.control import ToolControl
from desktop_app.ui import colours, notify_settings, plain
from desktop_app.ui.errors import ErrorReport, describe, show_error
from desktop_app.ui.notify_settings import Kind, Settings
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.tool_defaults import ToolDefaultsSection


class Autostart(Protocol):
    """Start at login (``desktop_app.app.autostart`` is one, as a module)."""

    def is_enabled(self) -> bool: ...
    def set_enabled(self, enabled: bool) -> Path: ...
    def entry_path(self) -> Path: ...


#: The notification check boxes: (kind, object name, label).
NOTIFICATIONS: tuple[tuple[Kind, str, str], ...] = (
    ("sign_in", "notifySignIn", "An account must sign in again"),
    ("reviews", "notifyReviews", "Tools wait for your review"),
    ("expiring", "notifyExpiring", "A sign-in that cannot be renewed expires soon"),
)


#: Room left around the window on the screen: the frame, its title bar and the desktop's panel.
SCREEN_MARGIN = QSize(32, 64)
#: The page's width, in average characters of its font, when the screen allows it: its explanations wrap in two
#: lines or three, not four, with a larger font too.
WIDTH_CHARS = 105


def _note(text: str) -> QLabel:
    note = plain.label(text, wrap=True)
    colours.set_text_colour(note, colours.secondary(note))  # secondary, still 4.5:1 in light and dark palettes
    note.setObjectName("preferenceNote")
    note.setIndent(24)
    return note


def _check(name: str, text: str, checked: bool, then: Callable[[bool], None]) -> QCheckBox:
    box = QCheckBox(text)
    box.setObjectName(name)
    box.setChecked(checked)
    box.toggled.connect(then)
    return box


def _set_quietly(box: QCheckBox, checked: bool) -> None:
    """Show ``checked`` without writing it again (a failed write going back, the tray's change seen here)."""
    box.blockSignals(True)
    box.setChecked(checked)
    box.blockSignals(False)


class PreferencesDialog(QDialog):
    def __init__(
        self,
        registry: Settings,
        tool_control: ToolControl,
        *,
        refresher: BackgroundRefresher | None,
        autostart: Autostart | None,
        tray: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.setWindowTitle("Preferences")
        self.registry = registry
        self.refresher = refresher
        self.autostart = autostart
        page = QWidget()
        page.setObjectName("preferencesPage")
        layout = QVBoxLayout(page)
        layout.addWidget(self._starting())
        layout.addWidget(self._renewal())
        layout.addWidget(self._notifications(tray))
        tools = QGroupBox("New tools")
        tools.setObjectName("toolsGroup")
        self.tool_defaults = ToolDefaultsSection(tool_control, instant=True)
        QVBoxLayout(tools).addWidget(self.tool_defaults)
        layout.addWidget(tools)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("preferencesScroll")
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(page)
        self.scroll_area = scroll
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        outer = QVBoxLayout(self)
        outer.addWidget(scroll)
        outer.addWidget(buttons)
        self._fit(page)

    # -- sections ------------------------------------------------------------------------------------------
    def _starting(self) -> QGroupBox:
        group = QGroupBox("Starting")
        group.setObjectName("startingGroup")
        layout = QVBoxLayout(group)
        self.start_at_login: QCheckBox | None = None
        if self.autostart is not None:
            self.start_at_login = _check(
                "startAtLogin", "Start at login", self.autostart.is_enabled(), self._set_start_at_login
            )
            layout.addWidget(self.start_at_login)
            layout.addWidget(_note("The app starts in the tray when you log in and keeps your sign-ins renewed."))
        else:
            unsupported = _note(
                "Starting at login is not offered on this system yet: add the app to your desktop's startup "
                "programs to have it start then."
            )
            unsupported.setObjectName("startAtLoginUnsupported")
            unsupported.setIndent(0)
            layout.addWidget(unsupported)
        self.start_for_tools = _check(
            "startForAiTools",
            "Start when an AI tool uses a connector",
            self._read(START_APP_SETTING) != "off",
            lambda on: self._write(self.start_for_tools, START_APP_SETTING, "on" if on else "off"),
        )
        layout.addWidget(self.start_for_tools)
        layout.addWidget(
            _note(
                "When an AI tool starts one of your connectors and this app is not running, it starts in the tray, "
                "so that it can ask you to sign in again or approve more permissions."
            )
        )
        return group

    def _renewal(self) -> QGroupBox:
        group = QGroupBox("Background renewal")
        group.setObjectName("renewalGroup")
        layout = QVBoxLayout(group)
        self.pause: QCheckBox | None = None
        if self.refresher is None:
            group.hide()  # no renewal runs in this window (a test's window): nothing to pause
            return group
        refresher = self.refresher
        self.pause = _check("pauseRenewal", "Pause background renewal", refresher.paused, refresher.set_paused)
        layout.addWidget(self.pause)
        layout.addWidget(
            _note(
                "While paused, no sign-in is renewed ahead of its expiry. Renewal resumes when you turn this off or "
                "start the app again."
            )
        )
        # The tray's item may pause or resume it while this is open (a slot of this dialog: gone with it).
        refresher.sig_activity_changed.connect(self._show_pause)
        return group

    def _show_pause(self) -> None:
        if self.pause is not None and self.refresher is not None:
            _set_quietly(self.pause, self.refresher.paused)

    def _notifications(self, tray: bool) -> QGroupBox:
        group = QGroupBox("Notifications")
        group.setObjectName("notificationsGroup")
        layout = QVBoxLayout(group)
        self.notify: dict[Kind, QCheckBox] = {}
        if not tray:
            none = _note(
                "This desktop shows no tray icon, so the app sends no notifications: the window shows what needs you."
            )
            none.setObjectName("notificationsUnavailable")
            none.setIndent(0)
            layout.addWidget(none)
            return group
        layout.addWidget(plain.label("Show a notification when:", wrap=True))
        for kind, name, text in NOTIFICATIONS:
            box = _check(name, text, notify_settings.allowed(self.registry, kind), self._notifier(kind))
            self.notify[kind] = box
            layout.addWidget(box)
        layout.addWidget(_note("The tray icon and its menu show what needs you either way."))
        return group

    # -- writing through -----------------------------------------------------------------------------------
    def _read(self, key: str) -> str | None:
        try:
            return self.registry.get_setting(key)
        except ConnectorError:
            return None

    def _write(self, box: QCheckBox, key: str, value: str) -> None:
        try:
            self.registry.set_setting(key, value)
        except ConnectorError as exc:
            _set_quietly(box, not box.isChecked())
            show_error(self, describe(exc, title="Saving a preference"))

    def _notifier(self, kind: Kind) -> Callable[[bool], None]:
        return lambda on: self._notify(kind, on)

    def _notify(self, kind: Kind, on: bool) -> None:
        try:
            notify_settings.set_allowed(self.registry, kind, on)
        except ConnectorError as exc:
            _set_quietly(self.notify[kind], not on)
            show_error(self, describe(exc, title="Saving a preference"))

    def _set_start_at_login(self, on: bool) -> None:
        if self.autostart is None or self.start_at_login is None:
            return
        try:
            self.autostart.set_enabled(on)
        except OSError as exc:
            _set_quietly(self.start_at_login, self.autostart.is_enabled())
            path = self.autostart.entry_path()
            show_error(
                self,
                ErrorReport(
                    "Start at login",
                    f"The app could not {'write' if on else 'remove'} its login entry: {exc.strerror or exc}.",
                    f"Check that you may write to {path.parent}, then try again.",
                    f"{path}: {exc}",
                ),
            )

    # -- size ----------------------------------------------------------------------------------------------
    def _fit(self, page: QWidget) -> None:
        """As large as its content at a comfortable width (explanations wrapped at :data:`WIDTH_CHARS`, not at their
        narrowest), but never larger than the screen's free area: the rest scrolls, Close stays in view (as Server
        settings does)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        free = screen.availableGeometry().size() if screen is not None else QSize(1280, 720)
        layout = self.layout()
        margins = layout.contentsMargins() if layout is not None else QMargins()
        spacing = layout.spacing() if layout is not None else 0
        bar = self.scroll_area.verticalScrollBar().sizeHint().width()
        room = free.width() - SCREEN_MARGIN.width() - bar - margins.left() - margins.right()
        wide = self.fontMetrics().averageCharWidth() * WIDTH_CHARS
        inner = min(max(wide, page.sizeHint().width()), room)
        height = page.heightForWidth(inner) if page.hasHeightForWidth() else -1
        wanted = QSize(
            inner + bar + margins.left() + margins.right(),
            (height if height > 0 else page.sizeHint().height())
            + self.close_button.sizeHint().height()
            + 2 * spacing
            + margins.top()
            + margins.bottom(),
        )
        self.resize(wanted.boundedTo(free - SCREEN_MARGIN))
