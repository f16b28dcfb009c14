"""Signing an account in: the state machine's actions, carried out.

:class:`Login` runs one sign-in of a server for a new account, another account, or an account again (a renewal that
needs the person, a step-up with more scopes, a server that moved to another authorization server). The order of
the steps and what follows a refusal is :class:`~desktop_app.oauth.signin_machine.SignInMachine`'s; each method
here carries out one action and says what came of it as an event.

Nothing is written until the tokens are in hand and the identity is checked: signing in again as someone else
ends with :class:`~desktop_app.errors.WrongAccount` and leaves the account as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from desktop_app.accounts.consent import PairingCheck, check_pairing, consent_from
from desktop_app.accounts.identity import identity_scopes, resolve_identity
from desktop_app.accounts.models import (
    Account,
    AccountState,
    Consent,
    Identity,
    Server,
    TokenBundle,
    account_secret_key,
)
from desktop_app.accounts.ports import SignInRecord, Stores
from desktop_app.accounts.registrations import PersistentRegistrationStore, metadata_to_json
from desktop_app.accounts.signout import SignOut, discard_tokens
from desktop_app.accounts.stored import StoredTokens
from desktop_app.errors import (
    AuthorizationRequestRefused,
    ConfigurationError,
    ConsentRefused,
    InvalidClient,
    ProtocolViolation,
    WrongAccount,
)
from desktop_app.mcp import LEGACY_VERSIONS, build_probe_request
from desktop_app.oauth import signin_machine as m
from desktop_app.oauth.auth import merge_scopes
from desktop_app.oauth.authorize import Browser
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.flow import Discovery, Pairing, SignIn
from desktop_app.oauth.oidc import JwksCache
from desktop_app.oauth.pkce import random_token
from desktop_app.oauth.registration import ClientRegistration, forgotten
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import Trace

#: Asked before a browser opens, with the pairing and what changed since the last approval.
Approve = Callable[[PairingCheck], Awaitable[bool]]
#: Asked when no identity could be learned: a nickname for the new account (None: use a default).
AskNickname = Callable[[], Awaitable[str | None]]
#: Told each step the sign-in enters (the window shows it).
OnStep = Callable[[m.Step], None]


def clean_nickname(nickname: str | None) -> str | None:
    """A nickname as kept: one line of single spaces, or None; a refusal names what is wrong with it."""
    cleaned = " ".join((nickname or "").split()) or None
    if cleaned is not None and (len(cleaned) > 80 or cleaned.lower() == "mcp"):
        raise ConfigurationError(
            "invalid_nickname", f"The nickname {cleaned[:80]!r} is not usable.", hint="Choose a short name."
        )
    return cleaned


@dataclass(frozen=True, slots=True)
class LoginResult:
    account: Account
    created: bool
    check: PairingCheck


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What the person asked for, and how to reach them."""

    browser: Browser
    approve: Approve
    #: The account to sign in again (None: a first account, or ``new_account``).
    account: Account | None = None
    new_account: bool = False
    nickname: str | None = None
    ask_nickname: AskNickname | None = None
    on_url: Callable[[str], None] | None = None
    on_step: OnStep | None = None
    #: A step-up: what the server now asks for, on top of what was asked before.
    extra_scopes: tuple[str, ...] = ()


