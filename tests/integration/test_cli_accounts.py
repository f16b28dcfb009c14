"""The account commands as a person runs them: ``mcp-connectors add/login/list/tools/call/token/logout/nickname/
doctor/remove`` in real processes, with the scripted browser as ``BROWSER``, the real lab (oidc-provider and the MCP
SDK server) and the private GNOME Keyring every test runs against (tests/lab/secret_service.py).

Every command's stdout and stderr (except ``token``'s stdout, which *is* the token) is checked for secret-shaped
text, and, at the end of each test, for every token or client secret the profile's store held at any point.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import ROOT, cli_env, run_cli
from tests.lab.accounts import ALICE_SUB
from tests.lab.secret_service import PrivateSecretService
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab

BOB_SUB = "lab-sub-00b0b0"
#: What must never be printed: a JWT, secret-bearing form fields, an Authorization header value.
FORBIDDEN = ("eyJ", "refresh_token=", "code_verifier", "Bearer ", "client_secret=")
#: Fields of a stored value that are secrets (token bundles, client secrets).
SECRET_FIELDS = ("access_token", "refresh_token", "id_token", "client_secret")
EXIT_ACTION, EXIT_USAGE, EXIT_STORAGE = 1, 2, 6


class Cli:
    """Runs ``python -m desktop_app`` as a person would (no terminal, the scripted browser) and keeps every output,
    so a test can check none of them ever shows a secret the profile's store held."""

    def __init__(self, home: Path, keyring: PrivateSecretService) -> None:
        self.home = home
        self.keyring = keyring
        self.outputs: list[tuple[str, str]] = []  # (command, text) that must hold no secret
        self.known_secrets: set[str] = set()

    def __call__(
        self, *args: str, user: str | None = None, env: dict[str, str] | None = None, timeout: float = 90
    ) -> Result:
        completed = run_cli(*args, user=user, env=env, timeout=timeout)
        command = " ".join(args)
        result = Result(command, completed.returncode, completed.stdout, completed.stderr)
        prints_token = "token" in args and completed.returncode == 0
        checked = [("stderr", completed.stderr)] + ([] if prints_token else [("stdout", completed.stdout)])
        for stream, text in checked:
            for forbidden in FORBIDDEN:
                assert forbidden not in text, f"{forbidden!r} in the {stream} of {command!r}:\n{text}"
            self.outputs.append((f"{stream} of {command!r}", text))
        self.collect_secrets()
        self.assert_no_known_secrets()
        return result

    # -- what the profile's store holds ------------------------------------------------------------------------
    def profile_id(self) -> str | None:
        path = self.home / "registry.sqlite3"
        if not path.exists():
            return None
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'profile_id'").fetchone()
        return str(row[0]) if row else None

    def keyring_items(self) -> dict[str, str]:
        """This profile's raw keyring entries (heads and chunks); empty before the profile exists."""
        profile = self.profile_id()
        return {} if profile is None else self.keyring.items(prefix=f"v1/{profile}/")

    def keyring_values(self) -> dict[str, dict[str, Any]]:
        """This profile's keyring values, reassembled from their chunks the way the vault's format describes."""
        items = self.keyring_items()
        values: dict[str, dict[str, Any]] = {}
        for name, text in items.items():
            if "#" in name:
                continue
            current = json.loads(text).get("value")
            if current is None:
                continue
            parts = [items[f"{name}#{current['gen']}/{i}"] for i in range(current["chunks"])]
            values[name.split("/", 2)[2]] = json.loads("".join(parts))
        return values

    def file_values(self) -> dict[str, dict[str, Any]]:
        path = self.home / "secrets.json"
        if not path.exists():
            return {}
        stored: dict[str, dict[str, Any]] = json.loads(path.read_text())["secrets"]
        return stored

    def collect_secrets(self) -> None:
        for value in (*self.keyring_values().values(), *self.file_values().values()):
            for name in SECRET_FIELDS:
                if isinstance(value.get(name), str) and value[name]:
                    self.known_secrets.add(value[name])

    def assert_no_known_secrets(self) -> None:
        for where, text in self.outputs:
            for secret in self.known_secrets:
                assert secret not in text, f"a stored secret appears in the {where}"

    def list_json(self) -> dict[str, Any]:
        result = self("list", "--json")
        assert result.code == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data


class Result:
    def __init__(self, command: str, code: int, stdout: str, stderr: str) -> None:
        self.command = command
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"<{self.command!r} exit {self.code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}>"

    def refusal(self) -> tuple[str, str | None]:
        """The error line and the "what you can do" line; asserts that that is all the refusal says."""
        lines = self.stderr.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("mcp-connectors: ")]
        assert len(starts) == 1, self
        tail = lines[starts[0] :]
        assert len(tail) <= 2, self
        hint = None
        if len(tail) == 2:
            assert tail[1].startswith("  What you can do: "), self
            hint = tail[1].removeprefix("  What you can do: ")
        return tail[0].removeprefix("mcp-connectors: "), hint


