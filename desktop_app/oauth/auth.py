"""Using a token: an ``httpx.Auth`` that speaks for one resource only.

- ``Authorization: Bearer`` goes only on requests to the resource the token was issued for (same origin, the
  resource's path); any other request passes untouched, so a token never crosses to another server.
- On ``401``: renew the token once and retry; a second ``401`` means the person must sign in again.
- On ``403 insufficient_scope``: step up (authorize again for the union of the scopes already requested and the
  challenged ones) and retry. One operation (everything this auth object serves, e.g. one command) gets at most
  :data:`MAX_AUTHORIZATIONS` authorizations, the first sign-in included when it was part of the operation
  (MCP "Step-Up Authorization Flow": three in all); then :class:`StepUpExhausted` names the scopes still wanted.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from desktop_app.errors import ProtocolViolation, StepUpExhausted, TokenRejected
from desktop_app.oauth.challenge import BearerChallenge, bearer_challenge
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.urls import origin

MAX_AUTHORIZATIONS = 3


class TokenSource(Protocol):
    """Where :class:`BearerAuth` gets tokens. The accounts layer implements it (memory now, keyring later)."""

    @property
    def resource(self) -> str: ...

    async def token(self) -> TokenSet:
        """A token that is not known to be expired (renewed first if it is)."""
        ...

    async def renew(self, rejected: TokenSet, challenge: BearerChallenge | None) -> TokenSet:
        """The resource refused ``rejected``: get a fresh one (unless another caller already did)."""
        ...

    async def step_up(self, scopes: tuple[str, ...], challenge: BearerChallenge) -> TokenSet:
        """Authorize again for ``scopes`` (asking the person first)."""
        ...


def challenge_of(response: httpx.Response) -> BearerChallenge | None:
    """The Bearer challenge of a response, or ``None`` (a malformed header counts as none)."""
    values = response.headers.get_list("www-authenticate")
    if not values:
        return None
    try:
        return bearer_challenge(values)
    except ProtocolViolation:
        return None


def merge_scopes(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """Union, keeping the order in which scopes were first seen."""
    return tuple(dict.fromkeys((*first, *second)))


def applies_to(resource: str, url: httpx.URL) -> bool:
    """Is ``url`` the resource (or below its path) on the resource's origin?"""
    target = str(url)
    if origin(target) != origin(resource):
        return False
    resource_path = urlsplit(resource).path.rstrip("/")
    path = urlsplit(target).path
    return path == resource_path or path == resource_path + "/" or path.startswith(resource_path + "/")


class BearerAuth(httpx.Auth):
    """``authorizations``: how many this operation already made before its first request (1 when it began with a
    sign-in); ``max_authorizations``: the operation's budget, that first one included."""

    requires_request_body = True

    def __init__(
        self,
        source: TokenSource,
        *,
        authorizations: int = 0,
        max_authorizations: int = MAX_AUTHORIZATIONS,
        per_request: bool = False,
    ) -> None:
        #: ``per_request``: each request is an operation of its own (the bridge: one auth for its whole life).
        self._per_request = per_request
        self._source = source
        self._authorizations = authorizations
        self._max_authorizations = max_authorizations
        #: Every access token this auth attached to a request: whatever the server answers is text that may echo one
        #: (``desktop_app.oauth.redact.scrub`` takes them out before it is shown or stored).
        self.sent: set[str] = set()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("BearerAuth works with httpx.AsyncClient only")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not applies_to(self._source.resource, request.url):
            yield request
            return
        tokens = await self._source.token()
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"
        self.sent.add(tokens.access_token)
        response = yield request

        if response.status_code == 401:
            tokens = await self._source.renew(tokens, challenge_of(response))
            request.headers["Authorization"] = f"Bearer {tokens.access_token}"
            self.sent.add(tokens.access_token)
            response = yield request
            if response.status_code == 401:
                raise TokenRejected(
                    f"{self._source.resource} refused the access token even after it was renewed.",
                    url=self._source.resource,
                )

        requested = tokens.scopes
        spent = self._authorizations
        while response.status_code == 403:
            challenge = challenge_of(response)
            if challenge is None or not challenge.insufficient_scope:
                return
            if spent >= self._max_authorizations:
                raise StepUpExhausted(
                    "step_up_exhausted",
                    f"{self._source.resource} still asks for more permissions after {spent} "
                    f"sign-ins (it wants: {' '.join(challenge.scope or ()) or 'unspecified scopes'}).",
                    hint="The server may need an administrator to grant these permissions to your account.",
                    url=self._source.resource,
                )
            spent += 1
            if not self._per_request:
                self._authorizations = spent
            requested = merge_scopes(requested, challenge.scope or ())
            tokens = await self._source.step_up(requested, challenge)
            request.headers["Authorization"] = f"Bearer {tokens.access_token}"
            self.sent.add(tokens.access_token)
            response = yield request
