"""How the window words a problem: the engine's message, a hint for the window (never a command line), redacted
details."""

from __future__ import annotations

from desktop_app.errors import ConfigurationError, NetworkError, ProtocolViolation, SignInRequired
from desktop_app.ui.errors import describe


def test_the_window_words_what_the_engine_reports_as_data() -> None:
    exc = SignInRequired("signed_out", "alice is signed out.", account_id=1, server="x")
    report = describe(exc, title="Test connection")
    assert report.message == "alice is signed out."
    assert report.hint == "Select the account and choose Sign in again."


def test_kind_hints_when_the_engine_has_none() -> None:
    assert "Nothing was lost" in describe(NetworkError("network", "down"), title="t").hint
    assert "server's side" in describe(ProtocolViolation("issuer_mismatch", "bad"), title="t").hint
    assert describe(ConfigurationError("malformed_url", "bad", hint="Use https."), title="t").hint == "Use https."


def test_a_configuration_error_without_a_hint_says_to_check_what_was_entered() -> None:
    """It used to say "Try again.": the words were looked up by a kind name the error did not have."""
    report = describe(ConfigurationError("invalid_port", "--callback-port 70000 is not a port number."), title="t")
    assert report.hint == "Check what you entered, then try again."


def test_details_are_redacted_and_name_the_code() -> None:
    exc = ProtocolViolation(
        "malformed_metadata", "The server sent refresh_token=abcdefgh12345 in a URL", url="https://x.example/"
    )
    report = describe(exc, title="Sign in", context="token: https://as.example/token → 400\ncode=SECRETCODE123")
    assert "abcdefgh12345" not in report.details and "SECRETCODE123" not in report.details
    assert "ProtocolViolation (malformed_metadata)" in report.details and "https://x.example/" in report.details


def test_a_bug_is_shown_as_one_with_its_traceback() -> None:
    try:
        raise KeyError("boom")
    except KeyError as exc:
        report = describe(exc, title="t")
    assert report.message == "Something went wrong inside the app."
    assert "KeyError" in report.details and "Traceback" in report.details