@pytest.fixture
def cli(secret_service: PrivateSecretService) -> Cli:
    return Cli(Path(os.environ["MCP_CONNECTORS_HOME"]), secret_service)


def jwt_claims(token: str) -> dict[str, Any]:
    header, payload, signature = token.split(".")
    assert header.startswith("eyJ") and signature
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def authorization_requests(auth_server: RunningAuthServer) -> int:
    return sum(1 for r in auth_server.requests() if str(r["path"]).endswith("/auth") and r["method"] == "GET")


def sign_in_two(cli: Cli, url: str) -> None:
    assert cli("add", url, "--name", "lab").code == 0
    first = cli("login", "lab", "--yes", user="alice")
    assert first.code == 0, first
    second = cli("login", "lab", "--new-account", "--yes", user="bob")
    assert second.code == 0, second


# -- 1. the whole journey ----------------------------------------------------------------------------------------


def test_a_person_adds_a_server_signs_in_twice_uses_both_accounts_and_removes_everything(
    cli: Cli, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    added = cli("add", lab_mcp.url, "--name", "lab")
    assert added.code == 0, added
    assert added.stdout.strip() == f"Added lab ({lab_mcp.url})."

    alice = cli("login", "lab", "--yes", user="alice")
    assert alice.code == 0, alice
    assert "About to sign in:" in alice.stderr
    assert f"Authorization server: {lab_as.issuer}" in alice.stderr
    assert "Added account alice@lab.test on lab" in alice.stderr
    bob = cli("login", "lab", "--new-account", "--yes", user="bob")
    assert bob.code == 0, bob
    assert "Added account bob@lab.test on lab" in bob.stderr
    assert "About to sign in:" not in bob.stderr  # the same pairing: approved once

    listing = cli("list")
    assert listing.code == 0, listing
    assert "Secrets are kept in: Secret Service" in listing.stdout
    for label in ("alice@lab.test", "bob@lab.test"):
        [line] = [line for line in listing.stdout.splitlines() if label in line]
        assert "signed in · expires in" in line, listing
    data = cli.list_json()
    [server] = data["servers"]
    assert server["name"] == "lab" and server["url"] == lab_mcp.url
    assert sorted(a["label"] for a in server["accounts"]) == ["alice@lab.test", "bob@lab.test"]
    assert {a["state"] for a in server["accounts"]} == {"signed_in"}
    assert cli.known_secrets, "the two sign-ins stored their tokens in the keyring"

    tools = cli("tools", "lab", "--account", "alice@lab.test")
    assert tools.code == 0, tools
    names = {line.split()[0] for line in tools.stdout.splitlines()[1:]}
    assert {"echo", "whoami"} <= names
    assert "as alice@lab.test" in tools.stderr

    whoami_bob = cli("call", "lab", "whoami", "--account", "bob@lab.test")
    assert whoami_bob.code == 0, whoami_bob
    assert BOB_SUB in whoami_bob.stdout and ALICE_SUB not in whoami_bob.stdout

    token = cli("token", "lab", "--account", "alice@lab.test")
    assert token.code == 0, token
    assert token.stdout.count("\n") == 1 and token.stdout.endswith("\n")
    printed = token.stdout.strip()
    assert token.stdout == printed + "\n" and " " not in printed
    claims = jwt_claims(printed)
    assert claims["sub"] == ALICE_SUB
    assert claims["aud"] == lab_mcp.url
    assert printed in cli.known_secrets  # the stored token, not a new one

    assert cli("nickname", "lab", "Work", "--account", "alice@lab.test").code == 0
    again = cli("login", "lab", "--account", "Work", "--yes", user="alice")
    assert again.code == 0, again
    assert "Signed in again: Work (alice@lab.test)" in again.stderr
    listing = cli("list")
    assert "Work (alice@lab.test)" in listing.stdout, listing
    assert [a["nickname"] for a in cli.list_json()["servers"][0]["accounts"] if a["label"] == "alice@lab.test"] == [
        "Work"
    ]

    logout = cli("logout", "lab", "--account", "bob@lab.test")
    assert logout.code == 0, logout
    assert f"Revoked at {lab_as.issuer}: refresh token" in logout.stderr
    # oidc-provider cannot revoke a JWT access token (RFC 7009 unsupported_token_type): the person is told how long
    # it keeps working rather than left to believe everything was revoked.
    assert re.search(
        r"cannot revoke the access token; it stops working by itself in \d+ (seconds|minutes)", logout.stderr
    )
    assert "Signed out bob@lab.test on lab" in logout.stdout

    signed_out = cli("token", "lab", "--account", "bob@lab.test")
    assert signed_out.code == EXIT_ACTION, signed_out
    assert signed_out.stdout == ""
    message, hint = signed_out.refusal()
    assert "bob@lab.test is signed out" in message
    assert hint is not None and "login lab --account" in hint  # a command that works as given
    again = cli("logout", "lab", "--account", "bob@lab.test")
    assert again.code == 0 and "already signed out" in again.stderr, again

    # Alice still works, and is now the only account --account can be left out for.
    still = cli("call", "lab", "whoami")
    assert still.code == 0, still
    assert ALICE_SUB in still.stdout

    doctor = cli("doctor", "lab")
    assert doctor.code == 0, doctor
    assert "safe to share" in doctor.stdout
    assert "discovery:" in doctor.stdout
    assert f"probe: {lab_mcp.url} → 401" in doctor.stdout
    assert f"resource_metadata: {lab_mcp.prm_url} → 200" in doctor.stdout
    assert f"authorization_server_metadata: {lab_as.issuer}/.well-known/oauth-authorization-server → 200" in (
        doctor.stdout
    )
    assert f"authorization server: {lab_as.issuer}" in doctor.stdout
    assert "token: usable" in doctor.stdout

    removed = cli("remove", "lab", "--yes")
    assert removed.code == 0, removed
    assert removed.stdout.strip() == "Removed lab and 2 account(s)."
    listing = cli("list")
    assert "No servers yet" in listing.stdout
    assert cli.list_json()["servers"] == []
    assert cli.keyring_items() == {}, "removing the server leaves nothing of this profile in the keyring"
    cli.assert_no_known_secrets()


# -- 2. signing in again as someone else ---------------------------------------------------------------------------


def test_signing_in_again_as_the_wrong_person_is_refused_and_changes_nothing(
    cli: Cli, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    assert cli("add", lab_mcp.url, "--name", "lab").code == 0
    assert cli("login", "lab", "--yes", user="alice").code == 0
    before = cli.list_json()
    stored_before = cli.keyring_values()

    wrong = cli("login", "lab", "--account", "alice@lab.test", "--yes", user="bob")
    assert wrong.code == EXIT_ACTION, wrong
    message, hint = wrong.refusal()
    assert "Asked to sign in as alice@lab.test, but signed in as bob@lab.test" in message
    assert hint is not None and "--new-account" in hint
    assert wrong.stdout == ""

    assert cli.list_json() == before
    assert cli.keyring_values() == stored_before
    cli.assert_no_known_secrets()


# -- 3. refusals -----------------------------------------------------------------------------------------------------


def test_every_refusal_is_one_line_naming_the_value_and_what_to_do(
    cli: Cli, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    assert cli("add", lab_mcp.url, "--name", "lab").code == 0

    # A sign-in needs the pairing approved: without a terminal, only --yes can, and no browser opens.
    asked = authorization_requests(lab_as)
    no_terminal = cli("login", "lab", user="alice")
    assert no_terminal.code == EXIT_USAGE, no_terminal
    message, hint = no_terminal.refusal()
    assert "no terminal" in message
    assert hint is not None and "--yes" in hint
    assert authorization_requests(lab_as) == asked
    assert cli.list_json()["servers"][0]["accounts"] == []

    twice = cli("add", lab_mcp.url)
    assert twice.code == EXIT_USAGE, twice
    message, hint = twice.refusal()
    assert lab_mcp.url in message and "'lab'" in message
    assert hint is not None and "lab" in hint

    remote = cli("add", "http://mcp.example.com/mcp")
    assert remote.code == EXIT_USAGE, remote
    message, hint = remote.refusal()
    assert "http://mcp.example.com/mcp" in message and "https" in message
    assert hint is not None

    unknown = cli("tools", "nope")
    assert unknown.code == EXIT_USAGE, unknown
    message, hint = unknown.refusal()
    assert "'nope'" in message and "lab" in message
    assert hint is not None and "list" in hint

    not_json = cli("call", "lab", "whoami", "--args", "{text: hi}")
    assert not_json.code == EXIT_USAGE, not_json
    message, hint = not_json.refusal()
    assert "--args" in message and "{text: hi}" in message
    assert hint is not None and "JSON object" in hint
    not_object = cli("call", "lab", "whoami", "--args", '["hi"]')
    assert not_object.code == EXIT_USAGE, not_object
    message, hint = not_object.refusal()
    assert '["hi"]' in message and "must be a JSON object" in message
    assert hint is not None and "JSON object" in hint

    sign_in = cli("login", "lab", "--yes", user="alice")
    assert sign_in.code == 0, sign_in
    assert cli("login", "lab", "--new-account", "--yes", user="bob").code == 0

    for command in (("tools", "lab"), ("token", "lab"), ("call", "lab", "whoami"), ("login", "lab", "--yes")):
        ambiguous = cli(*command, user="alice")
        assert ambiguous.code == EXIT_USAGE, ambiguous
        assert ambiguous.stdout == ""
        message, hint = ambiguous.refusal()
        assert "alice@lab.test" in message and "bob@lab.test" in message, ambiguous
        assert hint is not None and "--account" in hint

    unknown_account = cli("token", "lab", "--account", "carol@lab.test")
    assert unknown_account.code == EXIT_USAGE, unknown_account
    message, hint = unknown_account.refusal()
    assert "'carol@lab.test'" in message and "alice@lab.test" in message
    assert hint is not None
    cli.assert_no_known_secrets()


# -- 4. no keyring -------------------------------------------------------------------------------------------------


def test_without_a_keyring_it_says_so_suggests_the_file_store_and_writes_no_secret(
    cli: Cli, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, tmp_path: Path
) -> None:
    assert cli("add", lab_mcp.url, "--name", "lab").code == 0
    assert cli("login", "lab", "--yes", user="alice").code == 0
    no_bus = {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-such-bus'}"}

    asked = authorization_requests(lab_as)
    login = cli("login", "lab", "--new-account", "--yes", user="bob", env=no_bus)
    token = cli("token", "lab", env=no_bus)
    for result in (login, token):
        assert result.code == EXIT_STORAGE, result
        assert result.stdout == ""
        message, hint = result.refusal()
        assert re.search(r"(?i)no os keyring|keyring.*(unavailable|not available)", message), result
        assert hint is not None and "--secret-store file" in hint
    assert authorization_requests(lab_as) == asked, "no browser opens when the tokens could not be kept"
    listing = cli("list", env=no_bus)
    assert listing.code == 0 and "Warning:" in listing.stdout and "keyring" in listing.stdout.lower(), listing

    assert not (cli.home / "secrets.json").exists()
    assert cli.known_secrets
    for path in cli.home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert b"eyJ" not in content, path
            for secret in cli.known_secrets:
                assert secret.encode() not in content, path
    # The keyring is still the choice: with it back, the account works as before.
    again = cli("call", "lab", "whoami")
    assert again.code == 0, again
    assert ALICE_SUB in again.stdout
    cli.assert_no_known_secrets()


# -- 5. the file store ---------------------------------------------------------------------------------------------


def test_the_file_store_when_chosen_is_private_flagged_as_unencrypted_and_remembered(
    cli: Cli, lab_mcp: RunningMcpServer
) -> None:
    login = cli("--secret-store", "file", "login", lab_mcp.url, "--yes", user="alice")
    assert login.code == 0, login
    path = cli.home / "secrets.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert cli.known_secrets and len(cli.file_values()) == 1
    assert cli.keyring_items() == {}, "nothing goes to the keyring when the file store was chosen"

    listing = cli("list")  # no flag: the choice was remembered
    assert listing.code == 0, listing
    assert f"Secrets are kept in: file {path} (not encrypted)" in listing.stdout
    assert "NOT encrypted" in listing.stdout
    assert "alice@lab.test" in listing.stdout
    assert "(not encrypted)" in cli.list_json()["secret_store"]

    token = cli("token", "127.0.0.1")
    assert token.code == 0, token
    assert jwt_claims(token.stdout.strip())["sub"] == ALICE_SUB
    [bundle] = cli.file_values().values()
    assert token.stdout.strip() == bundle["access_token"]
    assert cli.keyring_items() == {}
    cli.assert_no_known_secrets()


# -- 7. Ctrl+C ------------------------------------------------------------------------------------------------------


def test_ctrl_c_while_waiting_for_the_browser_exits_130_and_keeps_nothing(cli: Cli, lab_mcp: RunningMcpServer) -> None:
    assert cli("add", lab_mcp.url, "--name", "lab").code == 0
    # What a terminal gives a command: SIGINT delivered as KeyboardInterrupt, even when this suite runs where it is
    # ignored (a background job), in which case Python would not install its handler in the child.
    restore_sigint = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'desktop_app'; runpy.run_module('desktop_app', run_name='__main__', alter_sys=True)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", restore_sigint, "login", "lab", "--yes"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(browser="/bin/true %s"),
        cwd=ROOT,
    )
    try:
        assert process.stderr is not None
        seen: list[str] = []
        for line in process.stderr:
            seen.append(line)
            if line.startswith("Waiting for the sign-in to finish"):
                break
        else:
            pytest.fail("login never reached the wait for the browser:\n" + "".join(seen))
        process.send_signal(signal.SIGINT)
        stdout, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = "".join(seen) + rest
    assert process.returncode == 130, stderr
    assert stderr.rstrip().endswith("mcp-connectors: interrupted.")
    assert stdout == ""
    for forbidden in FORBIDDEN:
        assert forbidden not in stderr
    assert cli.list_json()["servers"][0]["accounts"] == []
    assert cli.keyring_items() == {}
