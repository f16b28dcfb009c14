"""Removing one account (issue 14 §3, issue 17 item 4): revoked where offered, then the account, its tokens and its
activity deleted in a crash-safe order, under the account's lock; the server, its other accounts and its approval
stay, and the server's activity says who was removed. A bridge serving the account tells its host so.

The profile is the suite's real one (SQLite registry, the private Secret Service); the revocation endpoint is an
``httpx.MockTransport`` for what the lab cannot be made to do (answer 503); the lab's own revocation is in
tests/integration/test_accounts_lab.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import httpx
import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState, Consent, Identity, Server, account_secret_key
from desktop_app.bridge.tokens import BridgeTokens
from desktop_app.bridge.words import host_error
from desktop_app.errors import AccountRemoved, SecretStoreError, SignInRequired
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.tokenset import TokenSet
from tests.helpers.metadata import ISSUER, RESOURCE, as_metadata
from tests.helpers.records import signed_in_account, store_sign_in

REVOKE_URL = f"{ISSUER}/revoke"
BOB = Identity("sub-bob", "bob@example.com", "id_token", "bob@example.com")


class RevocationEndpoint:
    """Records what it is asked to revoke; answers ``status``."""

    def __init__(self) -> None:
        self.revoked: list[tuple[str, str]] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == REVOKE_URL, f"unexpected request to {request.url}"
        form = dict(parse_qsl(request.content.decode()))
        self.revoked.append((form["token_type_hint"], form["token"]))
        return httpx.Response(self.status, json={} if self.status == 200 else {"error": "temporarily_unavailable"})


@pytest.fixture
def endpoint() -> RevocationEndpoint:
    return RevocationEndpoint()


@pytest.fixture
async def http(endpoint: RevocationEndpoint) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as client:
        yield client


def tokens_for(marker: str, *, now: float) -> TokenSet:
    return TokenSet(
        f"at-{marker}",
        ISSUER,
        "client-1",
        RESOURCE,
        ("mcp:tools",),
        now,
        expires_at=now + 3600,
        refresh_token=f"rt-{marker}",
    )


def two_accounts(profile: Accounts) -> tuple[Server, Account, Account]:
    """alice and bob signed in on one server whose authorization server offers revocation, with an approval."""
    now = time.time()
    metadata = as_metadata(ISSUER, revocation_endpoint=REVOKE_URL)
    alice = signed_in_account(profile, tokens_for("alice", now=now), now=now, metadata=metadata)
    server = profile.registry.server(alice.server_id)
    assert server is not None
    consent = Consent(server.id, RESOURCE, ISSUER, ("mcp:tools",), "dcr", "client-1", now)
    bob = store_sign_in(
        profile, server.id, tokens_for("bob", now=now), now=now, key=uuid.uuid4().hex, identity=BOB, consent=consent
    )
    return server, alice, profile.set_nickname(bob, "Home")


def noted(profile: Accounts) -> list[str]:
    """Vault keys noted for deletion (what a crash would leave for the next start)."""
    return profile.registry.stale_pending_secrets(older_than=time.time() + 10_000)


async def test_the_account_is_revoked_then_deleted_and_the_server_says_so(
    profile: Accounts, http: httpx.AsyncClient, endpoint: RevocationEndpoint
) -> None:
    server, alice, bob = two_accounts(profile)
    result = await profile.remove_account(http, bob)

    assert result.revoked == ("refresh_token", "access_token")
    assert endpoint.revoked == [("refresh_token", "rt-bob"), ("access_token", "at-bob")]
    assert result.problems == () and result.account.id == bob.id
    assert profile.registry.account(bob.id) is None
    assert profile.secrets.get(account_secret_key(bob.key)) is None
    assert noted(profile) == []
    assert profile.registry.events(account_id=bob.id) == []  # its own history went with it

    (event, *_) = profile.registry.events(server_id=server.id)
    assert (event.kind, event.account_id) == ("account_removed", None)
    assert event.detail == f"Home (bob@example.com): revoked refresh_token and access_token at {ISSUER}"
    assert "rt-bob" not in event.detail and "at-bob" not in event.detail

    # Everything else of the server stays: alice, her tokens, the approval.
    assert [a.id for a in profile.registry.accounts(server.id)] == [alice.id]
    assert profile.secrets.get(account_secret_key(alice.key)) is not None
    assert profile.registry.consent(server.id) is not None


async def test_the_last_account_goes_and_the_server_stays(
    profile: Accounts, http: httpx.AsyncClient, endpoint: RevocationEndpoint
) -> None:
    server, alice, bob = two_accounts(profile)
    await profile.remove_account(http, alice)
    await profile.remove_account(http, bob)
    assert profile.registry.server(server.id) == server
    assert profile.registry.accounts(server.id) == []
    assert profile.registry.consent(server.id) is not None
    assert [e.kind for e in profile.registry.events(server_id=server.id)][:2] == ["account_removed"] * 2


async def test_a_revocation_that_fails_is_reported_and_never_keeps_the_account(
    profile: Accounts, http: httpx.AsyncClient, endpoint: RevocationEndpoint
) -> None:
    server, _, bob = two_accounts(profile)
    endpoint.status = 503
    result = await profile.remove_account(http, bob)
    assert result.revoked == ()
    assert result.problems and all("revoking the" in p for p in result.problems)
    assert profile.registry.account(bob.id) is None
    assert profile.secrets.get(account_secret_key(bob.key)) is None
    assert profile.registry.events(server_id=server.id)[0].detail.startswith("Home (bob@example.com): not revoked: ")


async def test_a_signed_out_account_is_removed_without_asking_anyone(
    profile: Accounts, http: httpx.AsyncClient, endpoint: RevocationEndpoint
) -> None:
    server, _, bob = two_accounts(profile)
    await profile.logout(http, bob)
    endpoint.revoked.clear()
    result = await profile.remove_account(http, bob)
    assert endpoint.revoked == []
    assert (result.revoked, result.problems) == ((), ())
    assert result.account.state is AccountState.SIGNED_OUT
    assert profile.registry.account(bob.id) is None
    assert profile.registry.events(server_id=server.id)[0].detail == "Home (bob@example.com): nothing to revoke"


async def test_unreadable_stored_tokens_do_not_keep_the_account(
    profile: Accounts, http: httpx.AsyncClient, endpoint: RevocationEndpoint
) -> None:
    _, _, bob = two_accounts(profile)
    profile.secrets.put(account_secret_key(bob.key), {"format": "something else"})
    result = await profile.remove_account(http, bob)
    assert endpoint.revoked == []
    assert len(result.problems) == 1 and result.problems[0].startswith("nothing was revoked: ")
    assert profile.registry.account(bob.id) is None
    assert profile.secrets.get(account_secret_key(bob.key)) is None


async def test_removing_an_account_removed_meanwhile_says_so(profile: Accounts, http: httpx.AsyncClient) -> None:
    _, _, bob = two_accounts(profile)
    await profile.remove_account(http, bob)
    with pytest.raises(AccountRemoved):
        await profile.remove_account(http, bob)


class DeleteRefused:
    """The profile's secret store, whose deletes fail (the keyring went away half-way)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def delete(self, key: str) -> None:
        raise SecretStoreError("keyring_write_failed", "The keyring refused to delete (test).")


