"""When to renew each account ahead of expiry: one plan for all accounts, earliest deadline first.

Pure logic with the time passed in: the tray's timer (``desktop_app.ui``) asks :meth:`RefreshPlan.next_at`, sleeps
until then (one timer, nothing when nothing is due) and takes what :meth:`RefreshPlan.pop_due` hands it. Deadlines
are wall-clock times (``expires_at`` is one), so after a sleep or a clock jump whatever is overdue is due at once.

- Renew at ``expires_at - lead``: lead = max(60 s, 10 % of the token's lifetime), never more than half the lifetime
  (a 30-second token renews after ~15 s, not in a loop), minus a little jitter so accounts don't fire together.
- After a transient failure, retry with exponential backoff (capped); the caller also retries when the network
  comes back (:meth:`RefreshPlan.retry_failing_now`).
- An account without a refresh token gets one warning a few minutes before it expires (it cannot be renewed).
- Accounts that are not signed in, or whose token never expires, are not in the plan.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from desktop_app.accounts.models import Account, AccountState

#: Renew at least this long before expiry (seconds)...
MIN_LEAD = 60.0
#: ...or this share of the token's lifetime when that is longer...
LEAD_FRACTION = 0.10
#: ...but never more than this share of it (short-lived tokens).
MAX_LEAD_FRACTION = 0.5
#: Jitter: up to this share of the lead, at most JITTER_MAX seconds, earlier than the exact deadline.
JITTER_FRACTION = 0.10
JITTER_MAX = 10.0
#: Retry after a transient failure: BACKOFF_BASE · 2^(failures-1), at most BACKOFF_CAP (seconds).
BACKOFF_BASE = 15.0
BACKOFF_CAP = 15 * 60.0
#: Warn this long before a token without a refresh token expires (at most half its lifetime).
EXPIRY_WARNING = 5 * 60.0

DueKind = Literal["refresh", "expiry_warning"]


@dataclass(frozen=True, slots=True)
class Due:
    account_id: int
    kind: DueKind
    #: When it is due (wall clock, seconds since the epoch).
    at: float
    #: The expiry this entry is about (a warning is given once per expiry).
    expires_at: float
    #: Consecutive transient failures when it was planned (a backoff is not restarted by re-planning).
    failures: int = 0


def lifetime_of(account: Account) -> float | None:
    """How long the current access token lives (seconds), from when it was obtained to ``expires_at``."""
    if account.expires_at is None:
        return None
    obtained = account.last_refresh or account.signed_in_at or account.created_at
    return max(1.0, account.expires_at - obtained)


def refresh_lead(lifetime: float) -> float:
    return min(max(MIN_LEAD, LEAD_FRACTION * lifetime), MAX_LEAD_FRACTION * lifetime)


def backoff(failures: int) -> float:
    return float(min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, failures - 1)))


def _jitter(account: Account, lead: float) -> float:
    """Stable for one (account, expiry): recomputing the plan never moves a deadline back and forth."""
    rng = random.Random(f"{account.key}:{account.expires_at}")  # noqa: S311 - spreading timers, not security
    return rng.uniform(0.0, min(JITTER_MAX, JITTER_FRACTION * lead))


def deadline(account: Account, now: float) -> Due | None:
    """When the account next needs attention, or None (not signed in, or never expires)."""
    if account.state is not AccountState.SIGNED_IN or account.expires_at is None:
        return None
    lifetime = lifetime_of(account)
    assert lifetime is not None
    if not account.has_refresh_token:
        warn_at = account.expires_at - min(EXPIRY_WARNING, MAX_LEAD_FRACTION * lifetime)
        return Due(account.id, "expiry_warning", warn_at, account.expires_at)
    if account.failures > 0:
        # A transient failure is on record: retry after the backoff (the failure happened "now" or before).
        return Due(account.id, "refresh", now + backoff(account.failures), account.expires_at, account.failures)
    lead = refresh_lead(lifetime)
    return Due(account.id, "refresh", account.expires_at - lead - _jitter(account, lead), account.expires_at)


class RefreshPlan:
    """The accounts' next deadlines in one heap (lazy deletion), plus what is being worked on."""

    def __init__(self) -> None:
        self._entries: dict[int, Due] = {}
        self._heap: list[tuple[float, int, int]] = []
        self._order = itertools.count()
        self._in_flight: set[int] = set()
        self._warned: set[tuple[int, float]] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, account_id: int) -> Due | None:
        return self._entries.get(account_id)

    def _put(self, due: Due) -> None:
        self._entries[due.account_id] = due
        heapq.heappush(self._heap, (due.at, next(self._order), due.account_id))

    def update(self, accounts: Iterable[Account], now: float) -> None:
        """Plan these accounts anew (after a sign-in, a renewal, a change elsewhere). Others are kept."""
        for account in accounts:
            if account.id in self._in_flight:
                continue  # planned again when its renewal finishes (never two at once)
            due = deadline(account, now)
            existing = self._entries.get(account.id)
            if (
                due is not None
                and existing is not None
                and (existing.kind, existing.expires_at, existing.failures) == (due.kind, due.expires_at, due.failures)
            ):
                continue  # unchanged: keep its deadline (re-planning must not push a retry back)
            self._entries.pop(account.id, None)
            if due is None:
                continue
            if due.kind == "expiry_warning" and (account.id, due.expires_at) in self._warned:
                continue
            self._put(due)

    def replace_all(self, accounts: Iterable[Account], now: float) -> None:
        """Plan exactly these accounts (the profile as it is now): removed accounts leave the plan."""
        accounts = list(accounts)
        keep = {a.id for a in accounts}
        for account_id in list(self._entries):
            if account_id not in keep:
                del self._entries[account_id]
        self.update(accounts, now)
        self._compact()

    def remove(self, account_id: int) -> None:
        self._entries.pop(account_id, None)

    def retry_failing_now(self, accounts: Iterable[Account], now: float) -> int:
        """The network came back: accounts waiting out a backoff are due now. Returns how many."""
        count = 0
        for account in accounts:
            entry = self._entries.get(account.id)
            if account.failures > 0 and entry is not None and entry.kind == "refresh" and entry.at > now:
                self._put(Due(account.id, "refresh", now, entry.expires_at, entry.failures))
                count += 1
        return count

    def next_at(self) -> float | None:
        """When the earliest entry is due (None: nothing planned; the caller arms no timer)."""
        while self._heap:
            at, _, account_id = self._heap[0]
            entry = self._entries.get(account_id)
            if entry is None or entry.at != at:
                heapq.heappop(self._heap)  # superseded or removed
                continue
            return at
        return None

    def pop_due(self, now: float) -> list[Due]:
        """Everything due at ``now``, marked in flight (call :meth:`finished` for each)."""
        due: list[Due] = []
        while (at := self.next_at()) is not None and at <= now:
            _, _, account_id = heapq.heappop(self._heap)
            entry = self._entries.pop(account_id)
            if entry.kind == "refresh":
                self._in_flight.add(account_id)
            else:
                self._warned.add((account_id, entry.expires_at))
            due.append(entry)
        return due

    def in_flight(self, account_id: int) -> bool:
        return account_id in self._in_flight

    def finished(self, account: Account | None, now: float, *, account_id: int | None = None) -> None:
        """A renewal ended (success or failure, as recorded on ``account``); plan its next deadline."""
        key = account.id if account is not None else account_id
        if key is not None:
            self._in_flight.discard(key)
            self._entries.pop(key, None)
        if account is not None:
            self.update([account], now)

    def _compact(self) -> None:
        if len(self._heap) > 4 * max(16, len(self._entries)):
            self._heap = [(e.at, next(self._order), e.account_id) for e in self._entries.values()]
            heapq.heapify(self._heap)
