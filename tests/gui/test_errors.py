"""How the window words a problem: the engine's message, a hint for the window (never a command line), redacted
details."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from desktop_app.errors import (
    ConfigurationError,
    ConnectorError,
    NetworkError,
    ProtocolViolation,
    SecretStoreError,
    ServerExists,
    ServerUnavailable,
    SignInRequired,
    StorageError,
    WrongAccount,
    oauth_error,
)
from desktop_app.storage.keyring_backends import FILE_STORE_HINT
from desktop_app.ui.errors import ErrorAction, ErrorPanel, describe


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


# -- issue 17, items 5 and 6: the person's words, no command line, actions as buttons --------------------------------


def test_a_cancelled_sign_in_is_said_as_the_person_did_it() -> None:
    exc = oauth_error("access_denied", "The user denied the request", where="The authorization server https://x")
    report = describe(exc, title="Sign in to Lab files")
    assert report.message == "You cancelled the sign-in."
    assert "access_denied" not in report.message + report.hint and not report.problem
    assert "access_denied" in report.details  # the precise words stay, for a bug report
    assert report.retry_helps


def test_an_authorization_server_answering_503_is_named_and_not_blamed_on_the_network() -> None:
    exc = ServerUnavailable(
        "server_unavailable",
        "The token endpoint at https://login.example.com/token is unavailable (HTTP 503).",
        url="https://login.example.com/token",
    )
    report = describe(exc, title="Signing in")
    assert report.message == "login.example.com is having trouble (it answered 503); try again later."
    assert "network" not in report.hint and report.retry_helps and report.problem


def test_try_again_helps_only_where_the_same_request_could_succeed() -> None:
    assert describe(NetworkError("network", "down"), title="t").retry_helps
    assert not describe(ConfigurationError("malformed_url", "bad"), title="t").retry_helps
    assert not describe(ProtocolViolation("issuer_mismatch", "bad"), title="t").retry_helps


@pytest.mark.parametrize(
    "exc",
    [
        SecretStoreError("keyring_unavailable", "No keyring.", hint=f"Install gnome-keyring, {FILE_STORE_HINT}."),
        StorageError("database_busy", "Busy.", hint="Run 'mcp-connectors list' to see who holds it."),
        ConfigurationError("invalid_port", "Bad.", hint="Choose another with --callback-port."),
    ],
)
def test_the_window_never_shows_command_line_advice(exc: ConnectorError) -> None:
    report = describe(exc, title="t")
    assert "mcp-connectors" not in report.hint and " --" not in report.hint and not report.hint.startswith("--")


def test_a_missing_keyring_offers_the_file_store_with_its_warning() -> None:
    exc = SecretStoreError("keyring_unavailable", "No keyring.", hint=f"Install gnome-keyring, {FILE_STORE_HINT}.")
    report = describe(exc, title="t")
    assert report.hint == "Install gnome-keyring, or use an unencrypted file instead."
    (action,) = report.actions
    assert action.kind == "use_file_store" and action.label.endswith("…") and "not encrypted" in action.warning


def test_errors_the_window_can_act_on_carry_their_action() -> None:
    wrong = WrongAccount("wrong_account", "Asked for alice, got bob.", expected="alice", found="bob", url="https://x")
    assert [a.label for a in describe(wrong, title="t").actions] == ["Add bob as another account"]
    exists = ServerExists("Already added as Lab files.", name="Lab files", url="https://x/mcp")
    assert [(a.kind, a.label, a.server) for a in describe(exists, title="t").actions] == [
        ("show_server", "Show Lab files", "Lab files")
    ]
    ended = SignInRequired("signed_out", "alice is signed out.", account_id=7, server="Lab files")
    assert [(a.kind, a.account_id) for a in describe(ended, title="t").actions] == [("sign_in_again", 7)]


def test_the_panel_shows_actions_as_buttons_and_emits_the_chosen_one(qtbot: QtBot) -> None:
    panel = ErrorPanel()
    panel.handles = frozenset({"show_server", "use_file_store"})
    qtbot.addWidget(panel)
    chosen: list[ErrorAction] = []
    panel.sig_action.connect(chosen.append)
    exists = ServerExists("Already added as Lab files.", name="Lab files", url="https://x/mcp")
    panel.show_report(describe(exists, title="Adding a server"))
    panel.show_report(describe(exists, title="Adding a server"))  # shown again: one button, not two
    (button,) = [b for b in panel.findChildren(QPushButton, "errorAction_show_server") if not b.isHidden()]
    assert panel.action_buttons == [button]
    assert button.text() == "Show Lab files"
    button.click()
    assert [a.server for a in chosen] == ["Lab files"]
    panel.show_report(describe(NetworkError("network", "down"), title="t"))
    assert panel.action_buttons == [] and all(
        b.isHidden() for b in panel.findChildren(QPushButton, "errorAction_show_server")
    )


def test_an_action_with_a_warning_asks_first(qtbot: QtBot) -> None:
    panel = ErrorPanel()
    panel.handles = frozenset({"show_server", "use_file_store"})
    qtbot.addWidget(panel)
    chosen: list[ErrorAction] = []
    panel.sig_action.connect(chosen.append)
    exc = SecretStoreError("keyring_unavailable", "No keyring.", hint=FILE_STORE_HINT)
    panel.show_report(describe(exc, title="t"))
    panel.action_buttons[0].click()
    assert chosen == []  # not before the warning was read
    box = next(b for b in panel.findChildren(QMessageBox) if b.objectName() == "actionWarning")
    assert "not encrypted" in box.text()
    confirm = box.findChild(QPushButton, "confirmButton")
    assert confirm is not None
    confirm.click()
    assert [a.kind for a in chosen] == ["use_file_store"]


def test_the_panel_offers_only_what_its_window_connected(qtbot: QtBot) -> None:
    panel = ErrorPanel()
    qtbot.addWidget(panel)
    panel.show_report(describe(ServerExists("Already added.", name="Lab files", url="https://x/mcp"), title="t"))
    assert panel.action_buttons == []
