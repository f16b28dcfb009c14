"""Background renewal: keeps every account fresh ahead of expiry and says when a person must act.

The plan (``accounts.scheduler.RefreshPlan``) decides when; this object arms one :class:`WallClockTimer` for the
earliest deadline and renews through the controller (``Controller.renew``: the same per-account cross-process lock
as every CLI call and other instance, so it never races them). After each renewal the account is read back from the
registry and planned again: a transient failure has raised its ``failures`` (backoff), an authorization failure has
put it in "needs sign-in".

Accounts that turn "needs sign-in" within a short window are reported together (``sig_needs_sign_in`` once, with all
of them): one notification, not one per account. Accounts without a refresh token are reported a few minutes before
they expire (``sig_expiring``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QNetworkInformation

from desktop_app.accounts.models import Account, AccountState
from desktop_app.accounts.scheduler import Due, RefreshPlan
from desktop_app.ui.controller import Controller
from desktop_app.ui.jobs import Job
from desktop_app.ui.wallclock import WallClockTimer

log = logging.getLogger(__name__)

#: Accounts turning "needs sign-in" within this long are reported in one notification (ms).
ATTENTION_BATCH_MS = 1500


class BackgroundRefresher(QObject):
    #: Accounts that now need a sign-in (a tuple of Account), reported once per batch.
    sig_needs_sign_in = Signal(object)
    #: Accounts without a refresh token that expire soon (a tuple of Account).
    sig_expiring = Signal(object)
    #: Renewals started or finished, or paused/resumed (the tray redraws its icon).
    sig_activity_changed = Signal()

    def __init__(
        self,
        controller: Controller,
        *,
        clock: Callable[[], float] = time.time,
        timer: WallClockTimer | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.clock = clock
        self.plan = RefreshPlan()
        self.timer = timer if timer is not None else WallClockTimer(self)
        self.timer.sig_due.connect(self._fire)
        self.paused = False
        self.started = False
        self.renewals = 0
        self.wakeups = 0
        self._running: dict[int, Job] = {}
        self._attention: dict[int, Account] = {}
        self._attention_timer = QTimer(self)
        self._attention_timer.setSingleShot(True)
        self._attention_timer.setInterval(ATTENTION_BATCH_MS)
        self._attention_timer.timeout.connect(self._report_attention)
        controller.sig_changed.connect(self.reschedule)
        self._network_watch: QObject | None = None

    # -- control -------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.started = True
        self._watch_network()
        self.reschedule()

    def stop(self) -> None:
        self.started = False
        self.timer.arm(None)

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        log.info("Background renewal %s", "paused" if paused else "resumed")
        self.reschedule()
        self.sig_activity_changed.emit()

    @property
    def working(self) -> bool:
        return bool(self._running)

    def reschedule(self) -> None:
        """The profile changed (sign-in, sign-out, a renewal elsewhere): plan every account again and re-arm."""
        if not self.started:
            return
        self.plan.replace_all(self.controller.accounts.registry.accounts(), self.clock())
        self._arm()

    def network_back(self) -> None:
        """The network came back: accounts waiting out a backoff after a failure are retried now."""
        if not self.started:
            return
        count = self.plan.retry_failing_now(self.controller.accounts.registry.accounts(), self.clock())
        if count:
            log.info("Network back: retrying %d account(s) now", count)
        self._arm()

    def _arm(self) -> None:
        at = None if self.paused else self.plan.next_at()
        self.timer.arm(at)

    # -- firing --------------------------------------------------------------------------------------------
    def _fire(self) -> None:
        self.wakeups += 1
        if self.paused or not self.started:
            return
        due = self.plan.pop_due(self.clock())
        expiring: list[Account] = []
        for entry in due:
            account = self.controller.account(entry.account_id)
            if account is None or account.state is not AccountState.SIGNED_IN:
                self.plan.finished(None, self.clock(), account_id=entry.account_id)
                continue
            if entry.kind == "expiry_warning":
                expiring.append(account)
            else:
                self._renew(account, entry)
        if expiring:
            self.sig_expiring.emit(tuple(expiring))
        self._arm()

    def _renew(self, account: Account, entry: Due) -> None:
        log.info("Renewing %s ahead of expiry", account.label)
        job = self.controller.renew(account)
        self._running[account.id] = job
        self.sig_activity_changed.emit()
        job.sig_done.connect(lambda: self._renewed(account.id))

    def _renewed(self, account_id: int) -> None:
        self._running.pop(account_id, None)
        self.renewals += 1
        account = self.controller.account(account_id)
        self.plan.finished(account, self.clock(), account_id=account_id)
        if account is not None and account.state is AccountState.NEEDS_SIGN_IN:
            self._attention[account.id] = account
            self._attention_timer.start()
        self._arm()
        self.sig_activity_changed.emit()

    def _report_attention(self) -> None:
        accounts = tuple(self._attention.values())
        self._attention.clear()
        if accounts:
            self.sig_needs_sign_in.emit(accounts)

    # -- the network ---------------------------------------------------------------------------------------
    def _watch_network(self) -> None:
        """Retry failed renewals when the network comes back (QNetworkInformation, where a backend exists)."""
        if self._network_watch is not None:
            return
        if not QNetworkInformation.loadDefaultBackend():
            log.info("No network information backend: failed renewals retry on their backoff only")
            return
        info = QNetworkInformation.instance()
        if info is None:
            return
        self._network_watch = info

        def changed(reachability: QNetworkInformation.Reachability) -> None:
            if reachability == QNetworkInformation.Reachability.Online:
                self.network_back()

        info.reachabilityChanged.connect(changed)
