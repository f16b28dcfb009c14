"""Renewal and sign-out rules of :class:`Accounts`, with a real SQLite registry and token endpoints the lab can't fake.

The secret store here is an in-memory dict (with a switch to fail writes); the real keyring is covered by the vault's
own tests and the integration tests. Token endpoints are ``httpx.MockTransport`` handlers for the edge cases: a
503 that heals, an outage, ``invalid_grant``, ``invalid_client``, a token endpoint that answers garbage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import (
    Account,
    AccountState,
    Identity,
    TokenBundle,
    account_secret_key,
    registration_secret_key,
)
from desktop_app.accounts.renewal_wire import Outcome, fingerprint
from desktop_app.errors import ConfigurationError, ProtocolViolation, SecretStoreError, SignInRequired, TransientError
from desktop_app.oauth.registration import ClientRegistration
from desktop_app.oauth.tokens import TokenSet
from desktop_app.oauth.trace import Trace
from desktop_app.storage.locks import AccountLocks
from desktop_app.storage.memory import MemorySecretStore
from desktop_app.storage.registry import SqliteRegistry
from tests.helpers.metadata import as_metadata
from tests.helpers.records import signed_in_account, store_sign_in

ISSUER = "https://as.example"
TOKEN_URL = "https://as.example/token"
REVOKE_URL = "https://as.example/revoke"
RESOURCE = "https://mcp.example/mcp"
NOW = 1_800_000_000.0


class MemorySecrets(MemorySecretStore):
    """The in-memory store, whose writes fail when a test says so."""

    fail_writes = False

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        if self.fail_writes:
            raise SecretStoreError("keyring_write_failed", "The keyring refused to save (test).")
        super().put(key, value)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """Answers refresh requests with a scripted list of (status, body); records what it was sent."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, Any]] | Exception] = []
        self.refresh_tokens_sent: list[str] = []
        self.revoked: list[tuple[str, str]] = []
        self.revoke_status = 200
        self.counter = 0

    def issue(self, *, rotate: bool = True, expires_in: int = 300) -> tuple[int, dict[str, Any]]:
        self.counter += 1
        body: dict[str, Any] = {"access_token": f"at-{self.counter}", "token_type": "Bearer", "expires_in": expires_in}
        if rotate:
            body["refresh_token"] = f"rt-{self.counter}"
        return 200, body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        if str(request.url) == REVOKE_URL:
            self.revoked.append((form["token_type_hint"], form["token"]))
            return httpx.Response(self.revoke_status, json={} if self.revoke_status == 200 else {"error": "x"})
        assert str(request.url) == TOKEN_URL
        assert form["grant_type"] == "refresh_token"
        assert form["resource"] == RESOURCE
        self.refresh_tokens_sent.append(form["refresh_token"])
        step = self.script.pop(0) if self.script else self.issue()
        if isinstance(step, Exception):
            raise step
        status, body = step
        return httpx.Response(status, json=body)


@pytest.fixture
def endpoint() -> TokenEndpoint:
    return TokenEndpoint()


@pytest.fixture
async def http(endpoint: TokenEndpoint) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(tmp_path: Path, clock: Clock) -> Iterator[Accounts]:
    registry = SqliteRegistry(tmp_path / "registry.sqlite3")
    manager = Accounts(registry, MemorySecrets(), AccountLocks(tmp_path / "locks"), clock=clock, retry_delays=(0, 0))
    yield manager
    registry.close()


def tokens(*, access: str = "at-0", refresh: str | None = "rt-0", expires_at: float | None = NOW + 300) -> TokenSet:
    return TokenSet(
        access_token=access,
        issuer=ISSUER,
        client_id="client-1",
        resource=RESOURCE,
        scopes=("mcp:tools",),
        obtained_at=NOW - 3600,  # an hour-long token (short ones get a shorter renewal window)
        expires_at=expires_at,
        refresh_token=refresh,
    )


