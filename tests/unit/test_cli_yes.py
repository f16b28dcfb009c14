"""``--yes`` approves what it says and no more (issue 12, item 4).

On ``call``/``tools`` it approves a scope step-up at the authorization server, resource and client the person
approved, nothing else; on ``login``/``connect`` also a first pairing and a changed client, never another issuer or
another resource. Both approvers of the command line (``login``'s, ``connect``'s) take the rule from one function,
:func:`desktop_app.accounts.consent.unattended_refusal`.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest

from desktop_app.accounts.consent import (
    PairingCheck,
    PairingWarning,
    check_pairing,
    consent_from,
    unattended_refusal,
)
from desktop_app.accounts.manager import Accounts, LoginResult
from desktop_app.cli.console import Console, approver
from desktop_app.cli.main import main
from desktop_app.cli.output import EXIT_ACTION
from desktop_app.errors import UserActionRequired
from desktop_app.oauth.flow import Pairing
from tests.helpers.signin import check_against
from tests.unit.cli_fakes import Scripted, pairing, profile
from tests.unit.cli_fakes import scripted as scripted  # the fixture

APPROVED = pairing()
CONSENT = consent_from(APPROVED, server_id=1, now=1_773_489_600.0)

#: Each change since the approval, as the pairing check sees it.
CHANGES: dict[str, Pairing] = {
    "more_scopes": pairing(scopes=("files:read", "files:write")),
    "fewer_scopes_and_dcr_again": pairing(scopes=(), client_id="registered-again"),
    "issuer": pairing(issuer="https://auth.mcp.example/other-tenant", scopes=("files:read", "files:write")),
    "resource": pairing(resource="https://mcp.example/", scopes=("files:read", "files:write")),
    "client_kind": pairing(client_kind="preregistered", client_id="client", scopes=("files:read", "files:write")),
    "client_id": pairing(client_kind="cimd", client_id="https://app.example/b.json"),
}


def check_for(change: str) -> PairingCheck:
    if change == "first":
        return check_pairing(APPROVED, None)
    if change == "client_id":  # an approved CIMD client whose document moved
        approved = dataclasses.replace(CONSENT, client_kind="cimd", client_id="https://app.example/a.json")
        return check_pairing(CHANGES[change], approved)
    return check_pairing(CHANGES[change], CONSENT)


# --- the rule ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "on_sign_in", "on_the_way"),
    [
        ("fewer_scopes_and_dcr_again", None, None),  # nothing to approve
        ("more_scopes", None, None),
        ("first", None, "first_pairing"),
        ("client_kind", None, "client_changed"),
        ("client_id", None, "client_changed"),
        ("resource", "resource_changed", "resource_changed"),
        ("issuer", "issuer_changed", "issuer_changed"),
    ],
)
def test_what_an_approval_given_ahead_of_time_may_approve(
    change: str, on_sign_in: str | None, on_the_way: str | None
) -> None:
    check = check_for(change)
    assert unattended_refusal(check, asked_for_sign_in=True) == on_sign_in
    assert unattended_refusal(check, asked_for_sign_in=False) == on_the_way


def test_a_warning_that_was_not_there_when_the_person_approved_is_never_approved_ahead() -> None:
    step_up = check_for("more_scopes")
    assert step_up.scope_step_up and step_up.warnings == ()
    warned = dataclasses.replace(step_up, warnings=(PairingWarning("punycode_host", "an international name"),))
    assert unattended_refusal(warned, asked_for_sign_in=False) == "new_warnings"
    assert unattended_refusal(warned, asked_for_sign_in=True) == "new_warnings"
    # A warning the approved pairing had already is no news.
    http = dataclasses.replace(CONSENT, issuer="http://127.0.0.1:9000")
    same = check_pairing(dataclasses.replace(CHANGES["more_scopes"], issuer="http://127.0.0.1:9000"), http)
    assert [w.code for w in same.warnings] == ["issuer_domain_differs", "http_issuer"]
    assert unattended_refusal(same, asked_for_sign_in=False) is None


# --- the two approvers ---------------------------------------------------------------------------------------------


async def approve(change: str, *, asked_for_sign_in: bool) -> tuple[bool | UserActionRequired, str]:
    err = io.StringIO()
    try:
        answer: bool | UserActionRequired = await approver(
            Console(assume_yes=True, err=err), asked_for_sign_in=asked_for_sign_in
        )(check_for(change))
    except UserActionRequired as refused:
        answer = refused
    return answer, err.getvalue()


@pytest.mark.parametrize("change", ["first", "client_kind", "client_id", "resource", "issuer"])
async def test_a_step_up_met_by_tools_or_call_approves_nothing_but_more_scopes(change: str) -> None:
    answer, shown = await approve(change, asked_for_sign_in=False)
    assert isinstance(answer, UserActionRequired), f"--yes approved {change}"
    assert answer.code == "approval_needed" and "--yes" in answer.message
    assert "without --yes" in (answer.hint or "")
    assert "  Authorization server: " in shown  # the pairing is shown before the refusal
    assert "Approved" not in shown


async def test_a_step_up_met_by_tools_or_call_is_approved_by_yes() -> None:
    answer, shown = await approve("more_scopes", asked_for_sign_in=False)
    assert answer is True
    assert shown.startswith("More permissions requested:") and shown.endswith("Approved (--yes).\n")


@pytest.mark.parametrize(("change", "approved"), [("first", True), ("more_scopes", True), ("client_kind", True)])
async def test_login_s_yes_approves_a_first_pairing_a_step_up_and_a_client_it_was_given(
    change: str, approved: bool
) -> None:
    answer, _ = await approve(change, asked_for_sign_in=True)
    assert answer is approved


@pytest.mark.parametrize("change", ["resource", "issuer"])
async def test_login_s_yes_never_approves_another_resource_or_issuer(change: str) -> None:
    answer, _ = await approve(change, asked_for_sign_in=True)
    assert isinstance(answer, UserActionRequired) and answer.code == "approval_needed"


@pytest.mark.parametrize("change", ["resource", "issuer"])
async def test_connect_s_yes_never_approves_another_resource_or_issuer(change: str) -> None:
    """connect compares with the pairing approved earlier in the same run (a server that moved on a 401), with
    login's approver."""
    err = io.StringIO()
    with pytest.raises(UserActionRequired) as refused:
        await approver(Console(assume_yes=True, err=err), asked_for_sign_in=True)(
            check_against(CHANGES[change], APPROVED)
        )
    assert refused.value.code == "approval_needed"
    assert "Approved" not in err.getvalue()
    approve = approver(Console(assume_yes=True, err=io.StringIO()), asked_for_sign_in=True)
    assert await approve(check_against(APPROVED, None))
    assert await approve(check_against(CHANGES["more_scopes"], APPROVED))


