"""Renaming a server, and the server list as a file (issue 17, item 16): exported without any secret, imported back
as servers with their settings, a malformed file refused naming its line before anything is added."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from desktop_app.accounts.models import Consent, Identity, ServerSettings, server_secret_key
from desktop_app.accounts.server_list import ServerListInvalid, export_text, import_servers, read_text
from desktop_app.cli.main import main as command_line
from desktop_app.cli.output import EXIT_USAGE
from desktop_app.errors import ConfigurationError
from desktop_app.oauth.tokens import TokenSet
from desktop_app.storage.profile import open_accounts
from tests.helpers.records import store_sign_in

URL = "http://127.0.0.1:9/mcp"
OTHER = "https://mail.example/mcp"
ISSUER = "https://as.example"
SECRET = "s3cret-client-secret"
TOKEN = "at-never-exported"


@pytest.fixture
def profile() -> None:
    """Server ``lab`` (a pre-registered client with a secret, an account signed in, its pairing approved) and
    ``mail`` (its own scopes and callback port)."""
    accounts = open_accounts(secret_store="file")
    try:
        now = time.time()
        lab = accounts.add_server(
            URL, name="lab", settings=ServerSettings(registration="preregistered", client_id="cid-1")
        )
        accounts.secrets.put(server_secret_key(lab.id), {"client_secret": SECRET})
        accounts.add_server(OTHER, name="mail", settings=ServerSettings(scopes=("mail:read",), callback_port=8765))
        tokens = TokenSet(TOKEN, ISSUER, "cid-1", URL, ("files:read",), now, expires_at=now + 3600)
        store_sign_in(
            accounts, lab.id, tokens, now=now, key="k1", identity=Identity("sub-a", "alice@lab", "id_token", "alice")
        )
        accounts.registry.approve(Consent(lab.id, URL, ISSUER, ("files:read",), "preregistered", "cid-1", now))
    finally:
        accounts.registry.close()


def names() -> list[str]:
    accounts = open_accounts(secret_store="file")
    try:
        return [s.name for s in accounts.registry.servers()]
    finally:
        accounts.registry.close()


# --- rename ---------------------------------------------------------------------------------------------------


def test_rename_keeps_the_accounts_and_settings_and_records_it(
    profile: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command_line(["--secret-store", "file", "rename", "lab", "Lab tickets"]) == 0
    assert "Server lab is now called Lab tickets." in capsys.readouterr().out
    accounts = open_accounts(secret_store="file")
    try:
        server = accounts.server("Lab tickets")
        assert server.settings.client_id == "cid-1"
        assert [a.label for a in accounts.registry.accounts(server.id)] == ["alice@lab"]
        assert any(
            e.kind == "server_renamed" and e.detail == "lab → Lab tickets"
            for e in accounts.registry.events(server_id=server.id)
        )
    finally:
        accounts.registry.close()


@pytest.mark.parametrize(("new", "says"), [("MAIL", "A server named 'mail' already exists"), ("42", "only digits")])
def test_rename_refuses_a_taken_or_unusable_name(
    profile: None, new: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert command_line(["--secret-store", "file", "rename", "lab", new]) == EXIT_USAGE
    assert says in capsys.readouterr().err
    assert names() == ["lab", "mail"]


# --- export ---------------------------------------------------------------------------------------------------


def test_export_holds_names_addresses_and_settings_and_no_secret(
    profile: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "servers.json"
    assert command_line(["--secret-store", "file", "export", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    for secret in (SECRET, TOKEN, "alice", "sub-a", "k1"):
        assert secret not in text
    data = json.loads(text)
    assert [(s["name"], s["url"]) for s in data["servers"]] == [("lab", URL), ("mail", OTHER)]
    assert data["servers"][0]["settings"]["client_id"] == "cid-1"
    assert data["servers"][1]["settings"]["scopes"] == ["mail:read"]
    assert "Exported 2 servers" in capsys.readouterr().err


def test_export_to_standard_output(profile: None, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert command_line(["--secret-store", "file", "export"]) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)["servers"]] == ["lab", "mail"]


# --- import ---------------------------------------------------------------------------------------------------


def test_import_adds_the_missing_servers_with_their_settings_never_accounts(
    profile: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "servers.json"
    assert command_line(["--secret-store", "file", "export", str(path)]) == 0
    assert command_line(["--secret-store", "file", "remove", "mail", "--yes"]) == 0
    assert command_line(["--secret-store", "file", "rename", "lab", "old lab"]) == 0
    capsys.readouterr()
    assert command_line(["--secret-store", "file", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Skipped lab: http://127.0.0.1:9/mcp is added already, as old lab." in out
    assert "Added mail: https://mail.example/mcp" in out
    accounts = open_accounts(secret_store="file")
    try:
        mail = accounts.server("mail")
        assert mail.settings.scopes == ("mail:read",) and mail.settings.callback_port == 8765
        assert accounts.registry.accounts(mail.id) == []
        assert accounts.registry.consent(mail.id) is None
    finally:
        accounts.registry.close()


def test_a_taken_name_gets_a_number(profile: None) -> None:
    listed = read_text(
        json.dumps(
            {
                "format": "mcp-connectors server list",
                "version": 1,
                "servers": [{"name": "lab", "url": "https://new.example/mcp"}],
            }
        )
    )
    accounts = open_accounts(secret_store="file")
    try:
        result = import_servers(accounts, listed)
        assert [s.name for _, s in result.added] == ["lab 2"]
    finally:
        accounts.registry.close()


GOOD_ENTRY = '    {"name": "a", "url": "https://a.example/mcp"}'


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ('{\n  "format": "mcp-connectors server list",\n  "version": 1,\n  "servers": [,]\n}', 4, "not JSON"),
        ("[1, 2]", None, "not a server list of this app"),
        ('{"format": "mcp-connectors server list",\n "version": 2, "servers": []}', 2, "version 2"),
        (
            '{\n "format": "mcp-connectors server list",\n "version": 1,\n "servers": [\n'
            + GOOD_ENTRY
            + ',\n    {"name": "b", "url": "https://b.example/mcp",\n     "settings": {"callback_port": 70000}}\n ]\n}',
            6,
            "callback_port",
        ),
        (
            '{"format": "mcp-connectors server list", "version": 1, "servers": [\n'
            + GOOD_ENTRY
            + ',\n    {"name": "b", "url": "http://remote.example/mcp"}\n]}',
            3,
            "address cannot be used",
        ),
        (
            '{"format": "mcp-connectors server list", "version": 1, "servers": [\n'
            + GOOD_ENTRY
            + ",\n"
            + GOOD_ENTRY.replace('"a"', '"c"')
            + "\n]}",
            3,
            "listed twice (also on line 2)",
        ),
        ('{"format": "mcp-connectors server list", "version": 1, "servers": [\n  "lab"\n]}', 2, "must be an object"),
    ],
)
def test_a_malformed_list_is_refused_naming_its_line(text: str, line: int | None, says: str) -> None:
    with pytest.raises(ServerListInvalid) as refused:
        read_text(text)
    assert refused.value.line == line
    assert says in refused.value.message
    if line is not None:
        assert refused.value.message.startswith(f"Line {line}:")


def test_a_malformed_file_adds_nothing(profile: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "servers.json"
    path.write_text(
        '{"format": "mcp-connectors server list", "version": 1, "servers": [\n'
        '  {"name": "new", "url": "https://new.example/mcp"},\n  {"name": "", "url": "https://x.example/mcp"}\n]}',
        encoding="utf-8",
    )
    capsys.readouterr()
    assert command_line(["--secret-store", "file", "import", str(path)]) == EXIT_USAGE
    assert 'Line 3: the server\'s "name" must be a non-empty line of text.' in capsys.readouterr().err
    assert names() == ["lab", "mail"]


def test_an_unreadable_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert command_line(["--secret-store", "file", "import", str(tmp_path / "missing.json")]) == EXIT_USAGE
    assert "missing.json cannot be read" in capsys.readouterr().err


def test_export_and_read_agree() -> None:
    accounts = open_accounts(secret_store="file")
    try:
        accounts.add_server(URL, name="ünïcode", settings=ServerSettings(send_resource=False))
        listed = read_text(export_text(accounts.registry.servers()))
    finally:
        accounts.registry.close()
    assert [(s.name, s.url, s.settings.send_resource, s.line) for s in listed] == [("ünïcode", URL, False, 5)]
    with pytest.raises(ConfigurationError):
        read_text("")
