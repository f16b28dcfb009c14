"""Ending sign-ins: revoking tokens (RFC 7009) where the authorization server offers it, then forgetting them.

Signing out keeps the account (shown as signed out, ready to sign in again); removing it deletes the account and
its history too, and the server's own history records the removal. Revocation is best effort: a failure is reported,
never a reason to keep the secrets of an account the person signed out or removed. The order of writes is
crash-safe: the vault key is noted for deletion before the account is marked signed out (or deleted), so a crash
anywhere leaves either the account with its secrets, or a signed-out or deleted one whose secret the next start
deletes (:meth:`desktop_app.accounts.manager.Accounts.clean_pending_secrets`).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import httpx

from desktop_app.accounts.models import Account, AccountState, account_secret_key
from desktop_app.accounts.ports import Stores
from desktop_app.accounts.registrations import PersistentRegistrationStore, metadata_from_json
from desktop_app.accounts.renewal import account_lock
from desktop_app.accounts.stored import StoredTokens
from desktop_app.errors import AccountRemoved, ConnectorError, SecretStoreError, SignInRequired, UnsupportedTokenType
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.tokens import revoke_token
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import Trace

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SignOutResult:
    account: Account
    #: Tokens the authorization server confirmed revoked (RFC 7009), e.g. ("refresh_token", "access_token").
    revoked: tuple[str, ...]
    #: Why revocation did not happen or failed (the local sign-out happened regardless).
    problems: tuple[str, ...]
    #: What the person may want to know that is not a failure (e.g. a self-contained token that cannot be revoked).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RemovedAccount(SignOutResult):
    """What removing an account did: ``account`` as it was just before it was deleted; ``problems`` also name a
    vault entry that could not be deleted now (the next start deletes it)."""


@dataclass(frozen=True, slots=True)
class Revocation:
    revoked: tuple[str, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]


def _summary(result: Revocation, issuer: str) -> str:
    """What a revocation did, for the activity log."""
    if result.revoked:
        return f"revoked {' and '.join(result.revoked)} at {issuer}"
    if result.problems:
        return "not revoked: " + "; ".join(result.problems)
    return "nothing to revoke"


def _human_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.0f} hours"


async def discard_tokens(
    http: httpx.AsyncClient,
    metadata: AuthorizationServerMetadata,
    registration: ClientRegistration,
    tokens: TokenSet,
    trace: Trace,
) -> None:
    """Tokens the app will not keep: revoke them where possible (best effort, errors only logged)."""
    if not metadata.revocation_endpoint:
        return
    for value, hint in ((tokens.refresh_token, "refresh_token"), (tokens.access_token, "access_token")):
        if value is None:
            continue
        try:
            await revoke_token(
                http, metadata.revocation_endpoint, registration, value, token_type_hint=hint, trace=trace
            )
        except ConnectorError as exc:
            log.info("Could not revoke a discarded %s at %s: %s", hint, metadata.issuer, exc.code)


class SignOut:
    """Revocation and sign-out of stored accounts."""

    def __init__(self, stores: Stores, tokens: StoredTokens, registrations: PersistentRegistrationStore) -> None:
        self.stores = stores
        self.tokens = tokens
        self.registrations = registrations

    async def logout(self, http: httpx.AsyncClient, account: Account, *, trace: Trace | None = None) -> SignOutResult:
        """Revoke where offered, then delete the secrets and mark the account signed out."""
        trace = trace if trace is not None else Trace()
        registry = self.stores.registry
        async with account_lock(self.stores, account):
            result = await self._revoke_stored(http, account, trace)
            key = account_secret_key(account.key)
            registry.note_pending_secret(key, now=self.stores.clock())
            saved = registry.set_state(
                account.id,
                AccountState.SIGNED_OUT,
                now=self.stores.clock(),
                event_kind="signed_out",
                detail=_summary(result, account.issuer),
            )
            await self.stores.offload(functools.partial(self.stores.secrets.delete, key))
            registry.clear_pending_secret(key)
        return SignOutResult(saved, result.revoked, result.problems, result.notes)

    async def remove(self, http: httpx.AsyncClient, account: Account, *, trace: Trace | None = None) -> RemovedAccount:
        """Revoke where offered, then delete the account (with its activity) and its secrets; an event in the
        server's activity says so. The server, its settings, its approval and its other accounts stay.

        Stored tokens that cannot be read are no reason to keep the account (nothing could be revoked: said in
        ``problems``); a keyring that cannot be used is (:class:`SecretStoreError`, nothing changed). An account
        already removed elsewhere: :class:`AccountRemoved`."""
        trace = trace if trace is not None else Trace()
        registry = self.stores.registry
        async with account_lock(self.stores, account):
            current = registry.account(account.id)
            if current is None:
                raise AccountRemoved(f"The account {account.display_name} no longer exists.")
            try:
                result = await self._revoke_stored(http, current, trace)
            except SignInRequired as exc:  # the stored tokens cannot be read: nothing to revoke them with
                result = Revocation((), (f"nothing was revoked: {exc.message}",), ())
            key = account_secret_key(current.key)
            registry.note_pending_secret(key, now=self.stores.clock())
            registry.delete_account(current.id)
            self._record_removal(current, result)
            problems = list(result.problems)
            try:
                await self.stores.offload(functools.partial(self.stores.secrets.delete, key))
            except SecretStoreError as exc:  # the note stays: the next start deletes it
                problems.append(exc.message)
            else:
                registry.clear_pending_secret(key)
        log.info("Removed account %s of server %s", current.id, current.server_id)
        return RemovedAccount(current, result.revoked, tuple(problems), result.notes)

    def _record_removal(self, account: Account, result: Revocation) -> None:
        """The removal in the server's activity (the account's own went with it): who, and what was revoked."""
        detail = f"{account.display_name}: {_summary(result, account.issuer)}"
        try:
            self.stores.registry.add_event(
                server_id=account.server_id,
                account_id=None,
                kind="account_removed",
                detail=detail,
                now=self.stores.clock(),
            )
        except ConnectorError as exc:  # the server removed meanwhile, or the database busy: only a record is lost
            log.info("Could not record the removal of account %s: %s", account.id, exc.code)

    async def _revoke_stored(self, http: httpx.AsyncClient, account: Account, trace: Trace) -> Revocation:
        """Revoke the account's stored tokens, if it has any (a signed-out account has none)."""
        bundle = await self.tokens.read_async(account, missing_ok=True)
        if bundle is None:
            return Revocation((), (), ())
        return await self.revoke(http, account, bundle.tokens, trace)

    async def revoke(
        self, http: httpx.AsyncClient, account: Account, tokens: TokenSet, trace: Trace | None = None
    ) -> Revocation:
        """Revoke the refresh token, then the access token."""
        trace = trace if trace is not None else Trace()
        registry = self.stores.registry
        cached = registry.metadata(account.issuer)
        endpoint = metadata_from_json(cached).revocation_endpoint if cached else None
        if not endpoint:
            return Revocation(
                (), (f"{account.issuer} offers no revocation endpoint; the tokens expire by themselves.",), ()
            )
        stored = registry.registration(account.issuer, account.client_id)
        if stored is None:
            return Revocation(
                (), (f"This app's registration at {account.issuer} is gone; nothing could be revoked.",), ()
            )
        try:
            registration = self.registrations.load(stored)
        except ConnectorError as exc:
            return Revocation((), (exc.message,), ())
        revoked: list[str] = []
        problems: list[str] = []
        notes: list[str] = []
        # The refresh token first: revoking it usually ends the grant, and its access tokens with it.
        for value, hint in ((tokens.refresh_token, "refresh_token"), (tokens.access_token, "access_token")):
            if value is None:
                continue
            name = hint.replace("_", " ")
            try:
                await revoke_token(http, endpoint, registration, value, token_type_hint=hint, trace=trace)
            except UnsupportedTokenType:
                # RFC 7009 §2.2.1: this server cannot revoke that kind of token (e.g. a self-contained JWT).
                until = ""
                if hint == "access_token" and tokens.expires_at is not None:
                    until = " in " + _human_seconds(tokens.expires_at - self.stores.clock())
                notes.append(f"{account.issuer} cannot revoke the {name}; it stops working by itself{until}.")
            except ConnectorError as exc:
                problems.append(f"revoking the {name} failed: {exc.message}")
            else:
                revoked.append(hint)
        return Revocation(tuple(revoked), tuple(problems), tuple(notes))

    async def revoke_moved(self, http: httpx.AsyncClient, old: Account, tokens: TokenSet, trace: Trace) -> None:
        """After an account followed its server to another authorization server: end the grant at the old one (best
        effort: a failure is logged and recorded, never a reason to undo the new sign-in)."""
        result = await self.revoke(http, old, tokens, trace)
        if result.revoked:
            detail = f"revoked the old sign-in's {' and '.join(result.revoked)} at {old.issuer}"
        else:
            detail = f"the old sign-in at {old.issuer} was not revoked: " + "; ".join((*result.problems, *result.notes))
        log.info("Account %s moved from %s: %s", old.id, old.issuer, "revoked" if result.revoked else "not revoked")
        self.stores.registry.add_event(
            server_id=old.server_id,
            account_id=old.id,
            kind="old_sign_in_revoked",
            detail=detail,
            now=self.stores.clock(),
        )