# --- through the commands ------------------------------------------------------------------------------------------


def fake_login(change: str) -> Any:
    """``Accounts.login`` as far as the approval: the check it would make when the server now pairs as ``change``
    says (or, for ``withdrawn``, after the approval on record was withdrawn)."""

    async def login(self: Accounts, http: Any, server: Any, *, approve: Any, **kwargs: Any) -> LoginResult:
        consent = self.registry.consent(server.id)
        wanted = CHANGES["more_scopes" if change == "withdrawn" else change]
        check = check_pairing(wanted, None if change == "withdrawn" else consent)
        if not await approve(check):
            raise AssertionError("declined")
        (account,) = self.registry.accounts(server.id)
        return LoginResult(account, False, check)

    return login


@pytest.mark.parametrize("command", [["tools", "srv"], ["call", "srv", "echo"]])
@pytest.mark.parametrize("change", ["withdrawn", "issuer", "resource", "client_kind"])
def test_tools_and_call_with_yes_stop_for_a_person_at_anything_but_more_scopes(
    scripted: Scripted,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    change: str,
) -> None:
    scripted.forbid = 1  # the server asks for files:write once
    monkeypatch.setattr(Accounts, "login", fake_login(change))
    with profile():
        assert main(["--secret-store", "file", *command, "--yes"]) == EXIT_ACTION
    err = capsys.readouterr().err
    assert "srv asks for more permissions: files:read files:write." in err
    assert "  Authorization server: " in err  # the pairing, shown
    assert "Approved (--yes)." not in err
    assert "mcp-connectors: " in err and "--yes" in err.split("mcp-connectors: ", 1)[1]
    assert "  What you can do: Run the same command in a terminal without --yes" in err


def test_tools_with_yes_approves_a_step_up_at_the_same_authorization_server(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.forbid = 1
    scripted.tools = [{"name": "echo", "description": "Echoes.", "inputSchema": {"type": "object"}}]
    monkeypatch.setattr(Accounts, "login", fake_login("more_scopes"))
    with profile():
        assert main(["--secret-store", "file", "tools", "srv", "--yes"]) == 0
    out, err = capsys.readouterr()
    assert "More permissions requested:" in err and "Approved (--yes)." in err
    assert out.splitlines() == ["1 tool(s):", "  echo [on] — Echoes."]
