"""The registry: everything that is not secret, in one SQLite file shared by the window, the tray and the CLI.

:class:`SqliteRegistry` implements :class:`desktop_app.accounts.ports.Registry` (see docs/decisions/0009): the
queries, each public method one transaction. Opening the file, migrating it and the transactions themselves are in
:mod:`desktop_app.storage.registry_db`, rows and the lookups queries share in :mod:`desktop_app.storage.registry_rows`,
pinned server keys in :mod:`desktop_app.storage.key_pins`. :meth:`SqliteRegistry.in_memory` gives the same registry in
memory only. No table has a column for a token or a client secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from desktop_app.accounts.models import (
    Account,
    AccountState,
    Consent,
    Event,
    Server,
    ServerSettings,
    StoredRegistration,
)
from desktop_app.accounts.ports import RemovedServer, SignInRecord, describe_accounts
from desktop_app.errors import AmbiguousAccount, Candidate, ConfigurationError, ConnectorError, ServerExists, one_line
from desktop_app.oauth.urls import canonical_resource
from desktop_app.storage.key_pins import KeyPinQueries
from desktop_app.storage.registry_rows import (
    ACCOUNTS_SELECT,
    check_name_free,
    check_subject_free,
    clean_server_name,
    delete_unused_registrations,
    get_account,
    get_server,
    insert_event,
    is_digits,
    is_id,
    lastrowid,
    put_consent,
    require_account,
    require_server,
    to_account,
    to_consent,
    to_event,
    to_registration,
    to_server,
)

log = logging.getLogger(__name__)

FILE_NAME = "registry.sqlite3"


def default_registry_path(data_dir: Path) -> Path:
    """Where the registry of a profile lives."""
    return data_dir / FILE_NAME


class SqliteRegistry(KeyPinQueries):
    """The :class:`~desktop_app.accounts.ports.Registry` on a SQLite file (created, 0600, when missing), or in
    memory (:meth:`in_memory`). What opening a file refuses: :class:`~desktop_app.storage.registry_db.RegistryDatabase`.
    """

    # -- servers ---------------------------------------------------------------------------------------------
    def add_server(self, *, url: str, resource: str, name: str, settings: ServerSettings, now: float) -> Server:
        """A second server with the same resource or name (case-insensitive) is refused: ConfigurationError
        ``duplicate_server`` / ``duplicate_name`` naming the existing server and its URL. A name must not be empty
        nor only digits (those are read as an id)."""
        name = clean_server_name(name)
        with self._transaction(write=True) as conn:
            existing = conn.execute("SELECT * FROM servers WHERE resource = ?", (resource,)).fetchone()
            if existing is not None:
                raise ServerExists(
                    f"The server {resource} is already added, as {existing['name']!r} ({existing['url']}).",
                    name=existing["name"],
                    url=url,
                )
            check_name_free(conn, name, None)
            cursor = conn.execute(
                """INSERT INTO servers (url, resource, name, resource_name, settings, added_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (url, resource, name, None, settings.to_json(), now),
            )
            return require_server(conn, lastrowid(cursor))

    def servers(self) -> list[Server]:
        """Ordered by name (case-insensitive)."""
        with self._transaction(write=False) as conn:
            rows = conn.execute("SELECT * FROM servers ORDER BY name COLLATE NOCASE, id").fetchall()
        return [to_server(row) for row in rows]

    def server(self, server_id: int) -> Server | None:
        with self._transaction(write=False) as conn:
            return get_server(conn, server_id)

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
            if is_id(text):
                found = get_server(conn, int(text))
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
                    return to_server(row)
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
            current = require_server(conn, server_id)
            new_name = current.name if name is None else clean_server_name(name)
            if new_name.casefold() != current.name.casefold():
                check_name_free(conn, new_name, server_id)
            conn.execute(
                "UPDATE servers SET name = ?, resource_name = ?, settings = ? WHERE id = ?",
                (
                    new_name,
                    current.resource_name if resource_name is None else resource_name,
                    (current.settings if settings is None else settings).to_json(),
                    server_id,
                ),
            )
            return require_server(conn, server_id)

    def remove_server(self, server_id: int) -> RemovedServer:
        """Delete the server with its accounts, consent and events, and the registrations it leaves unused.

        The rule for registrations (shared by every server of an issuer): among the registrations of the issuers
        this server used (its accounts' issuers and its consent's), delete those that no remaining account signs in
        with (same issuer and client id) and whose issuer no remaining server's consent (not withdrawn) names. A
        registration kept here is left for :meth:`retire_registrations`. The caller deletes the vault entries of
        what is returned. Unknown id: ConfigurationError ``unknown_server``.
        """
        with self._transaction(write=True) as conn:
            server = require_server(conn, server_id)
            accounts = [
                to_account(row)
                for row in conn.execute(
                    f"{ACCOUNTS_SELECT} WHERE a.server_id = ? ORDER BY a.created_at, a.id", (server_id,)
                )
            ]
            issuers = {account.issuer for account in accounts}
            consent_issuers = conn.execute("SELECT issuer FROM consents WHERE server_id = ?", (server_id,))
            issuers.update(row[0] for row in consent_issuers)
            conn.execute("DELETE FROM servers WHERE id = ?", (server_id,))
            removed = [
                r for issuer in sorted(issuers) for r in delete_unused_registrations(conn, issuer, keep_approved=True)
            ]
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
        return None if row is None else to_registration(row)

    def current_registration(self, issuer: str, method: str) -> StoredRegistration | None:
        """The newest registration still current for this issuer made with this method ("dcr", ...)."""
        with self._transaction(write=False) as conn:
            row = conn.execute(
                """SELECT * FROM registrations WHERE issuer = ? AND method = ? AND current = 1
                   ORDER BY created_at DESC, rowid DESC LIMIT 1""",
                (issuer, method),
            ).fetchone()
        return None if row is None else to_registration(row)

    def retire_registrations(self, issuer: str) -> list[StoredRegistration]:
        """Mark every registration of the issuer not current; delete and return those no account uses (same
        issuer and client id). The caller deletes their vault secrets."""
        with self._transaction(write=True) as conn:
            conn.execute("UPDATE registrations SET current = 0 WHERE issuer = ?", (issuer,))
            return delete_unused_registrations(conn, issuer, keep_approved=False)

    def registrations(self) -> list[StoredRegistration]:
        """Ordered by issuer, then creation."""
        with self._transaction(write=False) as conn:
            rows = conn.execute("SELECT * FROM registrations ORDER BY issuer, created_at, client_id").fetchall()
        return [to_registration(row) for row in rows]

    # -- accounts --------------------------------------------------------------------------------------------
    def accounts(self, server_id: int | None = None) -> list[Account]:
        """Ordered by server (as :meth:`servers` orders them), then creation; one query."""
        where = "" if server_id is None else "WHERE a.server_id = ?"
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                f"""{ACCOUNTS_SELECT} JOIN servers s ON s.id = a.server_id {where}
                    ORDER BY s.name COLLATE NOCASE, s.id, a.created_at, a.id""",
                () if server_id is None else (server_id,),
            ).fetchall()
        return [to_account(row) for row in rows]

    def account(self, account_id: int) -> Account | None:
        with self._transaction(write=False) as conn:
            return get_account(conn, account_id)

    def account_by_key(self, key: str) -> Account | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(f"{ACCOUNTS_SELECT} WHERE a.key = ?", (key,)).fetchone()
        return None if row is None else to_account(row)

    def find_account(self, server_id: int, text: str) -> Account | None:
        """On this server: by id (digits), else by nickname, else by label (case-insensitive). Signed-out
        accounts are found too. Several matches: AmbiguousAccount with the candidates."""
        text = text.strip()
        if not text:
            return None
        with self._transaction(write=False) as conn:
            server = get_server(conn, server_id)
            if server is None:
                return None
            accounts = [
                to_account(row)
                for row in conn.execute(
                    f"{ACCOUNTS_SELECT} WHERE a.server_id = ? ORDER BY a.created_at, a.id", (server_id,)
                )
            ]
        if is_id(text):
            for account in accounts:
                if account.id == int(text):
                    return account
        wanted = text.casefold()
        candidates = [a for a in accounts if a.nickname is not None and a.nickname.casefold() == wanted]
        if not candidates:
            candidates = [a for a in accounts if a.label.casefold() == wanted]
        if len(candidates) > 1:
            raise AmbiguousAccount(
                f"{text!r} matches {len(candidates)} accounts of {server.name}: {describe_accounts(candidates)}.",
                server=server.name,
                text=text,
                candidates=tuple(Candidate(a.id, a.label, a.nickname) for a in candidates),
            )
        return candidates[0] if candidates else None

    def account_by_subject(self, server_id: int, issuer: str, subject: str) -> Account | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                f"{ACCOUNTS_SELECT} WHERE a.server_id = ? AND a.issuer = ? AND a.subject = ?",
                (server_id, issuer, subject),
            ).fetchone()
        return None if row is None else to_account(row)

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
            server = require_server(conn, record.server_id)
            if record.account_id is not None:
                existing = get_account(conn, record.account_id)
                if existing is None or existing.server_id != record.server_id:
                    raise ConfigurationError(
                        "unknown_account", f"There is no account with id {record.account_id} on {server.name}."
                    )
            if identity.subject is not None:
                check_subject_free(conn, server, record.issuer, identity, record.account_id)
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
                account_id = lastrowid(cursor)
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
                put_consent(conn, record.consent)
            insert_event(conn, record.server_id, account_id, record.event_kind, record.event_detail, record.now)
            conn.execute("DELETE FROM pending_secrets WHERE key = ?", (f"account/{record.account_key}",))
            return require_account(conn, account_id)

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
            account = require_account(conn, account_id)
            state = AccountState.SIGNED_IN if account.state is AccountState.NEEDS_SIGN_IN else account.state
            conn.execute(
                """UPDATE accounts SET scopes = ?, expires_at = ?, has_refresh_token = ?, last_refresh = ?,
                       last_error = NULL, failures = 0, state = ?
                   WHERE id = ?""",
                (" ".join(scopes), expires_at, int(has_refresh_token), now, state.value, account_id),
            )
            insert_event(conn, account.server_id, account_id, "refreshed", detail, now)
            return require_account(conn, account_id)

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
            account = require_account(conn, account_id)
            insert_event(conn, account.server_id, account_id, "refresh_failed", detail, now)
            if not needs_sign_in:
                conn.execute(
                    "UPDATE accounts SET failures = failures + 1, last_error = ? WHERE id = ?", (line, account_id)
                )
            elif account.state is not AccountState.SIGNED_OUT:
                conn.execute(
                    "UPDATE accounts SET state = ?, last_error = ? WHERE id = ?",
                    (AccountState.NEEDS_SIGN_IN.value, line, account_id),
                )
                insert_event(conn, account.server_id, account_id, "needs_sign_in", detail, now)
            return require_account(conn, account_id)

    def set_state(self, account_id: int, state: AccountState, *, now: float, event_kind: str, detail: str) -> Account:
        """Set the state and log the event. Unknown id: ConfigurationError ``unknown_account``."""
        with self._transaction(write=True) as conn:
            account = require_account(conn, account_id)
            conn.execute("UPDATE accounts SET state = ? WHERE id = ?", (state.value, account_id))
            insert_event(conn, account.server_id, account_id, event_kind, detail, now)
            return require_account(conn, account_id)

    def set_nickname(self, account_id: int, nickname: str | None, *, now: float) -> Account:
        """Blank or None removes the nickname; one made only of digits is refused (``invalid_nickname``: it
        would read as an id). Logs "nickname_changed". Unknown id: ConfigurationError ``unknown_account``."""
        cleaned = (nickname or "").strip() or None
        if cleaned is not None and (is_digits(cleaned) or not cleaned.isprintable()):
            raise ConfigurationError(
                "invalid_nickname",
                f"The nickname {cleaned!r} cannot be used: it must not be only digits (those are read as an id) "
                "nor contain control characters.",
                hint="Choose a nickname with at least one letter.",
            )
        with self._transaction(write=True) as conn:
            account = require_account(conn, account_id)
            conn.execute("UPDATE accounts SET nickname = ? WHERE id = ?", (cleaned, account_id))
            detail = f"nickname {cleaned}" if cleaned else "nickname removed"
            insert_event(conn, account.server_id, account_id, "nickname_changed", detail, now)
            return require_account(conn, account_id)

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
        return None if row is None else to_consent(row)

    def approve(self, consent: Consent) -> None:
        """Record the pairing as the server's consent (replacing the previous one). Unknown server:
        ConfigurationError ``unknown_server``."""
        with self._transaction(write=True) as conn:
            require_server(conn, consent.server_id)
            put_consent(conn, consent)

    def withdraw_consent(self, server_id: int, *, now: float) -> None:
        """Mark the server's consent withdrawn at ``now`` (nothing approved: nothing to do). Unknown server:
        ConfigurationError ``unknown_server``."""
        with self._transaction(write=True) as conn:
            require_server(conn, server_id)
            conn.execute(
                "UPDATE consents SET withdrawn_at = ? WHERE server_id = ? AND withdrawn_at IS NULL", (now, server_id)
            )

    # -- events ----------------------------------------------------------------------------------------------
    def add_event(self, *, server_id: int | None, account_id: int | None, kind: str, detail: str, now: float) -> None:
        """Log one event; an account's event takes the account's server when ``server_id`` is None. Only the
        newest :data:`~desktop_app.storage.registry_rows.EVENTS_KEPT` of the account (or of the server, or of the
        global log) are kept. Unknown ids: ConfigurationError ``unknown_server`` / ``unknown_account``."""
        with self._transaction(write=True) as conn:
            if account_id is not None:
                account = require_account(conn, account_id)
                server_id = account.server_id if server_id is None else server_id
            if server_id is not None:
                require_server(conn, server_id)
            insert_event(conn, server_id, account_id, kind, detail, now)

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
        return [to_event(row) for row in rows]
