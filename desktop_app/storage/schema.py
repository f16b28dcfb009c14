"""The registry's schema, as an ordered list of migrations (``PRAGMA user_version`` counts those applied).

Rules for a new migration: append a function, never edit one that shipped; each runs in its own transaction (the
caller holds ``BEGIN IMMEDIATE``), so it must not commit, must not use ``executescript`` (which commits first) and
must not change ``journal_mode``. A migration that rebuilds a table referenced by a foreign key needs
``foreign_keys=OFF``, which only takes effect outside a transaction: teach the runner in
:mod:`desktop_app.storage.registry` about it first.

No table has a column for a token or a client secret: those live in the vault only.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Sequence

from desktop_app.oauth.urls import with_ascii_host

#: ``PRAGMA application_id`` of a registry ("MCPM"): a SQLite file with another id belongs to another program.
APPLICATION_ID = 0x4D43504D


def _v1(conn: sqlite3.Connection) -> None:
    statements = (
        f"PRAGMA application_id = {APPLICATION_ID}",
        # Things about the database itself (profile_id); never changed by the person.
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        # The person's preferences (get_setting / set_setting).
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE servers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            url TEXT NOT NULL,
            resource TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            resource_name TEXT,
            settings TEXT NOT NULL DEFAULT '{}',
            added_at REAL NOT NULL
        )""",
        # Authorization server metadata (RFC 8414) as last fetched, so a refresh after a restart needs no discovery.
        """CREATE TABLE authorization_servers (
            issuer TEXT PRIMARY KEY,
            metadata TEXT NOT NULL,
            fetched_at REAL NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE registrations (
            issuer TEXT NOT NULL,
            client_id TEXT NOT NULL,
            method TEXT NOT NULL,
            token_endpoint_auth_method TEXT NOT NULL,
            client_secret_expires_at INTEGER,
            redirect_uris TEXT NOT NULL DEFAULT '[]',
            has_secret INTEGER NOT NULL CHECK (has_secret IN (0, 1)),
            created_at REAL NOT NULL,
            current INTEGER NOT NULL DEFAULT 1 CHECK (current IN (0, 1)),
            PRIMARY KEY (issuer, client_id)
        )""",
        """CREATE TABLE accounts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            server_id INTEGER NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
            issuer TEXT NOT NULL,
            client_id TEXT NOT NULL,
            subject TEXT,
            label TEXT NOT NULL,
            identity_source TEXT NOT NULL,
            login_hint TEXT,
            nickname TEXT,
            state TEXT NOT NULL CHECK (state IN ('signed_in', 'needs_sign_in', 'signed_out')),
            scopes TEXT NOT NULL DEFAULT '',
            expires_at REAL,
            has_refresh_token INTEGER NOT NULL CHECK (has_refresh_token IN (0, 1)),
            created_at REAL NOT NULL,
            signed_in_at REAL,
            last_refresh REAL,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE UNIQUE INDEX accounts_subject ON accounts (server_id, issuer, subject) WHERE subject IS NOT NULL",
        "CREATE INDEX accounts_server ON accounts (server_id, created_at)",
        "CREATE INDEX accounts_client ON accounts (issuer, client_id)",
        # One pairing per server: approving again replaces it, withdrawing marks it.
        """CREATE TABLE consents (
            server_id INTEGER PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
            resource TEXT NOT NULL,
            issuer TEXT NOT NULL,
            scopes TEXT NOT NULL DEFAULT '',
            client_kind TEXT NOT NULL,
            client_id TEXT NOT NULL,
            approved_at REAL NOT NULL,
            withdrawn_at REAL
        )""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            server_id INTEGER REFERENCES servers (id) ON DELETE CASCADE,
            account_id INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX events_account ON events (account_id, at, id)",
        "CREATE INDEX events_server ON events (server_id, at, id)",
        "CREATE INDEX events_at ON events (at, id)",
        # Vault keys about to be written for accounts not yet saved (cleaned up after a crash).
        "CREATE TABLE pending_secrets (key TEXT PRIMARY KEY, created_at REAL NOT NULL) WITHOUT ROWID",
    )
    for statement in statements:
        conn.execute(statement)

    conn.execute("INSERT INTO meta (key, value) VALUES ('profile_id', ?)", (secrets.token_hex(16),))


def _v2(conn: sqlite3.Connection) -> None:
    """International hosts in their IDNA form (docs/decisions/0004): a server stored as ``https://bücher.example/mcp``
    is ``https://xn--bcher-kva.example/mcp``, the form requests go out with, and so are its approvals. A server whose
    other spelling is stored too keeps its row as it was (the two stay apart, as they were)."""
    for server_id, resource in conn.execute("SELECT id, resource FROM servers").fetchall():
        ascii_form = with_ascii_host(resource)
        if ascii_form == resource:
            continue
        if conn.execute("SELECT 1 FROM servers WHERE resource = ?", (ascii_form,)).fetchone() is None:
            conn.execute("UPDATE servers SET resource = ? WHERE id = ?", (ascii_form, server_id))
    for server_id, resource in conn.execute("SELECT server_id, resource FROM consents").fetchall():
        ascii_form = with_ascii_host(resource)
        if ascii_form != resource:
            conn.execute("UPDATE consents SET resource = ? WHERE server_id = ?", (ascii_form, server_id))


def _v3(conn: sqlite3.Connection) -> None:
    """Pinned server identity keys (docs/decisions/0026): one per server, trust on first use. The key is public; the
    fingerprint is what the person compares."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS server_key_pins (
            server_id INTEGER PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL,
            public_key TEXT NOT NULL,
            kid TEXT NOT NULL,
            pinned_at REAL NOT NULL,
            origin TEXT NOT NULL CHECK (origin IN ('first_use', 'accepted', 'rotated')),
            signs_tools INTEGER NOT NULL DEFAULT 0 CHECK (signs_tools IN (0, 1)),
            previous_fingerprint TEXT
        )"""
    )


def _tool_control(conn: sqlite3.Connection) -> None:
    """What the person decided about each tool of each connector (docs/decisions/0025-tool-control.md): a row per
    connector (its revision, raised by every change, read by running bridges every 2 s; ``listed_at``: its first
    complete list, before which every tool listed is pinned on first use) and a row per tool it has seen (the switch,
    the hold, the pinned and the pending definition as RFC 8785 text, the identity check's hold and what the person
    accepted of it, the times). Both go with the account. The profile's two defaults are ``settings`` rows
    (``tools_destructive_off``, ``tools_new_need_approval``)."""
    statements = (
        """CREATE TABLE IF NOT EXISTS tool_connectors (
            account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
            revision INTEGER NOT NULL DEFAULT 0,
            listed_at REAL
        )""",
        """CREATE TABLE IF NOT EXISTS tools (
            account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            hold TEXT CHECK (hold IN ('changed', 'new')),
            pinned TEXT,
            pending TEXT,
            identity_hold TEXT,
            identity_accepted TEXT,
            first_seen REAL NOT NULL,
            changed_at REAL,
            approved_at REAL,
            gone_at REAL,
            PRIMARY KEY (account_id, name),
            CHECK (pinned IS NOT NULL OR pending IS NOT NULL)
        ) WITHOUT ROWID""",
    )
    for statement in statements:
        conn.execute(statement)


#: Migration ``n`` (1-based) brings a database from ``user_version`` n-1 to n.
MIGRATIONS: Sequence[Callable[[sqlite3.Connection], None]] = (_v1, _v2, _v3, _tool_control)

#: The schema this version of the app writes.
SCHEMA_VERSION = len(MIGRATIONS)
