"""Servers and their accounts: what a person does with them, for the command line and the window.

:class:`Accounts` keeps secrets in a :class:`~desktop_app.accounts.ports.SecretStore`, everything else in a
:class:`~desktop_app.accounts.ports.Registry`, and takes a per-account lock that every process on the machine
respects. The work is done by one module per concern: signing in (:mod:`~desktop_app.accounts.signin`), tokens
at rest (:mod:`~desktop_app.accounts.stored`), renewing them (:mod:`~desktop_app.accounts.renewal`), signing out
(:mod:`~desktop_app.accounts.signout`); this class holds them together and owns the servers.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from desktop_app.accounts.lookup import find_account, find_server
from desktop_app.accounts.models import (
    Account,
    AccountState,
    Server,
    ServerSettings,
    account_secret_key,
    registration_secret_key,
    server_secret_key,
)
from desktop_app.accounts.ports import Locks, Offload, Registry, RemovedServer, SecretStore, Stores
from desktop_app.accounts.registrations import PersistentRegistrationStore
from desktop_app.accounts.renewal import RETRY_DELAYS, Renewal, RenewElsewhere, account_lock
from desktop_app.accounts.session import Follow, Reauthorize, StoredSession
from desktop_app.accounts.signin import Approve, AskNickname, Login, LoginRequest, LoginResult, OnStep, clean_nickname
from desktop_app.accounts.signout import RemovedAccount, SignOut, SignOutResult
from desktop_app.accounts.stored import StoredTokens
from desktop_app.errors import NoAuthorizationNeeded, SecretStoreError, ServerExists
from desktop_app.oauth.authorize import Browser
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.flow import SignIn, SignInOptions
from desktop_app.oauth.oidc import JwksCache
from desktop_app.oauth.registration import PreRegisteredClient
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import Trace
from desktop_app.oauth.urls import canonical_resource, require_secure

__all__ = ["PENDING_SECRET_AGE", "RETRY_DELAYS", "Accounts", "LoginResult", "RemovedAccount", "SignOutResult"]

#: A vault key written for an account that never made it into the database is cleaned up after this long.
PENDING_SECRET_AGE = 3600.0


class Accounts:
    """Everything a person does with servers and accounts, for the CLI and the window."""

    def __init__(
        self,
        registry: Registry,
        secrets: SecretStore,
        locks: Locks,
        *,
        clock: Callable[[], float] = time.time,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        renew_elsewhere: RenewElsewhere | None = None,
    ) -> None:
        """``renew_elsewhere``: where renewals run when not in this process (a profile on disk: the renewal worker,
        :func:`desktop_app.storage.profile.open_accounts`)."""
        self.stores = Stores(registry, secrets, locks, clock)
        self.registrations = PersistentRegistrationStore(registry, secrets, clock)
        self.tokens = StoredTokens(self.stores)
        self.renewal = Renewal(
            self.stores, self.tokens, self.registrations, retry_delays=retry_delays, renew_elsewhere=renew_elsewhere
        )
        self.signout = SignOut(self.stores, self.tokens, self.registrations)
        #: One key set per authorization server, reused by every sign-in (renewed when a key is unknown).
        self.jwks = JwksCache()

    @property
    def registry(self) -> Registry:
        return self.stores.registry

    @property
    def secrets(self) -> SecretStore:
        return self.stores.secrets

    @property
    def locks(self) -> Locks:
        return self.stores.locks

    @property
    def clock(self) -> Callable[[], float]:
        return self.stores.clock

    @property
    def offload(self) -> Offload:
        """Where the async paths run their keyring calls (the window sets a worker thread: ADR 0011)."""
        return self.stores.offload

    @offload.setter
    def offload(self, offload: Offload) -> None:
        self.stores.offload = offload

    # -- servers -------------------------------------------------------------------------------------------
    def add_server(self, url: str, *, name: str | None = None, settings: ServerSettings | None = None) -> Server:
        url = url.strip()
        resource = canonical_resource(url)
        require_secure(resource, what="MCP server address", configuration=True)
        # The same server with or without a trailing slash is one server (MCP "Canonical Server URI").
        variants = {resource, resource.rstrip("/"), resource.rstrip("/") + "/"}
        existing = next((s for s in self.registry.servers() if s.resource in variants), None)
        if existing is not None:
            raise ServerExists(f"{url} is already added as {existing.name!r}.", name=existing.name, url=url)
        chosen = (name or "").strip() or self._default_name(resource)
        server = self.registry.add_server(
            url=url, resource=resource, name=chosen, settings=settings or ServerSettings(), now=self.clock()
        )
        self.registry.add_event(server_id=server.id, account_id=None, kind="server_added", detail=url, now=self.clock())
        return server

    def _default_name(self, resource: str) -> str:
        host = urlsplit(resource).hostname or resource
        taken = {s.name.lower() for s in self.registry.servers()}
        if host.lower() not in taken:
            return host
        n = 2
        while f"{host} {n}".lower() in taken:
            n += 1
        return f"{host} {n}"

    def rename_server(self, server: Server, name: str) -> Server:
        """Give the server another name (ConfigurationError ``invalid_server_name`` / ``duplicate_name``); its
        accounts, settings and the AI tools' entries (which name it by id) are unchanged. Renaming to the same name is
        a no-op without an event."""
        renamed = self.registry.update_server(server.id, name=name)
        if renamed.name != server.name:
            self.registry.add_event(
                server_id=server.id,
                account_id=None,
                kind="server_renamed",
                detail=f"{server.name} → {renamed.name}",
                now=self.clock(),
            )
        return renamed

    def server(self, text: str) -> Server:
        """A server by name, id, URL or resource; a clear error naming what was asked when none matches."""
        return find_server(self.registry, text)

    def update_settings(
        self, server: Server, settings: ServerSettings, *, client_secret: str | bool | None = False
    ) -> Server:
        """Save per-server settings; ``client_secret`` a string stores it, None deletes it, False leaves it."""
        if client_secret is None:
            self.secrets.delete(server_secret_key(server.id))
        elif isinstance(client_secret, str):
            self.secrets.put(server_secret_key(server.id), {"client_secret": client_secret})
        return self.registry.update_server(server.id, settings=settings)

    def sign_in_options(self, server: Server, *, timeout: float | None = None) -> SignInOptions:
        s = server.settings
        pre = None
        if s.registration == "preregistered" and s.client_id:
            stored = self.secrets.get(server_secret_key(server.id))
            secret = stored.get("client_secret") if stored else None
            # Once a sign-in with this client id was approved, it belongs to that authorization server: a server
            # that moves elsewhere never gets the old client id or secret (MCP 2026-07-28 "Authorization Server
            # Binding"); the person enters one registered at the new server.
            approved = self.registry.consent(server.id)
            bound = (
                approved is not None and approved.client_kind == "preregistered" and approved.client_id == s.client_id
            )
            pre = PreRegisteredClient(
                client_id=s.client_id,
                client_secret=secret if isinstance(secret, str) else None,
                token_endpoint_auth_method=s.client_auth,
                issuer=approved.issuer if bound and approved is not None else None,
            )
        options = SignInOptions(
            scopes=s.scopes,
            preregistered=pre,
            client_metadata_url=s.client_metadata_url if s.registration != "preregistered" else None,
            send_resource=s.send_resource,
            callback_port=s.callback_port,
        )
        return dataclasses.replace(options, timeout=timeout) if timeout is not None else options

    async def remove_server(self, http: httpx.AsyncClient, server: Server) -> tuple[RemovedServer, tuple[str, ...]]:
        """Revoke what can be revoked, then delete the server and everything of it. Revocation problems are
        returned (they never block the removal)."""
        problems: list[str] = []
        accounts = self.registry.accounts(server.id)
        for account in accounts:
            if account.state is AccountState.SIGNED_OUT:
                continue
            async with account_lock(self.stores, account):
                bundle = await self.tokens.read_async(account, missing_ok=True)
                if bundle is not None:
                    problems.extend((await self.signout.revoke(http, account, bundle.tokens)).problems)
        # Crash-safe order: note every secret, remove the rows, delete the secrets, clear the notes. A crash after
        # the rows are gone leaves notes that the next start turns into deletions.
        keys = [account_secret_key(a.key) for a in accounts]
        for key in keys:
            self.registry.note_pending_secret(key, now=self.clock())
        removed = self.registry.remove_server(server.id)
        for key in keys:
            if await self._delete_secret(key, problems):
                self.registry.clear_pending_secret(key)
        await self._delete_secret(server_secret_key(server.id), problems)
        for registration in removed.registrations:
            if registration.has_secret:
                await self._delete_secret(
                    registration_secret_key(registration.issuer, registration.client_id), problems
                )
        return removed, tuple(problems)

    async def _delete_secret(self, key: str, problems: list[str]) -> bool:
        try:
            await self.offload(functools.partial(self.secrets.delete, key))
        except SecretStoreError as exc:
            problems.append(exc.message)
            return False
        return True

    # -- accounts ------------------------------------------------------------------------------------------
    def account(self, server: Server, text: str | None) -> Account:
        """``--account``: by id, nickname or label; without it, the server's only account that is not signed out."""
        return find_account(self.registry, server, text)

    def set_nickname(self, account: Account, nickname: str | None) -> Account:
        return self.registry.set_nickname(account.id, clean_nickname(nickname), now=self.clock())

    async def clean_pending_secrets(self) -> int:
        """Finish what a crash interrupted: delete vault entries noted for deletion or never recorded.

        A noted account key is deleted when its account is signed out (a sign-out or removal that stopped half-way)
        or, after :data:`PENDING_SECRET_AGE`, when no account has that key (a first sign-in that never got saved).
        The note of an account that is signed in is just dropped. Each runs under the account's lock, so a sign-in
        in progress in another process is never touched.
        """
        now = self.clock()
        cleaned = 0
        for key in self.registry.stale_pending_secrets(older_than=now + 1):
            account_key = key.removeprefix("account/")
            async with self.locks.hold(account_key, what="an interrupted sign-in or sign-out"):
                if key not in self.registry.stale_pending_secrets(older_than=now + 1):
                    continue  # handled meanwhile
                account = self.registry.account_by_key(account_key)
                if account is None:
                    if key not in self.registry.stale_pending_secrets(older_than=now - PENDING_SECRET_AGE):
                        continue  # maybe a first sign-in still in progress elsewhere: leave it for later
                    await self.offload(functools.partial(self.secrets.delete, key))
                    cleaned += 1
                elif account.state is AccountState.SIGNED_OUT:
                    await self.offload(functools.partial(self.secrets.delete, key))
                    cleaned += 1
                self.registry.clear_pending_secret(key)
        return cleaned

    # -- signing in ----------------------------------------------------------------------------------------
    async def login(self, http: httpx.AsyncClient, server: Server, **options: Any) -> LoginResult:
        """:meth:`sign_in`, for a person who asked to sign in: a server that needs no sign-in is an error here."""
        result = await self.sign_in(http, server, **options)
        if result is None:
            raise NoAuthorizationNeeded(server.url)
        return result

    async def sign_in(
        self,
        http: httpx.AsyncClient,
        server: Server,
        *,
        browser: Browser,
        approve: Approve,
        account: Account | None = None,
        new_account: bool = False,
        nickname: str | None = None,
        ask_nickname: AskNickname | None = None,
        on_url: Callable[[str], None] | None = None,
        on_step: OnStep | None = None,
        trace: Trace | None = None,
        timeout: float | None = None,
        extra_scopes: tuple[str, ...] = (),
        without_client_id: bool = False,
    ) -> LoginResult | None:
        """Sign in to ``server``: a first account, another account (``new_account``), or ``account`` again; None
        when the server answered without asking for a sign-in. ``without_client_id``: the server's pre-registered
        client is not used (``connect`` following its server to another authorization server, which never gets the
        old one's client id)."""
        check_store = getattr(self.secrets, "check", None)
        if callable(check_store):
            await self.offload(check_store)  # a missing or locked keyring is reported before a browser opens
        trace = trace if trace is not None else Trace()
        request = LoginRequest(
            browser=browser,
            approve=approve,
            account=account,
            new_account=new_account,
            nickname=nickname,
            ask_nickname=ask_nickname,
            on_url=on_url,
            on_step=on_step,
            extra_scopes=extra_scopes,
        )
        options = self.sign_in_options(server, timeout=timeout)
        if without_client_id:
            options = dataclasses.replace(options, preregistered=None)
        async with SignIn(
            http, server.url, options=options, store=self.registrations, trace=trace, clock=self.clock
        ) as signin:
            login = Login(
                self.stores,
                tokens=self.tokens,
                registrations=self.registrations,
                signout=self.signout,
                jwks=self.jwks,
                http=http,
                signin=signin,
                server=server,
                request=request,
                trace=trace,
            )
            return await login.run()

    # -- tokens --------------------------------------------------------------------------------------------
    def fresh_token(self, account: Account) -> TokenSet | None:
        """The stored access token if it needs no renewal (no network), else None: then call :meth:`token`."""
        return self.tokens.fresh(account)

    async def token(
        self, http: httpx.AsyncClient, account: Account, *, force: bool = False, trace: Trace | None = None
    ) -> TokenSet:
        """A usable access token for the account, renewed first when it is about to expire (or ``force``)."""
        return await self.renewal.token(http, account, force=force, trace=trace)

    def mark_needs_sign_in(self, account: Account, reason: str, *, code: str = "rejected") -> Account:
        """The resource refused a freshly renewed token (or similar): the person must sign in again."""
        return self.renewal.mark_needs_sign_in(account, reason, code=code)

    async def moved_authorization_server(
        self, http: httpx.AsyncClient, server: Server, account: Account, challenge: BearerChallenge | None
    ) -> str | None:
        """The issuer the server's metadata names now, when it is not the account's (RFC 9728 §5.2), else None."""
        return await self.renewal.moved_authorization_server(http, server.resource, account, challenge)

    def session(
        self,
        http: httpx.AsyncClient,
        account: Account,
        server: Server,
        *,
        reauthorize: Reauthorize | None = None,
        follow: Follow | None = None,
    ) -> StoredSession:
        return StoredSession(self, http, account, server, reauthorize=reauthorize, follow=follow)

    # -- signing out ---------------------------------------------------------------------------------------
    async def logout(self, http: httpx.AsyncClient, account: Account, *, trace: Trace | None = None) -> SignOutResult:
        """Revoke (RFC 7009) where offered, then delete the secrets and mark the account signed out. Revocation
        failing is reported, never a reason to keep the secrets."""
        return await self.signout.logout(http, account, trace=trace)

    async def remove_account(
        self, http: httpx.AsyncClient, account: Account, *, trace: Trace | None = None
    ) -> RemovedAccount:
        """Revoke (RFC 7009) where offered, then delete the account, its secrets and its activity; the server's
        activity records the removal. The server stays, even when this was its last account. Revocation failing is
        reported, never a reason to keep the account."""
        return await self.signout.remove(http, account, trace=trace)
