"""A signed-in connection to one MCP server, with its tokens in memory.

This is the :class:`~desktop_app.oauth.auth.TokenSource` the bearer auth asks for tokens: it renews them (one
renewal at a time, and a caller that waited gets the token another caller already fetched), and it steps up when
the server asks for more scopes — after the person approved the new pairing. Persistent accounts (keyring, several
accounts per server, cross-process locks) build on the same interface.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from desktop_app.errors import ConsentRefused, GrantExpired, SignInRequired, UserActionRequired
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
            return await self.renew(current, None)
        return current

    async def renew(self, rejected: TokenSet, challenge: BearerChallenge | None) -> TokenSet:
        async with self._lock:
            if self.tokens is not rejected:
                return self.tokens  # someone else renewed while we waited
            if rejected.refresh_token is None:
                raise SignInRequired(
                    "sign_in_required",
                    f"The sign-in for {self.resource} has expired and cannot be renewed.",
                    hint="Sign in again.",
                    url=self.resource,
                )
            discovery = self.signin.discovery
            registration = self.signin.registration
            assert discovery is not None and registration is not None
            if challenge is not None and challenge.resource_metadata:
                await self._check_authorization_server(challenge, discovery.metadata.issuer)
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

    async def _check_authorization_server(self, challenge: BearerChallenge, issuer: str) -> None:
        """RFC 9728 §5.2: a new challenge naming metadata may mean the authorization server changed."""
        prm = await fetch_protected_resource_metadata(
            self.signin.client, self.resource, challenge, trace=self.signin.trace
        )
        if prm is not None and issuer not in prm.authorization_servers:
            raise SignInRequired(
                "authorization_server_changed",
                f"{self.resource} now uses the authorization server {prm.authorization_servers[0]} "
                f"instead of {issuer}.",
                hint="Sign in again; you will be shown the new pairing first.",
                url=self.resource,
            )

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
    auth: httpx.Auth | None
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
    """Discover, register, ask, sign in: the whole flow for one server."""
    signin = SignIn(http, server_url, options=options, store=store, trace=trace, clock=clock)
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
    return Connection(signin, session, BearerAuth(session), pairing)
