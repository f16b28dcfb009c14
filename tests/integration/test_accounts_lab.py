"""Accounts that last, against the real lab: oidc-provider, the MCP SDK server, and GNOME Keyring on a private bus.

Two lab users (alice, bob) on one server, identities from validated id_tokens, re-sign-in checks, consent pairings,
restart without a second login, sign-out with revocation checked by introspection.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import AccountState, account_secret_key
from desktop_app.errors import AccountRemoved, ConsentRefused, SignInRequired, WrongAccount
from desktop_app.mcp import McpClient
from desktop_app.oauth.http import new_client
from desktop_app.storage.profile import open_accounts
from tests.helpers.signin import Approver
from tests.lab.browser import LabBrowser
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab


async def login(accounts: Accounts, http: httpx.AsyncClient, server_url: str, user: str, **kwargs: Any) -> Any:
    server = accounts.registry.find_server(server_url) or accounts.add_server(server_url)
    browser = LabBrowser(user)
    approver = kwargs.pop("approver", None) or Approver()
    result = await accounts.login(http, server, browser=browser, approve=approver, timeout=30, **kwargs)
    return result, browser, approver


async def whoami(accounts: Accounts, http: httpx.AsyncClient, account_id: int, url: str) -> str:
    account = accounts.registry.account(account_id)
    server = accounts.registry.find_server(url)
    assert account is not None and server is not None
    client = McpClient(http, server.resource, auth=accounts.session(http, account, server).auth())
    try:
        await client.initialize()
        result = await client.call_tool("whoami", {})
    finally:
        await client.close()
    return json.dumps(result.content)


async def test_two_accounts_on_one_server_each_knowing_who_it_is(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        alice, first_browser, first_approver = await login(profile, http, lab_mcp.url, "alice")
        assert alice.created and alice.account.label == "alice@lab.test"
        assert alice.account.subject == "lab-sub-0a11ce"
        assert alice.account.identity_source == "id_token"
        assert len(first_approver.checks) == 1 and first_approver.checks[0].first_time
        assert "prompt" not in first_browser.params()
        assert first_browser.params()["scope"].split()[:1] == ["mcp:tools"]
        assert "openid" in first_browser.params()["scope"].split()

        bob, second_browser, second_approver = await login(profile, http, lab_mcp.url, "bob", new_account=True)
        assert bob.created and bob.account.label == "bob@lab.test"
        # oidc-provider doesn't offer select_account, so the spec-compatible fallback is sent.
        assert second_browser.params()["prompt"] == "login"
        assert second_approver.checks == []  # the same pairing: no second question

        labels = sorted(a.label for a in profile.registry.accounts())
        assert labels == ["alice@lab.test", "bob@lab.test"]
        assert "lab-sub-0a11ce" in await whoami(profile, http, alice.account.id, lab_mcp.url)
        assert "lab-sub-00b0b0" in await whoami(profile, http, bob.account.id, lab_mcp.url)


async def test_signing_in_again_as_someone_else_is_refused_and_changes_nothing(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        alice, _, _ = await login(profile, http, lab_mcp.url, "alice")
        before = profile.secrets.get(account_secret_key(alice.account.key))
        with pytest.raises(WrongAccount) as caught:
            await login(profile, http, lab_mcp.url, "bob", account=alice.account)
        assert "Asked to sign in as alice@lab.test, but signed in as bob@lab.test" in caught.value.message
        assert profile.secrets.get(account_secret_key(alice.account.key)) == before
        assert [a.label for a in profile.registry.accounts()] == ["alice@lab.test"]
        # The re-sign-in asked for alice by name.
        hints = [r["query"].get("login_hint") for r in lab_as.requests() if str(r["path"]).endswith("/auth")]
        assert "alice@lab.test" in hints


async def test_the_same_person_through_add_account_updates_instead_of_duplicating_and_keeps_the_nickname(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        alice, _, _ = await login(profile, http, lab_mcp.url, "alice")
        profile.set_nickname(alice.account, "Work")
        again, _, _ = await login(profile, http, lab_mcp.url, "alice", new_account=True)
        assert not again.created
        assert again.account.id == alice.account.id
        assert again.account.nickname == "Work"
        assert again.account.display_name == "Work (alice@lab.test)"
        assert len(profile.registry.accounts()) == 1
        kinds = [e.kind for e in profile.registry.events(account_id=alice.account.id)]
        assert kinds[0] == "signed_in_again"


async def test_a_changed_pairing_is_asked_again_and_a_refusal_stores_nothing(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        await login(profile, http, lab_mcp.url, "alice")
        server = profile.registry.find_server(lab_mcp.url)
        assert server is not None
        profile.registry.withdraw_consent(server.id, now=profile.clock())
        with pytest.raises(ConsentRefused):
            await login(profile, http, lab_mcp.url, "bob", new_account=True, approver=Approver(answer=False))
        assert [a.label for a in profile.registry.accounts()] == ["alice@lab.test"]


async def test_a_restart_renews_without_discovery_or_a_second_login(
    tmp_path: Path, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    first = open_accounts(directory=tmp_path / "p")
    async with new_client() as http:
        result, _, _ = await login(first, http, lab_mcp.url, "alice")
    first.registry.close()

    lab_as.reset_requests()
    second = open_accounts(directory=tmp_path / "p")
    try:
        account = second.registry.account(result.account.id)
        assert account is not None
        async with new_client() as http:
            renewed = await second.token(http, account, force=True)
        assert renewed.refresh_token is not None
        paths = [str(r["path"]) for r in lab_as.requests()]
        assert paths == ["/token"], paths  # no discovery, no registration, no browser
        assert second.registry.account(account.id).state is AccountState.SIGNED_IN  # type: ignore[union-attr]
        assert lab_as.introspect(renewed.refresh_token)["active"] is True
        async with new_client() as http:
            assert "lab-sub-0a11ce" in await whoami(second, http, account.id, lab_mcp.url)
    finally:
        second.registry.close()


async def test_sign_out_revokes_at_the_server_and_leaves_the_other_account_working(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        alice, _, _ = await login(profile, http, lab_mcp.url, "alice")
        bob, _, _ = await login(profile, http, lab_mcp.url, "bob", new_account=True)
        bob_secret = profile.secrets.get(account_secret_key(bob.account.key))
        assert bob_secret is not None
        result = await profile.logout(http, bob.account)
        assert result.revoked == ("refresh_token",)
        assert result.problems == ()
        # oidc-provider cannot revoke its JWT access tokens (RFC 7009 unsupported_token_type): said, not an error.
        assert len(result.notes) == 1 and "cannot revoke the access token" in result.notes[0]
        assert lab_as.introspect(bob_secret["refresh_token"])["active"] is False
        assert profile.secrets.get(account_secret_key(bob.account.key)) is None
        assert profile.registry.account(bob.account.id).state is AccountState.SIGNED_OUT  # type: ignore[union-attr]
        with pytest.raises(SignInRequired):
            await profile.token(http, bob.account)
        assert "lab-sub-0a11ce" in await whoami(profile, http, alice.account.id, lab_mcp.url)


async def test_removing_an_account_revokes_at_the_server_and_leaves_the_server_and_the_other_account(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        alice, _, _ = await login(profile, http, lab_mcp.url, "alice")
        bob, _, _ = await login(profile, http, lab_mcp.url, "bob", new_account=True)
        bob_secret = profile.secrets.get(account_secret_key(bob.account.key))
        assert bob_secret is not None
        result = await profile.remove_account(http, bob.account)
        assert result.revoked == ("refresh_token",)
        assert result.problems == ()
        assert len(result.notes) == 1 and "cannot revoke the access token" in result.notes[0]
        assert lab_as.introspect(bob_secret["refresh_token"])["active"] is False
        assert profile.secrets.get(account_secret_key(bob.account.key)) is None
        assert profile.registry.account(bob.account.id) is None
        server = profile.registry.find_server(lab_mcp.url)
        assert server is not None
        assert [a.label for a in profile.registry.accounts(server.id)] == ["alice@lab.test"]
        removal = profile.registry.events(server_id=server.id)[0]
        assert (removal.kind, removal.detail) == (
            "account_removed",
            f"bob@lab.test: revoked refresh_token at {bob.account.issuer}",
        )
        with pytest.raises(AccountRemoved):
            await profile.token(http, bob.account)
        assert "lab-sub-0a11ce" in await whoami(profile, http, alice.account.id, lab_mcp.url)
        # bob can be added again later: a new account, with no second pairing question.
        again, _, approver = await login(profile, http, lab_mcp.url, "bob", new_account=True)
        assert again.created and again.account.id != bob.account.id and approver.checks == []


async def test_a_revoked_grant_turns_the_account_to_needs_sign_in_and_signing_in_again_heals_it(
    profile: Accounts, lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    async with new_client() as http:
        alice, _, _ = await login(profile, http, lab_mcp.url, "alice")
        assert lab_as.revoke_grants("alice") >= 1
        with pytest.raises(SignInRequired):
            await profile.token(http, alice.account, force=True)
        account = profile.registry.account(alice.account.id)
        assert account is not None and account.state is AccountState.NEEDS_SIGN_IN
        again, _, _ = await login(profile, http, lab_mcp.url, "alice", account=account)
        assert again.account.state is AccountState.SIGNED_IN and again.account.id == alice.account.id


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data
