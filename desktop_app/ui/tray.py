"""The tray icon: all good · a person must sign in · working, a menu of every account, one notification at a time.

The menu is rebuilt each time it opens (``aboutToShow``), so it always says what is true now. Notifications are
combined: several accounts turning "needs sign-in" together make one message, whose click opens the sign-in of the
first of them (the others are listed in the menu with "Sign in again…"). Connectors whose tools wait for a review
are counted in the menu, and a batch of waiting tools the person was not told of makes one message
(:mod:`desktop_app.ui.review_notices`; what already waits when the app starts is counted, not announced). Names are
never markup or shortcuts there (:mod:`desktop_app.ui.plain`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app import appinfo
from desktop_app.accounts.models import Account, AccountState
from desktop_app.bridge.app_link import START_APP_SETTING
from desktop_app.bridge.presence import LiveBridge, live_bridges
from desktop_app.errors import ConnectorError, one_line
from desktop_app.storage.paths import data_dir
from desktop_app.ui import notify_settings, plain, text
from desktop_app.ui.controller import Controller
from desktop_app.ui.icons import icon_path
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.review_notices import ReviewNotices, Reviews, connectors_waiting

log = logging.getLogger(__name__)

#: Tray states, as the icon shows them.
GOOD, ATTENTION, WORKING, IDLE = "good", "attention", "working", "idle"


def tray_icon(state: str) -> QIcon:
    """The app icon with a badge for the state (none when all is good), drawn crisp at the usual tray sizes."""
    app = QSvgRenderer(icon_path("app"))
    badge = QSvgRenderer(icon_path(state)) if state in (ATTENTION, WORKING) else None
    result = QIcon()
    for size in (16, 22, 24, 32, 48, 64):
        pixmap = QPixmap(QSize(size, size))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        app.render(painter, QRectF(0, 0, size, size))
        if badge is not None:
            b = size * 0.6
            painter.setBrush(Qt.GlobalColor.white)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(QRectF(size - b, size - b, b, b))
            badge.render(painter, QRectF(size - b, size - b, b, b))
        painter.end()
        result.addPixmap(pixmap)
    return result


def summary(accounts: list[Account], working: bool) -> tuple[str, str]:
    """(state, tooltip line) for the tray."""
    live = [a for a in accounts if a.state is not AccountState.SIGNED_OUT]
    waiting = [a for a in live if a.state is AccountState.NEEDS_SIGN_IN]
    if waiting:
        names = ", ".join(one_line(a.display_name, 60) for a in waiting[:3]) + (" …" if len(waiting) > 3 else "")
        return ATTENTION, f"Sign in again: {names}"
    if working:
        return WORKING, "Renewing sign-ins…"
    if not live:
        return IDLE, "No accounts signed in"
    return GOOD, f"{len(live)} account{'s' if len(live) != 1 else ''} signed in, renewed ahead of expiry"


class Tray(QObject):
    sig_open_requested = Signal()
    #: The person chose "Sign in again…" (or clicked the notification) for this account id.
    sig_sign_in_requested = Signal(int)
    #: The person asked to review the waiting tools, starting with this account id's connector.
    sig_review_requested = Signal(int)
    sig_quit_requested = Signal()
    #: "Start at login" toggled (the app writes or removes the autostart entry).
    sig_autostart_toggled = Signal(bool)

    def __init__(
        self,
        controller: Controller,
        refresher: BackgroundRefresher,
        *,
        autostart_enabled: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.time,
        live: Callable[[], list[LiveBridge]] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        #: The bridges running now (``desktop_app.bridge.presence``): which connectors AI tools are using.
        self.live = live if live is not None else lambda: live_bridges(data_dir())
        self.controller = controller
        self.refresher = refresher
        self.clock = clock
        self._autostart_enabled = autostart_enabled
        self.state = ""
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self._message_clicked)
        self._notified: tuple[int, ...] = ()
        #: The connector whose review the last notification opens (None: it was not about reviews).
        self._review_first: int | None = None
        #: (title, first account, how many) of the last notification shown.
        self.last_message: tuple[str, str, int] | None = None
        self.review_notices = ReviewNotices(controller.tool_control)
        self.reviews = Reviews({}, news=False)
        self.update_reviews(notify=False)  # what waits at start is counted, not announced
        controller.sig_changed.connect(self.update_reviews)
        controller.sig_busy_changed.connect(lambda _id: self.update_icon())
        refresher.sig_activity_changed.connect(self.update_icon)
        refresher.sig_needs_sign_in.connect(self.notify_needs_sign_in)
        refresher.sig_expiring.connect(self.notify_expiring)
        self.rebuild_menu()
        self.update_icon()

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def update_icon(self) -> None:
        accounts = self.controller.accounts.registry.accounts()
        working = self.refresher.working or any(self.controller.busy(a.id) for a in accounts)
        state, tip = summary(accounts, working)
        if self.reviews.waiting:
            tip += f" · {connectors_waiting(self.reviews.connectors)}"
            state = ATTENTION if state in (GOOD, IDLE) else state
        if self.refresher.paused:
            tip += " · background renewal paused"
        if state != self.state:
            self.state = state
            self.icon.setIcon(tray_icon(state))
        self.icon.setToolTip(f"{appinfo.APP_NAME}\n{plain.shell(tip)}")

    def rebuild_menu(self) -> None:
        menu = self.menu
        menu.clear()
        now = self.clock()
        snapshot = self.controller.snapshot()
        running = self.live()
        in_use = {bridge.account_id for bridge in running}
        if not snapshot:
            empty = menu.addAction("No servers yet")
            empty.setEnabled(False)
        for server, accounts in snapshot:
            header = menu.addAction(plain.action(one_line(server.name, 80)))
            header.setEnabled(False)
            if not accounts:
                none = menu.addAction("    not signed in")
                none.setEnabled(False)
            for account in accounts:
                state, _ = text.account_state(account, now, self.controller.busy(account.id))
                if account.state is AccountState.NEEDS_SIGN_IN:
                    action = menu.addAction(plain.action(f"    {one_line(account.display_name, 60)} — Sign in again…"))
                    action.setObjectName(f"signInAgain_{account.id}")
                    action.triggered.connect(lambda _c=False, a=account.id: self.sig_sign_in_requested.emit(a))
                else:
                    used = " · in use" if account.id in in_use else ""
                    held = self.reviews.waiting.get(account.id)
                    review = f" · {held} tool{'s' if held != 1 else ''} to review" if held else ""
                    line = menu.addAction(
                        plain.action(f"    {one_line(account.display_name, 60)} — {state}{used}{review}")
                    )
                    line.setEnabled(False)
        first = self._first_waiting()
        if first is not None:
            review_row = menu.addAction(plain.action(connectors_waiting(self.reviews.connectors) + "…"))
            review_row.setObjectName("reviewTools")
            review_row.triggered.connect(lambda _c=False, a=first: self.sig_review_requested.emit(a))
        if running:
            programs = ", ".join(sorted({one_line(bridge.launched_by, 40) for bridge in running}))
            count = len(in_use)
            users = menu.addAction(
                plain.action(f"{count} connector{'s' if count != 1 else ''} in use by AI tools ({programs})")
            )
            users.setObjectName("connectorsInUse")
            users.setEnabled(False)
        menu.addSeparator()
        open_window = menu.addAction("Open Connector Manager")
        open_window.setObjectName("openWindow")
        open_window.triggered.connect(lambda _c=False: self.sig_open_requested.emit())
        pause = QAction("Pause background renewal", menu)
        pause.setObjectName("pauseRenewal")
        pause.setCheckable(True)
        pause.setChecked(self.refresher.paused)
        pause.toggled.connect(self.refresher.set_paused)
        menu.addAction(pause)
        autostart = QAction("Start at login", menu)
        autostart.setObjectName("autostart")
        autostart.setCheckable(True)
        autostart.setChecked(self._autostart_enabled())
        autostart.toggled.connect(self.sig_autostart_toggled.emit)
        menu.addAction(autostart)
        for_tools = QAction("Start when an AI tool uses a connector", menu)
        for_tools.setObjectName("startForAiTools")
        for_tools.setToolTip(
            "When an AI tool starts one of your connectors and this app is not running, it starts in the tray, so "
            "that it can ask you to sign in again or approve more permissions."
        )
        for_tools.setCheckable(True)
        registry = self.controller.accounts.registry
        for_tools.setChecked(registry.get_setting(START_APP_SETTING) != "off")
        for_tools.toggled.connect(lambda on: registry.set_setting(START_APP_SETTING, "on" if on else "off"))
        menu.addAction(for_tools)
        menu.addSeparator()
        quit_action = menu.addAction("Quit")
        quit_action.setObjectName("quit")
        quit_action.triggered.connect(lambda _c=False: self.sig_quit_requested.emit())

    def menu_texts(self) -> list[str]:
        """What the menu shows (a doubled ``&`` shows as one)."""
        return [a.text().replace("&&", "&") for a in self.menu.actions() if not a.isSeparator()]

    def update_reviews(self, *, notify: bool = True) -> None:
        """Count the connectors waiting for a review; one message for a batch not told of before."""
        try:
            self.reviews = self.review_notices.look()
        except ConnectorError as exc:  # the database busy: the next change looks again
            log.info("Could not count the tools waiting for a review: %s", exc.code)
        if notify and self.reviews.news:
            self.notify_reviews()
        self.update_icon()

    def _first_waiting(self) -> int | None:
        """The first connector (in the window's order) whose tools wait for a review."""
        for _server, accounts in self.controller.snapshot():
            for account in accounts:
                if account.id in self.reviews.waiting:
                    return account.id
        return None

    def notify_reviews(self) -> None:
        """One message for the batch; clicking it opens the window at the first connector waiting."""
        first = self._first_waiting()
        account = self.controller.account(first) if first is not None else None
        if account is None or not notify_settings.allowed(self.controller.accounts.registry, "reviews"):
            return
        self._notified, self._review_first = (), account.id
        name = one_line(account.display_name, 60)
        others = self.reviews.connectors - 1
        more = f" and {others} more connector{'s' if others != 1 else ''}" if others else ""
        self.icon.showMessage(
            "Tools to review",
            plain.shell(
                f"Tools of {name}{more} changed or are new: AI tools get them once you review them. Click to review."
            ),
            QSystemTrayIcon.MessageIcon.Information,
            15_000,
        )
        self.last_message = ("Tools to review", name, self.reviews.connectors)

    def notify_needs_sign_in(self, accounts: tuple[Account, ...]) -> None:
        """One message for all of them; clicking it opens the sign-in of the first."""
        if not notify_settings.allowed(self.controller.accounts.registry, "sign_in"):
            return self.update_icon()
        self._notified, self._review_first = tuple(a.id for a in accounts), None
        first = one_line(accounts[0].display_name, 60)
        more = f" and {len(accounts) - 1} more" if len(accounts) > 1 else ""
        reason = one_line(accounts[0].last_error or "the server ended the sign-in", 160)
        self.update_icon()
        self.icon.showMessage(
            "Sign in again",
            plain.shell(f"{first}{more} must sign in again ({reason}). Click to sign in."),
            QSystemTrayIcon.MessageIcon.Warning,
            15_000,
        )
        self.last_message = ("Sign in again", first, len(accounts))

    def notify_expiring(self, accounts: tuple[Account, ...]) -> None:
        if not notify_settings.allowed(self.controller.accounts.registry, "expiring"):
            return
        self._notified, self._review_first = tuple(a.id for a in accounts), None
        first = accounts[0]
        left = text.duration((first.expires_at or self.clock()) - self.clock())
        more = f" and {len(accounts) - 1} more" if len(accounts) > 1 else ""
        self.icon.showMessage(
            "Sign-in expires soon",
            plain.shell(
                f"{one_line(first.display_name, 60)}{more} expires in {left} and cannot be renewed by itself. "
                "Click to sign in again."
            ),
            QSystemTrayIcon.MessageIcon.Information,
            15_000,
        )
        self.last_message = ("Sign-in expires soon", one_line(first.display_name, 60), len(accounts))

    def _message_clicked(self) -> None:
        if self._review_first is not None:
            self.sig_review_requested.emit(self._review_first)
        elif self._notified:
            self.sig_sign_in_requested.emit(self._notified[0])
        else:
            self.sig_open_requested.emit()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.sig_open_requested.emit()
