"""A stored account asked for more scopes, against the real lab (oidc-provider, the MCP SDK server, the keyring).

The lab's ``admin_report`` tool needs ``mcp:admin`` on top of ``mcp:tools``; a first sign-in asks only for what the
server's metadata names for every request. A :class:`~desktop_app.accounts.session.StoredSession` that can ask the
person (``reauthorize``) signs the same account in again with the added scopes, after the person approved what was
added; one that cannot says how to.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, Server
from desktop_app.cli.hints import hint_for
from desktop_app.errors import ConsentRefused, UserActionRequired
from desktop_app.mcp import McpClient
from desktop_app.oauth.http import new_client
from tests.helpers.signin import Approver
from tests.lab.browser import LabBrowser
from tests.lab.servers import RunningMcpServer

pytestmark = pytest.mark.lab


@dataclass
class Alice:
    """alice, signed in once on the lab's MCP server; her browser and her answers to the pairing question."""

    server: Server
    account: Account
    browser: LabBrowser
    approver: Approver

    @classmethod
    async def sign_in(cls, accounts: Accounts, http: httpx.AsyncClient, mcp: RunningMcpServer) -> Alice:
        server = accounts.add_server(mcp.url)
        approver, browser = Approver(), LabBrowser("alice")
        result = await accounts.login(http, server, browser=browser, approve=approver, timeout=30)
        return cls(server, result.account, browser, approver)


class Reauthorize:
    """What the window and ``login`` give a stored session: sign the account in again with the scopes added."""

    def __init__(self, accounts: Accounts, http: httpx.AsyncClient, alice: Alice) -> None:
        self.accounts, self.http, self.alice = accounts, http, alice
        self.asked: list[tuple[str, ...]] = []

    async def __call__(self, account: Account, scopes: tuple[str, ...]) -> Account:
        self.asked.append(scopes)
        again = await self.accounts.login(
            self.http,
            self.alice.server,
            browser=self.alice.browser,
            approve=self.alice.approver,
            account=account,
            extra_scopes=scopes,
            timeout=30,
        )
        return again.account


async def admin_report(http: httpx.AsyncClient, url: str, auth: httpx.Auth) -> str:
    async with McpClient(http, url, auth=auth) as client:
        result = await client.call_tool("admin_report", {})
    assert not result.is_error, result.content
    return str(result.content)


async def test_a_stored_account_steps_up_once_the_person_approves_the_added_scopes(
    profile: Accounts, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        alice = await Alice.sign_in(profile, http, lab_mcp)
        assert "mcp:admin" not in alice.account.scopes
        reauthorize = Reauthorize(profile, http, alice)
        session = profile.session(http, alice.account, alice.server, reauthorize=reauthorize)
        assert await admin_report(http, lab_mcp.url, session.auth())
    browser, checks = alice.browser, alice.approver.checks
    assert len(browser.urls) == 2  # the sign-in, then one more for the step-up
    [asked] = reauthorize.asked
    assert "mcp:admin" in asked
    assert {"mcp:tools", "mcp:admin"} <= set(browser.params()["scope"].split())
    assert browser.params()["login_hint"] == "alice@lab.test"  # the same person, asked for by name
    assert len(checks) == 2 and checks[0].first_time
    step_up = checks[1]
    assert step_up.needs_approval and step_up.scope_step_up
    assert "mcp:admin" in step_up.added_scopes and "mcp:tools" not in step_up.added_scopes
    stored = profile.registry.account(alice.account.id)
    assert stored is not None and stored.id == session.account.id
    assert {"mcp:tools", "mcp:admin"} <= set(stored.scopes)
    tokens = profile.fresh_token(stored)
    assert tokens is not None and {"mcp:tools", "mcp:admin"} <= set(tokens.scopes)
    assert [a.id for a in profile.registry.accounts()] == [alice.account.id]  # the same account, not another


async def test_a_declined_step_up_leaves_the_stored_account_as_it_was(
    profile: Accounts, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        alice = await Alice.sign_in(profile, http, lab_mcp)
        before = profile.fresh_token(alice.account)
        alice.approver.answer = False
        session = profile.session(http, alice.account, alice.server, reauthorize=Reauthorize(profile, http, alice))
        with pytest.raises(ConsentRefused):
            await admin_report(http, lab_mcp.url, session.auth())
    assert "mcp:admin" in alice.approver.checks[-1].added_scopes
    assert len(alice.browser.urls) == 1
    stored = profile.registry.account(alice.account.id)
    assert stored is not None and "mcp:admin" not in stored.scopes
    assert profile.fresh_token(stored) == before


async def test_a_stored_session_that_cannot_ask_says_how_to_sign_in_with_more_scopes(
    profile: Accounts, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        alice = await Alice.sign_in(profile, http, lab_mcp)
        session = profile.session(http, alice.account, alice.server)
        with pytest.raises(UserActionRequired) as info:
            await admin_report(http, lab_mcp.url, session.auth())
    assert info.value.code == "more_permissions_needed"
    assert "mcp:admin" in info.value.message
    hint = hint_for(info.value) or ""  # the command line's words for it
    assert "--scope" in hint and "mcp:admin" in hint
    assert len(alice.browser.urls) == 1
