"""``mcp-connectors remove SERVER --account A``: one account removed, asked first like ``remove``; after any removal
the AI tools that still list a removed connector are named with the exact ``uninstall`` command for each, or the
entries are taken out at once with ``--from-hosts``. HOME and XDG_CONFIG_HOME point at the test's own folder (never
the real home); the profile is :func:`tests.unit.cli_fakes.profile`'s."""

from __future__ import annotations

import io
import json
import shlex
import sys
import time
import uuid
from pathlib import Path

import pytest

from desktop_app.accounts.models import Account, Identity
from desktop_app.cli.main import main
from desktop_app.cli.output import EXIT_ACTION, EXIT_OK, EXIT_USAGE
from desktop_app.hosts.catalog import find_host
from desktop_app.hosts.entries import bridge_program, launch
from desktop_app.hosts.installer import install, state_of
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.storage.profile import open_accounts
from tests.helpers.records import store_sign_in
from tests.unit.cli_fakes import ISSUER, URL, Scripted, profile
from tests.unit.cli_fakes import scripted as scripted  # the fixture

SQLITE = {"command": "uvx", "args": ["mcp-server-sqlite"]}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    (folder / ".cursor").mkdir(parents=True)
    (folder / ".cursor" / "mcp.json").write_text(json.dumps({"mcpServers": {"sqlite": SQLITE}}, indent=2) + "\n")
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / ".config"))
    for name in ("CODEX_HOME", "CLAUDE_CONFIG_DIR", "GOOSE_PATH_ROOT", "FLATPAK_XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    return folder


def accounts_now() -> list[Account]:
    opened = open_accounts(secret_store="file")
    try:
        return opened.registry.accounts()
    finally:
        opened.registry.close()


def add_bob() -> Account:
    """A second account on ``srv`` (the profile's first is alice)."""
    opened = open_accounts(secret_store="file")
    try:
        (server,) = opened.registry.servers()
        now = time.time()
        tokens = TokenSet("at-bob", ISSUER, "client", URL, ("files:read",), now, expires_at=now + 3600)
        bob = Identity("sub-bob", "bob", "id_token", None)
        return store_sign_in(opened, server.id, tokens, now=now, key=uuid.uuid4().hex, identity=bob)
    finally:
        opened.registry.close()


def put_in_cursor(account: Account, name: str) -> None:
    """The account's connector in Cursor's file, as ``install`` writes it (in this profile)."""
    run = launch(account.server_id, account.id, program=bridge_program(executable=sys.executable))
    install(
        find_host("cursor"),
        run,
        server_id=account.server_id,
        account_id=account.id,
        name=name,
        default_name=name,
        description="d",
    )


def cursor_entries(home: Path) -> set[str]:
    return set(json.loads((home / ".cursor" / "mcp.json").read_text())["mcpServers"])


def test_one_account_goes_the_server_stays_and_the_host_entry_is_named_with_its_command(
    scripted: Scripted, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with profile():
        bob = add_bob()
        alice = next(a for a in accounts_now() if a.label == "alice")
        put_in_cursor(alice, "srv-alice")
        put_in_cursor(bob, "srv-bob")

        assert main(["--secret-store", "file", "remove", "srv", "--account", "alice", "--yes"]) == EXIT_OK
        out, err = capsys.readouterr()
        assert out.strip() == "Removed alice from srv; srv has 1 other account."
        assert [a.label for a in accounts_now()] == ["bob"]
        assert f"Note: {ISSUER} offers no revocation endpoint; the tokens expire by themselves." in err
        assert "  Cursor: srv-alice\n" in err and "srv-bob" not in err
        command = "mcp-connectors uninstall --host cursor --name srv-alice"
        assert f"  {command}\n" in err
        assert cursor_entries(home) == {"sqlite", "srv-alice", "srv-bob"}  # nothing changed without --from-hosts

        # The command as printed does what it says.
        assert main(shlex.split(command)[1:]) == EXIT_OK
        assert cursor_entries(home) == {"sqlite", "srv-bob"}


def test_from_hosts_takes_the_entries_out_with_the_removal(
    scripted: Scripted, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (home / ".cursor" / "mcp.json").read_text()
    with profile():
        (alice,) = accounts_now()
        put_in_cursor(alice, "srv-alice")
        argv = ["--secret-store", "file", "remove", "srv", "--account", str(alice.id), "--yes", "--from-hosts"]
        assert main(argv) == EXIT_OK
        out, err = capsys.readouterr()
        assert out.strip() == "Removed alice from srv; srv has no accounts left."
        assert "Sign in again with 'mcp-connectors login srv', or remove the server with" in err
        assert "Took srv-alice out of Cursor (" in err and "uninstall" not in err
        assert (home / ".cursor" / "mcp.json").read_text() == before
        assert accounts_now() == []


def test_removing_the_server_names_what_its_accounts_left_in_hosts(
    scripted: Scripted, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with profile():
        bob = add_bob()
        put_in_cursor(bob, "srv-bob")
        assert main(["--secret-store", "file", "remove", "srv", "--yes"]) == EXIT_OK
        out, err = capsys.readouterr()
        assert out.strip() == "Removed srv and 2 account(s)."
        assert "  mcp-connectors uninstall --host cursor --name srv-bob\n" in err
        assert state_of(find_host("cursor")).connectors != ()


def test_a_host_file_that_cannot_be_changed_is_named_with_its_command(
    scripted: Scripted, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with profile():
        (alice,) = accounts_now()
        put_in_cursor(alice, "srv-alice")
        backup = home / ".cursor" / "mcp.json.mcp-connectors.bak"
        backup.unlink()
        backup.mkdir()  # the backup cannot be written (works as root too, unlike permissions)
        argv = ["--secret-store", "file", "remove", "srv", "--account", "alice", "--yes", "--from-hosts"]
        assert main(argv) == EXIT_ACTION
        _, err = capsys.readouterr()
        assert "Could not change Cursor: " in err
        assert "  mcp-connectors uninstall --host cursor --name srv-alice\n" in err
        assert accounts_now() == []  # the account is removed all the same


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "status", "left"), [("n\n", EXIT_ACTION, ["alice"]), ("y\n", EXIT_OK, [])])
def test_the_person_is_asked_first(
    scripted: Scripted,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
    status: int,
    left: list[str],
) -> None:
    with profile():
        monkeypatch.setattr("sys.stdin", Terminal(answer))
        assert main(["--secret-store", "file", "remove", "srv", "--account", "alice"]) == status
        _, err = capsys.readouterr()
        assert "Remove the account alice from srv? Its tokens are revoked where the server allows it" in err
        assert [a.label for a in accounts_now()] == left
        assert ("Nothing removed." in err) == bool(left)


def test_without_a_terminal_or_yes_nothing_is_removed(
    scripted: Scripted, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with profile():
        assert main(["--secret-store", "file", "remove", "srv", "--account", "alice"]) == EXIT_USAGE
        _, err = capsys.readouterr()
        assert "Removing alice needs your confirmation, but there is no terminal to ask in." in err
        assert "What you can do: Add --yes to remove it." in err
        assert [a.label for a in accounts_now()] == ["alice"]


def test_an_unknown_account_names_the_accounts_there_are(
    scripted: Scripted, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with profile():
        assert main(["--secret-store", "file", "remove", "srv", "--account", "carol", "--yes"]) == EXIT_USAGE
        _, err = capsys.readouterr()
        assert "srv has no account 'carol' (accounts: alice (id 1))." in err
        assert [a.label for a in accounts_now()] == ["alice"]


def test_the_help_of_remove_names_account_and_from_hosts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["remove", "--help"])
    shown = capsys.readouterr().out
    assert "--account A" in shown and "remove only this account" in shown
    assert "--from-hosts" in shown and "--from-hosts takes them out at once" in " ".join(shown.split())
