"""Account identity against the lab's real oidc-provider: id_token validation, userinfo, the fallbacks.

Each sign-in is the app's own (``Accounts.login`` on stores that keep nothing, asking for the identity scopes); the
saved account says who it is. What the lab (oidc-provider 9.13.3, default ``conformIdTokenClaims``) really does, and
these tests pin:

- With ``resource`` (the app's normal sign-in) the access token is a JWT for the MCP server. oidc-provider then
  puts the requested profile/email claims into the id_token (conforming only applies to access tokens usable at
  userinfo), and its userinfo endpoint refuses that resource-bound token with 401.
- Without ``resource`` the access token is opaque and good for userinfo: the id_token carries only ``sub`` and
  the label comes from userinfo.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from desktop_app.accounts.identity import identity_scopes, resolve_identity
from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import ServerSettings
from desktop_app.accounts.registrations import metadata_from_json
from desktop_app.accounts.signin import LoginResult
from desktop_app.errors import ProtocolViolation
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.http import new_client
from desktop_app.oauth.oidc import fetch_userinfo
from desktop_app.oauth.pkce import random_token
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import Trace
from tests.helpers.signin import Approver, memory_accounts, sign_in_once
from tests.lab.browser import LabBrowser
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab

ALICE = ("lab-sub-0a11ce", "alice@lab.test")
BOB = ("lab-sub-00b0b0", "bob@lab.test")
#: The app's normal sign-in: the MCP scopes plus the identity scopes, the token bound to the MCP server.
IDENTITY = ServerSettings(request_identity=True, send_resource=True)


async def lab_login(
    http: httpx.AsyncClient,
    mcp: RunningMcpServer,
    *,
    browser: LabBrowser,
    accounts: Accounts,
    settings: ServerSettings = IDENTITY,
    trace: Trace | None = None,
    **options: Any,
) -> LoginResult:
    """A real sign-in the app's way, on ``accounts`` (the server is added the first time)."""
    server = accounts.registry.find_server(mcp.url) or accounts.add_server(mcp.url, settings=settings)
    return await accounts.login(
        http, server, browser=browser, approve=Approver(), trace=trace or Trace(), timeout=30, **options
    )


async def raw_sign_in(
    http: httpx.AsyncClient, mcp: RunningMcpServer, *, user: str | None = None
) -> tuple[AuthorizationServerMetadata, TokenSet, str]:
    """A sign-in's raw material for a check by hand: the metadata, the tokens as saved, the nonce sent."""
    accounts, browser = memory_accounts(), LabBrowser(user)
    _, tokens = await sign_in_once(http, mcp.url, browser=browser, settings=IDENTITY, timeout=30, accounts=accounts)
    saved = accounts.registry.metadata(tokens.issuer)
    assert saved is not None
    return metadata_from_json(saved), tokens, browser.params()["nonce"]


def authorize_queries(lab_as: RunningAuthServer) -> list[dict[str, str]]:
    return [r["query"] for r in lab_as.requests() if r["method"] == "GET" and r["path"].endswith("/auth")]


def identity_steps(trace: Trace) -> list[tuple[str, int | None]]:
    return [(e.step, e.status) for e in trace.events if e.step in ("jwks", "userinfo")]


