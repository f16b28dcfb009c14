"""The bridge's tokens: the account's stored token, renewed ahead of expiry and after a refusal, never shown.

The host never sees a token: the bridge reads it from the profile's secret store and attaches it to requests
(``oauth.auth.BearerAuth``). It keeps the token in memory until it is about to expire (the rule the tray and
``token`` use, ``accounts.stored.renewal_leeway``), then reads the store again first: another process may have
renewed it. A renewal itself is ``renew``'s business (the same per-account lock as every other process); the bridge
only reads what it stored.

A step-up (the server wants more scopes) cannot be approved from here: :class:`MorePermissionsNeeded` names them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.accounts.ports import Registry, SecretStore
from desktop_app.accounts.stored import fresh_token, renewal_leeway, stored_token
from desktop_app.errors import MorePermissionsNeeded, ServerUnavailable, SignInRequired
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.tokenset import TokenSet

#: Renews ``account``'s stored tokens (``force``: even when they look fresh; ``rejected``: the token the server
#: refused, so that a renewal another process already made is not repeated). Raises the typed error when it cannot.
Renew = Callable[[Account, bool, TokenSet | None], Awaitable[None]]
#: Asks the running app to sign the account in again with these scopes (it shows the pairing); False: no app.
AskStepUp = Callable[[tuple[str, ...]], bool]
#: How long a request waits for the person to approve a step-up in the app (seconds).
STEP_UP_WAIT = 120.0
_STEP_UP_POLL = 0.5


class BridgeTokens:
    """A :class:`~desktop_app.oauth.auth.TokenSource` for one stored account of one server."""

    def __init__(
        self,
        registry: Registry,
        secrets: SecretStore,
        server: Server,
        account: Account,
        *,
        renew: Renew,
        ask_step_up: AskStepUp = lambda scopes: False,
        step_up_wait: float = STEP_UP_WAIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ask_step_up = ask_step_up
        self._step_up_wait = step_up_wait
        self._registry = registry
        self._secrets = secrets
        self.server = server
        self.account = account
        self._renew = renew
        self._clock = clock
        self._tokens: TokenSet | None = None
        self._renewing = asyncio.Lock()
        self._stepping = asyncio.Lock()
        #: How many renewals this bridge asked for (the activity it reports).
        self.renewals = 0

    @property
    def resource(self) -> str:
        return self.server.resource

    def _stored(self) -> TokenSet:
        return stored_token(self._registry, self._secrets, self.account, clock=self._clock)

    async def token(self) -> TokenSet:
        cached = self._tokens
        if cached is not None and not cached.is_expired(self._clock(), renewal_leeway(cached)) and self._signed_in():
            return cached
        async with self._renewing:  # requests that find the token expiring wait for one renewal
            cached = self._tokens
            if cached is not None and not cached.is_expired(self._clock(), renewal_leeway(cached)):
                return cached
            self._tokens = None
            fresh = fresh_token(self._registry, self._secrets, self.account, clock=self._clock)
            if fresh is None:
                self.renewals += 1
                await self._renew(self.account, False, None)
                fresh = self._stored()
            self._tokens = fresh
            return fresh

    def _signed_in(self) -> bool:
        """Still signed in, as the registry says now (signed out or removed in the app: the token is not used)."""
        current = self._registry.account(self.account.id)
        if current is not None and current.state is AccountState.SIGNED_IN:
            return True
        self._tokens = None
        return False

    async def renew(self, rejected: TokenSet, challenge: BearerChallenge | None) -> TokenSet:
        self._tokens = None
        self.renewals += 1
        await self._renew(self.account, True, rejected)
        fresh = self._stored()
        if fresh.access_token == rejected.access_token and fresh.refresh_token is not None:
            # Not renewed, though it could be: the authorization server is out of reach for now (the worker kept
            # the sign-in and recorded the trouble). Nothing is final: say so, and keep the login.
            raise ServerUnavailable(
                "server_unavailable",
                f"{self.server.name} refused the access token of {self.account.display_name}, and it could not be "
                "renewed right now.",
                hint="The sign-in is kept; try again in a moment.",
                url=self.resource,
            )
        if fresh.access_token == rejected.access_token:
            # Nothing to renew with: the server's refusal is final.
            self._registry.record_refresh_failure(
                self.account.id,
                code="rejected",
                message="the server refused the access token and it cannot be renewed",
                needs_sign_in=True,
                now=self._clock(),
            )
            raise SignInRequired(
                "sign_in_required",
                f"{self.server.name} refused the access token of {self.account.display_name}.",
                url=self.resource,
                account_id=self.account.id,
                server=self.server.name,
            )
        self._tokens = fresh
        return fresh

    async def step_up(self, scopes: tuple[str, ...], challenge: BearerChallenge) -> TokenSet:
        """The server wants ``scopes``: when the app runs, it shows the step-up's pairing and this request waits
        (at most ``step_up_wait``) for the account's stored token to carry them; else, or when the person did not
        approve in time, :class:`MorePermissionsNeeded` names them."""
        async with self._stepping:  # concurrent refusals ask the person once
            stored = self._stored()
            if set(scopes) <= set(stored.scopes):
                self._tokens = stored
                return stored
            return await self._wait_for_step_up(scopes)

    async def _wait_for_step_up(self, scopes: tuple[str, ...]) -> TokenSet:
        if self._ask_step_up(scopes):
            try:
                async with asyncio.timeout(self._step_up_wait):
                    while True:
                        await asyncio.sleep(_STEP_UP_POLL)
                        stored = self._stored()
                        if set(scopes) <= set(stored.scopes):
                            self._tokens = stored
                            return stored
            except TimeoutError:
                pass  # not approved in time: said below
        raise MorePermissionsNeeded(
            f"{self.server.name} asks for more permissions ({' '.join(scopes)}) than "
            f"{self.account.display_name} granted.",
            server=self.server.name,
            account_id=self.account.id,
            scopes=scopes,
            url=self.resource,
        )
