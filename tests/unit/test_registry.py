"""SqliteRegistry on real SQLite files: schema and file safety, every method, atomicity, several processes."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.accounts.models import (
    AccountState,
    Consent,
    Identity,
    Server,
    ServerSettings,
    StoredRegistration,
)
from desktop_app.accounts.ports import Registry, SignInRecord
from desktop_app.errors import ConfigurationError, StorageError
from desktop_app.storage import registry_db
from desktop_app.storage.registry import SqliteRegistry, default_registry_path
from desktop_app.storage.registry_rows import EVENTS_KEPT
from desktop_app.storage.schema import APPLICATION_ID, SCHEMA_VERSION
from tests.helpers.records import sign_in_record

ISSUER = "https://as.example"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "profile" / "registry.sqlite3"


@pytest.fixture(params=["file", "memory"])
def reg(request: pytest.FixtureRequest, path: Path) -> Iterator[SqliteRegistry]:
    """Every test of the Registry's behaviour runs on a file and in memory (the ``connect`` command's registry):
    both must behave the same. Tests that look at the file itself take the file only (:data:`on_file`)."""
    registry = SqliteRegistry(path) if request.param == "file" else SqliteRegistry.in_memory()
    yield registry
    registry.close()


#: For a test that opens the registry's file beside ``reg``.
on_file = pytest.mark.parametrize("reg", ["file"], indirect=True)


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def add(reg: SqliteRegistry, name: str, host: str | None = None) -> Server:
    url = f"https://{host or name.lower()}.example/mcp"
    return reg.add_server(url=url, resource=url, name=name, settings=ServerSettings(), now=1.0)


def sign_in(
    reg: SqliteRegistry,
    server: Server,
    *,
    key: str = "k1",
    subject: str | None = "sub-1",
    label: str = "ann@example.com",
    account_id: int | None = None,
    issuer: str = ISSUER,
    client_id: str = "c1",
    now: float = 10.0,
    consent: Consent | None = None,
    kind: str = "signed_in",
) -> SignInRecord:
    return sign_in_record(
        server.id,
        key,
        now=now,
        issuer=issuer,
        client_id=client_id,
        identity=Identity(subject=subject, label=label, source="id_token", login_hint=label),
        scopes=("read", "write"),
        expires_at=now + 3600,
        consent=consent,
        account_id=account_id,
        event_kind=kind,
        event_detail=f"{label} via {issuer}",
    )


def registration(
    client_id: str, *, issuer: str = ISSUER, created_at: float = 1.0, method: str = "dcr"
) -> StoredRegistration:
    return StoredRegistration(
        issuer=issuer,
        client_id=client_id,
        method=method,
        token_endpoint_auth_method="none",
        client_secret_expires_at=None,
        redirect_uris=("http://127.0.0.1/callback",),
        has_secret=False,
        created_at=created_at,
    )


def consent_for(server: Server, *, issuer: str = ISSUER, client_id: str = "c1", at: float = 5.0) -> Consent:
    return Consent(
        server_id=server.id,
        resource=server.resource,
        issuer=issuer,
        scopes=("read",),
        client_kind="dcr",
        client_id=client_id,
        approved_at=at,
    )


# -- the file ----------------------------------------------------------------------------------------------------


def test_is_a_registry(path: Path) -> None:
    registry: Registry = SqliteRegistry(path)  # mypy: SqliteRegistry satisfies the Protocol
    try:
        assert registry.servers() == []
    finally:
        registry.close()


def test_default_path(tmp_path: Path) -> None:
    assert default_registry_path(tmp_path) == tmp_path / "registry.sqlite3"


@on_file
def test_new_file_is_private_versioned_and_wal(reg: SqliteRegistry, path: Path) -> None:
    reg.set_setting("x", "1")  # something in the WAL
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    wal = path.with_name(path.name + "-wal")
    assert wal.exists()
    assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    conn = raw(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()


def test_profile_id_is_random_and_stable(tmp_path: Path) -> None:
    first = SqliteRegistry(tmp_path / "a.sqlite3")
    other = SqliteRegistry(tmp_path / "b.sqlite3")
    profile = first.profile_id()
    assert len(profile) == 32 and int(profile, 16) >= 0
    assert profile != other.profile_id()
    first.close()
    other.close()
    again = SqliteRegistry(tmp_path / "a.sqlite3")
    assert again.profile_id() == profile
    again.close()


def test_existing_file_readable_by_others_is_made_private(path: Path) -> None:
    SqliteRegistry(path).close()
    path.chmod(0o644)
    SqliteRegistry(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_newer_schema_is_refused_untouched(path: Path) -> None:
    SqliteRegistry(path).close()
    conn = raw(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError) as caught:
        SqliteRegistry(path)
    assert caught.value.code == "schema_too_new"
    assert str(path) in caught.value.message
    assert path.read_bytes() == before


def test_garbage_file_is_refused_and_left_alone(path: Path) -> None:
    path.parent.mkdir(parents=True)
    garbage = b"this is not a database, it is a note I kept here\n" * 200
    path.write_bytes(garbage)
    path.chmod(0o644)
    with pytest.raises(StorageError) as caught:
        SqliteRegistry(path)
    assert caught.value.code == "database_unreadable"
    assert str(path) in caught.value.message
    assert "move the file aside" in (caught.value.hint or "").lower()
    assert path.read_bytes() == garbage
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_another_programs_database_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    conn = raw(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError) as caught:
        SqliteRegistry(path)
    assert caught.value.code == "database_unreadable"
    assert "another program" in caught.value.message
    assert path.read_bytes() == before


@on_file
def test_no_column_can_hold_a_secret(reg: SqliteRegistry, path: Path) -> None:
    conn = raw(path)
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    columns = {row[1] for table in tables for row in conn.execute(f"PRAGMA table_info({table})")}
    conn.close()
    assert {"servers", "accounts", "registrations", "consents", "events", "pending_secrets"} <= set(tables)
    assert not columns & {"access_token", "refresh_token", "id_token", "client_secret", "code_verifier", "secret"}


def test_busy_database_is_a_storage_error(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_db, "BUSY_TIMEOUT", 0.2)
    reg = SqliteRegistry(path)
    holder = raw(path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError) as caught:
            reg.set_setting("x", "1")
        assert caught.value.code == "database_busy"
        assert str(path) in caught.value.message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    reg.set_setting("x", "1")  # usable again once the other process lets go
    assert reg.get_setting("x") == "1"
    reg.close()


# -- settings ----------------------------------------------------------------------------------------------------


def test_settings(reg: SqliteRegistry) -> None:
    assert reg.get_setting("secret_store") is None
    reg.set_setting("secret_store", "keyring")
    reg.set_setting("secret_store", "file")
    assert reg.get_setting("secret_store") == "file"
    reg.set_setting("secret_store", None)
    assert reg.get_setting("secret_store") is None


# -- servers -----------------------------------------------------------------------------------------------------


def test_add_and_list_servers(reg: SqliteRegistry) -> None:
    b = add(reg, "beta")
    a = add(reg, "Alpha")
    c = add(reg, "charlie")
    assert [s.name for s in reg.servers()] == ["Alpha", "beta", "charlie"]
    assert reg.server(b.id) == b
    assert reg.server(9999) is None
    assert a.url == a.resource == "https://alpha.example/mcp"
    assert c.added_at == 1.0 and c.resource_name is None


def test_settings_round_trip_through_server_settings(reg: SqliteRegistry) -> None:
    settings = ServerSettings(
        registration="preregistered",
        client_id="my-client",
        client_auth="client_secret_basic",
        scopes=("files:read", "mail"),
        send_resource=False,
        request_identity=False,
        callback_port=8765,
    )
    server = reg.add_server(
        url="https://x.example/mcp", resource="https://x.example/mcp", name="x", settings=settings, now=2.0
    )
    assert server.settings == settings
    assert reg.servers()[0].settings == settings
    changed = reg.update_server(server.id, settings=ServerSettings(client_metadata_url="https://app.example/cimd"))
    assert changed.settings == ServerSettings(client_metadata_url="https://app.example/cimd")
    assert reg.server(server.id) == changed


def test_duplicate_resource_is_refused_naming_the_existing_server(reg: SqliteRegistry) -> None:
    add(reg, "Mail", host="mail")
    with pytest.raises(ConfigurationError) as caught:
        reg.add_server(
            url="https://mail.example/mcp",
            resource="https://mail.example/mcp",
            name="other",
            settings=ServerSettings(),
            now=1.0,
        )
    assert caught.value.code == "server_exists"
    assert "'Mail'" in caught.value.message and "https://mail.example/mcp" in caught.value.message
    assert len(reg.servers()) == 1


def test_duplicate_name_is_refused_case_insensitively(reg: SqliteRegistry) -> None:
    add(reg, "Mail", host="mail")
    with pytest.raises(ConfigurationError) as caught:
        add(reg, "  MAIL ", host="other")
    assert caught.value.code == "duplicate_name"
    assert "'Mail'" in caught.value.message and "https://mail.example/mcp" in caught.value.message
    assert [s.name for s in reg.servers()] == ["Mail"]


@pytest.mark.parametrize("name", ["", "   ", "42", "tab\there"])
def test_unusable_server_names_are_refused(reg: SqliteRegistry, name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        add(reg, name, host="h")
    assert caught.value.code == "invalid_server_name"
    assert repr(name) in caught.value.message


def test_update_server(reg: SqliteRegistry) -> None:
    mail = add(reg, "Mail", host="mail")
    add(reg, "Files", host="files")
    renamed = reg.update_server(mail.id, name="Post", resource_name="Mail MCP")
    assert (renamed.name, renamed.resource_name, renamed.settings) == ("Post", "Mail MCP", mail.settings)
    assert reg.update_server(mail.id, name="POST").name == "POST"  # its own name in another case is fine
    with pytest.raises(ConfigurationError) as caught:
        reg.update_server(mail.id, name="files")
    assert caught.value.code == "duplicate_name" and "'Files'" in caught.value.message
    with pytest.raises(ConfigurationError) as unknown:
        reg.update_server(999, name="x")
    assert unknown.value.code == "unknown_server" and "999" in unknown.value.message


def test_find_server(reg: SqliteRegistry) -> None:
    mail = reg.add_server(
        url="https://Mail.Example:443/mcp",
        resource="https://mail.example/mcp",
        name="Mail",
        settings=ServerSettings(),
        now=1.0,
    )
    other = add(reg, "Files", host="files")
    assert reg.find_server(str(mail.id)) == mail
    assert reg.find_server(f" {other.id} ") == other
    assert reg.find_server("mAiL") == mail
    assert reg.find_server("https://Mail.Example:443/mcp") == mail
    assert reg.find_server("https://mail.example/mcp") == mail
    assert reg.find_server("HTTPS://MAIL.EXAMPLE/mcp") == mail
    assert reg.find_server("https://mail.example/other") is None
    assert reg.find_server("not a url at all") is None
    assert reg.find_server("http://[::1") is None  # canonical_resource's error is ignored
    assert reg.find_server("999") is None
    assert reg.find_server("") is None


@on_file
def test_remove_server_cascades_and_returns_what_went(reg: SqliteRegistry, path: Path) -> None:
    mail = add(reg, "Mail")
    files = add(reg, "Files")
    ann = reg.save_sign_in(sign_in(reg, mail, key="k-ann", consent=consent_for(mail)))
    bob = reg.save_sign_in(sign_in(reg, mail, key="k-bob", subject="sub-bob", label="bob"))
    kept = reg.save_sign_in(sign_in(reg, files, key="k-files", subject="sub-ann"))
    reg.add_event(server_id=mail.id, account_id=None, kind="server_added", detail="", now=1.0)
    removed = reg.remove_server(mail.id)
    assert removed.server == mail
    assert [a.id for a in removed.accounts] == [ann.id, bob.id]
    assert reg.server(mail.id) is None
    assert reg.accounts() == [kept]
    assert reg.consent(mail.id) is None
    assert reg.events(server_id=mail.id) == []
    assert reg.events(account_id=ann.id) == []
    assert [e.kind for e in reg.events()] == ["signed_in"]  # Files' only
    conn = raw(path)
    assert conn.execute("SELECT count(*) FROM consents").fetchone()[0] == 0
    conn.close()
    with pytest.raises(ConfigurationError) as caught:
        reg.remove_server(mail.id)
    assert caught.value.code == "unknown_server"


def test_remove_server_deletes_only_registrations_nothing_else_uses(reg: SqliteRegistry) -> None:
    other_issuer = "https://other-as.example"
    for client_id in ("c0", "c1", "c2"):
        reg.put_registration(registration(client_id))
    reg.put_registration(registration("elsewhere", issuer=other_issuer))
    a = add(reg, "A")
    b = add(reg, "B")
    reg.save_sign_in(sign_in(reg, a, key="ka", client_id="c1"))
    reg.save_sign_in(sign_in(reg, b, key="kb", client_id="c0"))
    removed = reg.remove_server(a.id)
    # c1 was A's only; c2 nobody's; c0 is B's account's; the other issuer was not A's.
    assert sorted(r.client_id for r in removed.registrations) == ["c1", "c2"]
    assert sorted(r.client_id for r in reg.registrations()) == ["c0", "elsewhere"]


def test_remove_server_keeps_registrations_of_an_issuer_another_server_approved(reg: SqliteRegistry) -> None:
    reg.put_registration(registration("c1"))
    a = add(reg, "A")
    b = add(reg, "B")
    reg.save_sign_in(sign_in(reg, a, key="ka", client_id="c1", consent=consent_for(a)))
    reg.approve(consent_for(b))  # B approved the issuer, nobody signed in there yet
    assert reg.remove_server(a.id).registrations == ()
    assert [r.client_id for r in reg.registrations()] == ["c1"]
    reg.withdraw_consent(b.id, now=20.0)  # a withdrawn consent keeps nothing alive
    c = add(reg, "C")
    reg.save_sign_in(sign_in(reg, c, key="kc", client_id="c1"))
    reg.delete_account(reg.accounts(c.id)[0].id)
    assert [r.client_id for r in reg.remove_server(c.id).registrations] == []  # C never used the issuer any more
    assert [r.client_id for r in reg.remove_server(b.id).registrations] == ["c1"]
    assert reg.registrations() == []


# -- authorization server metadata -------------------------------------------------------------------------------


def test_metadata_cache(reg: SqliteRegistry) -> None:
    assert reg.metadata(ISSUER) is None
    reg.save_metadata(ISSUER, {"issuer": ISSUER, "scopes_supported": ["a", "b"]}, now=1.0)
    reg.save_metadata(ISSUER, {"issuer": ISSUER, "token_endpoint": f"{ISSUER}/token"}, now=2.0)
    assert reg.metadata(ISSUER) == {"issuer": ISSUER, "token_endpoint": f"{ISSUER}/token"}
    assert reg.metadata("https://unknown.example") is None


# -- registrations -----------------------------------------------------------------------------------------------


def test_registrations_and_the_current_one(reg: SqliteRegistry) -> None:
    old = registration("old", created_at=1.0)
    reg.put_registration(old)
    assert reg.registration(ISSUER, "old") == old
    assert reg.current_registration(ISSUER, "dcr") == old
    pre = registration("pre", created_at=1.5, method="preregistered")
    reg.put_registration(pre)
    new = registration("new", created_at=2.0)
    reg.put_registration(new)
    assert reg.current_registration(ISSUER, "dcr") == new
    assert reg.registration(ISSUER, "old") == replace(old, current=False)
    assert reg.current_registration(ISSUER, "preregistered") == pre  # only dynamic ones retire each other
    assert reg.current_registration(ISSUER, "cimd") is None
    assert reg.current_registration("https://unknown.example", "dcr") is None
    assert [r.client_id for r in reg.registrations()] == ["old", "pre", "new"]
    replaced = replace(new, has_secret=True, client_secret_expires_at=99)
    reg.put_registration(replaced)
    assert reg.registration(ISSUER, "new") == replaced
    assert reg.registration(ISSUER, "missing") is None


def test_retire_registrations_keeps_the_ones_accounts_use(reg: SqliteRegistry) -> None:
    reg.put_registration(registration("used", created_at=1.0))
    reg.put_registration(registration("unused", created_at=2.0))
    reg.put_registration(registration("foreign", issuer="https://other-as.example"))
    server = add(reg, "Mail")
    reg.save_sign_in(sign_in(reg, server, client_id="used"))
    retired = reg.retire_registrations(ISSUER)
    assert [(r.client_id, r.current) for r in retired] == [("unused", False)]
    assert reg.registration(ISSUER, "unused") is None
    used = reg.registration(ISSUER, "used")
    assert used is not None and used.current is False
    assert reg.current_registration(ISSUER, "dcr") is None
    foreign = reg.registration("https://other-as.example", "foreign")
    assert foreign is not None and foreign.current is True


# -- accounts ----------------------------------------------------------------------------------------------------


def test_save_sign_in_creates_an_account(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    reg.note_pending_secret("account/k1", now=9.0)
    account = reg.save_sign_in(sign_in(reg, server, consent=consent_for(server)))
    assert (account.key, account.server_id, account.issuer, account.client_id) == ("k1", server.id, ISSUER, "c1")
    assert (account.subject, account.label, account.identity_source, account.login_hint) == (
        "sub-1",
        "ann@example.com",
        "id_token",
        "ann@example.com",
    )
    assert account.state is AccountState.SIGNED_IN
    assert account.scopes == ("read", "write")
    assert (account.expires_at, account.has_refresh_token) == (3610.0, True)
    assert (account.created_at, account.signed_in_at, account.last_refresh) == (10.0, 10.0, None)
    assert (account.nickname, account.last_error, account.failures) == (None, None, 0)
    assert reg.account(account.id) == account
    assert reg.account_by_key("k1") == account
    assert reg.account_by_key("nope") is None
    assert reg.consent(server.id) == consent_for(server)
    [event] = reg.events(account_id=account.id)
    assert (event.server_id, event.kind, event.detail, event.at) == (
        server.id,
        "signed_in",
        "ann@example.com via https://as.example",
        10.0,
    )
    assert reg.stale_pending_secrets(older_than=100.0) == []


def test_sign_in_again_updates_but_keeps_nickname_and_key(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    first = reg.save_sign_in(sign_in(reg, server))
    reg.set_nickname(first.id, "Work", now=11.0)
    reg.record_refresh_failure(first.id, code="network", message="no route", needs_sign_in=False, now=12.0)
    reg.record_refresh_failure(first.id, code="invalid_grant", message="dead", needs_sign_in=True, now=13.0)
    again = reg.save_sign_in(
        sign_in_record(
            server.id,
            "k1",
            now=50.0,
            issuer="https://as2.example",
            client_id="c2",
            identity=Identity(subject="sub-1b", label="ann@new.example", source="userinfo", login_hint=None),
            scopes=("read",),
            has_refresh_token=False,
            account_id=first.id,
            event_kind="signed_in_again",
            event_detail="again",
        )
    )
    assert again.id == first.id and again.key == "k1" and again.nickname == "Work"
    assert (again.issuer, again.client_id, again.subject, again.label) == (
        "https://as2.example",
        "c2",
        "sub-1b",
        "ann@new.example",
    )
    assert (again.identity_source, again.login_hint, again.scopes) == ("userinfo", None, ("read",))
    assert (again.expires_at, again.has_refresh_token) == (None, False)
    assert (again.state, again.last_error, again.failures) == (AccountState.SIGNED_IN, None, 0)
    assert (again.created_at, again.signed_in_at) == (10.0, 50.0)
    assert reg.events(account_id=first.id, limit=1)[0].kind == "signed_in_again"
    assert reg.consent(server.id) is None  # no consent in the record: nothing recorded
    assert len(reg.accounts()) == 1


def test_save_sign_in_refuses_what_does_not_fit(reg: SqliteRegistry) -> None:
    mail = add(reg, "Mail")
    files = add(reg, "Files")
    ann = reg.save_sign_in(sign_in(reg, mail, key="k-ann"))
    with pytest.raises(ConfigurationError) as other_server:
        reg.save_sign_in(sign_in(reg, files, key="k-ann", account_id=ann.id))
    assert other_server.value.code == "unknown_account" and str(ann.id) in other_server.value.message
    with pytest.raises(ConfigurationError) as duplicate:
        reg.save_sign_in(sign_in(reg, mail, key="k-again"))
    assert duplicate.value.code == "duplicate_account"
    assert f"id {ann.id}" in duplicate.value.message
    with pytest.raises(ConfigurationError) as no_server:
        reg.save_sign_in(sign_in(reg, Server(99, "u", "r", "n", None, ServerSettings(), 0.0)))
    assert no_server.value.code == "unknown_server"
    assert reg.accounts() == [ann]
    # The same person on another server, and two accounts without a subject, are fine.
    reg.save_sign_in(sign_in(reg, files, key="k-ann-files"))
    reg.save_sign_in(sign_in(reg, files, key="k-n1", subject=None, label="one"))
    reg.save_sign_in(sign_in(reg, files, key="k-n2", subject=None, label="two"))
    assert len(reg.accounts(files.id)) == 3


@on_file
def test_save_sign_in_is_atomic(reg: SqliteRegistry, path: Path) -> None:
    server = add(reg, "Mail")
    existing = reg.save_sign_in(sign_in(reg, server, key="k-old"))
    reg.note_pending_secret("account/k-new", now=5.0)
    reg.note_pending_secret("account/k-old", now=5.0)
    conn = raw(path)
    conn.execute("CREATE TRIGGER fail_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    conn.close()
    with pytest.raises(StorageError) as caught:
        reg.save_sign_in(sign_in(reg, server, key="k-new", subject="sub-new", consent=consent_for(server)))
    assert str(path) in caught.value.message
    with pytest.raises(StorageError):
        reg.save_sign_in(sign_in(reg, server, key="k-old", account_id=existing.id, label="changed", now=99.0))
    assert reg.accounts() == [existing]
    assert reg.consent(server.id) is None
    assert reg.stale_pending_secrets(older_than=6.0) == ["account/k-new", "account/k-old"]
    assert [e.kind for e in reg.events()] == ["signed_in"]


def test_account_by_subject(reg: SqliteRegistry) -> None:
    mail = add(reg, "Mail")
    files = add(reg, "Files")
    ann = reg.save_sign_in(sign_in(reg, mail))
    assert reg.account_by_subject(mail.id, ISSUER, "sub-1") == ann
    assert reg.account_by_subject(files.id, ISSUER, "sub-1") is None
    assert reg.account_by_subject(mail.id, "https://other.example", "sub-1") is None
    assert reg.account_by_subject(mail.id, ISSUER, "sub-2") is None


def test_accounts_are_ordered_by_server_then_creation(reg: SqliteRegistry) -> None:
    zulu = add(reg, "zulu")
    alpha = add(reg, "Alpha")
    z1 = reg.save_sign_in(sign_in(reg, zulu, key="z1", subject="1", now=1.0))
    a2 = reg.save_sign_in(sign_in(reg, alpha, key="a2", subject="2", now=3.0))
    a1 = reg.save_sign_in(sign_in(reg, alpha, key="a1", subject="1", now=2.0))
    reg.set_state(a1.id, AccountState.SIGNED_OUT, now=4.0, event_kind="signed_out", detail="")
    assert [a.key for a in reg.accounts()] == ["a1", "a2", "z1"]
    assert [a.key for a in reg.accounts(alpha.id)] == ["a1", "a2"]
    assert reg.accounts(zulu.id) == [z1]
    assert reg.accounts(999) == []
    assert a2.id > z1.id


@on_file
def test_fifteen_hundred_accounts(reg: SqliteRegistry, path: Path) -> None:
    # Speed is measured in the benchmarks; this proves the listing works at the size they measure.
    servers = [add(reg, f"server {n}", host=f"s{n}") for n in range(500)]
    for server in servers:
        for n in range(3):
            reg.save_sign_in(sign_in(reg, server, key=f"{server.id}-{n}", subject=str(n), label=f"user {n}"))
    accounts = reg.accounts()
    assert len(accounts) == 1500
    assert len({a.key for a in accounts}) == 1500


def test_find_account(reg: SqliteRegistry) -> None:
    mail = add(reg, "Mail")
    files = add(reg, "Files")
    ann = reg.save_sign_in(sign_in(reg, mail, key="ka", subject="a", label="Ann@Example.com"))
    bob = reg.save_sign_in(sign_in(reg, mail, key="kb", subject="b", label="bob@example.com"))
    other = reg.save_sign_in(sign_in(reg, files, key="kc", subject="c", label="carol"))
    reg.set_nickname(bob.id, "Work", now=11.0)
    reg.set_state(ann.id, AccountState.SIGNED_OUT, now=12.0, event_kind="signed_out", detail="")
    assert reg.find_account(mail.id, str(ann.id)) == reg.account(ann.id)  # signed out, still found
    assert reg.find_account(mail.id, "ann@example.COM") == reg.account(ann.id)
    assert reg.find_account(mail.id, " work ") == reg.account(bob.id)
    assert reg.find_account(mail.id, "bob@example.com") == reg.account(bob.id)
    assert reg.find_account(mail.id, str(other.id)) is None  # another server's account
    assert reg.find_account(mail.id, "carol") is None
    assert reg.find_account(999, "carol") is None
    assert reg.find_account(mail.id, "") is None


def test_find_account_ambiguity_lists_the_candidates(reg: SqliteRegistry) -> None:
    mail = add(reg, "Mail")
    first = reg.save_sign_in(sign_in(reg, mail, key="k1", subject="1", label="ann"))
    second = reg.save_sign_in(sign_in(reg, mail, key="k2", subject="2", label="ANN"))
    reg.set_nickname(second.id, "home", now=1.0)
    with pytest.raises(ConfigurationError) as caught:
        reg.find_account(mail.id, "Ann")
    assert caught.value.code == "ambiguous_account"
    assert f"ann (id {first.id})" in caught.value.message
    assert f"home (ANN) (id {second.id})" in caught.value.message
    assert "Mail" in caught.value.message
    # A nickname is what the person chose: it wins over another account's label.
    reg.set_nickname(first.id, "ANN", now=2.0)
    assert reg.find_account(mail.id, "ann") == reg.account(first.id)


def test_pending_secrets(reg: SqliteRegistry) -> None:
    reg.note_pending_secret("account/a", now=1.0)
    reg.note_pending_secret("account/b", now=5.0)
    reg.note_pending_secret("account/c", now=3.0)
    assert reg.stale_pending_secrets(older_than=4.0) == ["account/a", "account/c"]
    reg.clear_pending_secret("account/a")
    reg.clear_pending_secret("account/never-noted")
    assert reg.stale_pending_secrets(older_than=10.0) == ["account/c", "account/b"]
    reg.note_pending_secret("account/c", now=20.0)  # about to be written again: no longer stale
    assert reg.stale_pending_secrets(older_than=10.0) == ["account/b"]


def test_record_refresh(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    account = reg.save_sign_in(sign_in(reg, server))
    reg.record_refresh_failure(account.id, code="network", message="timeout", needs_sign_in=False, now=11.0)
    refreshed = reg.record_refresh(
        account.id, scopes=("read",), expires_at=9999.0, has_refresh_token=False, now=20.0, detail="rotated"
    )
    assert (refreshed.scopes, refreshed.expires_at, refreshed.has_refresh_token) == (("read",), 9999.0, False)
    assert (refreshed.last_refresh, refreshed.last_error, refreshed.failures) == (20.0, None, 0)
    assert refreshed.state is AccountState.SIGNED_IN
    assert refreshed.signed_in_at == 10.0
    event = reg.events(account_id=account.id, limit=1)[0]
    assert (event.kind, event.detail, event.at) == ("refreshed", "rotated", 20.0)
    with pytest.raises(ConfigurationError) as caught:
        reg.record_refresh(999, scopes=(), expires_at=None, has_refresh_token=False, now=1.0)
    assert caught.value.code == "unknown_account"


def test_a_successful_refresh_clears_needs_sign_in_but_not_signed_out(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    account = reg.save_sign_in(sign_in(reg, server))
    reg.set_state(account.id, AccountState.NEEDS_SIGN_IN, now=11.0, event_kind="needs_sign_in", detail="")

    def refresh() -> AccountState:
        return reg.record_refresh(account.id, scopes=("read",), expires_at=None, has_refresh_token=True, now=12.0).state

    assert refresh() is AccountState.SIGNED_IN
    reg.set_state(account.id, AccountState.SIGNED_OUT, now=13.0, event_kind="signed_out", detail="")
    assert refresh() is AccountState.SIGNED_OUT


def test_transient_refresh_failure_keeps_the_state(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    account = reg.save_sign_in(sign_in(reg, server))
    once = reg.record_refresh_failure(
        account.id, code="network", message="Could not reach https://as.example", needs_sign_in=False, now=11.0
    )
    twice = reg.record_refresh_failure(
        account.id, code="server_unavailable", message="503 from\nhttps://as.example", needs_sign_in=False, now=12.0
    )
    assert (once.state, once.failures, once.last_error) == (
        AccountState.SIGNED_IN,
        1,
        "Could not reach https://as.example",
    )
    assert (twice.state, twice.failures, twice.last_error) == (
        AccountState.SIGNED_IN,
        2,
        "503 from https://as.example",
    )
    assert [(e.kind, e.detail) for e in reg.events(account_id=account.id, limit=2)] == [
        ("refresh_failed", "server_unavailable: 503 from https://as.example"),
        ("refresh_failed", "network: Could not reach https://as.example"),
    ]


def test_refresh_failure_needing_sign_in(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    account = reg.save_sign_in(sign_in(reg, server))
    reg.record_refresh_failure(account.id, code="network", message="timeout", needs_sign_in=False, now=11.0)
    dead = reg.record_refresh_failure(
        account.id, code="invalid_grant", message="refresh token expired", needs_sign_in=True, now=12.0
    )
    assert dead.state is AccountState.NEEDS_SIGN_IN
    assert (dead.last_error, dead.failures) == ("refresh token expired", 1)
    events = reg.events(account_id=account.id, limit=2)
    assert {(e.kind, e.detail) for e in events} == {
        ("refresh_failed", "invalid_grant: refresh token expired"),
        ("needs_sign_in", "invalid_grant: refresh token expired"),
    }
    # Signed out by the person meanwhile: stays signed out.
    reg.set_state(account.id, AccountState.SIGNED_OUT, now=13.0, event_kind="signed_out", detail="by you")
    late = reg.record_refresh_failure(account.id, code="invalid_grant", message="x", needs_sign_in=True, now=14.0)
    assert late.state is AccountState.SIGNED_OUT
    assert [e.kind for e in reg.events(account_id=account.id, limit=2)] == ["refresh_failed", "signed_out"]
    with pytest.raises(ConfigurationError):
        reg.record_refresh_failure(999, code="x", message="y", needs_sign_in=True, now=1.0)


def test_set_state_and_nickname(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    account = reg.save_sign_in(sign_in(reg, server))
    out = reg.set_state(account.id, AccountState.SIGNED_OUT, now=11.0, event_kind="signed_out", detail="by you")
    assert out.state is AccountState.SIGNED_OUT
    assert (reg.events(account_id=account.id)[0].kind, reg.events(account_id=account.id)[0].detail) == (
        "signed_out",
        "by you",
    )
    named = reg.set_nickname(account.id, "  Work  ", now=12.0)
    assert named.nickname == "Work" and named.display_name == "Work (ann@example.com)"
    assert reg.set_nickname(account.id, "", now=13.0).nickname is None
    assert [e.kind for e in reg.events(account_id=account.id, limit=2)] == ["nickname_changed", "nickname_changed"]
    with pytest.raises(ConfigurationError) as digits:
        reg.set_nickname(account.id, "12", now=14.0)
    assert digits.value.code == "invalid_nickname"
    calls: tuple[Callable[[], object], ...] = (
        lambda: reg.set_state(999, AccountState.SIGNED_OUT, now=1.0, event_kind="x", detail=""),
        lambda: reg.set_nickname(999, "x", now=1.0),
    )
    for call in calls:
        with pytest.raises(ConfigurationError) as unknown:
            call()
        assert unknown.value.code == "unknown_account" and "999" in unknown.value.message


def test_delete_account(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    ann = reg.save_sign_in(sign_in(reg, server, key="ka", subject="a"))
    bob = reg.save_sign_in(sign_in(reg, server, key="kb", subject="b"))
    reg.delete_account(ann.id)
    reg.delete_account(ann.id)  # twice is harmless
    assert reg.accounts() == [bob]
    assert reg.account(ann.id) is None
    assert reg.events(account_id=ann.id) == []
    new = reg.save_sign_in(sign_in(reg, server, key="kc", subject="a"))
    assert new.id not in (ann.id, bob.id)  # ids are never reused


# -- consents ----------------------------------------------------------------------------------------------------


def test_consent_latest_wins_and_can_be_withdrawn(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    other = add(reg, "Files")
    assert reg.consent(server.id) is None
    reg.approve(consent_for(server, at=1.0))
    later = Consent(server.id, server.resource, "https://as2.example", ("a", "b"), "cimd", "https://app/cimd", 2.0)
    reg.approve(later)
    assert reg.consent(server.id) == later
    assert reg.consent(other.id) is None
    reg.withdraw_consent(server.id, now=3.0)
    assert reg.consent(server.id) is None
    reg.withdraw_consent(server.id, now=4.0)  # nothing approved: nothing to do
    reg.approve(consent_for(server, at=5.0))
    assert reg.consent(server.id) == consent_for(server, at=5.0)
    calls: tuple[Callable[[], object], ...] = (
        lambda: reg.approve(consent_for(Server(99, "u", "r", "n", None, ServerSettings(), 0.0))),
        lambda: reg.withdraw_consent(99, now=1.0),
    )
    for call in calls:
        with pytest.raises(ConfigurationError) as caught:
            call()
        assert caught.value.code == "unknown_server"


# -- events ------------------------------------------------------------------------------------------------------


def test_events_newest_first_and_filtered(reg: SqliteRegistry) -> None:
    mail = add(reg, "Mail")
    files = add(reg, "Files")
    ann = reg.save_sign_in(sign_in(reg, mail, now=5.0))
    reg.add_event(server_id=None, account_id=None, kind="app_started", detail="", now=1.0)
    reg.add_event(server_id=mail.id, account_id=None, kind="server_added", detail="m", now=2.0)
    reg.add_event(server_id=files.id, account_id=None, kind="server_added", detail="f", now=3.0)
    reg.add_event(server_id=None, account_id=ann.id, kind="tools_listed", detail="3 tools", now=7.0)
    reg.add_event(server_id=None, account_id=ann.id, kind="same_time", detail="logged later", now=7.0)
    assert [e.kind for e in reg.events()] == [
        "same_time",
        "tools_listed",
        "signed_in",
        "server_added",
        "server_added",
        "app_started",
    ]
    assert [e.kind for e in reg.events(limit=2)] == ["same_time", "tools_listed"]
    assert [e.detail for e in reg.events(server_id=mail.id)][-1] == "m"
    assert len(reg.events(server_id=mail.id)) == 4  # the account's events carry its server
    assert [e.kind for e in reg.events(account_id=ann.id)] == ["same_time", "tools_listed", "signed_in"]
    assert reg.events(server_id=files.id, account_id=ann.id) == []
    assert reg.events(limit=0) == []
    with pytest.raises(ConfigurationError) as no_server:
        reg.add_event(server_id=99, account_id=None, kind="x", detail="", now=1.0)
    assert no_server.value.code == "unknown_server"
    with pytest.raises(ConfigurationError) as no_account:
        reg.add_event(server_id=None, account_id=99, kind="x", detail="", now=1.0)
    assert no_account.value.code == "unknown_account"


def test_events_are_pruned_per_account(reg: SqliteRegistry) -> None:
    server = add(reg, "Mail")
    ann = reg.save_sign_in(sign_in(reg, server, key="ka", subject="a", now=0.0))
    bob = reg.save_sign_in(sign_in(reg, server, key="kb", subject="b", now=0.0))
    for n in range(1, EVENTS_KEPT + 5):
        reg.add_event(server_id=server.id, account_id=ann.id, kind="tick", detail=str(n), now=float(n))
    events = reg.events(account_id=ann.id, limit=5000)
    assert len(events) == EVENTS_KEPT
    assert events[0].detail == str(EVENTS_KEPT + 4)
    assert events[-1].detail == "5"
    assert [e.kind for e in reg.events(account_id=bob.id)] == ["signed_in"]


# -- several processes -------------------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import pathlib, sys, time
    from desktop_app.accounts.models import ServerSettings
    from desktop_app.storage.registry import SqliteRegistry
    path, who = pathlib.Path(sys.argv[1]), sys.argv[2]
    pathlib.Path(sys.argv[3]).touch()
    while not pathlib.Path(sys.argv[4]).exists():  # both processes start writing together
        time.sleep(0.001)
    registry = SqliteRegistry(path)
    server = registry.find_server("shared")
    for i in range(100):
        url = f"https://{who}-{i}.example/mcp"
        registry.add_server(url=url, resource=url, name=f"{who}-{i}", settings=ServerSettings(), now=i)
        registry.add_event(server_id=server.id, account_id=None, kind=who, detail=str(i), now=i)
    registry.close()
    """
)


