import io
from dataclasses import replace

import pytest

from desktop_app.accounts.consent import check_pairing, consent_from
from desktop_app.cli import commands, parser
from desktop_app.cli.arguments import connect_settings
from desktop_app.cli.console import Console, approver
from desktop_app.cli.main import main
from desktop_app.cli.output import EXIT_ACTION, EXIT_PROTOCOL, EXIT_TRANSIENT, EXIT_USAGE, exit_code_for
from desktop_app.cli.pairing_text import format_pairing_check
from desktop_app.cli.parser import build_parser
from desktop_app.errors import (
    AuthorizationDenied,
    ConfigurationError,
    NetworkError,
    ProtocolViolation,
    SignInRequired,
    UserActionRequired,
)
from desktop_app.oauth.flow import Pairing
from tests.helpers.signin import check_against

PAIRING = Pairing(
    resource="https://mcp.example/mcp",
    resource_name="Files",
    issuer="https://as.example",
    scopes=("read", "write"),
    scope_descriptions={"write": "Change your files"},
    client_kind="dcr",
    client_id="abc",
    redirect_uri="http://127.0.0.1:<any port>/callback",
)


def test_connect_settings_from_arguments() -> None:
    args = build_parser().parse_args(
        [
            "connect",
            "https://mcp.example/mcp",
            "--scope",
            "a b",
            "--scope",
            "c",
            "--client-id",
            "id",
            "--client-secret",
            "s",
            "--no-resource",
            "--callback-port",
            "8765",
        ]
    )
    settings, secret = connect_settings(args)
    assert settings.scopes == ("a", "b", "c")
    assert settings.registration == "preregistered"
    assert settings.client_id == "id"
    assert secret == "s"
    assert not settings.send_resource
    assert settings.callback_port == 8765
    assert not settings.request_identity  # connect keeps no account to name


@pytest.mark.parametrize("argv", [["--client-secret", "s"], ["--callback-port", "70000"], ["--timeout", "0"]])
def test_bad_option_combinations(argv: list[str]) -> None:
    args = build_parser().parse_args(["connect", "https://mcp.example/mcp", *argv])
    with pytest.raises(ConfigurationError):
        connect_settings(args)


def test_pairing_text_shows_server_issuer_scopes_client_and_redirect() -> None:
    text = format_pairing_check(check_against(PAIRING, None))
    for expected in (
        "https://mcp.example/mcp (Files)",
        "https://as.example",
        "- read",
        "- write: Change your files",
        "client abc (the app registered itself: dynamic registration)",
        "http://127.0.0.1:<any port>/callback",
    ):
        assert expected in text


def test_step_up_marks_new_scopes() -> None:
    text = format_pairing_check(check_against(replace(PAIRING, scopes=("read", "write", "admin")), PAIRING))
    assert "More permissions requested" in text
    assert "- admin  (new)" in text
    assert "- read  (new)" not in text


def test_a_broader_resource_is_named_with_what_it_covers() -> None:
    broad = replace(PAIRING, resource="https://mcp.example", server="https://mcp.example/mcp")
    lines = format_pairing_check(check_against(broad, None)).splitlines()
    assert "  Server:               https://mcp.example/mcp (Files)" in lines
    covers = [line for line in lines if line.startswith("  Sign-in covers:")]
    assert covers == [
        "  Sign-in covers:       https://mcp.example (everything there, as the server's metadata says; not only "
        "this server)"
    ]
    exact = replace(PAIRING, server="https://mcp.example/mcp")
    assert "Sign-in covers" not in format_pairing_check(check_against(exact, None))


async def test_a_move_to_another_authorization_server_is_shown_and_never_approved_by_yes() -> None:
    moved = replace(PAIRING, issuer="https://login.elsewhere.example", client_id="new")
    text = format_pairing_check(check_against(moved, PAIRING))
    lines = text.splitlines()
    assert lines[0] == "This server now uses another authorization server:"
    # The same words as login's pairing text: what changed since the approval, and the warnings.
    assert "  Authorization server: https://as.example → https://login.elsewhere.example" in lines
    assert lines[-1].startswith("Warning: The sign-in happens at elsewhere.example")
    err = io.StringIO()
    with pytest.raises(UserActionRequired) as info:
        await approver(Console(assume_yes=True, err=err), asked_for_sign_in=True)(check_against(moved, PAIRING))
    assert info.value.code == "approval_needed"
    assert "Approved" not in err.getvalue()
    # A step-up at the same authorization server is what --yes approves.
    step_up = check_against(replace(PAIRING, scopes=("read", "x")), PAIRING)
    assert await approver(Console(assume_yes=True, err=io.StringIO()), asked_for_sign_in=True)(step_up)


async def test_console_refuses_without_a_terminal_unless_yes() -> None:
    quiet = Console(assume_yes=False, stdin=io.StringIO("y\n"), err=io.StringIO())
    with pytest.raises(ConfigurationError) as info:
        await approver(quiet, asked_for_sign_in=True)(check_against(PAIRING, None))
    assert "--yes" in (info.value.hint or "")
    err = io.StringIO()
    assert await approver(Console(assume_yes=True, err=err), asked_for_sign_in=True)(check_against(PAIRING, None))
    assert "https://as.example" in err.getvalue()


def test_exit_codes() -> None:
    assert exit_code_for(AuthorizationDenied("access_denied", "x")) == EXIT_ACTION
    assert exit_code_for(SignInRequired("s", "x")) == EXIT_ACTION
    assert exit_code_for(ConfigurationError("c", "x")) == EXIT_USAGE
    assert exit_code_for(NetworkError("n", "x")) == EXIT_TRANSIENT
    assert exit_code_for(ProtocolViolation("p", "x")) == EXIT_PROTOCOL


def test_bad_url_is_one_clear_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connect", "http://mcp.example.com/mcp", "--yes"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "http://mcp.example.com/mcp" in err
    assert "https is required" in err


def test_args_must_be_a_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connect", "https://mcp.example/mcp", "--args", "[1]"]) == EXIT_USAGE
    assert "--args must be a JSON object" in capsys.readouterr().err


def test_options_without_a_command_print_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v"]) == 0  # (no words at all opens the window: tests/unit/test_entry.py)
    assert "connect" in capsys.readouterr().out


def test_every_command_of_the_parser_has_its_handler() -> None:
    assert tuple(commands.COMMANDS) == parser.COMMANDS


async def test_login_never_lets_yes_approve_a_move_to_another_authorization_server() -> None:
    approved = consent_from(PAIRING, server_id=1, now=1_700_000_000.0)
    moved = check_pairing(replace(PAIRING, issuer="https://login.elsewhere.example"), approved)
    assert moved.issuer_changed is not None and moved.needs_approval
    err = io.StringIO()
    with pytest.raises(UserActionRequired) as info:
        await approver(Console(assume_yes=True, err=err), asked_for_sign_in=True)(moved)
    assert info.value.code == "approval_needed"
    assert "This server now uses another authorization server:" in err.getvalue()
    more_scopes = check_pairing(replace(PAIRING, scopes=("read", "write", "admin")), approved)
    assert await approver(Console(assume_yes=True, err=io.StringIO()), asked_for_sign_in=True)(more_scopes)
