"""Renewing an account's tokens: ahead of expiry, when a server refused them, and never two at once.

- After taking the account's lock the keyring is read again: another process may have renewed already, and a
  rotated refresh token is never sent twice.
- The new bundle replaces the old one atomically (the store writes the new value before it forgets the old).
- Only the authorization server can end a login (``invalid_grant``, ``invalid_client``, a 401 after a fresh
  refresh). Network trouble, timeouts, 5xx and ``temporarily_unavailable`` keep everything and are retried.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager

import httpx

from desktop_app.accounts.models import Account
from desktop_app.accounts.ports import Stores
from desktop_app.accounts.registrations import PersistentRegistrationStore, metadata_from_json
from desktop_app.accounts.stored import StoredTokens, renewal_leeway
from desktop_app.errors import (
    ClientRefused,
    ConnectorError,
    GrantExpired,
    ProtocolViolation,
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


class Renewal:
    """Usable access tokens for stored accounts."""

    def __init__(
        self,
        stores: Stores,
        tokens: StoredTokens,
        registrations: PersistentRegistrationStore,
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.stores = stores
        self.tokens = tokens
        self.registrations = registrations
        self.retry_delays = retry_delays

    async def token(
        self, http: httpx.AsyncClient, account: Account, *, force: bool = False, trace: Trace | None = None
    ) -> TokenSet:
        """A usable access token for the account, renewed first when it is about to expire (or ``force``)."""
        account = self.tokens.usable(account)
        bundle = await self.tokens.read_async(account)
        assert bundle is not None
        if not force and not bundle.tokens.is_expired(self.stores.clock(), renewal_leeway(bundle.tokens)):
            return bundle.tokens
        return await self._renew(http, account, bundle.tokens, force=force, trace=trace or Trace())

    async def _renew(
        self, http: httpx.AsyncClient, account: Account, stale: TokenSet, *, force: bool, trace: Trace
    ) -> TokenSet:
        async with account_lock(self.stores, account):
            account = self.tokens.usable(account)
            bundle = await self.tokens.read_async(account)
            assert bundle is not None
            current = bundle.tokens
            now = self.stores.clock()
            renewed_elsewhere = (
                current.access_token != stale.access_token or current.refresh_token != stale.refresh_token
            )
            if (renewed_elsewhere or not force) and not current.is_expired(now, renewal_leeway(current)):
                return current  # another process (or coroutine) renewed it while we waited
            if current.refresh_token is None:
                if current.is_expired(now, 0):
                    raise self.tokens.sign_in_needed(
                        account,
                        "expired",
                        "the access token expired and there is no refresh token",
                        f"The sign-in of {account.display_name} expired and cannot be renewed.",
                        "Sign in again.",
                    )
                return current  # no refresh token: keep using the access token until it expires
            return await self._refresh_locked(http, account, current, trace)

    async def _refresh_locked(
        self, http: httpx.AsyncClient, account: Account, current: TokenSet, trace: Trace
    ) -> TokenSet:
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
                    return current
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
        )
        return fresh

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
