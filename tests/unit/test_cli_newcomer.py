"""The command line as a newcomer meets it (issue 17, item 15): a mistyped command or option answered with the one
meant, servers and accounts named by the start of their names, a help text for everything, an address without
https:// answered with it, and the app's words where protocol shorthand was."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.__main__ import main as entry
from desktop_app.accounts.models import Consent, Identity, ServerSettings
from desktop_app.cli.main import main as command_line
from desktop_app.cli.output import EXIT_USAGE
from desktop_app.cli.parser import COMMANDS, build_parser, parse
from desktop_app.cli.suggest import SYNONYMS
from desktop_app.oauth.tokens import TokenSet
from desktop_app.storage.profile import open_accounts
from tests.helpers.bridge import initialize_request
from tests.helpers.records import store_sign_in

#: A loopback address nothing listens on: nothing here is ever asked of the server.
URL = "http://127.0.0.1:9/mcp"
ISSUER = "https://as.example"


def app_lines(output: str) -> list[str]:
    """The lines the app printed itself, not the log's (the suite logs the app at DEBUG)."""
    return [line for line in output.splitlines() if not line.startswith(("DEBUG ", "INFO ", "WARNING ", "ERROR "))]


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What the command line says when it refuses ``argv`` (status 2, nothing on stdout)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        parse(argv)
    out, err = capsys.readouterr()
    assert stopped.value.code == EXIT_USAGE
    assert out == ""
    return err


# --- a mistyped command, option or choice ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["tokn", "srv"], "token"),
        (["Token", "srv"], "token"),
        (["lgin", "srv"], "login"),
        (["tool", "srv"], "tools"),
        (["ls"], "list"),
        (["rm", "srv"], "remove"),
        (["-v", "signin", "srv"], "login"),
    ],
)
def test_a_mistyped_command_is_answered_with_the_one_meant(
    argv: list[str], meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    said = refused(argv, capsys)
    assert f"mcp-connectors: error: {argv[-2] if argv[0] == '-v' else argv[0]!r} is not a command." in said
    assert f"Did you mean {meant!r}?" in said
    assert "The commands: connect, add, login, list," in said


def test_a_word_like_no_command_gets_the_list_only(capsys: pytest.CaptureFixture[str]) -> None:
    said = refused(["frobnicate"], capsys)
    assert "'frobnicate' is not a command. The commands: connect," in said
    assert "Did you mean" not in said


def test_every_synonym_names_a_command() -> None:
    assert set(SYNONYMS.values()) <= set(COMMANDS)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["hosts", "--jsn"], "mcp-connectors hosts: error: unrecognized arguments: --jsn (did you mean --json?)"),
        (
            ["token", "srv", "--acount", "alice"],
            "mcp-connectors token: error: unrecognized arguments: --acount alice (did you mean --account?)",
        ),
        (
            ["token", "srv", "--forse", "--acount=alice"],
            "unrecognized arguments: --forse --acount=alice (--forse: did you mean --force? --acount: did you mean "
            "--account?)",
        ),
        (["list", "-json"], "unrecognized arguments: -json (did you mean --json?)"),
    ],
)
def test_a_mistyped_option_is_answered_with_the_one_meant_by_its_command(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(argv, capsys)
    assert said in err
    assert err.startswith(f"usage: mcp-connectors {argv[0]} ")  # the command's usage, not the program's


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["token", "srv", "-v"], "(-v belongs to mcp-connectors itself: put it before the command.)"),
        (
            ["list", "--secret-store", "file"],
            "(--secret-store belongs to mcp-connectors itself: put it before the command.)",
        ),
        (
            ["list", "--verbos"],
            "(did you mean --verbose? It belongs to mcp-connectors itself: put it before the command.)",
        ),
    ],
)
def test_an_option_of_the_program_after_the_command_is_said_to_go_before_it(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert said in refused(argv, capsys)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["desktop", "instal"], "argument action: invalid choice: 'instal'; did you mean 'install'?"),
        (["login", "srv", "--client-auth", "nne"], "invalid choice: 'nne'; did you mean 'none'?"),
        (["--secret-store", "keyrign", "list"], "invalid choice: 'keyrign'; did you mean 'keyring'?"),
    ],
)
def test_a_mistyped_choice_is_answered_with_the_one_meant(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert said in refused(argv, capsys)


def test_nothing_else_changes_for_what_argparse_accepts() -> None:
    for argv in (["token", "srv", "--account", "alice", "--forc"], ["-v", "list", "--json"], ["desktop", "status"]):
        assert vars(parse(argv) or argparse.Namespace()) == vars(build_parser().parse_args(argv))


# --- a help text for every command and argument ----------------------------------------------------------------


def _parsers(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def _missing_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest: choice.help for choice in action._choices_actions}
            for name in action.choices:
                line = listed.get(name)
                if not line or "\n" in line:
                    missing.append(f"{path} {name}: no one-line description in {path} --help")
        elif not action.help or action.help == argparse.SUPPRESS:
            missing.append(f"{path}: {'/'.join(action.option_strings) or action.dest} has no help")
    if not parser.description:
        missing.append(f"{path}: {path} --help describes nothing")
    return missing


def test_every_command_and_argument_has_a_help_text() -> None:
    missing = [
        problem
        for path, parser in _parsers(build_parser(), "mcp-connectors")
        for problem in _missing_help(parser, path)
    ]
    assert missing == []


def test_the_walk_sees_a_missing_help() -> None:
    parser = build_parser()
    bare = parser._subparsers._group_actions[0].add_parser("bare")  # type: ignore[union-attr]
    bare.add_argument("thing")
    assert _missing_help(parser, "p") == ["p bare: no one-line description in p --help"]
    assert _missing_help(bare, "p bare") == ["p bare: thing has no help", "p bare: p bare --help describes nothing"]


def test_a_command_s_help_starts_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["list", "--help"])
    assert "\n\nServers and accounts: who, state, expiry.\n" in capsys.readouterr().out


