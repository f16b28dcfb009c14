"""The interfaces ``accounts`` needs from storage (implemented in ``desktop_app.storage``).

Imports go one way: storage implements these Protocols, accounts never imports storage's modules except to wire
the defaults (:mod:`desktop_app.accounts.profile`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from desktop_app.accounts.models import (
    Account,
    AccountState,
    Consent,
    Event,
    Identity,
    Server,
    ServerSettings,
    StoredRegistration,
)

_T = TypeVar("_T")


class Offload(Protocol):
    """Runs a blocking keyring call somewhere the event loop does not wait on it (the window: a worker thread)."""

    def __call__(self, call: Callable[[], _T], /) -> Awaitable[_T]: ...


async def run_inline(call: Callable[[], _T]) -> _T:
    """The default :class:`Offload`: run it here (the command line has no window to keep responsive)."""
    return call()


class Locks(Protocol):
    """Per-account locks every process on the machine respects (one renewal or sign-in of an account at a time)."""

    def hold(self, name: str, *, timeout: float = ..., what: str = ...) -> AbstractAsyncContextManager[None]: ...


class SecretStore(Protocol):
    """Where secrets live: the OS keyring, or (only when the person chose it) a 0600 file.

    Keys are short ASCII paths such as ``account/<key>``; the store adds its own prefix (format generation and
    profile), so two profiles never share an entry. ``put`` is atomic with respect to crashes: after a crash a
    ``get`` returns either the old value or the new one, never a mix. Errors are
    :class:`desktop_app.errors.SecretStoreError` with a code saying what is wrong (``keyring_unavailable``,
    ``keyring_locked``, ``keyring_write_failed``, ``keyring_read_failed``).
    """

    #: "keyring", "file", or "memory" (a sign-in that keeps nothing: ``connect``).
    @property
    def kind(self) -> str: ...

    #: Shown to the person, e.g. "Secret Service (GNOME Keyring)" or "file ~/.local/share/... (not encrypted)".
    @property
    def description(self) -> str: ...

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: Mapping[str, Any]) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SignInRecord:
    """Everything :meth:`Registry.save_sign_in` writes in one transaction."""

    server_id: int
    #: None: a new account with ``account_key``; else the account being signed in again (or found by subject).
    account_id: int | None
    account_key: str
    issuer: str
    client_id: str
    identity: Identity
    scopes: tuple[str, ...]
    expires_at: float | None
    has_refresh_token: bool
    now: float
    #: The pairing approved for this sign-in (recorded as the server's consent), or None if unchanged.
    consent: Consent | None
    #: The event to log ("signed_in", "signed_in_again").
    event_kind: str
    event_detail: str


@dataclass(frozen=True, slots=True)
class RemovedServer:
    """What :meth:`Registry.remove_server` deleted rows for; the caller deletes these vault keys afterwards."""

    server: Server
    accounts: tuple[Account, ...]
    #: Registrations no remaining server uses any more (their secrets are to be deleted from the vault).
    registrations: tuple[StoredRegistration, ...]


class Registry(Protocol):
    """Everything that is not secret, in one SQLite database. Every method is one transaction.

    Errors: :class:`desktop_app.errors.ConfigurationError` for the person's input (a duplicate server, an unknown
    name), :class:`desktop_app.errors.StorageError` when the database itself cannot be used (names the file).
    """

    #: The database file (watched by the app for changes other processes make).
    path: Path

    # -- profile ---------------------------------------------------------------------------------------------
    def profile_id(self) -> str:
        """A random id made when the database is created; keeps keyring entries of two profiles apart."""
        ...

    def changed_elsewhere(self) -> bool:
        """Whether another connection (another process: the command line, a second app) committed a change since
        the last call. The first call says False. This connection's own changes never count."""
        ...

    def get_setting(self, key: str) -> str | None: ...

    def set_setting(self, key: str, value: str | None) -> None: ...

    # -- servers ---------------------------------------------------------------------------------------------
    def add_server(self, *, url: str, resource: str, name: str, settings: ServerSettings, now: float) -> Server:
        """A second server with the same resource or name is refused (ConfigurationError naming the existing one)."""
        ...

    def servers(self) -> list[Server]:
        """Ordered by name (case-insensitive)."""
        ...

    def server(self, server_id: int) -> Server | None: ...

    def find_server(self, text: str) -> Server | None:
        """By exact id (digits), name (case-insensitive), URL or canonical resource."""
        ...

    def update_server(
        self,
        server_id: int,
        *,
        name: str | None = None,
        resource_name: str | None = None,
        settings: ServerSettings | None = None,
    ) -> Server: ...

    def remove_server(self, server_id: int) -> RemovedServer:
        """Delete the server, its accounts, consents, events, and registrations no other server's accounts use."""
        ...

    # -- authorization servers (metadata cache, so a refresh after a restart needs no discovery) --------------
    def save_metadata(self, issuer: str, metadata: Mapping[str, Any], *, now: float) -> None: ...

    def metadata(self, issuer: str) -> dict[str, Any] | None: ...

    # -- client registrations --------------------------------------------------------------------------------
    def put_registration(self, registration: StoredRegistration) -> None:
        """Insert or replace by (issuer, client_id); a new current dynamic registration retires older ones."""
        ...

    def registration(self, issuer: str, client_id: str) -> StoredRegistration | None: ...

    def current_registration(self, issuer: str, method: str) -> StoredRegistration | None:
        """The newest registration still current for this issuer made with this method ("dcr", ...)."""
        ...

    def retire_registrations(self, issuer: str) -> list[StoredRegistration]:
        """Forget (mark not current) every registration of the issuer; return those no account uses any more,
        which are deleted (their vault secrets are the caller's to delete)."""
        ...

    def registrations(self) -> list[StoredRegistration]: ...

    # -- accounts --------------------------------------------------------------------------------------------
    def accounts(self, server_id: int | None = None) -> list[Account]:
        """Ordered by server, then creation. Signed-out accounts are included (state tells)."""
        ...

    def account(self, account_id: int) -> Account | None: ...

    def account_by_key(self, key: str) -> Account | None: ...

    def find_account(self, server_id: int, text: str) -> Account | None:
        """By id (digits), nickname or label (case-insensitive), on this server. Ambiguity: AmbiguousAccount
        with the candidates."""
        ...

    def account_by_subject(self, server_id: int, issuer: str, subject: str) -> Account | None: ...

    def note_pending_secret(self, key: str, *, now: float) -> None:
        """Record a vault key about to be written for an account not yet in the database (crash clean-up)."""
        ...

    def stale_pending_secrets(self, *, older_than: float) -> list[str]: ...

    def clear_pending_secret(self, key: str) -> None: ...

    def save_sign_in(self, record: SignInRecord) -> Account:
        """Create or update the account (state signed_in, error cleared, nickname kept), record the consent if
        given, log the event, clear the pending secret ``account/<key>``: one transaction."""
        ...

    def record_refresh(
        self,
        account_id: int,
        *,
        scopes: tuple[str, ...],
        expires_at: float | None,
        has_refresh_token: bool,
        now: float,
        detail: str = "",
    ) -> Account:
        """After a successful refresh: last_refresh=now, error and failures cleared, event "refreshed"."""
        ...

    def record_refresh_failure(
        self, account_id: int, *, code: str, message: str, needs_sign_in: bool, now: float
    ) -> Account:
        """Log "refresh_failed" (code and message); transient: failures+1 and last_error set, state unchanged;
        ``needs_sign_in``: state NEEDS_SIGN_IN and event "needs_sign_in"."""
        ...

    def set_state(
        self, account_id: int, state: AccountState, *, now: float, event_kind: str, detail: str
    ) -> Account: ...

    def set_nickname(self, account_id: int, nickname: str | None, *, now: float) -> Account: ...

    def delete_account(self, account_id: int) -> None: ...

    # -- consents --------------------------------------------------------------------------------------------
    def consent(self, server_id: int) -> Consent | None:
        """The pairing approved for this server (latest), or None."""
        ...

    def approve(self, consent: Consent) -> None: ...

    def withdraw_consent(self, server_id: int, *, now: float) -> None: ...

    # -- events ----------------------------------------------------------------------------------------------
    def add_event(
        self, *, server_id: int | None, account_id: int | None, kind: str, detail: str, now: float
    ) -> None: ...

    def events(self, *, server_id: int | None = None, account_id: int | None = None, limit: int = 100) -> list[Event]:
        """Newest first."""
        ...

    def close(self) -> None: ...


def describe_accounts(accounts: Sequence[Account]) -> str:
    """One line naming the candidates (for an ambiguous ``--account``)."""
    return ", ".join(f"{a.display_name} (id {a.id})" for a in accounts)


@dataclass(slots=True)
class Stores:
    """What every part of :class:`~desktop_app.accounts.manager.Accounts` works on, shared: replacing ``offload``
    (the window does, ADR 0011) takes effect everywhere."""

    registry: Registry
    secrets: SecretStore
    locks: Locks
    clock: Callable[[], float] = time.time
    offload: Offload = field(default=run_inline)
