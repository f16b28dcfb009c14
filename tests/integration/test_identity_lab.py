"""Account identity against the lab's real oidc-provider: id_token validation, userinfo, the fallbacks.

What the lab (oidc-provider 9.13.3, default ``conformIdTokenClaims``) really does, and these tests pin:

- With ``resource`` (the app's normal sign-in) the access token is a JWT for the MCP server. oidc-provider then
  puts the requested profile/email claims into the id_token (conforming only applies to access tokens usable at
  userinfo), and its userinfo endpoint refuses that resource-bound token with 401.
- Without ``resource`` the access token is opaque and good for userinfo: the id_token carries only ``sub`` and
  the label comes from userinfo.
"""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest

from desktop_app.accounts.identity import identity_scopes, resolve_identity
from desktop_app.errors import ProtocolViolation
from desktop_app.mcp import build_probe_request
from desktop_app.oauth.discovery import AuthorizationServerMetadata
from desktop_app.oauth.flow import SignIn, SignInOptions, choose_scopes
from desktop_app.oauth.http import new_client
from desktop_app.oauth.oidc import fetch_userinfo
from desktop_app.oauth.pkce import random_token
from desktop_app.oauth.tokens import TokenSet
from desktop_app.oauth.trace import Trace
from tests.lab.browser import scripted_browser
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab

ALICE = ("lab-sub-0a11ce", "alice@lab.test")
BOB = ("lab-sub-00b0b0", "bob@lab.test")


class Browser:
    def __init__(self, user: str | None = None) -> None:
        self.user = user

    async def __call__(self, url: str) -> None:
        await scripted_browser(url, user=self.user)


async def lab_sign_in(
    http: httpx.AsyncClient,
    mcp: RunningMcpServer,
    *,
    nonce: str,
    user: str | None = None,
    send_resource: bool = True,
    trace: Trace | None = None,
) -> tuple[AuthorizationServerMetadata, TokenSet]:
    """A real sign-in with the app's flow, asking for the MCP scopes plus the identity scopes."""
    flow = SignIn(http, mcp.url, options=SignInOptions(timeout=30, send_resource=send_resource), trace=trace)
    discovery = await flow.discover(build_probe_request(mcp.url))
    await flow.register()
    metadata = discovery.metadata
    identity = identity_scopes(metadata)
    if send_resource:
        scopes = choose_scopes(discovery.challenge, discovery.resource_metadata, metadata)
        scopes = tuple(dict.fromkeys((*scopes, *identity)))
    else:
        scopes = identity  # without a resource the lab grants no mcp:* scope
    tokens = await flow.authorize(Browser(user), scopes=scopes, nonce=nonce)
    return metadata, tokens


def authorize_queries(lab_as: RunningAuthServer) -> list[dict[str, str]]:
    return [r["query"] for r in lab_as.requests() if r["method"] == "GET" and r["path"].endswith("/auth")]


async def test_alice_is_named_by_her_id_token(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
    nonce = random_token()
    trace = Trace()
    lab_as.reset_requests()
    async with new_client() as http:
        metadata, tokens = await lab_sign_in(http, lab_mcp, nonce=nonce, trace=trace)
        assert identity_scopes(metadata) == ("openid", "email", "profile")
        assert tokens.id_token is not None
        identity = await resolve_identity(http, metadata, tokens, nonce=nonce, now=time.time(), trace=trace)
    assert identity is not None
    assert (identity.subject, identity.label) == ALICE
    assert (identity.source, identity.login_hint) == ("id_token", "alice@lab.test")
    # The browser's request carries our nonce; the look beside it (docs/decisions/0014) carries one of its own.
    [query] = [q for q in authorize_queries(lab_as) if q.get("nonce") == nonce]
    assert set(query["scope"].split()) >= {"mcp:tools", "openid", "email", "profile"}
    assert query["resource"] == lab_mcp.url
    steps = [(e.step, e.status) for e in trace.events if e.step in ("jwks", "userinfo")]
    assert steps == [("jwks", 200)]  # the id_token had a label: userinfo was not needed


async def test_bob_is_bob(lab_mcp: RunningMcpServer) -> None:
    nonce = random_token()
    async with new_client() as http:
        metadata, tokens = await lab_sign_in(http, lab_mcp, nonce=nonce, user="bob")
        identity = await resolve_identity(http, metadata, tokens, nonce=nonce, now=time.time(), trace=Trace())
    assert identity is not None
    assert (identity.subject, identity.label, identity.source) == (*BOB, "id_token")


async def test_another_nonce_refuses_the_sign_in(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
    async with new_client() as http:
        metadata, tokens = await lab_sign_in(http, lab_mcp, nonce=random_token())
        assert tokens.id_token is not None
        with pytest.raises(ProtocolViolation) as info:
            await resolve_identity(http, metadata, tokens, nonce=random_token(), now=time.time(), trace=Trace())
    assert info.value.code == "id_token_nonce_mismatch"
    assert lab_as.issuer in info.value.message
    assert tokens.id_token not in info.value.message
    assert tokens.id_token.split(".")[1] not in info.value.message


async def test_an_id_token_of_another_issuer_is_refused(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
    """Keys and signature are real; only the expected issuer differs (as if another server's metadata were used)."""
    nonce = random_token()
    async with new_client() as http:
        metadata, tokens = await lab_sign_in(http, lab_mcp, nonce=nonce)
        other = replace(metadata, issuer=lab_as.issuer + "/elsewhere")
        with pytest.raises(ProtocolViolation) as info:
            await resolve_identity(
                http, other, replace(tokens, issuer=other.issuer), nonce=nonce, now=time.time(), trace=Trace()
            )
    assert info.value.code == "id_token_issuer_mismatch"


async def test_userinfo_refuses_the_resource_bound_token(lab_mcp: RunningMcpServer) -> None:
    trace = Trace()
    async with new_client() as http:
        metadata, tokens = await lab_sign_in(http, lab_mcp, nonce=random_token())
        assert metadata.userinfo_endpoint is not None
        assert await fetch_userinfo(http, metadata.userinfo_endpoint, tokens.access_token, trace=trace) is None
    assert [(e.step, e.status) for e in trace.events if e.step == "userinfo"] == [("userinfo", 401)]


async def test_without_resource_the_label_comes_from_userinfo(lab_mcp: RunningMcpServer) -> None:
    nonce = random_token()
    trace = Trace()
    async with new_client() as http:
        metadata, tokens = await lab_sign_in(http, lab_mcp, nonce=nonce, send_resource=False, trace=trace)
        identity = await resolve_identity(http, metadata, tokens, nonce=nonce, now=time.time(), trace=trace)
    assert identity is not None
    assert (identity.subject, identity.label, identity.source) == (*ALICE, "id_token")
    steps = [(e.step, e.status) for e in trace.events if e.step in ("jwks", "userinfo")]
    assert steps == [("jwks", 200), ("userinfo", 200)]


async def test_without_id_token_the_access_token_names_the_subject(lab_mcp: RunningMcpServer) -> None:
    """No id_token (a server without OpenID): userinfo refuses the JWT access token, its claims give the subject."""
    async with new_client() as http:
        metadata, tokens = await lab_sign_in(http, lab_mcp, nonce=random_token(), user="bob")
        identity = await resolve_identity(
            http, metadata, replace(tokens, id_token=None), nonce=None, now=time.time(), trace=Trace()
        )
    assert identity is not None
    assert (identity.subject, identity.label, identity.source) == (BOB[0], f"user {BOB[0]}", "access_token")
