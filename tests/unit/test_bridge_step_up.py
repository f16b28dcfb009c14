"""The bridge's token source: a step-up waits for the person to approve it in the app, then goes on with the new
token (without the app, or without an answer in time, an error names the scopes); a refused token that could not
be renewed right now keeps the login, one that cannot be renewed at all needs a sign-in."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState, Server, ServerSettings
from desktop_app.bridge.tokens import BridgeTokens
from desktop_app.errors import MorePermissionsNeeded, ServerUnavailable, SignInRequired
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.storage.memory import memory_stores
from tests.helpers.metadata import ISSUER, RESOURCE
from tests.helpers.records import store_sign_in

CHALLENGE = BearerChallenge(error="insufficient_scope", scope=("mcp:tools", "mcp:admin"))


@pytest.fixture
def signed_in() -> tuple[Accounts, Server, Account, TokenSet]:
    accounts = Accounts(*memory_stores())
    now = time.time()
    server = accounts.registry.add_server(
        url=RESOURCE, resource=RESOURCE, name="files", settings=ServerSettings(), now=now
    )
    tokens = TokenSet(
        "at-1", ISSUER, "client-1", RESOURCE, ("mcp:tools",), now, expires_at=now + 3600, refresh_token="rt"
    )
    account = store_sign_in(accounts, server.id, tokens, now=now)
    return accounts, server, account, tokens


async def no_renewal(account: Account, force: bool, rejected: TokenSet | None) -> None:
    raise AssertionError("no renewal expected")


async def test_the_request_waits_for_the_step_up_approved_in_the_app(
    signed_in: tuple[Accounts, Server, Account, TokenSet],
) -> None:
    accounts, server, account, tokens = signed_in
    asked: list[tuple[str, ...]] = []

    def ask(scopes: tuple[str, ...]) -> bool:
        asked.append(scopes)
        return True

    source = BridgeTokens(accounts.registry, accounts.secrets, server, account, renew=no_renewal, ask_step_up=ask)

    async def person_approves() -> None:
        await asyncio.sleep(0.3)
        wider = dataclasses.replace(tokens, access_token="at-2", scopes=("mcp:tools", "mcp:admin"))
        accounts.tokens.write(account.key, wider)

    approving = asyncio.ensure_future(person_approves())
    fresh = await source.step_up(("mcp:tools", "mcp:admin"), CHALLENGE)
    await approving
    assert asked == [("mcp:tools", "mcp:admin")]
    assert fresh.access_token == "at-2"


async def test_no_app_or_no_answer_in_time_names_the_scopes(
    signed_in: tuple[Accounts, Server, Account, TokenSet],
) -> None:
    accounts, server, account, _ = signed_in
    for ask, wait in ((lambda scopes: False, 120.0), (lambda scopes: True, 0.6)):
        source = BridgeTokens(
            accounts.registry, accounts.secrets, server, account, renew=no_renewal, ask_step_up=ask, step_up_wait=wait
        )
        with pytest.raises(MorePermissionsNeeded) as raised:
            await source.step_up(("mcp:tools", "mcp:admin"), CHALLENGE)
        assert raised.value.scopes == ("mcp:tools", "mcp:admin")


async def test_a_refused_token_that_could_not_be_renewed_now_keeps_the_login(
    signed_in: tuple[Accounts, Server, Account, TokenSet],
) -> None:
    accounts, server, account, tokens = signed_in

    async def out_of_reach(account: Account, force: bool, rejected: TokenSet | None) -> None:
        return None  # the worker kept the tokens: the authorization server did not answer

    source = BridgeTokens(accounts.registry, accounts.secrets, server, account, renew=out_of_reach)
    with pytest.raises(ServerUnavailable):
        await source.renew(tokens, None)
    assert accounts.registry.account(account.id).state is AccountState.SIGNED_IN  # type: ignore[union-attr]


async def test_a_refused_token_without_a_refresh_token_needs_a_sign_in(
    signed_in: tuple[Accounts, Server, Account, TokenSet],
) -> None:
    accounts, server, account, tokens = signed_in
    accounts.tokens.write(account.key, dataclasses.replace(tokens, refresh_token=None))

    async def nothing_to_renew(account: Account, force: bool, rejected: TokenSet | None) -> None:
        return None

    source = BridgeTokens(accounts.registry, accounts.secrets, server, account, renew=nothing_to_renew)
    with pytest.raises(SignInRequired):
        await source.renew(dataclasses.replace(tokens, refresh_token=None), None)
    assert accounts.registry.account(account.id).state is AccountState.NEEDS_SIGN_IN  # type: ignore[union-attr]


async def test_a_signed_out_account_is_not_used_even_with_a_fresh_token_in_memory(
    signed_in: tuple[Accounts, Server, Account, TokenSet],
) -> None:
    accounts, server, account, _ = signed_in
    source = BridgeTokens(accounts.registry, accounts.secrets, server, account, renew=no_renewal)
    assert (await source.token()).access_token == "at-1"
    accounts.registry.set_state(
        account.id, AccountState.SIGNED_OUT, now=time.time(), event_kind="signed_out", detail=""
    )
    with pytest.raises(SignInRequired):
        await source.token()


async def test_concurrent_refusals_ask_for_one_step_up(
    signed_in: tuple[Accounts, Server, Account, TokenSet],
) -> None:
    accounts, server, account, tokens = signed_in
    asked: list[tuple[str, ...]] = []

    def ask(scopes: tuple[str, ...]) -> bool:
        asked.append(scopes)
        wider = dataclasses.replace(tokens, access_token="at-2", scopes=("mcp:tools", "mcp:admin"))
        accounts.tokens.write(account.key, wider)  # the person approves at once
        return True

    source = BridgeTokens(accounts.registry, accounts.secrets, server, account, renew=no_renewal, ask_step_up=ask)
    results = await asyncio.gather(*(source.step_up(("mcp:tools", "mcp:admin"), CHALLENGE) for _ in range(3)))
    assert [r.access_token for r in results] == ["at-2"] * 3
    assert len(asked) == 1
