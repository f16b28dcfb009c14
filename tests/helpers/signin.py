"""Signing in the way the app does (``Accounts`` on stores that keep nothing), for tests that need a sign-in without
a profile: the same path as ``connect``, ``login`` and the window.
"""

from __future__ import annotations

import time

import httpx

from desktop_app.accounts.consent import PairingCheck, check_pairing, consent_from
from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import ServerSettings
from desktop_app.accounts.session import Connection, connect
from desktop_app.accounts.signin import LoginResult
from desktop_app.oauth.authorize import Browser
from desktop_app.oauth.flow import Pairing
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import Trace
from desktop_app.storage.memory import memory_stores

#: Settings for a sign-in like ``connect``'s: no identity asked for (nothing is kept to name).
CONNECT_SETTINGS = ServerSettings(request_identity=False)


class Approver:
    """Plays the person answering the pairing question; remembers every check shown."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.checks: list[PairingCheck] = []

    async def __call__(self, check: PairingCheck) -> bool:
        self.checks.append(check)
        return self.answer

    @property
    def pairings(self) -> list[Pairing]:
        return [check.pairing for check in self.checks]


def memory_accounts(**options: object) -> Accounts:
    """``Accounts`` on stores that keep nothing (``options``: ``clock``, ``retry_delays``)."""
    registry, secrets, locks = memory_stores()
    return Accounts(registry, secrets, locks, **options)  # type: ignore[arg-type]


async def connect_once(
    http: httpx.AsyncClient,
    url: str,
    *,
    browser: Browser,
    approve: Approver | None = None,
    settings: ServerSettings = CONNECT_SETTINGS,
    client_secret: str | None = None,
    timeout: float = 10,
    trace: Trace | None = None,
    accounts: Accounts | None = None,
) -> Connection:
    """``connect``: add ``url`` to stores that keep nothing, sign in, and return the connection (its session renews
    and steps up the way the command line's does)."""
    return await connect(
        accounts if accounts is not None else memory_accounts(),
        http,
        url,
        browser=browser,
        approve=approve if approve is not None else Approver(),
        settings=settings,
        client_secret=client_secret,
        trace=trace,
        timeout=timeout,
    )


async def sign_in_once(
    http: httpx.AsyncClient,
    url: str,
    *,
    browser: Browser,
    approve: Approver | None = None,
    settings: ServerSettings = CONNECT_SETTINGS,
    timeout: float = 10,
    trace: Trace | None = None,
    accounts: Accounts | None = None,
) -> tuple[LoginResult, TokenSet]:
    """One sign-in (discover, register, approve, browser, exchange, identity, save) and the tokens it saved."""
    accounts = accounts if accounts is not None else memory_accounts()
    server = accounts.add_server(url, settings=settings)
    result = await accounts.login(
        http,
        server,
        browser=browser,
        approve=approve if approve is not None else Approver(),
        trace=trace,
        timeout=timeout,
    )
    tokens = await accounts.token(http, result.account)
    return result, tokens


def check_against(pairing: Pairing, previous: Pairing | None) -> PairingCheck:
    """``pairing`` compared with ``previous`` as if the person had approved that one (None: nothing approved yet)."""
    approved = None if previous is None else consent_from(previous, server_id=0, now=time.time())
    return check_pairing(pairing, approved)