#: The authorization server the accounts sign in at, with the token and revocation endpoints this module scripts.
METADATA = as_metadata(
    ISSUER,
    token_endpoint=TOKEN_URL,
    source_url=f"{ISSUER}/.well-known/oauth-authorization-server",
    revocation_endpoint=REVOKE_URL,
)


def signed_in(accounts: Accounts, stored: TokenSet, *, method: str = "dcr") -> Account:
    return signed_in_account(accounts, stored, now=NOW, metadata=METADATA, method=method)


def stored_tokens(accounts: Accounts, account: Account) -> TokenSet:
    value = accounts.secrets.get(account_secret_key(account.key))
    assert value is not None
    return TokenBundle.from_secret(value).tokens


def state(accounts: Accounts, account: Account) -> Account:
    current = accounts.registry.account(account.id)
    assert current is not None
    return current


async def test_a_fresh_token_is_returned_without_asking_anyone(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens())
    assert (await accounts.token(http, account)).access_token == "at-0"
    assert endpoint.refresh_tokens_sent == []


async def test_an_expiring_token_is_renewed_and_the_rotated_refresh_token_never_sent_again(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint, clock: Clock
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW + 30))
    first = await accounts.token(http, account)
    assert first.access_token == "at-1"
    assert stored_tokens(accounts, account).refresh_token == "rt-1"
    clock.now += 400
    second = await accounts.token(http, account)
    assert second.access_token == "at-2"
    assert endpoint.refresh_tokens_sent == ["rt-0", "rt-1"]
    current = state(accounts, account)
    assert current.state is AccountState.SIGNED_IN
    assert current.last_refresh == clock.now
    assert current.expires_at == clock.now + 300
    kinds = [e.kind for e in accounts.registry.events(account_id=account.id)]
    assert kinds[:2] == ["refreshed", "refreshed"]


async def test_no_refresh_token_in_the_answer_keeps_the_old_one(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW - 1))
    endpoint.script = [endpoint.issue(rotate=False)]
    await accounts.token(http, account)
    assert stored_tokens(accounts, account).refresh_token == "rt-0"


async def test_a_passing_503_is_retried_and_the_account_stays_signed_in(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW - 1))
    endpoint.script = [(503, {}), (503, {"error": "temporarily_unavailable"}), endpoint.issue()]
    assert (await accounts.token(http, account)).access_token == "at-1"
    assert state(accounts, account).state is AccountState.SIGNED_IN
    assert state(accounts, account).failures == 0


async def test_an_outage_keeps_the_login_and_uses_a_still_valid_token(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW + 30))  # inside the renewal window, not yet expired
    endpoint.script = [httpx.ConnectError("down"), (500, {}), (502, {})]
    assert (await accounts.token(http, account)).access_token == "at-0"
    current = state(accounts, account)
    assert current.state is AccountState.SIGNED_IN
    assert current.failures == 1
    assert current.last_error
    assert stored_tokens(accounts, account).refresh_token == "rt-0"


async def test_an_outage_with_an_expired_token_fails_for_now_and_keeps_everything(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW - 5))
    endpoint.script = [(503, {})] * 3
    with pytest.raises(TransientError) as caught:
        await accounts.token(http, account)
    assert caught.value.hint is not None and "temporary" in caught.value.hint and "kept" in caught.value.hint
    assert state(accounts, account).state is AccountState.SIGNED_IN
    assert stored_tokens(accounts, account).refresh_token == "rt-0"
    # The server is back: the same login works.
    assert (await accounts.token(http, account)).access_token == "at-1"
    assert state(accounts, account).failures == 0
    assert state(accounts, account).last_error is None


async def test_invalid_grant_means_sign_in_again_and_only_that(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW - 5))
    endpoint.script = [(400, {"error": "invalid_grant", "error_description": "grant revoked"})]
    with pytest.raises(SignInRequired):
        await accounts.token(http, account)
    current = state(accounts, account)
    assert current.state is AccountState.NEEDS_SIGN_IN
    assert "grant revoked" in (current.last_error or "")
    with pytest.raises(SignInRequired) as again:
        await accounts.token(http, account)
    assert again.value.code == "sign_in_required"
    assert endpoint.refresh_tokens_sent == ["rt-0"]  # never retried with a dead grant


