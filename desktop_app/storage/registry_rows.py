"""The registry's rows: models from rows (:func:`to_server`, :func:`to_account`, ...), the lookups and writes
several queries share, and the rules for names, inside a transaction of
:class:`desktop_app.storage.registry.SqliteRegistry`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import cast, get_args

from desktop_app.accounts.models import (
    Account,
    AccountState,
    Consent,
    Event,
    Identity,
    IdentitySource,
    Server,
    ServerSettings,
    StoredRegistration,
)
from desktop_app.errors import ConfigurationError

log = logging.getLogger(__name__)

#: Events kept per account (and per server, and globally, for events without an account).
EVENTS_KEPT = 1000

_IDENTITY_SOURCES = frozenset(get_args(IdentitySource))
_ACCOUNT_COLUMNS = (
    "a.id, a.key, a.server_id, a.issuer, a.client_id, a.subject, a.label, a.identity_source, a.login_hint, "
    "a.nickname, a.state, a.scopes, a.expires_at, a.has_refresh_token, a.created_at, a.signed_in_at, "
    "a.last_refresh, a.last_error, a.failures"
)
#: Every column of an account, for :func:`to_account`; a query adds its ``WHERE``, ``JOIN`` or ``ORDER BY``.
ACCOUNTS_SELECT = f"SELECT {_ACCOUNT_COLUMNS} FROM accounts a"  # noqa: S608 - constant column list


def is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def is_id(text: str) -> bool:
    return is_digits(text) and len(text) <= 18


def lastrowid(cursor: sqlite3.Cursor) -> int:
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def clean_server_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or not cleaned.isprintable() or is_digits(cleaned):
        raise ConfigurationError(
            "invalid_server_name",
            f"The server name {name!r} cannot be used: it must not be empty, only digits (those are read as an id) "
            "or contain control characters.",
            hint="Choose a name with at least one letter.",
        )
    return cleaned


def check_name_free(conn: sqlite3.Connection, name: str, server_id: int | None) -> None:
    row = conn.execute("SELECT * FROM servers WHERE name = ? AND id IS NOT ?", (name, server_id)).fetchone()
    if row is not None:
        raise ConfigurationError(
            "duplicate_name",
            f"A server named {row['name']!r} already exists ({row['url']}).",
            hint="Choose another name, or rename that server first.",
        )


def check_subject_free(
    conn: sqlite3.Connection, server: Server, issuer: str, identity: Identity, account_id: int | None
) -> None:
    """ConfigurationError ``duplicate_account`` when another account of the server (not ``account_id``) already
    is this person (same issuer and subject)."""
    row = conn.execute(
        f"{ACCOUNTS_SELECT} WHERE a.server_id = ? AND a.issuer = ? AND a.subject = ? AND a.id IS NOT ?",
        (server.id, issuer, identity.subject, account_id),
    ).fetchone()
    if row is not None:
        taken = to_account(row)
        raise ConfigurationError(
            "duplicate_account",
            f"{identity.label} is already the account {taken.display_name} (id {taken.id}) of {server.name}.",
            hint="Sign in again to that account instead of adding a new one.",
        )


def delete_unused_registrations(
    conn: sqlite3.Connection, issuer: str, *, keep_approved: bool
) -> list[StoredRegistration]:
    """Delete and return the issuer's registrations that no account signs in with (same issuer and client id);
    ``keep_approved``: keep them all while any server's consent (not withdrawn) names the issuer."""
    unapproved = "AND NOT EXISTS (SELECT 1 FROM consents c WHERE c.issuer = r.issuer AND c.withdrawn_at IS NULL)"
    rows = conn.execute(
        f"""SELECT * FROM registrations r WHERE r.issuer = ?
            AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.issuer = r.issuer AND a.client_id = r.client_id)
            {unapproved if keep_approved else ""}
            ORDER BY r.created_at, r.client_id""",  # noqa: S608 - fixed text
        (issuer,),
    ).fetchall()
    unused = [to_registration(row) for row in rows]
    conn.executemany(
        "DELETE FROM registrations WHERE issuer = ? AND client_id = ?", [(r.issuer, r.client_id) for r in unused]
    )
    return unused


def to_server(row: sqlite3.Row) -> Server:
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


def get_server(conn: sqlite3.Connection, server_id: int) -> Server | None:
    row = conn.execute("SELECT * FROM servers WHERE id = ?", (server_id,)).fetchone()
    return None if row is None else to_server(row)


def require_server(conn: sqlite3.Connection, server_id: int) -> Server:
    server = get_server(conn, server_id)
    if server is None:
        raise ConfigurationError(
            "unknown_server",
            f"There is no server with id {server_id}.",
            hint="List the servers to see their ids.",
        )
    return server


def to_account(row: sqlite3.Row) -> Account:
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


def get_account(conn: sqlite3.Connection, account_id: int) -> Account | None:
    row = conn.execute(f"{ACCOUNTS_SELECT} WHERE a.id = ?", (account_id,)).fetchone()
    return None if row is None else to_account(row)


def require_account(conn: sqlite3.Connection, account_id: int) -> Account:
    account = get_account(conn, account_id)
    if account is None:
        raise ConfigurationError(
            "unknown_account",
            f"There is no account with id {account_id}.",
            hint="List the accounts to see their ids.",
        )
    return account


def to_registration(row: sqlite3.Row) -> StoredRegistration:
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


def to_consent(row: sqlite3.Row) -> Consent:
    return Consent(
        server_id=row["server_id"],
        resource=row["resource"],
        issuer=row["issuer"],
        scopes=tuple(row["scopes"].split()),
        client_kind=row["client_kind"],
        client_id=row["client_id"],
        approved_at=row["approved_at"],
    )


def to_event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        server_id=row["server_id"],
        account_id=row["account_id"],
        at=row["at"],
        kind=row["kind"],
        detail=row["detail"],
    )


def put_consent(conn: sqlite3.Connection, consent: Consent) -> None:
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


def insert_event(
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
