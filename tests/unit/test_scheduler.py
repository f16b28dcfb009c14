"""The renewal plan with an injected clock: renewed before expiry, never twice at once, no empty wake-up."""

from __future__ import annotations

import dataclasses
import random

import pytest

from desktop_app.accounts.models import Account, AccountState
from desktop_app.accounts.scheduler import (
    BACKOFF_CAP,
    MIN_LEAD,
    RefreshPlan,
    backoff,
    deadline,
    refresh_lead,
)

T0 = 1_800_000_000.0


def account(n: int, *, lifetime: float, obtained: float = T0, **changes: object) -> Account:
    base = Account(
        id=n,
        key=f"key{n}",
        server_id=1,
        issuer="https://as.example",
        client_id="c",
        subject=f"s{n}",
        label=f"user{n}",
        identity_source="id_token",
        login_hint=None,
        nickname=None,
        state=AccountState.SIGNED_IN,
        scopes=(),
        expires_at=obtained + lifetime,
        has_refresh_token=True,
        created_at=obtained,
        signed_in_at=obtained,
        last_refresh=None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_lead_rules() -> None:
    assert refresh_lead(3600) == 360  # 10 % of an hour
    assert refresh_lead(300) == MIN_LEAD  # at least a minute
    assert refresh_lead(30) == 15  # never more than half: a 30-second token renews after about 15 s
    assert refresh_lead(1) == 0.5
    assert [backoff(n) for n in (1, 2, 3)] == [15, 30, 60] and backoff(20) == BACKOFF_CAP


def test_thirty_second_token_is_not_renewed_in_a_loop() -> None:
    due = deadline(account(1, lifetime=30), T0)
    assert due is not None and T0 + 13.5 <= due.at <= T0 + 15


def test_not_signed_in_or_never_expiring_accounts_are_not_planned() -> None:
    assert deadline(account(1, lifetime=60, state=AccountState.NEEDS_SIGN_IN), T0) is None
    assert deadline(account(2, lifetime=60, state=AccountState.SIGNED_OUT), T0) is None
    assert deadline(account(3, lifetime=60, expires_at=None), T0) is None
    plan = RefreshPlan()
    plan.update([account(1, lifetime=60, state=AccountState.NEEDS_SIGN_IN)], T0)
    assert plan.next_at() is None  # nothing due: the caller arms no timer at all


def test_compressed_day_with_a_thousand_accounts() -> None:
    rng = random.Random(1234)
    # Mostly tokens of half an hour to a day, a few very short-lived ones (30 s, 1 min, 5 min).
    lifetimes = (
        [30.0] * 5 + [60.0] * 5 + [300.0] * 10 + [rng.choice([1800, 3600, 7200, 28800, 86400]) for _ in range(980)]
    )
    accounts = {
        n: account(n, lifetime=lifetimes[n - 1] * rng.uniform(0.8, 1.2), obtained=T0 - rng.uniform(0, 20))
        for n in range(1, 1001)
    }
    plan = RefreshPlan()
    plan.replace_all(accounts.values(), T0)
    now = T0
    wakeups = renewals = 0
    in_flight: set[int] = set()
    while True:
        at = plan.next_at()
        assert at is not None
        if at > T0 + 86400:
            break
        now = max(now, at)  # the timer fires at the deadline (or late, never early)
        due = plan.pop_due(now)
        wakeups += 1
        assert due, "a wake-up with nothing to do"
        for entry in due:
            assert entry.kind == "refresh"
            assert entry.account_id not in in_flight, "two renewals of one account at once"
            old = accounts[entry.account_id]
            assert old.expires_at is not None and now < old.expires_at, "renewed after it expired"
            in_flight.add(entry.account_id)
        # Half of the renewals finish before the next deadline, the others a little later (slow server):
        # a renewal still in flight must not be handed out again.
        for entry in due:
            old = accounts[entry.account_id]
            lifetime = old.expires_at - (old.last_refresh or old.signed_in_at)  # type: ignore[operator]
            renewed = dataclasses.replace(old, last_refresh=now, expires_at=now + lifetime)
            accounts[entry.account_id] = renewed
            in_flight.discard(entry.account_id)
            plan.finished(renewed, now)
            renewals += 1
    assert renewals > 1000
    assert wakeups <= renewals


def test_a_renewal_in_flight_is_never_handed_out_twice() -> None:
    plan = RefreshPlan()
    a = account(1, lifetime=30)
    plan.update([a], T0)
    assert len(plan.pop_due(T0 + 20)) == 1
    # Something else reports the account changed while the renewal runs: still not due again.
    plan.update([a], T0 + 21)
    assert plan.pop_due(T0 + 40) == []
    assert plan.next_at() is None
    plan.finished(dataclasses.replace(a, last_refresh=T0 + 22, expires_at=T0 + 52), T0 + 22)
    assert plan.next_at() is not None and plan.next_at() > T0 + 22  # type: ignore[operator]


def test_transient_failures_back_off_and_the_network_coming_back_retries_now() -> None:
    plan = RefreshPlan()
    a = account(1, lifetime=3600)
    plan.update([a], T0)
    assert len(plan.pop_due(T0 + 3300)) == 1
    failed = dataclasses.replace(a, failures=3, last_error="503")
    plan.finished(failed, T0 + 3300)
    assert plan.next_at() == pytest.approx(T0 + 3300 + backoff(3))
    assert plan.retry_failing_now([failed], T0 + 3310) == 1
    assert [d.account_id for d in plan.pop_due(T0 + 3310)] == [1]


def test_after_a_sleep_overdue_accounts_are_due_at_once() -> None:
    plan = RefreshPlan()
    plan.replace_all([account(n, lifetime=600) for n in range(1, 6)], T0)
    woke = T0 + 10_000  # the machine slept past every deadline (and past expiry)
    assert {d.account_id for d in plan.pop_due(woke)} == {1, 2, 3, 4, 5}


def test_accounts_without_refresh_token_are_warned_once_before_expiry() -> None:
    plan = RefreshPlan()
    a = account(1, lifetime=3600, has_refresh_token=False)
    plan.update([a], T0)
    assert plan.next_at() == T0 + 3600 - 300
    (due,) = plan.pop_due(T0 + 3300)
    assert due.kind == "expiry_warning"
    plan.update([a], T0 + 3301)  # the profile reloaded: no second warning for the same expiry
    assert plan.next_at() is None


def test_removed_accounts_leave_the_plan() -> None:
    plan = RefreshPlan()
    plan.replace_all([account(1, lifetime=600), account(2, lifetime=600)], T0)
    plan.replace_all([account(2, lifetime=600)], T0)
    assert {d.account_id for d in plan.pop_due(T0 + 10_000)} == {2}


def test_re_planning_an_unchanged_failing_account_keeps_its_retry_time() -> None:
    plan = RefreshPlan()
    failing = account(1, lifetime=3600, failures=2)
    plan.update([failing], T0)
    first = plan.next_at()
    plan.replace_all([failing], T0 + 20)  # something else changed in the profile
    assert plan.next_at() == first == T0 + backoff(2)
