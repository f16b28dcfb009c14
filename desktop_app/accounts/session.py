"""A signed-in connection to one MCP server, with its tokens in memory.

This is the :class:`~desktop_app.oauth.auth.TokenSource` the bearer auth asks for tokens: it renews them (one
renewal at a time, and a caller that waited gets the token another caller already fetched), and it steps up when
the server asks for more scopes — after the person approved the new pairing. Persistent accounts (keyring, several
accounts per server, cross-process locks) build on the same interface.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from desktop_app.errors import ConnectorError, ConsentRefused, GrantExpired, SignInRequired, UserActionRequired
from desktop_app.oauth.auth import BearerAuth, merge_scopes
from desktop_app.oauth.authorize import Browser
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.discovery import fetch_protected_resource_metadata
from desktop_app.oauth.flow import NoAuthorizationNeeded, Pairing, SignIn, SignInOptions
from desktop_app.oauth.registration import RegistrationStore
from desktop_app.oauth.tokens import TokenSet, refresh_tokens
from desktop_app.oauth.trace import Trace

#: Asked before a browser opens. ``previous`` is the pairing already approved (for a step-up), else None.
Confirm = Callable[[Pairing, Pairing | None], Awaitable[bool]]


class MemorySession:
    """Tokens for one resource, renewed and stepped up on demand."""

    def __init__(
        self,
        signin: SignIn,
        tokens: TokenSet,
        *,
        browser: Browser,
        confirm: Confirm,
        approved: Pairing,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signin = signin
        self.tokens = tokens
        self._browser = browser
        self._confirm = confirm
        self._approved = approved
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def resource(self) -> str:
        return self.signin.resource

    async def token(self) -> TokenSet:
        current = self.tokens
        if current.is_expired(self._clock()) and current.refresh_token is not None:
            async with self._lock:
                if self.tokens is not current:
                    return self.tokens  # someone else renewed while we waited
                return await self._refresh(current)
        return current

    async def renew(self, rejected: TokenSet, challenge: BearerChallenge | None) -> TokenSet:
        """The server refused ``rejected``: follow it to a new authorization server if it moved, else refresh."""
        async with self._lock:
            if self.tokens is not rejected:
                return self.tokens  # someone else renewed while we waited
            discovery = self.signin.discovery
            assert discovery is not None
            if discovery.resource_metadata is not None or (challenge is not None and challenge.resource_metadata):
                moved = await self._moved(challenge, discovery.metadata.issuer)
                if moved is not None:
                    return await self._follow(moved)
            return await self._refresh(rejected)

    async def _refresh(self, rejected: TokenSet) -> TokenSet:
        discovery = self.signin.discovery
        registration = self.signin.registration
        assert discovery is not None and registration is not None
        if rejected.refresh_token is None:
            raise SignInRequired(
                "sign_in_required",
                f"The sign-in for {self.resource} has expired and cannot be renewed.",
                hint="Sign in again.",
                url=self.resource,
            )
        try:
            fresh = await refresh_tokens(
                self.signin.client,
                discovery.metadata.token_endpoint,
                registration,
                rejected,
                now=self._clock(),
                trace=self.signin.trace,
            )
        except GrantExpired as exc:
            raise SignInRequired(
                "sign_in_required",
                f"The sign-in for {self.resource} is no longer valid ({exc.message}).",
                hint="Sign in again.",
                url=self.resource,
            ) from exc
        except UserActionRequired as exc:
            if exc.code == "invalid_client" and registration.method == "dcr":
                self.signin.store.forget(registration.issuer)
            raise
        self.tokens = fresh
        return fresh

    async def _moved(self, challenge: BearerChallenge | None, issuer: str) -> SignIn | None:
        """RFC 9728 §5.2, MCP 2026-07-28 (SEP-2352): the server refused a token; does its metadata now name another
        authorization server? Then a new sign-in there (discovered, not yet registered), else None."""
        try:
            prm = await fetch_protected_resource_metadata(
                self.signin.client, self.resource, challenge, trace=self.signin.trace
            )
        except ConnectorError:
            return None  # unreadable now: the usual renewal goes on and says what is wrong, if anything
        if prm is None or issuer in prm.authorization_servers:
            return None
        moved = SignIn(
            self.signin.client,
            self.signin.server_url,
            # A client id given for the old authorization server is never presented to another one.
            options=dataclasses.replace(self.signin.options, preregistered=None),
            store=self.signin.store,
            trace=self.signin.trace,
            clock=self._clock,
        )
        await moved.discover_after(challenge, prm)
        return moved

    async def _follow(self, moved: SignIn) -> TokenSet:
        """Show the changed pairing (old → new authorization server); on approval register there and sign in."""
        async with moved:
            await moved.register()
            pairing = moved.pairing()
            if not await self._confirm(pairing, self._approved):
                raise ConsentRefused(
                    "consent_refused",
                    f"Signing in to {self.resource} at its new authorization server {pairing.issuer} was declined.",
                    url=self.resource,
                )
            tokens = await moved.authorize(self._browser)
        self.signin, self._approved, self.tokens = moved, pairing, tokens
        return tokens

    async def step_up(self, scopes: tuple[str, ...], challenge: BearerChallenge) -> TokenSet:
        async with self._lock:
            wanted = merge_scopes(self.signin.requested_scopes, scopes)
            pairing = self.signin.pairing(wanted)
            if not await self._confirm(pairing, self._approved):
                raise ConsentRefused(
                    "consent_refused",
                    f"More permissions for {self.resource} were declined ({' '.join(wanted)}).",
                    url=self.resource,
                )
            self.tokens = await self.signin.authorize(self._browser, scopes=wanted)
            self._approved = pairing
            return self.tokens


@dataclass(slots=True)
class Connection:
    """The result of :func:`connect`: ``auth`` is None when the server needs no sign-in."""

    signin: SignIn
    session: MemorySession | None
    auth: BearerAuth | None
    pairing: Pairing | None


async def connect(
    http: httpx.AsyncClient,
    server_url: str,
    probe_request: httpx.Request,
    *,
    fallback_probe: httpx.Request | None = None,
    options: SignInOptions,
    browser: Browser,
    confirm: Confirm,
    store: RegistrationStore | None = None,
    trace: Trace | None = None,
    on_url: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> Connection:
    """Discover, register, ask, sign in: the whole flow for one server.

    The sign-in is the first of the (at most :data:`~desktop_app.oauth.auth.MAX_AUTHORIZATIONS`) authorizations of
    the operation the returned ``auth`` serves: later step-ups count after it.
    """
    async with SignIn(http, server_url, options=options, store=store, trace=trace, clock=clock) as signin:
        try:
            await signin.discover(probe_request, fallback_probe)
        except NoAuthorizationNeeded:
            return Connection(signin, None, None, None)
        await signin.register()
        pairing = signin.pairing()
        if not await confirm(pairing, None):
            raise ConsentRefused("consent_refused", f"Signing in to {signin.resource} was declined.")
        tokens = await signin.authorize(browser, on_url=on_url)
    session = MemorySession(signin, tokens, browser=browser, confirm=confirm, approved=pairing, clock=clock)
    return Connection(signin, session, BearerAuth(session, authorizations=1), pairing)
