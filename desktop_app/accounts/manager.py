"""Servers and their accounts: sign in, renew, sign out, remove — without ever losing a login.

:class:`Accounts` is the application logic the CLI and the window share. It keeps secrets in a
:class:`~desktop_app.accounts.ports.SecretStore`, everything else in a :class:`~desktop_app.accounts.ports.Registry`,
and renews tokens under a per-account lock that every process on the machine respects:

- After taking the lock the keyring is read again: another process may have renewed already, and a rotated
  refresh token is never sent twice.
- The new bundle replaces the old one atomically (the store writes the new value before it forgets the old).
- Only the authorization server can end a login (``invalid_grant``, ``invalid_client``, a 401 after a fresh
  refresh). Network trouble, timeouts, 5xx and ``temporarily_unavailable`` keep everything and are retried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from desktop_app.accounts.models import (
    Account,
    AccountState,
    Identity,
    Server,
    ServerSettings,
    StoredRegistration,
    TokenBundle,
    account_secret_key,
    registration_secret_key,
    server_secret_key,
)
from desktop_app.accounts.ports import Registry, RemovedServer, SecretStore, SignInRecord
from desktop_app.appinfo import COMMAND
from desktop_app.errors import (
    ConfigurationError,
    ConnectorError,
    ConsentRefused,
    GrantExpired,
    ProtocolViolation,
    SecretStoreError,
    SignInRequired,
    TransientError,
    UserActionRequired,
    WrongAccount,
)
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.urls import canonical_resource, require_secure

# What reads a stored token (`mcp-connectors token` with a fresh one) needs none of these: the OAuth engine, httpx
# and asyncio are imported by the methods that talk to a server (tests/unit/test_layers.py). Consent and identity
# (joserfc) are imported when a sign-in needs them.
if TYPE_CHECKING:
    import httpx

    from desktop_app.accounts.consent import PairingCheck
    from desktop_app.oauth.auth import BearerAuth
    from desktop_app.oauth.authorize import Browser
    from desktop_app.oauth.challenge import BearerChallenge
    from desktop_app.oauth.discovery import AuthorizationServerMetadata
    from desktop_app.oauth.flow import SignIn, SignInOptions
    from desktop_app.oauth.registration import ClientRegistration
    from desktop_app.oauth.trace import Trace

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Renew this long before expiry (the token is "expiring" inside this window).
REFRESH_LEEWAY = 60.0


def renewal_leeway(tokens: TokenSet) -> float:
    """How long before expiry a token counts as expiring: REFRESH_LEEWAY, but at most half its lifetime, so a
    token that lives 30 seconds is used for ~15 of them instead of being renewed at every use."""
    if tokens.expires_at is None or tokens.obtained_at <= 0:
        return REFRESH_LEEWAY
    return min(REFRESH_LEEWAY, max(0.0, (tokens.expires_at - tokens.obtained_at) / 2))


#: Waits between attempts when the authorization server has a transient problem (seconds).
RETRY_DELAYS = (0.5, 1.5)
#: A vault key written for an account that never made it into the database is cleaned up after this long.
PENDING_SECRET_AGE = 3600.0

#: Asked before a browser opens, with the pairing and what changed since the last approval.
Approve = Callable[["PairingCheck"], Awaitable[bool]]
#: Asked when no identity could be learned: a nickname for the new account (None: use a default).
AskNickname = Callable[[], Awaitable[str | None]]


class Offload(Protocol):
    """Runs a blocking keyring call somewhere the event loop does not wait on it (the window: a worker thread)."""

    def __call__(self, call: Callable[[], _T], /) -> Awaitable[_T]: ...


async def run_inline(call: Callable[[], _T]) -> _T:
    """The default: run it here (the command line has no window to keep responsive)."""
    return call()


class Locks(Protocol):
    def hold(self, name: str, *, timeout: float = ..., what: str = ...) -> AbstractAsyncContextManager[None]: ...


@dataclass(frozen=True, slots=True)
class LoginResult:
    account: Account
    created: bool
    check: PairingCheck


@dataclass(frozen=True, slots=True)
class SignOutResult:
    account: Account
    #: Tokens the authorization server confirmed revoked (RFC 7009), e.g. ("refresh_token", "access_token").
    revoked: tuple[str, ...]
    #: Why revocation did not happen or failed (the local sign-out happened regardless).
    problems: tuple[str, ...]
    #: What the person may want to know that is not a failure (e.g. a self-contained token that cannot be revoked).
    notes: tuple[str, ...] = ()


# -- metadata cache ----------------------------------------------------------------------------------------------


def metadata_to_json(metadata: AuthorizationServerMetadata) -> dict[str, Any]:
    data = dataclasses.asdict(metadata)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def metadata_from_json(data: Mapping[str, Any]) -> AuthorizationServerMetadata:
    from desktop_app.oauth.discovery import AuthorizationServerMetadata

    fields = {f.name for f in dataclasses.fields(AuthorizationServerMetadata)}
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields}
    return AuthorizationServerMetadata(**values)


# -- registrations ----------------------------------------------------------------------------------------------


class PersistentRegistrationStore:
    """The engine's :class:`~desktop_app.oauth.registration.RegistrationStore`: rows in the registry, secrets in the
    vault, keyed by issuer (a registration is never offered to another authorization server)."""

    def __init__(self, registry: Registry, secrets: SecretStore, clock: Callable[[], float] = time.time) -> None:
        self._registry = registry
        self._secrets = secrets
        self._clock = clock

    def get(self, issuer: str) -> ClientRegistration | None:
        stored = self._registry.current_registration(issuer, "dcr")
        if stored is None:
            return None
        try:
            return self.load(stored)
        except SignInRequired:
            return None  # its secret is gone (another secret store, a cleaned keyring): register anew

    def load(self, stored: StoredRegistration) -> ClientRegistration:
        secret = None
        if stored.has_secret:
            value = self._secrets.get(registration_secret_key(stored.issuer, stored.client_id))
            secret = value.get("client_secret") if value else None
            if not isinstance(secret, str):
                raise SignInRequired(
                    "client_secret_missing",
                    f"The client secret of this app's registration at {stored.issuer} is missing from the keyring.",
                    hint="Sign in again; the app registers itself anew.",
                    url=stored.issuer,
                )
        from desktop_app.oauth.registration import ClientRegistration

        method = stored.method if stored.method in ("preregistered", "cimd", "dcr") else "dcr"
        return ClientRegistration(
            issuer=stored.issuer,
            client_id=stored.client_id,
            method=method,  # type: ignore[arg-type]
            token_endpoint_auth_method=stored.token_endpoint_auth_method,
            client_secret=secret,
            client_secret_expires_at=stored.client_secret_expires_at,
            redirect_uris=stored.redirect_uris,
        )

    def put(self, registration: ClientRegistration) -> None:
        if registration.client_secret:
            self._secrets.put(
                registration_secret_key(registration.issuer, registration.client_id),
                {"client_secret": registration.client_secret},
            )
        self._registry.put_registration(
            StoredRegistration(
                issuer=registration.issuer,
                client_id=registration.client_id,
                method=registration.method,
                token_endpoint_auth_method=registration.token_endpoint_auth_method,
                client_secret_expires_at=registration.client_secret_expires_at,
                redirect_uris=registration.redirect_uris,
                has_secret=bool(registration.client_secret),
                created_at=self._clock(),
            )
        )

    def forget(self, issuer: str) -> None:
        for gone in self._registry.retire_registrations(issuer):
            if gone.has_secret:
                self._secrets.delete(registration_secret_key(gone.issuer, gone.client_id))


async def refresh_tokens(
    http: httpx.AsyncClient,
    token_endpoint: str,
    registration: ClientRegistration,
    tokens: TokenSet,
    *,
    now: float,
    trace: Trace,
) -> TokenSet:
    """:func:`desktop_app.oauth.tokens.refresh_tokens`, imported on first use (it brings httpx)."""
    from desktop_app.oauth.tokens import refresh_tokens as refresh

    return await refresh(http, token_endpoint, registration, tokens, now=now, trace=trace)


# -- the service ------------------------------------------------------------------------------------------------


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
    ) -> None:
        self.registry = registry
        self.secrets = secrets
        self.locks = locks
        self.clock = clock
        self.retry_delays = retry_delays
        self.registrations = PersistentRegistrationStore(registry, secrets, clock)
        #: Where the async paths run their keyring calls (the window sets a worker thread: ADR 0011).
        self.offload: Offload = run_inline

    # -- servers -------------------------------------------------------------------------------------------
    def add_server(self, url: str, *, name: str | None = None, settings: ServerSettings | None = None) -> Server:
        url = url.strip()
        resource = canonical_resource(url)
        require_secure(resource, what="MCP server address", configuration=True)
        # The same server with or without a trailing slash is one server (MCP "Canonical Server URI").
        variants = {resource, resource.rstrip("/"), resource.rstrip("/") + "/"}
        existing = next((s for s in self.registry.servers() if s.resource in variants), None)
        if existing is not None:
            raise ConfigurationError(
                "server_exists",
                f"{url} is already added as {existing.name!r}.",
                hint=f"Use the name {existing.name!r} to sign in or list its tools.",
                url=url,
            )
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

    def server(self, text: str) -> Server:
        """A server by name, id, URL or resource; a clear error naming what was asked when none matches."""
        found = self.registry.find_server(text)
        if found is None:
            names = ", ".join(s.name for s in self.registry.servers()) or "none yet"
            raise ConfigurationError(
                "unknown_server",
                f"No server called {text!r} (servers: {names}).",
                hint="Add it with 'mcp-connectors add URL', or use a name from 'mcp-connectors list'.",
            )
        return found

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
        from desktop_app.oauth.flow import SignInOptions
        from desktop_app.oauth.registration import PreRegisteredClient

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
            async with self._lock(account):
                bundle = await self._read_bundle_async(account, missing_ok=True)
                if bundle is not None:
                    _, trouble, _ = await self._revoke(http, account, bundle.tokens)
                    problems.extend(trouble)
        # Crash-safe order: note every secret, remove the rows, delete the secrets, clear the notes. A crash after
        # the rows are gone leaves notes that the next start turns into deletions.
        keys = [account_secret_key(a.key) for a in accounts]
        for key in keys:
            self.registry.note_pending_secret(key, now=self.clock())
        removed = self.registry.remove_server(server.id)
        for key in keys:
            try:
                await self.offload(functools.partial(self.secrets.delete, key))
            except SecretStoreError as exc:
                problems.append(exc.message)
            else:
                self.registry.clear_pending_secret(key)
        try:
            await self.offload(functools.partial(self.secrets.delete, server_secret_key(server.id)))
        except SecretStoreError as exc:
            problems.append(exc.message)
        for registration in removed.registrations:
            if registration.has_secret:
                try:
                    await self.offload(
                        functools.partial(
                            self.secrets.delete, registration_secret_key(registration.issuer, registration.client_id)
                        )
                    )
                except SecretStoreError as exc:
                    problems.append(exc.message)
        return removed, tuple(problems)

    # -- accounts ------------------------------------------------------------------------------------------
    def account(self, server: Server, text: str | None) -> Account:
        """``--account``: by id, nickname or label; without it, the server's only account that is not signed out."""
        if text:
            found = self.registry.find_account(server.id, text)
            if found is None:
                raise ConfigurationError(
                    "unknown_account",
                    f"{server.name} has no account {text!r} (accounts: {self._names(server)}).",
                    hint="Use a label, nickname or id from 'mcp-connectors list'.",
                )
            return found
        live = [a for a in self.registry.accounts(server.id) if a.state is not AccountState.SIGNED_OUT]
        if len(live) == 1:
            return live[0]
        if not live:
            raise SignInRequired(
                "no_account",
                f"There is no signed-in account on {server.name}.",
                hint=f"Sign in with 'mcp-connectors login {server.name}'.",
                url=server.resource,
            )
        raise ConfigurationError(
            "choose_account",
            f"{server.name} has several accounts ({self._names(server)}).",
            hint="Choose one with --account.",
        )

    def _names(self, server: Server) -> str:
        names = [f"{a.display_name} (id {a.id})" for a in self.registry.accounts(server.id)]
        return ", ".join(names) or "none"

    def set_nickname(self, account: Account, nickname: str | None) -> Account:
        cleaned = " ".join((nickname or "").split()) or None
        if cleaned is not None and (len(cleaned) > 80 or cleaned.lower() == "mcp"):
            raise ConfigurationError(
                "invalid_nickname", f"The nickname {cleaned[:80]!r} is not usable.", hint="Choose a short name."
            )
        return self.registry.set_nickname(account.id, cleaned, now=self.clock())

    def _lock(self, account: Account) -> AbstractAsyncContextManager[None]:
        return self.locks.hold(account.key, what=f"the account {account.display_name}")

    def _read_bundle(self, account: Account, *, missing_ok: bool = False) -> TokenBundle | None:
        return self._bundle_of(account, self.secrets.get(account_secret_key(account.key)), missing_ok=missing_ok)

    async def _read_bundle_async(self, account: Account, *, missing_ok: bool = False) -> TokenBundle | None:
        value = await self.offload(functools.partial(self.secrets.get, account_secret_key(account.key)))
        return self._bundle_of(account, value, missing_ok=missing_ok)

    def _bundle_of(self, account: Account, value: dict[str, Any] | None, *, missing_ok: bool) -> TokenBundle | None:
        if value is None:
            if missing_ok:
                return None
            # Someone deleted the keyring entry: nothing can be renewed; say so where the account is shown.
            self.registry.record_refresh_failure(
                account.id,
                code="secret_missing",
                message=f"its tokens are missing from {self.secrets.description}",
                needs_sign_in=True,
                now=self.clock(),
            )
            raise SignInRequired(
                "secret_missing",
                f"The sign-in of {account.display_name} is missing from {self.secrets.description}.",
                hint="Sign in again.",
            )
        try:
            return TokenBundle.from_secret(value)
        except ValueError as exc:
            self.registry.record_refresh_failure(
                account.id,
                code="secret_unreadable",
                message=f"its stored tokens cannot be read ({exc})",
                needs_sign_in=True,
                now=self.clock(),
            )
            raise SignInRequired(
                "secret_unreadable",
                f"The stored sign-in of {account.display_name} cannot be read ({exc}).",
                hint="Sign in again.",
            ) from None

    def _write_bundle(self, account_key: str, tokens: TokenSet) -> None:
        self.secrets.put(account_secret_key(account_key), TokenBundle(tokens).to_secret())

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
    async def login(
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
        trace: Trace | None = None,
        timeout: float | None = None,
        extra_scopes: tuple[str, ...] = (),
    ) -> LoginResult:
        """Sign in to ``server``: a first account, another account (``new_account``), or ``account`` again.

        Nothing is written until the tokens are in hand and the identity is checked: signing in again as someone
        else raises :class:`WrongAccount` and leaves the account as it was.
        """
        from desktop_app.oauth.flow import SignIn
        from desktop_app.oauth.trace import Trace

        check_store = getattr(self.secrets, "check", None)
        if callable(check_store):
            await self.offload(check_store)  # a missing or locked keyring is reported before a browser opens
        trace = trace if trace is not None else Trace()
        options = self.sign_in_options(server, timeout=timeout)
        async with SignIn(
            http, server.url, options=options, store=self.registrations, trace=trace, clock=self.clock
        ) as signin:
            return await self._login(
                http,
                signin,
                server,
                browser=browser,
                approve=approve,
                account=account,
                new_account=new_account,
                nickname=nickname,
                ask_nickname=ask_nickname,
                on_url=on_url,
                trace=trace,
                extra_scopes=extra_scopes,
            )

    async def _login(
        self,
        http: httpx.AsyncClient,
        signin: SignIn,
        server: Server,
        *,
        browser: Browser,
        approve: Approve,
        account: Account | None,
        new_account: bool,
        nickname: str | None,
        ask_nickname: AskNickname | None,
        on_url: Callable[[str], None] | None,
        trace: Trace,
        extra_scopes: tuple[str, ...],
    ) -> LoginResult:
        from desktop_app.accounts.consent import check_pairing, consent_from
        from desktop_app.accounts.identity import identity_scopes, resolve_identity
        from desktop_app.mcp import LEGACY_VERSIONS, build_probe_request
        from desktop_app.oauth.auth import merge_scopes
        from desktop_app.oauth.pkce import random_token

        discovery = await signin.discover(
            build_probe_request(server.url), build_probe_request(server.url, LEGACY_VERSIONS[0])
        )
        metadata = discovery.metadata
        # Remembered for renewals, the 2025-03-26 default endpoints (no metadata anywhere) as much as discovered ones.
        self.registry.save_metadata(metadata.issuer, metadata_to_json(metadata), now=self.clock())
        prm = discovery.resource_metadata
        if prm is not None and prm.resource_name and prm.resource_name != server.resource_name:
            server = self.registry.update_server(server.id, resource_name=prm.resource_name)
        registration = await signin.register()

        scopes = signin.requested_scopes
        if extra_scopes:  # a step-up: what the server now asks for, on top of what was asked before
            scopes = merge_scopes(merge_scopes(scopes, account.scopes if account else ()), extra_scopes)
        if server.settings.request_identity:
            scopes = merge_scopes(scopes, identity_scopes(metadata))
        pairing = signin.pairing(scopes)
        check = check_pairing(pairing, self.registry.consent(server.id))
        # The server moved to another authorization server (MCP 2026-07-28, SEP-2352): a person approves that for this
        # account, whatever the server's approval on record says (withdrawn, or given already when another account
        # moved); the old login_hint is not sent to the new server, the person picks who signs in there, and the
        # account takes the identity the new one reports; the old grant is revoked once the new sign-in is saved.
        moved_from = account.issuer if account is not None and account.issuer != metadata.issuer else None
        if moved_from is not None:
            check = dataclasses.replace(check, needs_approval=True, issuer_changed=(moved_from, metadata.issuer))
        consent = None
        if check.needs_approval:
            if not await approve(check):
                raise ConsentRefused(
                    "consent_refused", f"Signing in to {server.name} was declined.", url=server.resource
                )
            consent = consent_from(pairing, server_id=server.id, now=self.clock())

        extra: dict[str, str] = {}
        if account is not None and moved_from is None:
            if account.login_hint:
                extra["login_hint"] = account.login_hint
        elif new_account or moved_from is not None:
            # Let the person pick (or sign in as) someone else instead of silently reusing the browser session.
            offered = metadata.prompt_values_supported or ()
            extra["prompt"] = "select_account" if "select_account" in offered else "login"
        nonce = random_token() if "openid" in scopes else None
        tokens = await signin.authorize(browser, scopes=scopes, extra=extra, on_url=on_url, nonce=nonce)
        registration = signin.registration or registration

        try:
            identity = await resolve_identity(http, metadata, tokens, nonce=nonce, now=self.clock(), trace=trace)
        except ProtocolViolation:
            # An id_token that fails validation: these tokens are not kept (OpenID Connect Core §3.1.3.7).
            await self._discard(http, metadata, registration, tokens, trace)
            raise
        target = account
        if (
            account is not None
            and moved_from is None
            and account.subject is not None
            and (identity is None or identity.subject != account.subject)
        ):
            await self._discard(http, metadata, registration, tokens, trace)
            who = identity.label if identity is not None else "someone the server did not name"
            raise WrongAccount(
                "wrong_account" if identity is not None else "identity_unconfirmed",
                f"Asked to sign in as {account.label}, but signed in as {who}; nothing was changed.",
                hint=f"Sign in as {account.label}"
                + (f", or add {identity.label} with 'login --new-account'." if identity is not None else "."),
                url=server.resource,
            )
        if target is None and identity is not None and identity.subject is not None:
            target = self.registry.account_by_subject(server.id, metadata.issuer, identity.subject)
        if moved_from is not None and target is not None and identity is not None and identity.subject is not None:
            other = self.registry.account_by_subject(server.id, metadata.issuer, identity.subject)
            if other is not None and other.id != target.id:
                # That person already has an account here at the new server: nothing is overwritten.
                await self._discard(http, metadata, registration, tokens, trace)
                raise WrongAccount(
                    "duplicate_account",
                    f"{identity.label} is already signed in on {server.name} as another account "
                    f"({other.display_name}); {target.display_name} was not changed.",
                    hint=f"Sign {target.display_name} in as its own person at {metadata.issuer}, or sign it out.",
                    url=server.resource,
                )
        if identity is None:
            if target is not None:
                identity = Identity(target.subject, target.label, target.identity_source, target.login_hint)
            else:
                typed = nickname or (await ask_nickname() if ask_nickname is not None else None)
                label = " ".join((typed or "").split())[:80] or self._fallback_label(server)
                identity = Identity(None, label, "nickname")

        # Keep the registration (and its secret) for renewals after a restart.
        self.registrations.put(registration)
        import uuid

        key = target.key if target is not None else uuid.uuid4().hex
        if target is None or target.state is AccountState.SIGNED_OUT:
            # Until save_sign_in records the account as signed in, these tokens belong to nobody: if we crash in
            # between, the next start deletes them (clean_pending_secrets).
            self.registry.note_pending_secret(account_secret_key(key), now=self.clock())
        async with self.locks.hold(key, what=f"the account {identity.label}"):
            old_bundle = None
            if moved_from is not None and target is not None:
                stored = await self.offload(functools.partial(self.secrets.get, account_secret_key(target.key)))
                with contextlib.suppress(ValueError):  # unreadable: nothing left to revoke at the old server
                    old_bundle = TokenBundle.from_secret(stored) if stored is not None else None
            await self.offload(functools.partial(self._write_bundle, key, tokens))
            saved = self.registry.save_sign_in(
                SignInRecord(
                    server_id=server.id,
                    account_id=target.id if target is not None else None,
                    account_key=key,
                    issuer=tokens.issuer,
                    client_id=tokens.client_id,
                    identity=identity,
                    scopes=tokens.scopes,
                    expires_at=tokens.expires_at,
                    has_refresh_token=tokens.refresh_token is not None,
                    now=self.clock(),
                    consent=consent,
                    event_kind="signed_in" if target is None else "signed_in_again",
                    event_detail=f"as {identity.label} at {tokens.issuer}"
                    + (f" (the server moved there from {moved_from})" if moved_from else ""),
                )
            )
        if moved_from is not None and target is not None and old_bundle is not None:
            await self._revoke_moved(http, target, old_bundle.tokens, trace)
        if nickname and target is None:
            saved = self.set_nickname(saved, nickname)
        return LoginResult(saved, target is None, check)

    def _fallback_label(self, server: Server) -> str:
        n = len(self.registry.accounts(server.id)) + 1
        return f"{server.name} account {n}"

    async def _discard(
        self,
        http: httpx.AsyncClient,
        metadata: AuthorizationServerMetadata,
        registration: ClientRegistration,
        tokens: TokenSet,
        trace: Trace,
    ) -> None:
        """Tokens we will not keep: revoke them where possible (best effort, errors only logged)."""
        from desktop_app.oauth.tokens import revoke_token

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

    async def _revoke_moved(self, http: httpx.AsyncClient, old: Account, tokens: TokenSet, trace: Trace) -> None:
        """After an account followed its server to another authorization server: end the grant at the old one (best
        effort: a failure is logged and recorded, never a reason to undo the new sign-in)."""
        revoked, problems, notes = await self._revoke(http, old, tokens, trace)
        if revoked:
            detail = f"revoked the old sign-in's {' and '.join(revoked)} at {old.issuer}"
        else:
            detail = f"the old sign-in at {old.issuer} was not revoked: " + "; ".join((*problems, *notes))
        log.info("Account %s moved from %s: %s", old.id, old.issuer, "revoked" if revoked else "not revoked")
        self.registry.add_event(
            server_id=old.server_id, account_id=old.id, kind="old_sign_in_revoked", detail=detail, now=self.clock()
        )

    async def moved_authorization_server(
        self, http: httpx.AsyncClient, server: Server, account: Account, challenge: BearerChallenge | None
    ) -> str | None:
        """The server refused the account's token: does its protected resource metadata, read again, name another
        authorization server than the account's (RFC 9728 §5.2)? Returns that issuer, or None (also when the metadata
        cannot be read now: the usual renewal then says what is wrong)."""
        from desktop_app.oauth.discovery import fetch_protected_resource_metadata
        from desktop_app.oauth.trace import Trace

        try:
            prm = await fetch_protected_resource_metadata(http, server.resource, challenge, trace=Trace())
        except ConnectorError as exc:
            log.info("Could not read the metadata of %s again: %s", server.resource, exc.code)
            return None
        if prm is None or account.issuer in prm.authorization_servers:
            return None
        return prm.authorization_servers[0]

    # -- tokens --------------------------------------------------------------------------------------------
    def fresh_token(self, account: Account) -> TokenSet | None:
        """The stored access token if it needs no renewal (no network), else None: then call :meth:`token`."""
        account = self._usable(account)
        bundle = self._read_bundle(account)
        assert bundle is not None
        return None if bundle.tokens.is_expired(self.clock(), renewal_leeway(bundle.tokens)) else bundle.tokens

    async def token(
        self, http: httpx.AsyncClient, account: Account, *, force: bool = False, trace: Trace | None = None
    ) -> TokenSet:
        """A usable access token for the account, renewed first when it is about to expire (or ``force``)."""
        from desktop_app.oauth.trace import Trace

        account = self._usable(account)
        bundle = await self._read_bundle_async(account)
        assert bundle is not None
        if not force and not bundle.tokens.is_expired(self.clock(), renewal_leeway(bundle.tokens)):
            return bundle.tokens
        return await self._renew(http, account, bundle.tokens, force=force, trace=trace or Trace())

    def sign_in_hint(self, account: Account) -> str:
        server = self.registry.server(account.server_id)
        import shlex

        name = shlex.quote(server.name) if server is not None else "SERVER"
        return f"Sign in again: {COMMAND} login {name} --account {account.id}"

    def _usable(self, account: Account) -> Account:
        current = self.registry.account(account.id)
        if current is None:
            raise SignInRequired("account_removed", f"The account {account.display_name} no longer exists.")
        if current.state is AccountState.SIGNED_OUT:
            raise SignInRequired(
                "signed_out",
                f"{current.display_name} is signed out.",
                hint=self.sign_in_hint(current),
            )
        if current.state is AccountState.NEEDS_SIGN_IN:
            raise SignInRequired(
                "needs_sign_in",
                f"{current.display_name} must sign in again"
                + (f" ({current.last_error})." if current.last_error else "."),
                hint=self.sign_in_hint(current),
            )
        return current

    async def _renew(
        self, http: httpx.AsyncClient, account: Account, stale: TokenSet, *, force: bool, trace: Trace
    ) -> TokenSet:
        async with self._lock(account):
            account = self._usable(account)
            bundle = await self._read_bundle_async(account)
            assert bundle is not None
            current = bundle.tokens
            now = self.clock()
            renewed_elsewhere = (
                current.access_token != stale.access_token or current.refresh_token != stale.refresh_token
            )
            if (renewed_elsewhere or not force) and not current.is_expired(now, renewal_leeway(current)):
                return current  # another process (or coroutine) renewed it while we waited
            if current.refresh_token is None:
                if current.is_expired(now, 0):
                    self.registry.record_refresh_failure(
                        account.id,
                        code="expired",
                        message="the access token expired and there is no refresh token",
                        needs_sign_in=True,
                        now=now,
                    )
                    raise SignInRequired(
                        "expired",
                        f"The sign-in of {account.display_name} expired and cannot be renewed.",
                        hint="Sign in again.",
                    )
                return current  # no refresh token: keep using the access token until it expires
            return await self._refresh_locked(http, account, current, trace)

    async def _refresh_locked(
        self, http: httpx.AsyncClient, account: Account, current: TokenSet, trace: Trace
    ) -> TokenSet:
        import asyncio

        cached = self.registry.metadata(account.issuer)
        if cached is None:
            raise SignInRequired(
                "metadata_missing",
                f"What is known about {account.issuer} was lost; {account.display_name} must sign in again.",
                hint="Sign in again.",
            )
        metadata = metadata_from_json(cached)
        stored = self.registry.registration(account.issuer, account.client_id)
        if stored is None:
            self.registry.record_refresh_failure(
                account.id,
                code="registration_missing",
                message="this app's registration at the authorization server is gone",
                needs_sign_in=True,
                now=self.clock(),
            )
            raise SignInRequired(
                "registration_missing",
                f"This app's registration at {account.issuer} is gone; {account.display_name} must sign in again.",
                hint="Sign in again.",
            )
        registration = self.registrations.load(stored)
        attempt = 0
        while True:
            try:
                fresh = await refresh_tokens(
                    http, metadata.token_endpoint, registration, current, now=self.clock(), trace=trace
                )
                break
            except TransientError as exc:
                if attempt < len(self.retry_delays):
                    await asyncio.sleep(self.retry_delays[attempt])
                    attempt += 1
                    continue
                self.registry.record_refresh_failure(
                    account.id, code=exc.code, message=exc.message, needs_sign_in=False, now=self.clock()
                )
                if not current.is_expired(self.clock(), 0):
                    log.info("Renewing %s failed for now (%s); its token is still valid.", account.id, exc.code)
                    return current
                exc.hint = exc.hint or (
                    f"This is temporary: the sign-in of {account.display_name} is kept. Try again in a moment."
                )
                raise
            except (GrantExpired, UserActionRequired) as exc:
                dead = isinstance(exc, GrantExpired) or exc.code in ("invalid_client", "unauthorized_client")
                self.registry.record_refresh_failure(
                    account.id, code=exc.code, message=exc.message, needs_sign_in=dead, now=self.clock()
                )
                if exc.code == "invalid_client" and registration.method == "dcr":
                    self.registrations.forget(registration.issuer)
                raise SignInRequired(
                    "needs_sign_in",
                    f"{account.display_name} must sign in again: {exc.message}",
                    hint=self.sign_in_hint(account),
                    url=account.issuer,
                ) from exc
            except ProtocolViolation as exc:
                # The server misbehaved; the login may still be fine. Keep it, report, and let the person retry.
                self.registry.record_refresh_failure(
                    account.id, code=exc.code, message=exc.message, needs_sign_in=False, now=self.clock()
                )
                raise
        try:
            await self.offload(functools.partial(self._write_bundle, account.key, fresh))
        except SecretStoreError as exc:
            # The old refresh token was probably rotated away: never send it again, and say what happened.
            self.registry.record_refresh_failure(
                account.id,
                code=exc.code,
                message=f"the renewed sign-in could not be saved ({exc.message})",
                needs_sign_in=True,
                now=self.clock(),
            )
            raise
        self.registry.record_refresh(
            account.id,
            scopes=fresh.scopes,
            expires_at=fresh.expires_at,
            has_refresh_token=fresh.refresh_token is not None,
            now=self.clock(),
        )
        return fresh

    def mark_needs_sign_in(self, account: Account, reason: str, *, code: str = "rejected") -> Account:
        """The resource refused a freshly renewed token (or similar): the person must sign in again."""
        return self.registry.record_refresh_failure(
            account.id, code=code, message=reason, needs_sign_in=True, now=self.clock()
        )

    def session(
        self,
        http: httpx.AsyncClient,
        account: Account,
        server: Server,
        *,
        reauthorize: Callable[[Account, tuple[str, ...]], Awaitable[Account]] | None = None,
    ) -> StoredSession:
        return StoredSession(self, http, account, server, reauthorize=reauthorize)

    # -- signing out ---------------------------------------------------------------------------------------
    async def logout(self, http: httpx.AsyncClient, account: Account, *, trace: Trace | None = None) -> SignOutResult:
        """Revoke (RFC 7009) where offered, then delete the secrets and mark the account signed out.

        Revocation failing is reported, never a reason to keep the secrets.
        """
        from desktop_app.oauth.trace import Trace

        trace = trace if trace is not None else Trace()
        async with self._lock(account):
            bundle = await self._read_bundle_async(account, missing_ok=True)
            revoked: tuple[str, ...] = ()
            problems: tuple[str, ...] = ()
            notes: tuple[str, ...] = ()
            if bundle is not None:
                revoked, problems, notes = await self._revoke(http, account, bundle.tokens, trace)
            if revoked:
                detail = f"revoked {' and '.join(revoked)} at {account.issuer}"
            elif problems:
                detail = "not revoked: " + "; ".join(problems)
            else:
                detail = "nothing to revoke"
            # Crash-safe order: note the key, mark signed out, delete, clear the note. A crash anywhere leaves
            # either a signed-in account with its secrets, or a signed-out one whose secret the next start deletes.
            key = account_secret_key(account.key)
            self.registry.note_pending_secret(key, now=self.clock())
            saved = self.registry.set_state(
                account.id, AccountState.SIGNED_OUT, now=self.clock(), event_kind="signed_out", detail=detail
            )
            await self.offload(functools.partial(self.secrets.delete, key))
            self.registry.clear_pending_secret(key)
        return SignOutResult(saved, revoked, problems, notes)

    async def _revoke(
        self, http: httpx.AsyncClient, account: Account, tokens: TokenSet, trace: Trace | None = None
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """Revoke the refresh token, then the access token (RFC 7009). Returns (revoked, problems, notes)."""
        from desktop_app.oauth.tokens import revoke_token
        from desktop_app.oauth.trace import Trace

        trace = trace if trace is not None else Trace()
        cached = self.registry.metadata(account.issuer)
        endpoint = metadata_from_json(cached).revocation_endpoint if cached else None
        if not endpoint:
            return (), (f"{account.issuer} offers no revocation endpoint; the tokens expire by themselves.",), ()
        stored = self.registry.registration(account.issuer, account.client_id)
        if stored is None:
            return (), (f"This app's registration at {account.issuer} is gone; nothing could be revoked.",), ()
        try:
            registration = self.registrations.load(stored)
        except ConnectorError as exc:
            return (), (exc.message,), ()
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
            except ConnectorError as exc:
                if exc.code == "unsupported_token_type":
                    # RFC 7009 §2.2.1: this server cannot revoke that kind of token (e.g. a self-contained JWT).
                    until = ""
                    if hint == "access_token" and tokens.expires_at is not None:
                        until = " in " + _human_seconds(tokens.expires_at - self.clock())
                    notes.append(f"{account.issuer} cannot revoke the {name}; it stops working by itself{until}.")
                else:
                    problems.append(f"revoking the {name} failed: {exc.message}")
            else:
                revoked.append(hint)
        return tuple(revoked), tuple(problems), tuple(notes)


def _human_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.0f} hours"