class Login:
    """One sign-in to ``server``, from the first request to the saved account."""

    def __init__(
        self,
        stores: Stores,
        *,
        tokens: StoredTokens,
        registrations: PersistentRegistrationStore,
        signout: SignOut,
        jwks: JwksCache,
        http: httpx.AsyncClient,
        signin: SignIn,
        server: Server,
        request: LoginRequest,
        trace: Trace,
    ) -> None:
        self.stores = stores
        self._tokens = tokens
        self._registrations = registrations
        self._signout = signout
        self._jwks = jwks
        self.http = http
        self.signin = signin
        self.server = server
        self.request = request
        self.trace = trace
        self.machine = m.SignInMachine()
        # What the steps learn, in the order they learn it.
        self._discovery: Discovery | None = None
        self._scopes: tuple[str, ...] = ()
        self._pairing: Pairing | None = None
        self._check: PairingCheck | None = None
        self._consent: Consent | None = None
        self._moved_from: str | None = None
        self._extra: dict[str, str] = {}
        self._nonce: str | None = None
        self._code: str | None = None
        self._fresh: TokenSet | None = None
        self._identity: Identity | None = None
        self._target: Account | None = None
        self._saved: Account | None = None

    async def run(self) -> LoginResult | None:
        """Sign in; None when the server answered without asking for a sign-in."""
        action = self._send(m.Start())
        while True:
            if isinstance(action, m.Finish):
                return self._result() if action.signed_in else None
            if isinstance(action, m.Fail):
                raise action.error
            if isinstance(action, m.Discard):
                await discard_tokens(self.http, self._metadata, self._registration, self._fresh_tokens, self.trace)
                raise action.error
            if isinstance(action, m.Stop):
                raise asyncio.CancelledError
            try:
                event = await self._carry_out(action)
            except asyncio.CancelledError:
                self._send(m.Cancelled())
                raise
            except Exception as exc:  # noqa: BLE001 - every failure ends the machine, which says how
                event = m.Failed(exc)
            action = self._send(event)

    def _send(self, event: m.Event) -> m.Action:
        action = self.machine.send(event)
        if self.request.on_step is not None:
            self.request.on_step(self.machine.step)
        return action

    async def _carry_out(self, action: m.Action) -> m.Event:
        if isinstance(action, m.Discover):
            return await self._discover()
        if isinstance(action, m.Register):
            return await self._register(action)
        if isinstance(action, m.AskApproval):
            return await self._ask_approval()
        if isinstance(action, m.OpenBrowser):
            return await self._open_browser(action)
        if isinstance(action, m.ExchangeCode):
            return await self._exchange()
        if isinstance(action, m.ResolveIdentity):
            return await self._resolve_identity()
        if isinstance(action, m.Save):
            return await self._save()
        raise AssertionError(f"no step carries out {action!r}")

    # -- what the steps learnt -----------------------------------------------------------------------------
    @property
    def _metadata(self) -> AuthorizationServerMetadata:
        assert self._discovery is not None
        return self._discovery.metadata

    @property
    def _registration(self) -> ClientRegistration:
        assert self.signin.registration is not None
        return self.signin.registration

    @property
    def _fresh_tokens(self) -> TokenSet:
        assert self._fresh is not None
        return self._fresh

    def _result(self) -> LoginResult:
        assert self._saved is not None and self._check is not None
        return LoginResult(self._saved, self._target is None, self._check)

    # -- the steps -----------------------------------------------------------------------------------------
    async def _discover(self) -> m.Event:
        url = self.server.url
        discovery = await self.signin.discover(build_probe_request(url), build_probe_request(url, LEGACY_VERSIONS[0]))
        if discovery is None:
            return m.NoSignInNeeded()
        self._discovery = discovery
        registry = self.stores.registry
        # Remembered for renewals, the 2025-03-26 default endpoints (no metadata anywhere) as much as discovered ones.
        registry.save_metadata(discovery.metadata.issuer, metadata_to_json(discovery.metadata), now=self.stores.clock())
        prm = discovery.resource_metadata
        if prm is not None and prm.resource_name and prm.resource_name != self.server.resource_name:
            self.server = registry.update_server(self.server.id, resource_name=prm.resource_name)
        return m.MetadataFound()

    async def _register(self, action: m.Register) -> m.Event:
        await self.signin.register(again=action.again, forget=action.forget)
        if self._check is None:
            self._check = self._pairing_check()
        return m.Registered(needs_approval=self._check.needs_approval)

    def _pairing_check(self) -> PairingCheck:
        """The pairing to show, compared with the approval on record; and what the request will say besides."""
        account, metadata = self.request.account, self._metadata
        scopes = self.signin.requested_scopes
        if self.request.extra_scopes:
            scopes = merge_scopes(merge_scopes(scopes, account.scopes if account else ()), self.request.extra_scopes)
        if self.server.settings.request_identity:
            scopes = merge_scopes(scopes, identity_scopes(metadata))
        self._scopes = scopes
        self._pairing = self.signin.pairing(scopes)
        check = check_pairing(self._pairing, self.stores.registry.consent(self.server.id))
        # The server moved to another authorization server (MCP 2026-07-28, SEP-2352): a person approves that for this
        # account, whatever the server's approval on record says (withdrawn, or given already when another account
        # moved); the old login_hint is not sent to the new server, the person picks who signs in there, and the
        # account takes the identity the new one reports; the old grant is revoked once the new sign-in is saved.
        if account is not None and account.issuer != metadata.issuer:
            self._moved_from = account.issuer
            check = dataclasses.replace(check, needs_approval=True, issuer_changed=(account.issuer, metadata.issuer))
        if account is not None and self._moved_from is None:
            if account.login_hint:
                self._extra["login_hint"] = account.login_hint
        elif self.request.new_account or self._moved_from is not None:
            # Let the person pick (or sign in as) someone else instead of silently reusing the browser session.
            offered = metadata.prompt_values_supported or ()
            self._extra["prompt"] = "select_account" if "select_account" in offered else "login"
        self._nonce = random_token() if "openid" in scopes else None
        return check

    async def _ask_approval(self) -> m.Event:
        assert self._check is not None and self._pairing is not None
        if not await self.request.approve(self._check):
            if self._moved_from is not None:
                what = f"Signing in to {self.server.name} at its new authorization server {self._metadata.issuer} was"
            elif self.request.extra_scopes:
                what = f"More permissions for {self.server.name} ({' '.join(self._scopes)}) were"
            else:
                what = f"Signing in to {self.server.name} was"
            return m.Declined(ConsentRefused("consent_refused", f"{what} declined.", url=self.server.resource))
        self._consent = consent_from(self._pairing, server_id=self.server.id, now=self.stores.clock())
        return m.Approved()

    async def _open_browser(self, action: m.OpenBrowser) -> m.Event:
        try:
            self._code = await self.signin.open_browser(
                self.request.browser,
                scopes=self._scopes,
                extra=self._extra,
                on_url=self.request.on_url,
                nonce=self._nonce,
                look_first=action.look_first,
            )
        except AuthorizationRequestRefused as refused:
            return m.RequestRefused(refused, curable=self.signin.may_register_again(refused))
        except InvalidClient as exc:
            return m.ClientUnknown(exc, curable=forgotten(self._registration, exc))
        return m.CallbackReceived()

    async def _exchange(self) -> m.Event:
        assert self._code is not None
        code, self._code = self._code, None
        try:
            self._fresh = await self.signin.exchange(code)
        except InvalidClient as exc:
            return m.ClientUnknown(exc, curable=forgotten(self._registration, exc))
        return m.TokensReceived()

    async def _resolve_identity(self) -> m.Event:
        tokens, account, registry = self._fresh_tokens, self.request.account, self.stores.registry
        try:
            identity = await resolve_identity(
                self.http,
                self._metadata,
                tokens,
                nonce=self._nonce,
                now=self.stores.clock(),
                trace=self.trace,
                jwks=self._jwks,
            )
        except ProtocolViolation as exc:
            # An id_token that fails validation: these tokens are not kept (OpenID Connect Core §3.1.3.7).
            return m.IdentityRefused(exc)
        issuer, moved_from = self._metadata.issuer, self._moved_from
        if (
            account is not None
            and moved_from is None
            and account.subject is not None
            and (identity is None or identity.subject != account.subject)
        ):
            who = identity.label if identity is not None else "someone the server did not name"
            return m.IdentityRefused(
                WrongAccount(
                    "wrong_account" if identity is not None else "identity_unconfirmed",
                    f"Asked to sign in as {account.label}, but signed in as {who}; nothing was changed.",
                    expected=account.label,
                    found=identity.label if identity is not None else None,
                    url=self.server.resource,
                )
            )
        target = account
        if target is None and identity is not None and identity.subject is not None:
            target = registry.account_by_subject(self.server.id, issuer, identity.subject)
        if moved_from is not None and target is not None and identity is not None and identity.subject is not None:
            other = registry.account_by_subject(self.server.id, issuer, identity.subject)
            if other is not None and other.id != target.id:
                # That person already has an account here at the new server: nothing is overwritten.
                return m.IdentityRefused(
                    WrongAccount(
                        "duplicate_account",
                        f"{identity.label} is already signed in on {self.server.name} as another account "
                        f"({other.display_name}); {target.display_name} was not changed.",
                        expected=target.display_name,
                        found=identity.label,
                        hint=f"Sign {target.display_name} in as its own person at {issuer}, or sign it out.",
                        url=self.server.resource,
                    )
                )
        if identity is None:
            if target is not None:
                identity = Identity(target.subject, target.label, target.identity_source, target.login_hint)
            else:
                ask = self.request.ask_nickname
                typed = self.request.nickname or (await ask() if ask is not None else None)
                label = " ".join((typed or "").split())[:80] or self._fallback_label()
                identity = Identity(None, label, "nickname")
        self._identity, self._target = identity, target
        return m.IdentityResolved()

    def _fallback_label(self) -> str:
        n = len(self.stores.registry.accounts(self.server.id)) + 1
        return f"{self.server.name} account {n}"

    async def _save(self) -> m.Event:
        tokens, identity, target, moved_from = self._fresh_tokens, self._identity, self._target, self._moved_from
        assert identity is not None
        registry, clock = self.stores.registry, self.stores.clock
        # Kept for renewals after a restart.
        self._registrations.put(self._registration)
        key = target.key if target is not None else uuid.uuid4().hex
        if target is None or target.state is AccountState.SIGNED_OUT:
            # Until save_sign_in records the account as signed in, these tokens belong to nobody: if the app stops in
            # between, the next start deletes them (Accounts.clean_pending_secrets).
            registry.note_pending_secret(account_secret_key(key), now=clock())
        async with self.stores.locks.hold(key, what=f"the account {identity.label}"):
            old_bundle = None
            if moved_from is not None and target is not None:
                stored = await self.stores.offload(
                    functools.partial(self.stores.secrets.get, account_secret_key(target.key))
                )
                with contextlib.suppress(ValueError):  # unreadable: nothing left to revoke at the old server
                    old_bundle = TokenBundle.from_secret(stored) if stored is not None else None
            await self._tokens.write_async(key, tokens)
            saved = registry.save_sign_in(
                SignInRecord(
                    server_id=self.server.id,
                    account_id=target.id if target is not None else None,
                    account_key=key,
                    issuer=tokens.issuer,
                    client_id=tokens.client_id,
                    identity=identity,
                    scopes=tokens.scopes,
                    expires_at=tokens.expires_at,
                    has_refresh_token=tokens.refresh_token is not None,
                    now=clock(),
                    consent=self._consent,
                    event_kind="signed_in" if target is None else "signed_in_again",
                    event_detail=f"as {identity.label} at {tokens.issuer}"
                    + (f" (the server moved there from {moved_from})" if moved_from else ""),
                )
            )
        if moved_from is not None and target is not None and old_bundle is not None:
            await self._signout.revoke_moved(self.http, target, old_bundle.tokens, self.trace)
        if self.request.nickname and target is None:
            saved = registry.set_nickname(saved.id, clean_nickname(self.request.nickname), now=clock())
        self._saved = saved
        return m.Saved()
