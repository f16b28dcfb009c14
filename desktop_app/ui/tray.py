"""The tray icon: all good · a person must sign in · working, its tooltip counting accounts by state, its menu
(:mod:`desktop_app.ui.tray_menu`), one notification at a time.

The menu is rebuilt each time it opens (``aboutToShow``), so it always says what is true now. Notifications name
the account and its server ("alice@lab.test on Lab tickets must sign in again") and are combined: several accounts
turning "needs sign-in" together make one message that counts the others. Clicking a notification opens what *the
last one shown* was about, looked at again when clicked (:class:`Click`): the sign-in of the first account that
still needs it, else the window at that account, never a sign-in for an account signed in again since. Connectors
whose tools wait for a review are counted in the menu, and a batch of waiting tools the person was not told of
makes one message (:mod:`desktop_app.ui.review_notices`; what already waits when the app starts is counted, not
announced). Names are never markup or shortcuts there (:mod:`desktop_app.ui.plain`). How the window answers the
tray's requests: :mod:`desktop_app.ui.tray_links`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app import appinfo
from desktop_app.accounts.models import Account, AccountState
from desktop_app.bridge.presence import LiveBridge, live_bridges
from desktop_app.errors import ConnectorError, one_line
from desktop_app.storage.paths import data_dir
from desktop_app.ui import notify_settings, plain, text, tray_menu
from desktop_app.ui.account_form import needs_sign_in
from desktop_app.ui.controller import Controller
from desktop_app.ui.errors import describe
from desktop_app.ui.icons import badged_app_icon
from desktop_app.ui.refresher import BackgroundRefresher
from desktop_app.ui.review_notices import ReviewNotices, Reviews, connectors_waiting
from desktop_app.ui.tray_menu import MenuFacts, counts

log = logging.getLogger(__name__)

#: Tray states, as the icon shows them.
GOOD, ATTENTION, WORKING, IDLE = "good", "attention", "working", "idle"


def summary(accounts: list[Account], working: bool, now: float) -> tuple[str, str]:
    """(state, tooltip line) for the tray: the accounts counted by state ("3 signed in · 1 needs sign-in")."""
    live = [a for a in accounts if a.state is not AccountState.SIGNED_OUT]
    words = counts(accounts, now)
    if any(needs_sign_in(a, now) for a in live):
        return ATTENTION, words
    if working:
        return WORKING, f"{words} · renewing…"
    if not live:
        return IDLE, words
    return GOOD, words


@dataclass(frozen=True, slots=True)
class Click:
    """What clicking the last notification opens, decided again when it is clicked (nothing stale is opened)."""

    #: "sign_in": the first of ``ids`` that still needs it; "expiring": the first still expiring at ``expiry``;
    #: "review": the first connector still waiting; "account": the window at ``ids[0]``; "open": the window.
    kind: Literal["sign_in", "expiring", "review", "account", "open"]
    ids: tuple[int, ...] = ()
    expiry: tuple[float | None, ...] = ()


class Tray(QObject):
    sig_open_requested = Signal()
    #: The person chose "Sign in again…" (or clicked the notification) for this account id.
    sig_sign_in_requested = Signal(int)
    #: "Sign in…" on a server without an account (its id).
    sig_server_sign_in_requested = Signal(int)
    #: "Sign out…" for this account id: the window asks first, then signs out.
    sig_sign_out_requested = Signal(int)
    #: "Open in window" (or the account's row): the window at this account id.
    sig_show_account_requested = Signal(int)
    #: The window at this server id (a server without accounts).
    sig_show_server_requested = Signal(int)
    #: The person asked to review the waiting tools, starting with this account id's connector.
    sig_review_requested = Signal(int)
    sig_add_server_requested = Signal()
    sig_preferences_requested = Signal()
    sig_quit_requested = Signal()

    def __init__(
        self,
        controller: Controller,
        refresher: BackgroundRefresher,
        *,
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
        self.state = ""
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self._message_clicked)
        #: What clicking the last notification shown opens.
        self.click = Click("open")
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
        state, tip = summary(accounts, working, self.clock())
        if self.reviews.waiting:
            tip += f" · {connectors_waiting(self.reviews.connectors)}"
            state = ATTENTION if state in (GOOD, IDLE) else state
        if self.refresher.paused:
            tip += " · background renewal paused"
        if state != self.state:
            self.state = state
            self.icon.setIcon(badged_app_icon(state if state in (ATTENTION, WORKING) else None))
        self.icon.setToolTip(f"{appinfo.APP_NAME}\n{plain.shell(tip)}")

    def rebuild_menu(self) -> None:
        running = self.live()
        waiting = self._first_waiting()
        facts = MenuFacts(
            snapshot=self.controller.snapshot(),
            now=self.clock(),
            busy=self.controller.busy,
            in_use=frozenset(bridge.account_id for bridge in running),
            programs=tuple(bridge.launched_by for bridge in running),
            waiting=self.reviews.waiting,
            review_row=connectors_waiting(self.reviews.connectors) if waiting is not None else None,
            first_waiting=waiting,
            paused=self.refresher.paused,
        )
        tray_menu.fill(self.menu, facts, self)

    def menu_texts(self) -> list[str]:
        """What the menu shows, a submenu's rows indented under its title (a doubled ``&`` shows as one)."""
        return tray_menu.texts(self.menu)

    # -- what the menu's rows do (tray_menu.TrayCommands) ---------------------------------------------------
    def open_window(self) -> None:
        self.sig_open_requested.emit()

    def show_account(self, account_id: int) -> None:
        self.sig_show_account_requested.emit(account_id)

    def show_server(self, server_id: int) -> None:
        self.sig_show_server_requested.emit(server_id)

    def sign_in_again(self, account_id: int) -> None:
        self.sig_sign_in_requested.emit(account_id)

    def sign_in_server(self, server_id: int) -> None:
        self.sig_server_sign_in_requested.emit(server_id)

    def sign_out(self, account_id: int) -> None:
        self.sig_sign_out_requested.emit(account_id)

    def review(self, account_id: int) -> None:
        self.sig_review_requested.emit(account_id)

    def add_server(self) -> None:
        self.sig_add_server_requested.emit()

    def preferences(self) -> None:
        self.sig_preferences_requested.emit()

    def set_paused(self, paused: bool) -> None:
        self.refresher.set_paused(paused)

    def quit(self) -> None:
        self.sig_quit_requested.emit()

    def renew(self, account_id: int) -> None:
        """Renew now, in the background; a notification says how it went (the menu has closed)."""
        account = self.controller.account(account_id)
        if account is None or self.controller.busy(account_id) is not None:
            return
        job = self.controller.renew(account)
        job.sig_finished.connect(lambda _result: self._renewed(account_id, None))
        job.sig_failed.connect(lambda exc: self._renewed(account_id, exc))

    def _renewed(self, account_id: int, exc: BaseException | None) -> None:
        account = self.controller.account(account_id)
        if account is None:
            return
        who = self._who(account)
        if exc is None:
            left = (
                f"; access expires in {text.duration(account.expires_at - self.clock())}" if account.expires_at else ""
            )
            self.tell("Renewed", f"{who} is renewed{left}.", Click("account", (account_id,)), timeout_ms=5_000)
            return
        words = describe(exc, title=f"Renewing {account.label}").message
        if account.state is AccountState.NEEDS_SIGN_IN:
            click, then = Click("sign_in", (account_id,)), "Click to sign in again."
        else:
            click, then = Click("account", (account_id,)), "Click to see it in the window."
        self.tell(
            "Could not renew",
            f"{who}: {one_line(words, 300)} {then}",
            click,
            icon=QSystemTrayIcon.MessageIcon.Warning,
        )

    # -- notifications -------------------------------------------------------------------------------------
    def tell(
        self,
        title: str,
        words: str,
        click: Click,
        *,
        icon: QSystemTrayIcon.MessageIcon = QSystemTrayIcon.MessageIcon.Information,
        timeout_ms: int = 15_000,
    ) -> None:
        """Show one notification; ``click`` is what clicking it opens (it replaces the last one's)."""
        self.click = click
        self.icon.showMessage(plain.shell(title), plain.shell(words), icon, timeout_ms)

    def _who(self, account: Account) -> str:
        """ "alice@lab.test on Lab tickets": the account and its server, as a notification names them."""
        server = self.controller.server(account.server_id)
        where = f" on {one_line(server.name, 60)}" if server is not None else ""
        return f"{one_line(account.display_name, 60)}{where}"

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
        name = one_line(account.display_name, 60)
        others = self.reviews.connectors - 1
        more = f" and {others} more connector{'s' if others != 1 else ''}" if others else ""
        self.tell(
            "Tools to review",
            f"Tools of {name}{more} changed or are new: AI tools get them once you review them. Click to review.",
            Click("review", (account.id,)),
        )
        self.last_message = ("Tools to review", name, self.reviews.connectors)

    def notify_needs_sign_in(self, accounts: tuple[Account, ...]) -> None:
        """One message for all of them, naming the first with its server and counting the others; clicking it
        opens the sign-in of the first that still needs it."""
        first = self._who(accounts[0])
        others = len(accounts) - 1
        more = f" and {others} more account{'s' if others != 1 else ''}" if others else ""
        start = f" (starting with {one_line(accounts[0].display_name, 60)})" if others else ""
        # The title alone says it (GNOME HIG, notifications): where, or how many.
        server = self.controller.server(accounts[0].server_id)
        title = f"{len(accounts)} accounts must sign in again" if others else "Sign in again"
        if not others and server is not None:
            title = f"Sign in again to {one_line(server.name, 60)}"
        self.update_icon()
        if not notify_settings.allowed(self.controller.accounts.registry, "sign_in"):
            return
        self.tell(
            title,
            f"{first}{more} must sign in again. Click to sign in{start}.",
            Click("sign_in", tuple(a.id for a in accounts)),
            icon=QSystemTrayIcon.MessageIcon.Warning,
        )
        self.last_message = (title, one_line(accounts[0].display_name, 60), len(accounts))

    def notify_expiring(self, accounts: tuple[Account, ...]) -> None:
        if not notify_settings.allowed(self.controller.accounts.registry, "expiring"):
            return
        first = accounts[0]
        left = text.duration((first.expires_at or self.clock()) - self.clock())
        others = len(accounts) - 1
        more = f" and {others} more account{'s' if others != 1 else ''}" if others else ""
        self.tell(
            "Sign-in expires soon",
            f"{self._who(first)}{more} expires in {left} and cannot be renewed by itself. Click to sign in again.",
            Click("expiring", tuple(a.id for a in accounts), tuple(a.expires_at for a in accounts)),
        )
        self.last_message = ("Sign-in expires soon", one_line(first.display_name, 60), len(accounts))

    def _message_clicked(self) -> None:
        """Open what the last notification was about, as it is now: an account signed in again since, or removed,
        is not sent to a sign-in; the window opens at it instead (or on its own)."""
        click = self.click
        found = [a for i in click.ids if (a := self.controller.account(i)) is not None]
        if click.kind == "sign_in":
            target = next((a for a in found if a.state is AccountState.NEEDS_SIGN_IN), None)
        elif click.kind == "expiring":
            expiry = dict(zip(click.ids, click.expiry, strict=False))
            target = next(
                (a for a in found if a.state is not AccountState.SIGNED_OUT and a.expires_at == expiry.get(a.id)),
                None,
            )
        elif click.kind == "review":
            waiting = click.ids[0] if click.ids and click.ids[0] in self.reviews.waiting else self._first_waiting()
            if waiting is not None:
                self.sig_review_requested.emit(waiting)
                return
            target = None
        else:
            target = None
        if target is not None:
            self.sig_sign_in_requested.emit(target.id)
        elif found:
            self.sig_show_account_requested.emit(found[0].id)
        else:
            self.sig_open_requested.emit()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.sig_open_requested.emit()