async def test_a_secret_that_cannot_be_deleted_now_is_deleted_by_the_next_start(
    profile: Accounts, http: httpx.AsyncClient
) -> None:
    _, _, bob = two_accounts(profile)
    refusing = Accounts(profile.registry, DeleteRefused(profile.secrets), profile.locks)  # type: ignore[arg-type]
    result = await refusing.remove_account(http, bob)
    assert "The keyring refused to delete (test)." in result.problems
    assert profile.registry.account(bob.id) is None
    key = account_secret_key(bob.key)
    assert profile.secrets.get(key) is not None and noted(profile) == [key]

    later = Accounts(profile.registry, profile.secrets, profile.locks, clock=lambda: time.time() + 2 * 3600)
    assert await later.clean_pending_secrets() == 1
    assert profile.secrets.get(key) is None and noted(profile) == []


async def test_the_removal_waits_for_a_renewal_in_progress_and_revokes_what_it_stored(
    profile: Accounts, http: httpx.AsyncClient, endpoint: RevocationEndpoint
) -> None:
    _, _, bob = two_accounts(profile)
    async with profile.locks.hold(bob.key):  # a renewal (this process or another) holds the account
        removing = asyncio.ensure_future(profile.remove_account(http, bob))
        await asyncio.sleep(0.3)
        assert not removing.done() and profile.registry.account(bob.id) is not None
        profile.tokens.write(bob.key, tokens_for("bob-renewed", now=time.time()))
    await removing
    assert endpoint.revoked == [("refresh_token", "rt-bob-renewed"), ("access_token", "at-bob-renewed")]
    assert profile.registry.account(bob.id) is None


async def no_renewal(account: Account, force: bool, rejected: TokenSet | None) -> None:
    raise AccountRemoved("The account no longer exists.")  # as the renewal worker answers for a removed account


async def test_a_bridge_serving_the_account_tells_its_host_it_was_removed(
    profile: Accounts, http: httpx.AsyncClient
) -> None:
    server, _, bob = two_accounts(profile)
    bridge = BridgeTokens(profile.registry, profile.secrets, server, bob, renew=no_renewal)
    served = await bridge.token()
    assert served.access_token == "at-bob"

    await profile.remove_account(http, bob)

    with pytest.raises(AccountRemoved) as ended:
        await bridge.token()  # the token in memory is not used any more
    with pytest.raises(AccountRemoved):
        await bridge.renew(served, None)
    with pytest.raises(AccountRemoved):
        await bridge.step_up(("mcp:admin",), BearerChallenge(error="insufficient_scope", scope=("mcp:admin",)))
    assert isinstance(ended.value, SignInRequired)  # what the bridge's host is told, not a crash
    reply = host_error(ended.value, server=server, account=bob)
    assert reply["data"] == {"reason": "account_removed", "server": server.name, "account": bob.display_name}
    assert "was removed from" in reply["message"] and bob.display_name in reply["message"]
    assert "works again as soon as you" not in reply["message"]  # signing in again makes another account
