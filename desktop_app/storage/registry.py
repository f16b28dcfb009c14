"""The registry: everything that is not secret, in one SQLite file shared by the window, the tray and the CLI.

:class:`SqliteRegistry` implements :class:`desktop_app.accounts.ports.Registry` (see docs/decisions/0009). The
file is opened in WAL mode with a busy timeout, so several processes can use it at once; every public method is
one transaction (``BEGIN IMMEDIATE`` when it writes). The schema and its migrations are in
:mod:`desktop_app.storage.schema`. No table has a column for a token or a client secret.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, cast, get_args

from desktop_app.accounts.models import (
    Account,
    AccountState,
    Consent,
    Event,
    IdentitySource,
    Server,
    ServerSettings,
    StoredRegistration,
)
from desktop_app.accounts.ports import RemovedServer, SignInRecord, describe_accounts
from desktop_app.appinfo import APP_NAME
from desktop_app.errors import ConfigurationError, ConnectorError, StorageError, one_line
from desktop_app.oauth.urls import canonical_resource
from desktop_app.storage.paths import check_own_file, ensure_private_dir
from desktop_app.storage.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

FILE_NAME = "registry.sqlite3"
#: How long a write waits for another process's transaction before giving up (seconds).
BUSY_TIMEOUT = 10.0
#: Events kept per account (and per server, and globally, for events without an account).
EVENTS_KEPT = 1000

_IDENTITY_SOURCES = frozenset(get_args(IdentitySource))
_MOVE_ASIDE = (
    "Move the file aside (rename it) and start the app again: a new, empty registry is created and the old file "
    "is left as it is, for recovery."
)
_ACCOUNT_COLUMNS = (
    "a.id, a.key, a.server_id, a.issuer, a.client_id, a.subject, a.label, a.identity_source, a.login_hint, "
    "a.nickname, a.state, a.scopes, a.expires_at, a.has_refresh_token, a.created_at, a.signed_in_at, "
    "a.last_refresh, a.last_error, a.failures"
)
_ACCOUNTS_SELECT = f"SELECT {_ACCOUNT_COLUMNS} FROM accounts a"  # noqa: S608 - constant column list


def default_registry_path(data_dir: Path) -> Path:
    """Where the registry of a profile lives."""
    return data_dir / FILE_NAME


class SqliteRegistry:
    """The :class:`~desktop_app.accounts.ports.Registry` on a SQLite file (created, 0600, when missing).

    Opening refuses, with a :class:`StorageError` naming the file and never touching it: a file that is not a
    SQLite database or is damaged (``database_unreadable``), another program's database (``database_unreadable``),
    a registry written by a newer version (``schema_too_new``), a registry or SQLite file beside it that is a
    symbolic link, not a regular file or another user's (``file_unsafe``), a folder that belongs to another user
    or that others may write in (``data_dir_foreign``, ``data_dir_writable``; ADR 0016). One connection per
    instance, usable from any thread (calls are serialised by a lock).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn = _open(self.path)
        self._data_version: int | None = None

    # -- plumbing --------------------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction; ``write`` takes the write lock at once (``BEGIN IMMEDIATE``), so it cannot deadlock
        on an upgrade from reading. Errors of the person's input pass through, SQLite's become StorageError."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.ProgrammingError:
                raise  # a bug (closed registry, wrong binding): not the database's fault
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.debug("rollback after an error failed", exc_info=True)
                raise _storage_error(self.path, exc) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteRegistry:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- profile ---------------------------------------------------------------------------------------------
    def profile_id(self) -> str:
        with self._transaction(write=False) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'profile_id'").fetchone()
        if row is None:
            raise StorageError(
                "database_unreadable", f"The registry {self.path} has no profile id: it is damaged.", hint=_MOVE_ASIDE
            )
        return str(row[0])

    def changed_elsewhere(self) -> bool:
        # SQLite's data_version changes when another connection commits, never for this one's own commits.
        with self._lock:
            try:
                version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.ProgrammingError:
                raise
            except sqlite3.Error as exc:
                raise _storage_error(self.path, exc) from exc
            previous, self._data_version = self._data_version, version
        return previous is not None and version != previous

    def get_setting(self, key: str) -> str | None:
        with self._transaction(write=False) as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str | None) -> None:
        """``None`` removes the setting."""
        with self._transaction(write=True) as conn:
            if value is None:
                conn.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                conn.execute(
                    """INSERT INTO settings (key, value) VALUES (?, ?)
                       ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                    (key, value),
                )

    # -- servers ---------------------------------------------------------------------------------------------
    def add_server(self, *, url: str, resource: str, name: str, settings: ServerSettings, now: float) -> Server:
        """A second server with the same resource or name (case-insensitive) is refused: ConfigurationError
        ``duplicate_server`` / ``duplicate_name`` naming the existing server and its URL. A name must not be empty
        nor only digits (those are read as an id)."""
        name = _clean_server_name(name)
        with self._transaction(write=True) as conn:
            existing = conn.execute("SELECT * FROM servers WHERE resource = ?", (resource,)).fetchone()
            if existing is not None:
                raise ConfigurationError(
                    "duplicate_server",
                    f"The server {resource} is already added, as {existing['name']!r} ({existing['url']}).",
                    hint="Use that server (add another account to it), or remove it first.",
                    url=url,
                )
            _check_name_free(conn, name, None)
            cursor = conn.execute(
                """INSERT INTO servers (url, resource, name, resource_name, settings, added_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (url, resource, name, None, settings.to_json(), now),
            )
            return _require_server(conn, _lastrowid(cursor))

    def servers(self) -> list[Server]:
        """Ordered by name (case-insensitive)."""
        with self._transaction(write=False) as conn:
            rows = conn.execute("SELECT * FROM servers ORDER BY name COLLATE NOCASE, id").fetchall()
        return [_server(row) for row in rows]

    def server(self, server_id: int) -> Server | None:
        with self._transaction(write=False) as conn:
            return _get_server(conn, server_id)

    def find_server(self, text: str) -> Server | None:
        """By id (digits), else name (case-insensitive), else the exact URL, else the canonical resource."""
        text = text.strip()
        if not text:
            return None
        try:
            resource: str | None = canonical_resource(text)
        except ConnectorError:
            resource = None
        with self._transaction(write=False) as conn:
            if _is_id(text):
                found = _get_server(conn, int(text))
                if found is not None:
                    return found
            for column, value in (("name", text), ("url", text), ("resource", resource)):
                if value is None:
                    continue
                row = conn.execute(
                    f"SELECT * FROM servers WHERE {column} = ? ORDER BY id LIMIT 1",  # noqa: S608 - fixed names
                    (value,),
                ).fetchone()
                if row is not None:
                    return _server(row)
        return None

    def update_server(
        self,
        server_id: int,
        *,
        name: str | None = None,
        resource_name: str | None = None,
        settings: ServerSettings | None = None,
    ) -> Server:
        """Change what is given (None: unchanged). Unknown id: ConfigurationError ``unknown_server``; a name
        another server has: ``duplicate_name``."""
        with self._transaction(write=True) as conn:
            current = _require_server(conn, server_id)
            new_name = current.name if name is None else _clean_server_name(name)
            if new_name.casefold() != current.name.casefold():
                _check_name_free(conn, new_name, server_id)
            conn.execute(
                "UPDATE servers SET name = ?, resource_name = ?, settings = ? WHERE id = ?",
                (
                    new_name,
                    current.resource_name if resource_name is None else resource_name,
                    (current.settings if settings is None else settings).to_json(),
                    server_id,
                ),
            )
            return _require_server(conn, server_id)

    def remove_server(self, server_id: int) -> RemovedServer:
        """Delete the server with its accounts, consent and events, and the registrations it leaves unused.

        The rule for registrations (shared by every server of an issuer): among the registrations of the issuers
        this server used (its accounts' issuers and its consent's), delete those that no remaining account signs in
        with (same issuer and client id) and whose issuer no remaining server's consent (not withdrawn) names. A
        registration kept here is left for :meth:`retire_registrations`. The caller deletes the vault entries of
        what is returned. Unknown id: ConfigurationError ``unknown_server``.
        """
        with self._transaction(write=True) as conn:
            server = _require_server(conn, server_id)
            accounts = [
                _account(row)
                for row in conn.execute(
                    f"{_ACCOUNTS_SELECT} WHERE a.server_id = ? ORDER BY a.created_at, a.id", (server_id,)
                )
            ]
            issuers = {account.issuer for account in accounts}
            consent_issuers = conn.execute("SELECT issuer FROM consents WHERE server_id = ?", (server_id,))
            issuers.update(row[0] for row in consent_issuers)
            conn.execute("DELETE FROM servers WHERE id = ?", (server_id,))
            removed: list[StoredRegistration] = []
            for issuer in sorted(issuers):
                rows = conn.execute(
                    """SELECT * FROM registrations r WHERE r.issuer = ?
                       AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.issuer = r.issuer AND a.client_id = r.client_id)
                       AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.issuer = r.issuer AND c.withdrawn_at IS NULL)
                       ORDER BY r.created_at, r.client_id""",
                    (issuer,),
                ).fetchall()
                removed.extend(_registration(row) for row in rows)
            conn.executemany(
                "DELETE FROM registrations WHERE issuer = ? AND client_id = ?",
                [(r.issuer, r.client_id) for r in removed],
            )
        log.info("Removed server %s (%d accounts, %d registrations)", server.resource, len(accounts), len(removed))
        return RemovedServer(server=server, accounts=tuple(accounts), registrations=tuple(removed))

    # -- authorization servers -------------------------------------------------------------------------------
    def save_metadata(self, issuer: str, metadata: Mapping[str, Any], *, now: float) -> None:
        text = json.dumps(dict(metadata), sort_keys=True)
        with self._transaction(write=True) as conn:
            conn.execute(
                """INSERT INTO authorization_servers (issuer, metadata, fetched_at) VALUES (?, ?, ?)
                   ON CONFLICT (issuer) DO UPDATE SET metadata = excluded.metadata, fetched_at = excluded.fetched_at""",
                (issuer, text, now),
            )

    def metadata(self, issuer: str) -> dict[str, Any] | None:
        """The metadata last saved for the issuer (None if none, or if what is stored is not a JSON object)."""
        with self._transaction(write=False) as conn:
            row = conn.execute("SELECT metadata FROM authorization_servers WHERE issuer = ?", (issuer,)).fetchone()
        if row is None:
            return None
        try:
            data = json.loads(row[0])
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    # -- client registrations --------------------------------------------------------------------------------
    def put_registration(self, registration: StoredRegistration) -> None:
        """Insert or replace by (issuer, client_id); a current ``dcr`` registration marks the issuer's older
        ``dcr`` registrations not current (they are kept: accounts may use them)."""
        r = registration
        with self._transaction(write=True) as conn:
            conn.execute(
                """INSERT INTO registrations (issuer, client_id, method, token_endpoint_auth_method,
                       client_secret_expires_at, redirect_uris, has_secret, created_at, current)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (issuer, client_id) DO UPDATE SET method = excluded.method,
                       token_endpoint_auth_method = excluded.token_endpoint_auth_method,
                       client_secret_expires_at = excluded.client_secret_expires_at,
                       redirect_uris = excluded.redirect_uris, has_secret = excluded.has_secret,
                       created_at = excluded.created_at, current = excluded.current""",
                (
                    r.issuer,
                    r.client_id,
                    r.method,
                    r.token_endpoint_auth_method,
                    r.client_secret_expires_at,
                    json.dumps(list(r.redirect_uris)),
                    int(r.has_secret),
                    r.created_at,
                    int(r.current),
                ),
            )
            if r.current and r.method == "dcr":
                conn.execute(
                    """UPDATE registrations SET current = 0 WHERE issuer = ? AND method = 'dcr' AND client_id != ?
                       AND current = 1 AND created_at <= ?""",
                    (r.issuer, r.client_id, r.created_at),
                )

    def registration(self, issuer: str, client_id: str) -> StoredRegistration | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM registrations WHERE issuer = ? AND client_id = ?", (issuer, client_id)
            ).fetchone()
        return None if row is None else _registration(row)

    def current_registration(self, issuer: str, method: str) -> StoredRegistration | None:
        """The newest registration still current for this issuer made with this method ("dcr", ...)."""
        with self._transaction(write=False) as conn:
            row = conn.execute(
                """SELECT * FROM registrations WHERE issuer = ? AND method = ? AND current = 1
                   ORDER BY created_at DESC, rowid DESC LIMIT 1""",
                (issuer, method),
            ).fetchone()
        return None if row is None else _registration(row)

    def retire_registrations(self, issuer: str) -> list[StoredRegistration]:
        """Mark every registration of the issuer not current; delete and return those no account uses (same
        issuer and client id). The caller deletes their vault secrets."""
        with self._transaction(write=True) as conn:
            conn.execute("UPDATE registrations SET current = 0 WHERE issuer = ?", (issuer,))
            rows = conn.execute(
                """SELECT * FROM registrations r WHERE r.issuer = ?
                   AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.issuer = r.issuer AND a.client_id = r.client_id)
                   ORDER BY r.created_at, r.client_id""",
                (issuer,),
            ).fetchall()
            retired = [_registration(row) for row in rows]
            conn.executemany(
                "DELETE FROM registrations WHERE issuer = ? AND client_id = ?",
                [(r.issuer, r.client_id) for r in retired],
            )
        return retired

    def registrations(self) -> list[StoredRegistration]:
        """Ordered by issuer, then creation."""
        with self._transaction(write=False) as conn:
            rows = conn.execute("SELECT * FROM registrations ORDER BY issuer, created_at, client_id").fetchall()
        return [_registration(row) for row in rows]

    # -- accounts --------------------------------------------------------------------------------------------
    def accounts(self, server_id: int | None = None) -> list[Account]:
        """Ordered by server (as :meth:`servers` orders them), then creation; one query."""
        where = "" if server_id is None else "WHERE a.server_id = ?"
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"""{_ACCOUNTS_SELECT} JOIN servers s ON s.id = a.server_id {where}
                    ORDER BY s.name COLLATE NOCASE, s.id, a.created_at, a.id""",
                () if server_id is None else (server_id,),
            ).fetchall()
        return [_account(row) for row in rows]

    def account(self, account_id: int) -> Account | None:
        with self._transaction(write=False) as conn:
            return _get_account(conn, account_id)

    def account_by_key(self, key: str) -> Account | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(f"{_ACCOUNTS_SELECT} WHERE a.key = ?", (key,)).fetchone()
        return None if row is None else _account(row)

    def find_account(self, server_id: int, text: str) -> Account | None:
        """On this server: by id (digits), else by nickname, else by label (case-insensitive). Signed-out
        accounts are found too. Several matches: ConfigurationError ``ambiguous_account`` listing them."""
        text = text.strip()
        if not text:
            return None
        with self._transaction(write=False) as conn:
            server = _get_server(conn, server_id)
            if server is None:
                return None
            accounts = [
                _account(row)
                for row in conn.execute(
                    f"{_ACCOUNTS_SELECT} WHERE a.server_id = ? ORDER BY a.created_at, a.id", (server_id,)
                )
            ]
        if _is_id(text):
            for account in accounts:
                if account.id == int(text):
                    return account
        wanted = text.casefold()
        candidates = [a for a in accounts if a.nickname is not None and a.nickname.casefold() == wanted]
        if not candidates:
            candidates = [a for a in accounts if a.label.casefold() == wanted]
        if len(candidates) > 1:
            raise ConfigurationError(
                "ambiguous_account",
                f"{text!r} matches {len(candidates)} accounts of {server.name}: {describe_accounts(candidates)}.",
                hint="Name the account by its id, or give each a nickname.",
            )
        return candidates[0] if candidates else None

    def account_by_subject(self, server_id: int, issuer: str, subject: str) -> Account | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"{_ACCOUNTS_SELECT} WHERE a.server_id = ? AND a.issuer = ? AND a.subject = ?",
                (server_id, issuer, subject),
            ).fetchone()
        return None if row is None else _account(row)

    def note_pending_secret(self, key: str, *, now: float) -> None:
        """Record a vault key about to be written for an account not yet in the database (crash clean-up)."""
        with self._transaction(write=True) as conn:
            conn.execute(
                """INSERT INTO pending_secrets (key, created_at) VALUES (?, ?)
                   ON CONFLICT (key) DO UPDATE SET created_at = excluded.created_at""",
                (key, now),
            )

    def stale_pending_secrets(self, *, older_than: float) -> list[str]:
        """Keys noted before ``older_than`` and never cleared, oldest first."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT key FROM pending_secrets WHERE created_at < ? ORDER BY created_at, key", (older_than,)
            ).fetchall()
        return [str(row[0]) for row in rows]

    def clear_pending_secret(self, key: str) -> None:
        with self._transaction(write=True) as conn:
            conn.execute("DELETE FROM pending_secrets WHERE key = ?", (key,))

    def save_sign_in(self, record: SignInRecord) -> Account:
        """Create (``account_id`` None, with ``account_key``) or update the account, record the consent if given,
        log the event, clear the pending secret ``account/<key>``: one transaction.

        An update sets issuer, client, identity (subject, label, source, login hint), scopes, expiry, refresh
        token presence, ``signed_in_at``; state becomes signed_in, the error and failure count are cleared; the
        nickname and key are kept. ConfigurationError: ``unknown_server``, ``unknown_account`` (not on this
        server), ``duplicate_account`` (another account of the server already has this subject).
        """
        identity = record.identity
        with self._transaction(write=True) as conn:
            server = _require_server(conn, record.server_id)
            if record.account_id is not None:
                existing = _get_account(conn, record.account_id)
                if existing is None or existing.server_id != record.server_id:
                    raise ConfigurationError(
                        "unknown_account", f"There is no account with id {record.account_id} on {server.name}."
                    )
            if identity.subject is not None:
                other = conn.execute(
                    f"{_ACCOUNTS_SELECT} WHERE a.server_id = ? AND a.issuer = ? AND a.subject = ? AND a.id IS NOT ?",
                    (record.server_id, record.issuer, identity.subject, record.account_id),
                ).fetchone()
                if other is not None:
                    taken = _account(other)
                    raise ConfigurationError(
                        "duplicate_account",
                        f"{identity.label} is already the account {taken.display_name} (id {taken.id}) of "
                        f"{server.name}.",
                        hint="Sign in again to that account instead of adding a new one.",
                    )
            values = (
                record.issuer,
                record.client_id,
                identity.subject,
                identity.label,
                identity.source,
                identity.login_hint,
                " ".join(record.scopes),
                record.expires_at,
                int(record.has_refresh_token),
                record.now,
            )
            if record.account_id is None:
                cursor = conn.execute(
                    """INSERT INTO accounts (issuer, client_id, subject, label, identity_source, login_hint, scopes,
                           expires_at, has_refresh_token, signed_in_at, key, server_id, state, created_at, failures)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'signed_in', ?, 0)""",
                    (*values, record.account_key, record.server_id, record.now),
                )
                account_id = _lastrowid(cursor)
            else:
                account_id = record.account_id
                conn.execute(
                    """UPDATE accounts SET issuer = ?, client_id = ?, subject = ?, label = ?, identity_source = ?,
                           login_hint = ?, scopes = ?, expires_at = ?, has_refresh_token = ?, signed_in_at = ?,
                           state = 'signed_in', last_error = NULL, failures = 0
                       WHERE id = ?""",
                    (*values, account_id),
                )
            if record.consent is not None:
                _put_consent(conn, record.consent)
            _add_event(conn, record.server_id, account_id, record.event_kind, record.event_detail, record.now)
            conn.execute("DELETE FROM pending_secrets WHERE key = ?", (f"account/{record.account_key}",))
            return _require_account(conn, account_id)

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
        """After a successful refresh: last_refresh=now, error and failures cleared, event "refreshed".

        An account marked needs_sign_in is signed_in again (another process's refresh proves the login alive);
        a signed-out one stays signed out. Unknown id: ConfigurationError ``unknown_account``.
        """
        with self._transaction(write=True) as conn:
            account = _require_account(conn, account_id)
            state = AccountState.SIGNED_IN if account.state is AccountState.NEEDS_SIGN_IN else account.state
            conn.execute(
                """UPDATE accounts SET scopes = ?, expires_at = ?, has_refresh_token = ?, last_refresh = ?,
                       last_error = NULL, failures = 0, state = ?
                   WHERE id = ?""",
                (" ".join(scopes), expires_at, int(has_refresh_token), now, state.value, account_id),
            )
            _add_event(conn, account.server_id, account_id, "refreshed", detail, now)
            return _require_account(conn, account_id)

    def record_refresh_failure(
        self, account_id: int, *, code: str, message: str, needs_sign_in: bool, now: float
    ) -> Account:
        """Log "refresh_failed" (``code: message``). Transient: failures+1 and last_error=message, state
        unchanged. ``needs_sign_in``: state NEEDS_SIGN_IN, last_error=message (why), failures unchanged, and event
        "needs_sign_in"; a signed-out account stays signed out (no second event).
        Unknown id: ConfigurationError ``unknown_account``."""
        line = one_line(message, 500)
        detail = f"{code}: {line}"
        with self._transaction(write=True) as conn:
            account = _require_account(conn, account_id)
            _add_event(conn, account.server_id, account_id, "refresh_failed", detail, now)
            if not needs_sign_in:
                conn.execute(
                    "UPDATE accounts SET failures = failures + 1, last_error = ? WHERE id = ?", (line, account_id)
                )
            elif account.state is not AccountState.SIGNED_OUT:
                conn.execute(
                    "UPDATE accounts SET state = ?, last_error = ? WHERE id = ?",
                    (AccountState.NEEDS_SIGN_IN.value, line, account_id),
                )
                _add_event(conn, account.server_id, account_id, "needs_sign_in", detail, now)
            return _require_account(conn, account_id)

    def set_state(self, account_id: int, state: AccountState, *, now: float, event_kind: str, detail: str) -> Account:
        """Set the state and log the event. Unknown id: ConfigurationError ``unknown_account``."""
        with self._transaction(write=True) as conn:
            account = _require_account(conn, account_id)
            conn.execute("UPDATE accounts SET state = ? WHERE id = ?", (state.value, account_id))
            _add_event(conn, account.server_id, account_id, event_kind, detail, now)
            return _require_account(conn, account_id)

    def set_nickname(self, account_id: int, nickname: str | None, *, now: float) -> Account:
        """Blank or None removes the nickname; one made only of digits is refused (``invalid_nickname``: it
        would read as an id). Logs "nickname_changed". Unknown id: ConfigurationError ``unknown_account``."""
        cleaned = (nickname or "").strip() or None
        if cleaned is not None and (_is_digits(cleaned) or not cleaned.isprintable()):
            raise ConfigurationError(
                "invalid_nickname",
                f"The nickname {cleaned!r} cannot be used: it must not be only digits (those are read as an id) "
                "nor contain control characters.",
                hint="Choose a nickname with at least one letter.",
            )
        with self._transaction(write=True) as conn:
            account = _require_account(conn, account_id)
            conn.execute("UPDATE accounts SET nickname = ? WHERE id = ?", (cleaned, account_id))
            detail = f"nickname {cleaned}" if cleaned else "nickname removed"
            _add_event(conn, account.server_id, account_id, "nickname_changed", detail, now)
            return _require_account(conn, account_id)

    def delete_account(self, account_id: int) -> None:
        """Delete the account and its events; an unknown id is not an error (deleting twice is harmless)."""
        with self._transaction(write=True) as conn:
            conn.execute("DELETE FROM accounts WHERE id = ?", (account_id,))

    # -- consents --------------------------------------------------------------------------------------------
    def consent(self, server_id: int) -> Consent | None:
        """The pairing approved for this server (latest), or None (never approved, or withdrawn)."""
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM consents WHERE server_id = ? AND withdrawn_at IS NULL", (server_id,)
            ).fetchone()
        return None if row is None else _consent(row)

    def approve(self, consent: Consent) -> None:
        """Record the pairing as the server's consent (replacing the previous one). Unknown server:
        ConfigurationError ``unknown_server``."""
        with self._transaction(write=True) as conn:
            _require_server(conn, consent.server_id)
            _put_consent(conn, consent)

    def withdraw_consent(self, server_id: int, *, now: float) -> None:
        """Mark the server's consent withdrawn at ``now`` (nothing approved: nothing to do). Unknown server:
        ConfigurationError ``unknown_server``."""
        with self._transaction(write=True) as conn:
            _require_server(conn, server_id)
            conn.execute(
                "UPDATE consents SET withdrawn_at = ? WHERE server_id = ? AND withdrawn_at IS NULL", (now, server_id)
            )

    # -- events ----------------------------------------------------------------------------------------------
    def add_event(self, *, server_id: int | None, account_id: int | None, kind: str, detail: str, now: float) -> None:
        """Log one event; an account's event takes the account's server when ``server_id`` is None. Only the
        newest :data:`EVENTS_KEPT` of the account (or of the server, or of the global log) are kept. Unknown ids:
        ConfigurationError ``unknown_server`` / ``unknown_account``."""
        with self._transaction(write=True) as conn:
            if account_id is not None:
                account = _require_account(conn, account_id)
                server_id = account.server_id if server_id is None else server_id
            if server_id is not None:
                _require_server(conn, server_id)
            _add_event(conn, server_id, account_id, kind, detail, now)

    def events(self, *, server_id: int | None = None, account_id: int | None = None, limit: int = 100) -> list[Event]:
        """Newest first (by time, then by order of logging); filtered by server and/or account when given."""
        conditions: list[str] = []
        params: list[object] = []
        if server_id is not None:
            conditions.append("server_id = ?")
            params.append(server_id)
        if account_id is not None:
            conditions.append("account_id = ?")
            params.append(account_id)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT * FROM events {where} ORDER BY at DESC, id DESC LIMIT ?",  # noqa: S608 - fixed text
                (*params, max(limit, 0)),
            ).fetchall()
        return [
            Event(
                id=row["id"],
                server_id=row["server_id"],
                account_id=row["account_id"],
                at=row["at"],
                kind=row["kind"],
                detail=row["detail"],
            )
            for row in rows
        ]


# -- opening ---------------------------------------------------------------------------------------------------


#: SQLite's files beside the database (write-ahead log, shared memory, rollback journal): opened by name too.
SIDE_FILES = ("-wal", "-shm", "-journal")


def _open(path: Path) -> sqlite3.Connection:
    """SQLite opens files by name and follows symbolic links: the folder is checked first (it is the user's and
    nobody else may write in it, so nobody can swap a name afterwards), then each file by name (ADR 0016)."""
    ensure_private_dir(path.parent)
    for name in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        check_own_file(name)
    try:
        _create_private_file(path)
    except OSError as exc:
        raise StorageError(
            "database_unavailable",
            f"The registry {path} cannot be created: {exc.strerror or exc}.",
            hint="Check that the folder exists, belongs to you and that the disk is not full.",
        ) from exc
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _storage_error(path, exc) from exc
    try:
        conn.row_factory = sqlite3.Row
        _check_file(conn, path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("The registry %s cannot use WAL (journal mode %s): other processes may wait longer", path, mode)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        _migrate(conn, path)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.ProgrammingError):
            raise _storage_error(path, exc) from exc
        raise
    _tighten_mode(path)
    return conn


def _create_private_file(path: Path) -> None:
    """Create the empty database file readable by the user only; an existing file is not touched."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return
    os.close(fd)
    log.info("Created the registry %s", path)


def _tighten_mode(path: Path) -> None:
    """An existing registry readable by others (copied in, restored from a backup) is made 0600."""
    if os.name != "posix":
        return
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
            log.warning("The registry %s was readable by other users; it is now private (0600)", path)
    except OSError as exc:
        log.warning("Could not make the registry %s private: %s", path, exc.strerror)


def _check_file(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse, before writing anything, a file that is not a registry this version can use."""
    version = _user_version(conn)  # the first read: "file is not a database" surfaces here
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    foreign = application_id not in (0, APPLICATION_ID)
    if not foreign and version == 0:
        foreign = conn.execute("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0] > 0
    if foreign:
        raise StorageError(
            "database_unreadable",
            f"The file {path} is a SQLite database of another program, not a registry of {APP_NAME}.",
            hint=_MOVE_ASIDE,
        )
    if version > SCHEMA_VERSION:
        raise _too_new(path, version)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the missing migrations, each in its own ``BEGIN IMMEDIATE`` transaction. Another process may be
    migrating the same file: the version is read again under the write lock."""
    while _user_version(conn) < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _user_version(conn)
            if version > SCHEMA_VERSION:
                raise _too_new(path, version)
            if version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if version < SCHEMA_VERSION:
            log.info("Registry %s: schema %d → %d", path, version, version + 1)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _too_new(path: Path, version: int) -> StorageError:
    return StorageError(
        "schema_too_new",
        f"The registry {path} was written by a newer version of {APP_NAME} (schema {version}; this version knows "
        f"up to {SCHEMA_VERSION}).",
        hint="Use the newer version of the app, or move the file aside to start with an empty registry.",
    )


def _storage_error(path: Path, exc: sqlite3.Error) -> StorageError:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StorageError(
            "database_busy",
            f"The registry {path} stayed locked by another process for more than {BUSY_TIMEOUT:g} s.",
            hint="Another copy of the app or of the command line may be stuck: close it and try again.",
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StorageError(
            "database_unreadable",
            f"The registry {path} is not a database this app can read (it is damaged, or another kind of file).",
            hint=_MOVE_ASIDE,
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_FULL", "SQLITE_IOERR")):
        return StorageError(
            "database_unavailable",
            f"The registry {path} cannot be used: {exc}.",
            hint="Check that the disk is not full and that the file and its folder belong to you.",
        )
    return StorageError("database_error", f"The registry {path} refused an operation: {exc}.")


# -- rows ------------------------------------------------------------------------------------------------------


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_id(text: str) -> bool:
    return _is_digits(text) and len(text) <= 18


def _lastrowid(cursor: sqlite3.Cursor) -> int:
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _clean_server_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or not cleaned.isprintable() or _is_digits(cleaned):
        raise ConfigurationError(
            "invalid_server_name",
            f"The server name {name!r} cannot be used: it must not be empty, only digits (those are read as an id) "
            "or contain control characters.",
            hint="Choose a name with at least one letter.",
        )
    return cleaned


def _check_name_free(conn: sqlite3.Connection, name: str, server_id: int | None) -> None:
    row = conn.execute("SELECT * FROM servers WHERE name = ? AND id IS NOT ?", (name, server_id)).fetchone()
    if row is not None:
        raise ConfigurationError(
            "duplicate_name",
            f"A server named {row['name']!r} already exists ({row['url']}).",
            hint="Choose another name, or rename that server first.",
        )


def _server(row: sqlite3.Row) -> Server:
    try:
        settings = ServerSettings.from_json(row["settings"])
    except (ValueError, TypeError):
        log.warning("Server %s: unreadable settings, using the defaults", row["resource"])
        settings = ServerSettings()
    return Server(
        id=row["id"],
        url=row["url"],
        resource=row["resource"],
        name=row["name"],
        resource_name=row["resource_name"],
        settings=settings,
        added_at=row["added_at"],
    )


def _get_server(conn: sqlite3.Connection, server_id: int) -> Server | None:
    row = conn.execute("SELECT * FROM servers WHERE id = ?", (server_id,)).fetchone()
    return None if row is None else _server(row)


def _require_server(conn: sqlite3.Connection, server_id: int) -> Server:
    server = _get_server(conn, server_id)
    if server is None:
        raise ConfigurationError(
            "unknown_server",
            f"There is no server with id {server_id}.",
            hint="List the servers to see their ids.",
        )
    return server


def _account(row: sqlite3.Row) -> Account:
    source = row["identity_source"]
    return Account(
        id=row["id"],
        key=row["key"],
        server_id=row["server_id"],
        issuer=row["issuer"],
        client_id=row["client_id"],
        subject=row["subject"],
        label=row["label"],
        identity_source=cast(IdentitySource, source if source in _IDENTITY_SOURCES else "none"),
        login_hint=row["login_hint"],
        nickname=row["nickname"],
        state=AccountState(row["state"]),
        scopes=tuple(row["scopes"].split()),
        expires_at=row["expires_at"],
        has_refresh_token=bool(row["has_refresh_token"]),
        created_at=row["created_at"],
        signed_in_at=row["signed_in_at"],
        last_refresh=row["last_refresh"],
        last_error=row["last_error"],
        failures=row["failures"],
    )


def _get_account(conn: sqlite3.Connection, account_id: int) -> Account | None:
    row = conn.execute(f"{_ACCOUNTS_SELECT} WHERE a.id = ?", (account_id,)).fetchone()
    return None if row is None else _account(row)


def _require_account(conn: sqlite3.Connection, account_id: int) -> Account:
    account = _get_account(conn, account_id)
    if account is None:
        raise ConfigurationError(
            "unknown_account",
            f"There is no account with id {account_id}.",
            hint="List the accounts to see their ids.",
        )
    return account


def _registration(row: sqlite3.Row) -> StoredRegistration:
    try:
        uris = json.loads(row["redirect_uris"])
    except ValueError:
        uris = []
    return StoredRegistration(
        issuer=row["issuer"],
        client_id=row["client_id"],
        method=row["method"],
        token_endpoint_auth_method=row["token_endpoint_auth_method"],
        client_secret_expires_at=row["client_secret_expires_at"],
        redirect_uris=tuple(str(u) for u in uris) if isinstance(uris, list) else (),
        has_secret=bool(row["has_secret"]),
        created_at=row["created_at"],
        current=bool(row["current"]),
    )


def _consent(row: sqlite3.Row) -> Consent:
    return Consent(
        server_id=row["server_id"],
        resource=row["resource"],
        issuer=row["issuer"],
        scopes=tuple(row["scopes"].split()),
        client_kind=row["client_kind"],
        client_id=row["client_id"],
        approved_at=row["approved_at"],
    )


def _put_consent(conn: sqlite3.Connection, consent: Consent) -> None:
    conn.execute(
        """INSERT INTO consents (server_id, resource, issuer, scopes, client_kind, client_id, approved_at, withdrawn_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
           ON CONFLICT (server_id) DO UPDATE SET resource = excluded.resource, issuer = excluded.issuer,
               scopes = excluded.scopes, client_kind = excluded.client_kind, client_id = excluded.client_id,
               approved_at = excluded.approved_at, withdrawn_at = NULL""",
        (
            consent.server_id,
            consent.resource,
            consent.issuer,
            " ".join(consent.scopes),
            consent.client_kind,
            consent.client_id,
            consent.approved_at,
        ),
    )


def _add_event(
    conn: sqlite3.Connection, server_id: int | None, account_id: int | None, kind: str, detail: str, now: float
) -> None:
    """Insert, then keep the newest :data:`EVENTS_KEPT` of the same log (the account's; else the server's
    events without an account; else the global ones)."""
    conn.execute(
        "INSERT INTO events (server_id, account_id, at, kind, detail) VALUES (?, ?, ?, ?, ?)",
        (server_id, account_id, now, kind, detail),
    )
    params: tuple[int, ...]
    if account_id is not None:
        scope, params = "account_id = ?", (account_id,)
    elif server_id is not None:
        scope, params = "server_id = ? AND account_id IS NULL", (server_id,)
    else:
        scope, params = "server_id IS NULL AND account_id IS NULL", ()
    conn.execute(
        f"""DELETE FROM events WHERE id IN (
               SELECT id FROM events WHERE {scope} ORDER BY at DESC, id DESC LIMIT -1 OFFSET ?)""",  # noqa: S608
        (*params, EVENTS_KEPT),
    )
