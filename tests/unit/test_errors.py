"""Errors as types: one list of codes, branches by class (never by a code string), and words only at the edges."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from desktop_app import errors
from desktop_app.cli.hints import hint_for
from desktop_app.error_codes import CODES, OAUTH_CODES
from desktop_app.errors import (
    AccountRemoved,
    AuthorizationDenied,
    ChooseAccount,
    ConnectorError,
    GrantExpired,
    InvalidClient,
    KeyringLocked,
    MorePermissionsNeeded,
    NoAccount,
    NoRegistrationPath,
    ProtocolViolation,
    SecretStoreInUse,
    ServerExists,
    SignInRequired,
    StateMismatch,
    TokenRejected,
    UnknownAccount,
    UnknownServer,
    UnsupportedTokenType,
    WrongAccount,
    oauth_error,
)

PACKAGE = Path(__file__).resolve().parents[2] / "desktop_app"
CORE = ("oauth", "mcp", "accounts", "storage")


def _sources(*folders: str) -> list[Path]:
    roots = [PACKAGE / folder for folder in folders] if folders else [PACKAGE]
    return [path for root in roots for path in sorted(root.rglob("*.py"))]


def test_oauth_codes_are_codes_and_others_become_oauth_error() -> None:
    assert OAUTH_CODES <= CODES
    assert oauth_error("invalid_grant", None, where="x").code == "invalid_grant"
    assert oauth_error("made_up_by_a_server", None, where="x").code == "oauth_error"
    assert oauth_error("\x1b[2Jbad", None, where="x").code == "oauth_error"


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ("access_denied", AuthorizationDenied),
        ("invalid_grant", GrantExpired),
        ("invalid_client", InvalidClient),
        ("unsupported_token_type", UnsupportedTokenType),
        ("invalid_scope", ProtocolViolation),
    ],
)
def test_an_oauth_answer_becomes_the_class_its_code_belongs_to(error: str, cls: type[ConnectorError]) -> None:
    made = oauth_error(error, "why", where="The token endpoint")
    assert type(made) is cls and made.code == error


def test_every_class_with_its_own_code_uses_a_listed_one() -> None:
    made = [
        TokenRejected("m", url="u"),
        AccountRemoved("m"),
        NoAccount("m", server="s", url="u"),
        MorePermissionsNeeded("m", server="s", account_id=1, scopes=("a",), url="u"),
        StateMismatch("m"),
        ServerExists("m", name="n", url="u"),
        UnknownServer("m", known=()),
        UnknownAccount("m", server="s"),
        ChooseAccount("m", server="s"),
        NoRegistrationPath("m", issuer="https://as.example"),
        SecretStoreInUse("m", current="keyring"),
        KeyringLocked("m"),
    ]
    assert all(error.code in CODES for error in made)


def test_no_code_path_compares_an_error_s_code_or_kind() -> None:
    """``except X as e: if e.code == "..."`` is how a branch hides from the type checker: classes say it instead."""
    offenders = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                for side in (node.left, *node.comparators):
                    if isinstance(side, ast.Attribute) and side.attr in ("code", "kind"):
                        named = side.value
                        if isinstance(named, ast.Name) and named.id in ("exc", "error", "err", "failure", "exception"):
                            offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    # The MCP client compares a JSON-RPC error's integer code from the wire, which is data, not an error class.
    offenders = [o for o in offenders if not o.startswith("mcp/negotiation.py")]
    assert offenders == []


def test_no_error_of_the_app_has_a_kind_string_any_more() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, ConnectorError)]
    assert not any("kind" in vars(c) for c in classes)


def test_the_core_writes_no_command_line_into_an_error() -> None:
    """A hint or message naming the command or an option is the command line's to write (cli/hints.py)."""
    offenders = []
    for path in _sources(*CORE):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "hint":
                        text = ast.unparse(keyword.value)
                        if "mcp-connectors" in text or "COMMAND" in text or " --" in text:
                            offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_the_command_line_words_what_the_engine_reports_as_data() -> None:
    assert hint_for(SignInRequired("signed_out", "m", account_id=3, server="my lab")) == (
        "Sign in again: mcp-connectors login 'my lab' --account 3"
    )
    assert hint_for(NoAccount("m", server="lab", url="u")) == "Sign in with 'mcp-connectors login lab'."
    assert "mcp-connectors add URL" in (hint_for(UnknownServer("m", known=())) or "")
    assert hint_for(ChooseAccount("m", server="lab")) == "Choose one with --account."
    more = MorePermissionsNeeded("m", server="lab", account_id=2, scopes=("a", "b"), url="u")
    assert hint_for(more) == "Sign in again with more scopes: mcp-connectors login lab --account 2 --scope 'a b'."
    assert "--new-account" in (hint_for(WrongAccount("wrong_account", "m", expected="a", found="b", url="u")) or "")
    assert "--client-id" in (hint_for(NoRegistrationPath("m", issuer="https://as.example")) or "")
    # The engine's own words, where it had them, stay.
    assert hint_for(SignInRequired("secret_missing", "m", hint="Sign in again.", account_id=1)) == "Sign in again."