async def test_invalid_client_retires_a_dynamic_registration(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW - 5))
    endpoint.script = [(401, {"error": "invalid_client"})]
    with pytest.raises(SignInRequired):
        await accounts.token(http, account)
    assert state(accounts, account).state is AccountState.NEEDS_SIGN_IN
    assert accounts.registry.current_registration(ISSUER, "dcr") is None


async def test_a_malformed_answer_keeps_the_login(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW - 5))
    endpoint.script = [(200, {"token_type": "Bearer"})]
    with pytest.raises(ProtocolViolation):
        await accounts.token(http, account)
    assert state(accounts, account).state is AccountState.SIGNED_IN
    assert stored_tokens(accounts, account).refresh_token == "rt-0"


async def test_without_refresh_token_the_access_token_is_kept_until_it_expires(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint, clock: Clock
) -> None:
    account = signed_in(accounts, tokens(refresh=None, expires_at=NOW + 20))
    assert (await accounts.token(http, account)).access_token == "at-0"
    clock.now += 30
    with pytest.raises(SignInRequired) as caught:
        await accounts.token(http, account)
    assert caught.value.code == "expired"
    assert state(accounts, account).state is AccountState.NEEDS_SIGN_IN
    assert endpoint.refresh_tokens_sent == []


async def test_a_renewal_the_keyring_refuses_to_save_never_lets_the_rotated_token_be_reused(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW - 5))
    secrets = accounts.secrets
    assert isinstance(secrets, MemorySecrets)
    secrets.fail_writes = True
    with pytest.raises(SecretStoreError):
        await accounts.token(http, account)
    assert state(accounts, account).state is AccountState.NEEDS_SIGN_IN
    with pytest.raises(SignInRequired):
        await accounts.token(http, account)
    assert endpoint.refresh_tokens_sent == ["rt-0"]


async def test_a_renewal_by_someone_else_while_we_waited_is_used_as_is(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens(expires_at=NOW - 5))
    stale = stored_tokens(accounts, account)
    # Another process renewed between our read and our lock.
    accounts.secrets.put(
        account_secret_key(account.key), TokenBundle(tokens(access="at-x", refresh="rt-x")).to_secret()
    )
    fresh, outcome = await accounts.renewal.renew_here(
        http, account, seen=fingerprint(stale), force=False, trace=Trace()
    )
    assert fresh.access_token == "at-x"
    assert outcome is Outcome.FRESH
    assert endpoint.refresh_tokens_sent == []


async def test_sign_out_revokes_both_tokens_then_deletes_them(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens())
    result = await accounts.logout(http, account)
    assert result.revoked == ("refresh_token", "access_token")
    assert endpoint.revoked == [("refresh_token", "rt-0"), ("access_token", "at-0")]
    assert accounts.secrets.get(account_secret_key(account.key)) is None
    assert state(accounts, account).state is AccountState.SIGNED_OUT


async def test_sign_out_deletes_locally_even_when_revocation_fails(
    accounts: Accounts, http: httpx.AsyncClient, endpoint: TokenEndpoint
) -> None:
    account = signed_in(accounts, tokens())
    endpoint.revoke_status = 503
    result = await accounts.logout(http, account)
    assert result.revoked == ()
    assert len(result.problems) == 2
    assert all("rt-0" not in p and "at-0" not in p for p in result.problems)
    assert accounts.secrets.get(account_secret_key(account.key)) is None
    assert state(accounts, account).state is AccountState.SIGNED_OUT
    detail = accounts.registry.events(account_id=account.id)[0].detail
    assert detail.startswith("not revoked")


