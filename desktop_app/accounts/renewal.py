"""Renewing an account's tokens: ahead of expiry, when a server refused them, and never two at once.

- After taking the account's lock the keyring is read again: another process may have renewed already, and a
  rotated refresh token is never sent twice.
- The new bundle replaces the old one atomically (the store writes the new value before it forgets the old).
- Only the authorization server can end a login (``invalid_grant``, ``invalid_client``, a 401 after a fresh
  refresh). Network trouble, timeouts, 5xx and ``temporarily_unavailable`` keep everything and are retried.
- Where the profile is on disk, the renewal runs in a process of its own (``renew_elsewhere``: the renewal worker,
  docs/decisions/0018), which finishes and stores it even when the process that asked is killed while it waits;
  :meth:`Renewal.renew_here` is what that worker runs. Stores that live in one process (``connect``'s, tests')
  renew here.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import httpx

from desktop_app.accounts.models import Account, renewed_detail
from desktop_app.accounts.ports import Stores
from desktop_app.accounts.registrations import PersistentRegistrationStore, metadata_from_json
from desktop_app.accounts.renewal_wire import Outcome, fingerprint
from desktop_app.accounts.stored import StoredTokens, renewal_leeway
from desktop_app.errors import (
    ClientRefused,
    ConnectorError,
    GrantExpired,
    ProtocolViolation,
    RenewerUnavailable,
    SecretStoreError,
    SignInRequired,
    TransientError,
    UserActionRequired,
)
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.discovery import fetch_protected_resource_metadata
from desktop_app.oauth.registration import forgotten
from desktop_app.oauth.tokens import refresh_tokens
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import Trace

log = logging.getLogger(__name__)

#: Waits between attempts when the authorization server has a transient problem (seconds).
RETRY_DELAYS = (0.5, 1.5)


def account_lock(stores: Stores, account: Account) -> AbstractAsyncContextManager[None]:
    return stores.locks.hold(account.key, what=f"the account {account.display_name}")


class RenewElsewhere(Protocol):
    """Renews ``account`` in a process of its own that finishes and stores the renewal even if the caller is killed
    meanwhile (:func:`desktop_app.accounts.renewer.renew_detached`, bound to the profile's folder), and returns when
    it is done: how it ended, or the error the renewal raised. ``seen``: :func:`fingerprint` of the tokens the
    caller read; the steps the renewal took are added to ``trace``. :class:`RenewerUnavailable` when that process
    cannot be started (nothing was sent anywhere)."""

    async def __call__(self, account: Account, *, force: bool, seen: str | None, trace: Trace) -> Outcome: ...


class Renewal:
    """Usable access tokens for stored accounts."""

    def __init__(
        self,
        stores: Stores,
        tokens: StoredTokens,
        registrations: PersistentRegistrationStore,
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        renew_elsewhere: RenewElsewhere | None = None,
    ) -> None:
        self.stores = stores
        self.tokens = tokens
        self.registrations = registrations
        self.retry_delays = retry_delays
        #: Where renewals run when not here (a profile on disk: the renewal worker); None: in this process.
        self.renew_elsewhere = renew_elsewhere

    async def token(
        self, http: httpx.AsyncClient, account: Account, *, force: bool = False, trace: Trace | None = None
    ) -> TokenSet:
        """A usable access token for the account, renewed first when it is about to expire (or ``force``)."""
        account = self.tokens.usable(account)
        bundle = await self.tokens.read_async(account)
        assert bundle is not None
        if not force and not bundle.tokens.is_expired(self.stores.clock(), renewal_leeway(bundle.tokens)):
            return bundle.tokens
        trace = trace if trace is not None else Trace()
        seen = fingerprint(bundle.tokens)
        if self.renew_elsewhere is not None:
            try:
                await self.renew_elsewhere(account, force=force, seen=seen, trace=trace)
            except RenewerUnavailable as exc:
                log.warning("%s; renewing %s in this process instead.", exc.message, account.id)
            else:
                renewed = await self.tokens.read_async(self.tokens.usable(account))
                assert renewed is not None
                return renewed.tokens
        tokens, _ = await self.renew_here(http, account, seen=seen, force=force, trace=trace)
        return tokens

    async def renew_here(
        self, http: httpx.AsyncClient, account: Account, *, seen: str | None, force: bool, trace: Trace
    ) -> tuple[TokenSet, Outcome]:
        """Renew in this process, under the account's lock: the tokens to use now and how the renewal ended.
        ``seen``: :func:`fingerprint` of the tokens the caller read before; when the stored ones differ now,
        another process renewed them meanwhile and they are used as they are (unless they are expiring too)."""
        async with account_lock(self.stores, account):
            account = self.tokens.usable(account)
            bundle = await self.tokens.read_async(account)
            assert bundle is not None
            current = bundle.tokens
            now = self.stores.clock()
            renewed_elsewhere = seen is not None and fingerprint(current) != seen
            if (renewed_elsewhere or not force) and not current.is_expired(now, renewal_leeway(current)):
                return current, Outcome.FRESH  # another process (or coroutine) renewed it while we waited
            if current.refresh_token is None:
                if current.is_expired(now, 0):
                    raise self.tokens.sign_in_needed(
                        account,
                        "expired",
                        "the access token expired and there is no refresh token",
                        f"The sign-in of {account.display_name} expired and cannot be renewed.",
                        "Sign in again.",
                    )
                return current, Outcome.KEPT  # no refresh token: keep using the access token until it expires
            return await self._refresh_locked(http, account, current, trace)

    async def _refresh_locked(
        self, http: httpx.AsyncClient, account: Account, current: TokenSet, trace: Trace
    ) -> tuple[TokenSet, Outcome]:
        registry = self.stores.registry
        cached = registry.metadata(account.issuer)
        if cached is None:
            raise SignInRequired(
                "metadata_missing",
                f"What is known about {account.issuer} was lost; {account.display_name} must sign in again.",
                hint="Sign in again.",
            )
        metadata = metadata_from_json(cached)
        stored = registry.registration(account.issuer, account.client_id)
        if stored is None:
            raise self.tokens.sign_in_needed(
                account,
                "registration_missing",
                "this app's registration at the authorization server is gone",
                f"This app's registration at {account.issuer} is gone; {account.display_name} must sign in again.",
                "Sign in again.",
            )
        registration = self.registrations.load(stored)
        attempt = 0
        while True:
            try:
                fresh = await refresh_tokens(
                    http, metadata.token_endpoint, registration, current, now=self.stores.clock(), trace=trace
                )
                break
            except TransientError as exc:
                if attempt < len(self.retry_delays):
                    await asyncio.sleep(self.retry_delays[attempt])
                    attempt += 1
                    continue
                self._record_trouble(account, exc)
                if not current.is_expired(self.stores.clock(), 0):
                    log.info("Renewing %s failed for now (%s); its token is still valid.", account.id, exc.code)
                    return current, Outcome.KEPT
                exc.hint = exc.hint or (
                    f"This is temporary: the sign-in of {account.display_name} is kept. Try again in a moment."
                )
                raise
            except UserActionRequired as exc:
                # Only the authorization server ends a login: a dead grant, or a client it refuses.
                dead = isinstance(exc, (GrantExpired, ClientRefused))
                self.stores.registry.record_refresh_failure(
                    account.id, code=exc.code, message=exc.message, needs_sign_in=dead, now=self.stores.clock()
                )
                if forgotten(registration, exc):
                    self.registrations.forget(registration.issuer)
                raise self.tokens.sign_in_required(
                    account,
                    "sign_in_required",
                    f"{account.display_name} must sign in again: {exc.message}",
                    url=account.issuer,
                ) from exc
            except ProtocolViolation as exc:
                # The server misbehaved; the login may still be fine. Keep it, report, and let the person retry.
                self._record_trouble(account, exc)
                raise
        try:
            await self.tokens.write_async(account.key, fresh)
        except SecretStoreError as exc:
            # The old refresh token was probably rotated away: never send it again, and say what happened.
            self.stores.registry.record_refresh_failure(
                account.id,
                code=exc.code,
                message=f"the renewed sign-in could not be saved ({exc.message})",
                needs_sign_in=True,
                now=self.stores.clock(),
            )
            raise
        self.stores.registry.record_refresh(
            account.id,
            scopes=fresh.scopes,
            expires_at=fresh.expires_at,
            has_refresh_token=fresh.refresh_token is not None,
            now=self.stores.clock(),
            detail=renewed_detail(fresh.expires_at),
        )
        return fresh, Outcome.RENEWED

    def _record_trouble(self, account: Account, exc: ConnectorError) -> None:
        """A renewal that failed without ending the login: shown where the account is listed."""
        self.stores.registry.record_refresh_failure(
            account.id, code=exc.code, message=exc.message, needs_sign_in=False, now=self.stores.clock()
        )

    def mark_needs_sign_in(self, account: Account, reason: str, *, code: str = "rejected") -> Account:
        """The resource refused a freshly renewed token (or similar): the person must sign in again."""
        return self.stores.registry.record_refresh_failure(
            account.id, code=code, message=reason, needs_sign_in=True, now=self.stores.clock()
        )

    async def moved_authorization_server(
        self, http: httpx.AsyncClient, resource: str, account: Account, challenge: BearerChallenge | None
    ) -> str | None:
        """The server refused the account's token: does its protected resource metadata, read again, name another
        authorization server than the account's (RFC 9728 §5.2)? Returns that issuer, or None (also when the metadata
        cannot be read now: the usual renewal then says what is wrong)."""
        try:
            prm = await fetch_protected_resource_metadata(http, resource, challenge, trace=Trace())
        except ConnectorError as exc:
            log.info("Could not read the metadata of %s again: %s", resource, exc.code)
            return None
        if prm is None or account.issuer in prm.authorization_servers:
            return None
        return prm.authorization_servers[0]