def test_two_processes_write_at_once(path: Path, tmp_path: Path) -> None:
    setup = SqliteRegistry(path)
    add(setup, "shared")
    setup.close()
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), who, str(tmp_path / f"ready-{who}"), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        for who in ("one", "two")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{who}").exists() for who in ("one", "two")) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=100)
        assert writer.returncode == 0, err
        assert "locked" not in err
    reg = SqliteRegistry(path)
    assert len(reg.servers()) == 201
    shared = reg.find_server("shared")
    assert shared is not None
    events = reg.events(server_id=shared.id, limit=1000)
    assert sorted((e.kind, int(e.detail)) for e in events) == sorted(
        (who, i) for who in ("one", "two") for i in range(100)
    )
    reg.close()
    conn = raw(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


@on_file
def test_changed_elsewhere_sees_other_connections_and_processes_never_its_own(reg: SqliteRegistry, path: Path) -> None:
    assert reg.changed_elsewhere() is False  # the first look only remembers where it is
    add(reg, "Mine")
    assert reg.changed_elsewhere() is False  # its own commit does not count

    other = SqliteRegistry(path)
    try:
        add(other, "Theirs")
    finally:
        other.close()
    assert reg.changed_elsewhere() is True
    assert reg.changed_elsewhere() is False  # said once

    # Another process, as the command line is.
    script = (
        "import sys; from desktop_app.storage.registry import SqliteRegistry; from desktop_app.accounts.models import "
        "ServerSettings; r = SqliteRegistry(sys.argv[1]); "
        "r.add_server(url='https://cli.example/mcp', resource='https://cli.example/mcp', name='Cli', "
        "settings=ServerSettings(), now=2.0); r.close()"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    assert reg.changed_elsewhere() is True
    assert {s.name for s in reg.servers()} == {"Mine", "Theirs", "Cli"}
    assert reg.changed_elsewhere() is False  # reading is no change


def test_schema_2_writes_international_hosts_in_their_idna_form(path: Path) -> None:
    """A registry of schema 1 that holds a server added by its international name (which could never get its token
    attached) is migrated on open: the server and its approval name the host as requests carry it."""
    reg = SqliteRegistry(path)
    server = reg.add_server(
        url="https://bücher.example/mcp",
        resource="https://xn--bcher-kva.example/mcp",
        name="b",
        settings=ServerSettings(),
        now=1.0,
    )
    reg.close()
    conn = raw(path)
    conn.execute("UPDATE servers SET resource = 'https://bücher.example/mcp' WHERE id = ?", (server.id,))
    conn.execute(
        "INSERT INTO consents (server_id, resource, issuer, client_kind, client_id, approved_at) "
        "VALUES (?, 'https://bücher.example/mcp', 'https://as.example', 'dcr', 'c', 1.0)",
        (server.id,),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    reg = SqliteRegistry(path)
    try:
        migrated = reg.server(server.id)
        consent = reg.consent(server.id)
        assert migrated is not None and migrated.resource == "https://xn--bcher-kva.example/mcp"
        assert migrated.url == "https://bücher.example/mcp"  # what the person typed stays as typed
        assert consent is not None and consent.resource == "https://xn--bcher-kva.example/mcp"
        assert reg.find_server("https://BÜCHER.example/mcp") == migrated
    finally:
        reg.close()
    conn = raw(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
