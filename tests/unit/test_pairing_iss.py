"""Mix-up without ``iss`` (issue 12, item 13): an authorization server whose metadata does not advertise
``authorization_response_iss_parameter_supported`` cannot prove where the browser came back from (RFC 9207). The
pairing says so in one line, in ``login``'s and ``connect``'s text; it is not a refusal."""

from __future__ import annotations

import dataclasses
import io

import httpx
import pytest

from desktop_app.accounts.consent import check_pairing
from desktop_app.cli.console import Console, approver
from desktop_app.cli.pairing_text import format_pairing_check
from desktop_app.oauth.discovery import AuthorizationServerMetadata, legacy_default_metadata
from desktop_app.oauth.flow import Discovery, SignIn
from desktop_app.oauth.registration import ClientRegistration
from tests.helpers.metadata import as_metadata
from tests.helpers.signin import check_against
from tests.unit.cli_fakes import ISSUER, URL, pairing

NOTE = (
    "  Note: this authorization server cannot prove where the browser came back from (it sends no 'iss', RFC 9207); "
    "check that the sign-in page is at mcp.example."
)


def metadata(*, iss: bool) -> AuthorizationServerMetadata:
    return as_metadata(
        ISSUER,
        source_url=f"{ISSUER}/.well-known/oauth-authorization-server",
        code_challenge_methods_supported=("S256",),
        authorization_response_iss_parameter_supported=iss,
    )


@pytest.mark.parametrize(
    ("advertised", "iss_supported"),
    [(metadata(iss=True), True), (metadata(iss=False), False), (legacy_default_metadata(URL), False)],
    ids=["advertised", "not-advertised", "2025-03-26-defaults"],
)
async def test_the_pairing_carries_whether_the_authorization_server_names_itself(
    advertised: AuthorizationServerMetadata, iss_supported: bool
) -> None:
    async with httpx.AsyncClient() as http, SignIn(http, URL) as flow:
        flow.discovery = Discovery(URL, URL, None, None, advertised)
        flow.registration = ClientRegistration(advertised.issuer, "client", "dcr")
        assert flow.pairing().iss_supported is iss_supported


def test_login_s_pairing_text_says_it_in_one_line_after_where_the_browser_returns() -> None:
    lines = format_pairing_check(check_pairing(pairing(iss_supported=False), None)).splitlines()
    assert lines.count(NOTE) == 1
    assert lines[lines.index(NOTE) - 1].startswith("  Browser returns to:")
    assert not any("'iss'" in line for line in format_pairing_check(check_pairing(pairing(), None)).splitlines())


def test_connect_s_pairing_text_says_it_too() -> None:
    """connect's first pairing, and a step-up compared with it."""
    first = pairing(iss_supported=False)
    assert NOTE in format_pairing_check(check_against(first, None)).splitlines()
    step_up = dataclasses.replace(first, scopes=("files:read", "x"))
    assert NOTE in format_pairing_check(check_against(step_up, first)).splitlines()
    assert NOTE not in format_pairing_check(check_against(pairing(), None)).splitlines()


async def test_it_is_not_a_refusal() -> None:
    err = io.StringIO()
    approve = approver(Console(assume_yes=True, err=err), asked_for_sign_in=True)
    assert await approve(check_against(pairing(iss_supported=False), None))
    assert NOTE in err.getvalue().splitlines() and err.getvalue().endswith("Approved (--yes).\n")
