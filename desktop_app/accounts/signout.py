"""Ending sign-ins: revoking tokens (RFC 7009) where the authorization server offers it, then forgetting them.

Revocation is best effort: a failure is reported, never a reason to keep the secrets of an account the person
signed out. The order of writes is crash-safe: the vault key is noted for deletion before the account is marked
signed out, so a crash anywhere leaves either a signed-in account with its secrets, or a signed-out one whose
secret the next start deletes.
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
from desktop_app.errors import ConnectorError, UnsupportedTokenType
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
class Revocation:
    revoked: tuple[str, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]


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
            bundle = await self.tokens.read_async(account, missing_ok=True)
            result = Revocation((), (), ())
            if bundle is not None:
                result = await self.revoke(http, account, bundle.tokens, trace)
            if result.revoked:
                detail = f"revoked {' and '.join(result.revoked)} at {account.issuer}"
            elif result.problems:
                detail = "not revoked: " + "; ".join(result.problems)
            else:
                detail = "nothing to revoke"
            key = account_secret_key(account.key)
            registry.note_pending_secret(key, now=self.stores.clock())
            saved = registry.set_state(
                account.id, AccountState.SIGNED_OUT, now=self.stores.clock(), event_kind="signed_out", detail=detail
            )
            await self.stores.offload(functools.partial(self.stores.secrets.delete, key))
            registry.clear_pending_secret(key)
        return SignOutResult(saved, result.revoked, result.problems, result.notes)

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
