"""What a requester and the renewal worker say to each other (docs/decisions/0018): a request and an answer of one
line each, errors that come back as the class they were with their data, and never a token."""

from __future__ import annotations

import json

import pytest

from desktop_app.accounts.renewal_wire import (
    ERROR_CLASSES,
    Outcome,
    RenewalAnswer,
    RenewalRequest,
    error_from_json,
    error_to_json,
    fingerprint,
)
from desktop_app.errors import (
    ConnectorError,
    GrantExpired,
    KeyringLocked,
    MorePermissionsNeeded,
    NetworkError,
    RenewerUnavailable,
    SecretStoreError,
    SignInRequired,
    TransientError,
)
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import TraceEvent

ACCESS = "access-token-that-must-never-travel"
REFRESH = "refresh-token-that-must-never-travel"


def tokens(access: str = ACCESS, refresh: str | None = REFRESH) -> TokenSet:
    return TokenSet(access, "https://as.example", "client", "https://mcp.example/mcp", ("mcp",), 0.0, 60.0, refresh)


def roundtrip(error: ConnectorError) -> ConnectorError:
    answer = RenewalAnswer.from_line(RenewalAnswer(None, error).to_line())
    assert answer.outcome is None and answer.error is not None
    return answer.error


def test_a_request_travels_as_one_line_and_carries_a_fingerprint_not_the_tokens() -> None:
    request = RenewalRequest("/home/p/profile", "0123abcd", True, fingerprint(tokens()))
    line = request.to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert ACCESS.encode() not in line and REFRESH.encode() not in line
    assert RenewalRequest.from_line(line) == request


def test_the_fingerprint_changes_with_either_token_and_shows_neither() -> None:
    seen = fingerprint(tokens())
    assert seen == fingerprint(tokens())
    assert seen != fingerprint(tokens(access="another-access-token"))
    assert seen != fingerprint(tokens(refresh="another-refresh-token"))
    assert seen != fingerprint(tokens(refresh=None))
    assert ACCESS not in seen and REFRESH not in seen and len(seen) == 32


@pytest.mark.parametrize(
    "line",
    [
        b"",  # the requester died before it wrote anything
        b'{"home": "/p", "account_key": "k", "force": true, "seen": null}',  # cut short: no end of line
        b'{"home": "/p", "account_key": "k", "for',
        b"not json\n",
        b"[]\n",
        b'{"home": "", "account_key": "k", "force": true, "seen": null}\n',
        b'{"home": "/p", "account_key": 3, "force": true, "seen": null}\n',
        b'{"home": "/p", "account_key": "k", "force": "yes", "seen": null}\n',
        b'{"home": "/p", "account_key": "k", "force": false, "seen": 5}\n',
        b'{"home": "/p", "account_key": "k", "force": false, "seen": null}' + b" " * 70000 + b"\n",
    ],
)
def test_anything_but_a_whole_request_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError, match=r"^not a renewal request: "):
        RenewalRequest.from_line(line)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_an_outcome_and_the_steps_taken_come_back(outcome: Outcome) -> None:
    trace = (TraceEvent("refresh", "http://127.0.0.1:5/token", 200, "rotated"), TraceEvent("lock", "", None))
    answer = RenewalAnswer.from_line(RenewalAnswer(outcome, None, trace).to_line())
    assert answer.outcome is outcome and answer.error is None
    assert [(e.step, e.url, e.status, e.note) for e in answer.trace] == [
        ("refresh", "http://127.0.0.1:5/token", 200, "rotated"),
        ("lock", "", None, ""),
    ]


def test_an_ended_grant_comes_back_as_sign_in_required_naming_the_account_and_server() -> None:
    sent = SignInRequired(
        "sign_in_required", "alice must sign in again: invalid_grant", url="https://as.example", account_id=7
    )
    sent.server = "Files"
    got = roundtrip(sent)
    assert type(got) is SignInRequired
    assert (got.code, got.message, got.hint, got.url) == (sent.code, sent.message, None, "https://as.example")
    assert isinstance(got, SignInRequired) and (got.account_id, got.server) == (7, "Files")


@pytest.mark.parametrize(
    "sent",
    [
        GrantExpired("invalid_grant", "the refresh token is no longer valid"),
        NetworkError("network", "Could not reach https://as.example/token", hint="Try again in a moment."),
        TransientError("account_busy", "Another process has been renewing alice for over 90 s."),
        KeyringLocked("The keyring is locked.", hint="Unlock it."),
        SecretStoreError("keyring_write_failed", "The keyring refused to save."),
        RenewerUnavailable("The process that renews accounts could not be started"),
        MorePermissionsNeeded("more", server="Files", account_id=3, scopes=("a", "b"), url="https://mcp.example"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_each_error_comes_back_as_its_class_with_its_data(sent: ConnectorError) -> None:
    got = roundtrip(sent)
    assert type(got) is type(sent)
    assert vars(got) == vars(sent)
    assert str(got) == str(sent)


def test_a_class_this_version_does_not_know_comes_back_as_the_nearest_one_it_does() -> None:
    described = error_to_json(KeyringLocked("The keyring is locked."))
    described["classes"] = ["KeyringFrozen", *described["classes"][1:]]  # a newer worker's class
    got = error_from_json(described)
    assert type(got) is SecretStoreError and got.code == "keyring_locked"


def test_an_unknown_code_becomes_internal_error_and_unusable_data_is_dropped() -> None:
    described = error_to_json(TransientError("network", "Could not reach it."))
    described["code"] = "no_such_code"
    described["data"] = {"extra": {"nested": 1}, "_private": "x", "fine": "kept", "code": "network"}
    got = error_from_json(described)
    assert type(got) is TransientError and got.code == "internal_error"
    assert vars(got)["fine"] == "kept" and "extra" not in vars(got) and "_private" not in vars(got)


@pytest.mark.parametrize(
    "line",
    [
        b"\n",
        b'{"trace": []}\n',  # neither outcome nor error
        b'{"outcome": "eaten", "trace": []}\n',
        b'{"outcome": "renewed", "trace": [["step", "url", "200", ""]]}\n',
        b'{"error": {"classes": [], "code": "network"}, "trace": []}\n',  # no message
        b'{"error": "boom", "trace": []}\n',
    ],
)
def test_anything_but_a_whole_answer_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError, match=r"^not a renewal answer: "):
        RenewalAnswer.from_line(line)


def test_every_error_class_of_the_tree_can_come_back() -> None:
    assert {"SignInRequired", "TransientError", "SecretStoreError", "KeyringLocked", "ConnectorError"} <= set(
        ERROR_CLASSES
    )
    for name, cls in ERROR_CLASSES.items():
        described = {"classes": [name], "code": "network", "message": "m", "hint": None, "url": None, "data": {}}
        assert type(error_from_json(json.loads(json.dumps(described)))) is cls