async def test_a_signed_out_account_gives_no_token(accounts: Accounts, http: httpx.AsyncClient) -> None:
    account = signed_in(accounts, tokens())
    await accounts.logout(http, account)
    with pytest.raises(SignInRequired) as caught:
        await accounts.token(http, account)
    assert caught.value.code == "signed_out"


def test_adding_the_same_server_twice_names_the_existing_one(accounts: Accounts) -> None:
    accounts.add_server(RESOURCE, name="Work")
    with pytest.raises(ConfigurationError, match="Work") as caught:
        accounts.add_server(RESOURCE.upper().replace("/MCP", "/mcp"))
    assert caught.value.code == "server_exists"


def test_default_names_do_not_collide(accounts: Accounts) -> None:
    first = accounts.add_server("https://mcp.example/a")
    second = accounts.add_server("https://mcp.example/b")
    assert (first.name, second.name) == ("mcp.example", "mcp.example 2")


async def test_a_keyring_entry_deleted_behind_our_back_says_sign_in_again(
    accounts: Accounts, http: httpx.AsyncClient
) -> None:
    account = signed_in(accounts, tokens())
    accounts.secrets.delete(account_secret_key(account.key))
    with pytest.raises(SignInRequired) as caught:
        await accounts.token(http, account)
    assert caught.value.code == "secret_missing"
    current = state(accounts, account)
    assert current.state is AccountState.NEEDS_SIGN_IN
    assert "missing" in (current.last_error or "")


def test_the_same_server_with_a_trailing_slash_is_not_added_twice(accounts: Accounts) -> None:
    accounts.add_server(RESOURCE, name="Work")
    with pytest.raises(ConfigurationError, match="Work"):
        accounts.add_server(RESOURCE + "/")


async def test_a_registration_whose_secret_is_gone_is_not_offered(accounts: Accounts) -> None:
    accounts.registrations.put(
        ClientRegistration(ISSUER, "conf-1", "dcr", "client_secret_basic", client_secret="s3cret-value")
    )
    assert accounts.registrations.get(ISSUER) is not None
    accounts.secrets.delete(registration_secret_key(ISSUER, "conf-1"))
    assert accounts.registrations.get(ISSUER) is None


def test_switching_the_secret_store_while_accounts_are_signed_in_is_refused(tmp_path: Path) -> None:
    from desktop_app.storage.profile import open_accounts

    home = tmp_path / "p"
    first = open_accounts(directory=home, secret_store="file")
    server = first.add_server(RESOURCE)
    store_sign_in(
        first, server.id, tokens(), now=NOW, identity=Identity("sub-1", "alice@example.com", "id_token", None)
    )
    first.registry.close()
    with pytest.raises(ConfigurationError) as caught:
        open_accounts(directory=home, secret_store="keyring")
    assert caught.value.code == "secret_store_in_use"
    assert "alice@example.com" in caught.value.message
    again = open_accounts(directory=home)  # without the flag: the remembered file store, still working
    try:
        assert again.secrets.kind == "file"
    finally:
        again.registry.close()


def test_renewal_leeway_is_at_most_half_a_short_lifetime() -> None:
    from desktop_app.accounts.stored import REFRESH_LEEWAY, renewal_leeway
    from desktop_app.oauth.tokenset import TokenSet

    def tokens(lifetime: float | None) -> TokenSet:
        return TokenSet(
            access_token="a",
            issuer="https://as.example",
            client_id="c",
            resource=None,
            scopes=(),
            obtained_at=1000.0,
            expires_at=None if lifetime is None else 1000.0 + lifetime,
        )

    assert renewal_leeway(tokens(3600)) == REFRESH_LEEWAY
    assert renewal_leeway(tokens(5)) == 2.5  # a 5-second token is used, not renewed at every call
    assert renewal_leeway(tokens(None)) == REFRESH_LEEWAY
    assert not tokens(5).is_expired(1001.0, renewal_leeway(tokens(5)))
    assert tokens(5).is_expired(1003.0, renewal_leeway(tokens(5)))
