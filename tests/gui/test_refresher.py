"""Background renewal against the lab with 5-second access tokens: fresh for a minute without a sign-in, an outage
survived, a revoked grant reported once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState, account_secret_key
from desktop_app.oauth.http import new_client
from desktop_app.storage.profile import open_accounts
from desktop_app.ui.controller import Controller
from desktop_app.ui.refresher import BackgroundRefresher
from tests.gui.conftest import SystemBrowser, wait_until
from tests.lab.accounts import whoami_with

pytestmark = pytest.mark.lab

TTL = 5


@pytest.fixture(scope="module")
def short_lived(lab_as_factory, lab_mcp_factory):  # type: ignore[no-untyped-def]
    auth = lab_as_factory(accessTokenTTL=TTL)
    mcp = lab_mcp_factory(auth, prm_mode="header")
    return auth, mcp


@pytest.fixture
async def signed_in(
    qapp: QApplication, accounts: Accounts, system_browser: SystemBrowser, short_lived
) -> AsyncIterator[tuple[Controller, BackgroundRefresher, list[Account]]]:
    _, mcp = short_lived
    controller = Controller(accounts, sign_in_timeout=30)
    server = controller.add_server(mcp.url)
    signed: list[Account] = []
    for user in ("alice", "bob"):
        system_browser.user = user
        job = controller.sign_in(server, new_account=bool(signed))
        job.sig_pairing_requested.connect(lambda _check, j=job: j.answer_pairing(True))
        signed.append((await job.wait()).account)
    refresher = BackgroundRefresher(controller)
    yield controller, refresher, signed
    refresher.stop()
    await controller.aclose()


async def test_accounts_stay_fresh_for_a_minute_without_signing_in(signed_in, short_lived, system_browser) -> None:
    controller, refresher, (alice, bob) = signed_in
    auth, mcp = short_lived
    browser_opens = len(system_browser.opened)
    auth.reset_requests()
    refresher.start()
    assert refresher.timer.kind == "timerfd"
    started = time.time()
    worst_margin = float("inf")
    while time.time() - started < 60:
        await asyncio.sleep(0.25)
        for account in (alice, bob):
            current = controller.account(account.id)
            assert current is not None and current.state is AccountState.SIGNED_IN, current
            assert current.expires_at is not None
            worst_margin = min(worst_margin, current.expires_at - time.time())
    assert worst_margin > 0, "an access token expired before it was renewed"
    # ~2.5 s lead on a 5 s token: about 24 renewals per account in a minute, never a loop.
    renewals = len(auth.token_requests())
    assert 2 * 15 <= renewals <= 2 * 40, renewals
    assert len(system_browser.opened) == browser_opens  # nobody was asked to sign in
    stored = controller.accounts.secrets.get(account_secret_key(alice.key))
    assert stored is not None
    answer = await whoami_with(stored["access_token"], mcp.url)  # the renewed token is accepted by the server
    subject = auth.users()["alice"]["sub"]
    assert subject in answer, "the MCP server did not answer with alice's subject"


async def test_an_outage_keeps_the_sign_in_and_it_recovers(signed_in, short_lived) -> None:
    controller, refresher, (alice, bob) = signed_in
    auth, _ = short_lived
    refresher.start()
    auth.outage("reset")
    try:
        await wait_until(lambda: (controller.account(alice.id).failures or 0) > 0, timeout=20, what="a failed renewal")
        await asyncio.sleep(TTL + 1)  # the access tokens expire during the outage
        for account in (alice, bob):
            current = controller.account(account.id)
            assert current.state is AccountState.SIGNED_IN and current.last_error, current
    finally:
        auth.outage("off")
    refresher.network_back()  # what QNetworkInformation reports when the network returns
    await wait_until(
        lambda: all(
            controller.account(a.id).failures == 0 and controller.account(a.id).expires_at > time.time()
            for a in (alice, bob)
        ),
        timeout=40,
        what="renewals after the outage",
    )


async def test_a_revoked_grant_needs_sign_in_with_one_notification(signed_in, short_lived) -> None:
    controller, refresher, (alice, bob) = signed_in
    auth, _ = short_lived
    notices: list[tuple[Account, ...]] = []
    refresher.sig_needs_sign_in.connect(notices.append)
    refresher.start()
    assert auth.revoke_grants("alice") >= 1 and auth.revoke_grants("bob") >= 1
    await wait_until(
        lambda: all(controller.account(a.id).state is AccountState.NEEDS_SIGN_IN for a in (alice, bob)),
        timeout=20,
        what="both accounts needing sign-in",
    )
    await wait_until(lambda: notices, timeout=5, what="the notification")
    await asyncio.sleep(3)  # nothing more arrives: one combined notification, and no renewal loop
    assert len(notices) == 1 and {a.id for a in notices[0]} == {alice.id, bob.id}
    assert refresher.plan.next_at() is None  # nothing left to renew: no timer armed
    assert refresher.timer.deadline is None


async def test_an_account_without_refresh_token_is_warned_before_it_expires(signed_in) -> None:
    controller, refresher, (alice, _bob) = signed_in
    now = time.time()
    controller.accounts.registry.record_refresh(
        alice.id, scopes=alice.scopes, expires_at=now + 4, has_refresh_token=False, now=now
    )
    warned: list[tuple[Account, ...]] = []
    refresher.sig_expiring.connect(warned.append)
    refresher.start()
    await wait_until(lambda: warned, timeout=10, what="the expiry warning")
    assert [a.id for a in warned[0]] == [alice.id]
    assert time.time() < now + 4  # before it expired


async def test_pausing_disarms_the_timer_and_resuming_re_arms_it(signed_in) -> None:
    _controller, refresher, _accounts = signed_in
    refresher.start()
    assert refresher.timer.deadline is not None
    refresher.set_paused(True)
    assert refresher.timer.deadline is None
    refresher.set_paused(False)
    assert refresher.timer.deadline is not None


async def test_quitting_lets_a_renewal_in_flight_store_the_rotated_refresh_token(signed_in, short_lived) -> None:
    """The lab rotates refresh tokens, and re-using a rotated one revokes the whole grant. Quitting while the
    answer to a renewal is on its way must store that answer first, or the login is lost at the next renewal."""
    controller, _refresher, (alice, bob) = signed_in
    auth, _ = short_lived
    auth.reset_requests()
    auth.outage("slow", delay_ms=1500)  # the AS rotates at once; its answer arrives 1.5 s later
    try:
        job = controller.renew(alice)
        await wait_until(lambda: auth.token_requests(), timeout=10, what="the renewal reaching the AS")
        await controller.aclose(grace=10)  # what Quit (or SIGTERM) does
    finally:
        auth.outage("off")
    assert job.error is None and not job.cancelled, (job.error, job.cancelled)
    # A later process (the next start of the app) renews with what was stored: the new refresh token works.
    later = open_accounts()
    try:
        async with new_client() as http:
            for account in (alice, bob):
                await later.token(http, account, force=True)
        for account in (alice, bob):
            assert later.registry.account(account.id).state is AccountState.SIGNED_IN  # type: ignore[union-attr]
    finally:
        later.registry.close()