# --- an address without https:// ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["add"], ["connect", "--yes"]])
def test_an_address_without_https_is_answered_with_it(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert command_line(["--secret-store", "file", command[0], "mcp.example.com/mcp", *command[1:]]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert app_lines(err) == [
        "mcp-connectors: The server address 'mcp.example.com/mcp' does not start with https://.",
        "  What you can do: Did you mean https://mcp.example.com/mcp? Give the address with its https:// in front.",
    ]
    accounts = open_accounts(secret_store="file")
    try:
        assert accounts.registry.servers() == []
    finally:
        accounts.registry.close()


# --- servers and accounts named by the start of their names ----------------------------------------------------


def _token(accounts: object, server_id: int, label: str, nickname: str | None = None) -> str:
    """A signed-in account ``label`` with a token fresh for an hour; returns the token."""
    from desktop_app.accounts.manager import Accounts

    assert isinstance(accounts, Accounts)
    now = time.time()
    token = f"at-{label.split('@')[0]}-{uuid.uuid4().hex[:8]}"
    tokens = TokenSet(token, ISSUER, "client", URL, ("files:read",), now, expires_at=now + 3600)
    saved = store_sign_in(
        accounts,
        server_id,
        tokens,
        now=now,
        key=uuid.uuid4().hex,
        identity=Identity(f"sub-{label}", label, "id_token", label),
    )
    if nickname:
        accounts.registry.set_nickname(saved.id, nickname, now=now)
    return token


@pytest.fixture
def lab() -> dict[str, str]:
    """This test's profile (file store): server ``lab-tickets`` with alice@example.test and alicia@example.test
    (nicknamed "work"), and server ``mail``; the pairing of lab-tickets approved with a dynamic registration."""
    accounts = open_accounts(secret_store="file")
    try:
        now = time.time()
        server = accounts.registry.add_server(
            url=URL, resource=URL, name="lab-tickets", settings=ServerSettings(), now=now
        )
        other = "https://mail.example/mcp"
        accounts.registry.add_server(url=other, resource=other, name="mail", settings=ServerSettings(), now=now)
        tokens = {
            "alice": _token(accounts, server.id, "alice@example.test"),
            "alicia": _token(accounts, server.id, "alicia@example.test", nickname="work"),
        }
        accounts.registry.approve(Consent(server.id, URL, ISSUER, ("files:read",), "dcr", "client-7", now))
    finally:
        accounts.registry.close()
    return tokens


@pytest.mark.parametrize("run", [entry, command_line], ids=["fresh-token path", "engine"])
@pytest.mark.parametrize(
    ("server", "account", "who"),
    [("lab", "alice@", "alice"), ("LAB-T", "alicia", "alicia"), ("lab-tickets", "wo", "alicia")],
)
def test_token_takes_the_start_of_a_server_s_and_an_account_s_name(
    lab: dict[str, str], run: object, server: str, account: str, who: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(run)
    capsys.readouterr()
    assert run(["--secret-store", "file", "token", server, "--account", account]) == 0
    assert capsys.readouterr().out == lab[who] + "\n"


@pytest.mark.parametrize("run", [entry, command_line], ids=["fresh-token path", "engine"])
def test_the_start_of_several_accounts_prints_no_token(
    lab: dict[str, str], run: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(run)
    capsys.readouterr()
    assert run(["--secret-store", "file", "token", "lab", "--account", "ali"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    lines = app_lines(err)
    assert lines[0].startswith("mcp-connectors: 'ali' is the start of several accounts of lab-tickets: ")
    assert lines[1].startswith("  What you can do: Choose one by its id: --account ")
    assert "alice@example.test" in lines[1] and "work (alicia@example.test)" in lines[1]


def test_remove_yes_takes_only_a_name_given_in_full(lab: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert command_line(["--secret-store", "file", "remove", "lab", "--yes"]) == EXIT_USAGE
    assert "With --yes, name the server in full: did you mean lab-tickets?" in capsys.readouterr().err
    assert command_line(["--secret-store", "file", "remove", "lab-tickets", "--account", "alice", "--yes"]) == 2
    assert "With --yes, name the account in full: --account " in capsys.readouterr().err
    accounts = open_accounts(secret_store="file")
    try:
        assert [s.name for s in accounts.registry.servers()] == ["lab-tickets", "mail"]
        assert len(accounts.registry.accounts()) == 2
    finally:
        accounts.registry.close()


def _bridge(*args: str) -> subprocess.CompletedProcess[str]:
    """``mcp-connectors -v --secret-store file bridge ARGS`` as a host starts it: one initialize, then stdin closes."""
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", "-v", "--secret-store", "file", "bridge", *args],
        input=json.dumps(initialize_request()) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=False,
    )


def test_the_bridge_takes_the_start_of_a_name_as_the_command_line_does(lab: dict[str, str]) -> None:
    served = _bridge("lab", "--account", "alicia")
    assert "Serving lab-tickets as work (alicia@example.test)" in served.stderr, served.stderr


def test_the_bridge_refuses_the_start_of_several_accounts_and_serves_none(lab: dict[str, str]) -> None:
    refused = _bridge("lab", "--account", "ali")
    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stdout.splitlines()
    answer = json.loads(line)
    assert answer["error"]["data"]["reason"] == "ambiguous_account"
    assert "alice@example.test" in answer["error"]["message"] and "alicia@example.test" in answer["error"]["message"]
    assert "Serving" not in refused.stderr
    assert lab["alice"] not in refused.stdout + refused.stderr and lab["alicia"] not in refused.stdout + refused.stderr


# --- the app's words, not protocol shorthand -------------------------------------------------------------------


def test_consent_says_dynamic_registration(lab: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert command_line(["--secret-store", "file", "consent", "lab"]) == 0
    out = capsys.readouterr().out
    assert "  This app as:          client client-7 (the app registered itself: dynamic registration)" in out
    assert "dcr" not in out