async def test_alice_is_named_by_her_id_token(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
    trace, browser, accounts = Trace(), LabBrowser(), memory_accounts()
    lab_as.reset_requests()
    async with new_client() as http:
        result = await lab_login(http, lab_mcp, browser=browser, accounts=accounts, trace=trace)
    account = result.account
    assert (account.subject, account.label) == ALICE
    assert (account.identity_source, account.login_hint) == ("id_token", "alice@lab.test")
    saved = accounts.registry.metadata(lab_as.issuer)
    assert saved is not None and identity_scopes(metadata_from_json(saved)) == ("openid", "email", "profile")
    # The browser's request carries the sign-in's nonce; the look beside it (docs/decisions/0014) has its own.
    nonce = browser.params()["nonce"]
    [query] = [q for q in authorize_queries(lab_as) if q.get("nonce") == nonce]
    assert set(query["scope"].split()) >= {"mcp:tools", "openid", "email", "profile"}
    assert query["resource"] == lab_mcp.url
    assert identity_steps(trace) == [("jwks", 200)]  # the id_token had a label: userinfo was not needed


async def test_bob_is_bob(lab_mcp: RunningMcpServer) -> None:
    async with new_client() as http:
        result = await lab_login(http, lab_mcp, browser=LabBrowser("bob"), accounts=memory_accounts())
    account = result.account
    assert (account.subject, account.label, account.identity_source) == (*BOB, "id_token")


async def test_another_nonce_refuses_the_sign_in(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
    """The id_token answers a request with another nonce: refused, and nothing is saved."""
    accounts = memory_accounts()
    async with new_client() as http:
        with pytest.raises(ProtocolViolation) as info:
            await lab_login(http, lab_mcp, browser=LabBrowser(nonce=random_token()), accounts=accounts)
    assert info.value.code == "id_token_nonce_mismatch"
    assert lab_as.issuer in info.value.message
    # No part of the id_token (a JWT: every part starts "eyJ") is repeated in the error.
    for text in (info.value.message, str(info.value), repr(info.value), info.value.hint or ""):
        assert "eyJ" not in text
    assert accounts.registry.accounts() == []


async def test_an_id_token_of_another_issuer_is_refused(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
    """Keys and signature are real; only the expected issuer differs (as if another server's metadata were used)."""
    async with new_client() as http:
        metadata, tokens, nonce = await raw_sign_in(http, lab_mcp)
        assert tokens.id_token is not None
        other = replace(metadata, issuer=lab_as.issuer + "/elsewhere")
        with pytest.raises(ProtocolViolation) as info:
            await resolve_identity(
                http, other, replace(tokens, issuer=other.issuer), nonce=nonce, now=time.time(), trace=Trace()
            )
    assert info.value.code == "id_token_issuer_mismatch"


async def test_userinfo_refuses_the_resource_bound_token(lab_mcp: RunningMcpServer) -> None:
    trace = Trace()
    async with new_client() as http:
        metadata, tokens, _ = await raw_sign_in(http, lab_mcp)
        assert metadata.userinfo_endpoint is not None
        assert await fetch_userinfo(http, metadata.userinfo_endpoint, tokens.access_token, trace=trace) is None
    assert [(e.step, e.status) for e in trace.events if e.step == "userinfo"] == [("userinfo", 401)]


async def test_without_resource_the_label_comes_from_userinfo(lab_mcp: RunningMcpServer) -> None:
    trace = Trace()
    # Without a resource the lab grants no mcp:* scope: only the identity scopes are asked for.
    settings = replace(IDENTITY, send_resource=False, scopes=())
    async with new_client() as http:
        result = await lab_login(
            http, lab_mcp, browser=LabBrowser(), accounts=memory_accounts(), settings=settings, trace=trace
        )
    account = result.account
    assert (account.subject, account.label, account.identity_source) == (*ALICE, "id_token")
    assert identity_steps(trace) == [("jwks", 200), ("userinfo", 200)]


async def test_without_id_token_the_access_token_names_the_subject(lab_mcp: RunningMcpServer) -> None:
    """No id_token (no openid asked for): userinfo refuses the JWT access token, its claims give the subject."""
    trace = Trace()
    settings = replace(IDENTITY, request_identity=False)
    async with new_client() as http:
        result = await lab_login(
            http, lab_mcp, browser=LabBrowser("bob"), accounts=memory_accounts(), settings=settings, trace=trace
        )
    account = result.account
    assert (account.subject, account.label, account.identity_source) == (BOB[0], f"user {BOB[0]}", "access_token")
    assert identity_steps(trace) == [("userinfo", 401)]


async def test_one_accounts_fetches_the_keys_once_for_two_sign_ins(lab_mcp: RunningMcpServer) -> None:
    """The issuer's keys (JWKS) are kept by ``Accounts`` from one sign-in to the next."""
    accounts, first, second = memory_accounts(), Trace(), Trace()
    async with new_client() as http:
        alice = await lab_login(http, lab_mcp, browser=LabBrowser("alice"), accounts=accounts, trace=first)
        bob = await lab_login(
            http, lab_mcp, browser=LabBrowser("bob"), accounts=accounts, trace=second, new_account=True
        )
    assert (alice.account.subject, bob.account.subject) == (ALICE[0], BOB[0])
    assert bob.account.identity_source == "id_token"  # its id_token was checked, with the keys already at hand
    assert identity_steps(first) == [("jwks", 200)]
    assert identity_steps(second) == []