class StoredSession:
    """A :class:`~desktop_app.oauth.auth.TokenSource` over a stored account (for tools and calls)."""

    def __init__(
        self,
        accounts: Accounts,
        http: httpx.AsyncClient,
        account: Account,
        server: Server,
        *,
        reauthorize: Callable[[Account, tuple[str, ...]], Awaitable[Account]] | None = None,
    ) -> None:
        self._accounts = accounts
        self._reauthorize = reauthorize
        self._http = http
        self.account = account
        self.server = server
        #: True once this session renewed the token because the resource refused it.
        self.renewed_after_rejection = False

    @property
    def resource(self) -> str:
        return self.server.resource

    async def token(self) -> TokenSet:
        return await self._accounts.token(self._http, self.account)

    async def renew(self, rejected: TokenSet, challenge: BearerChallenge | None) -> TokenSet:
        moved_to = await self._accounts.moved_authorization_server(self._http, self.server, self.account, challenge)
        if moved_to is not None:
            old = self.account.issuer
            self.account = self._accounts.mark_needs_sign_in(
                self.account,
                f"this server now uses another authorization server ({moved_to} instead of {old})",
                code="authorization_server_changed",
            )
            raise SignInRequired(
                "authorization_server_changed",
                f"{self.server.name} now uses another authorization server, {moved_to} (instead of {old}); "
                f"{self.account.display_name} must sign in again there.",
                hint=self._accounts.sign_in_hint(self.account),
                url=self.resource,
            )
        fresh = await self._accounts.token(self._http, self.account, force=True)
        if fresh.access_token == rejected.access_token:
            # No way to renew (no refresh token): the resource's refusal is final.
            self.mark_rejected("the server refused the access token and it cannot be renewed")
            raise SignInRequired(
                "sign_in_required",
                f"{self.server.name} refused the access token of {self.account.display_name}.",
                hint="Sign in again.",
                url=self.resource,
            )
        self.renewed_after_rejection = True
        return fresh

    async def step_up(self, scopes: tuple[str, ...], challenge: BearerChallenge) -> TokenSet:
        """Sign this account in again with more scopes (the person is shown what changed), if the caller can."""
        if self._reauthorize is not None:
            self.account = await self._reauthorize(self.account, scopes)
            return await self._accounts.token(self._http, self.account)
        raise UserActionRequired(
            "more_permissions_needed",
            f"{self.server.name} asks for more permissions ({' '.join(scopes)}) than "
            f"{self.account.display_name} granted.",
            hint=f"Sign in again with more scopes: mcp-connectors login {self.server.name} "
            f"--account {self.account.id} --scope '{' '.join(scopes)}'.",
            url=self.resource,
        )

    def mark_rejected(self, reason: str) -> None:
        self.account = self._accounts.mark_needs_sign_in(self.account, reason)

    def auth(self) -> BearerAuth:
        from desktop_app.oauth.auth import BearerAuth

        return BearerAuth(self)
