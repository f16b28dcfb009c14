import io

import pytest

from desktop_app.cli.main import (
    EXIT_ACTION,
    EXIT_PROTOCOL,
    EXIT_TRANSIENT,
    EXIT_USAGE,
    Console,
    build_parser,
    exit_code_for,
    format_pairing,
    main,
    options_from,
)
from desktop_app.errors import (
    AuthorizationDenied,
    ConfigurationError,
    NetworkError,
    ProtocolViolation,
    SignInRequired,
)
from desktop_app.oauth.flow import Pairing

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


def test_options_from_arguments() -> None:
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
    options = options_from(args)
    assert options.scopes == ("a", "b", "c")
    assert options.preregistered is not None
    assert options.preregistered.client_id == "id"
    assert options.preregistered.client_secret == "s"
    assert not options.send_resource
    assert options.callback_port == 8765


@pytest.mark.parametrize("argv", [["--client-secret", "s"], ["--callback-port", "70000"], ["--timeout", "0"]])
def test_bad_option_combinations(argv: list[str]) -> None:
    args = build_parser().parse_args(["connect", "https://mcp.example/mcp", *argv])
    with pytest.raises(ConfigurationError):
        options_from(args)


def test_pairing_text_shows_server_issuer_scopes_client_and_redirect() -> None:
    text = format_pairing(PAIRING, None)
    for expected in (
        "https://mcp.example/mcp (Files)",
        "https://as.example",
        "- read",
        "- write: Change your files",
        "registered client abc",
        "http://127.0.0.1:<any port>/callback",
    ):
        assert expected in text


def test_step_up_marks_new_scopes() -> None:
    from dataclasses import replace

    text = format_pairing(replace(PAIRING, scopes=("read", "write", "admin")), PAIRING)
    assert "More permissions requested" in text
    assert "- admin  (new)" in text
    assert "- read  (new)" not in text


async def test_console_refuses_without_a_terminal_unless_yes() -> None:
    quiet = Console(assume_yes=False, stdin=io.StringIO("y\n"), err=io.StringIO())
    with pytest.raises(ConfigurationError) as info:
        await quiet.confirm(PAIRING, None)
    assert "--yes" in (info.value.hint or "")
    err = io.StringIO()
    assert await Console(assume_yes=True, err=err).confirm(PAIRING, None)
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
    assert main(["-v"]) == 0  # (no words at all opens the window: below)
    assert "connect" in capsys.readouterr().out


def test_no_command_opens_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """`mcp-connectors` alone (or with --hidden) runs the app; `--help` and commands stay the command line."""
    import desktop_app.app.main as app_main

    started: list[list[str]] = []
    monkeypatch.setattr(app_main, "main", lambda argv: started.append(list(argv)) or 0)
    assert main([]) == 0
    assert main(["--hidden"]) == 0
    assert started == [[], ["--hidden"]]
