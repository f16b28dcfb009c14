"""A connection to one MCP server as one account: the token source its requests use.

:class:`StoredSession` is the :class:`~desktop_app.oauth.auth.TokenSource` the bearer auth asks for tokens: the
account's stored token, renewed under the account's lock; a refusal answered by one renewal; a step-up (the server
asks for more scopes) by signing the account in again, after the person approved the new pairing, when the caller
can ask (``reauthorize``). :func:`connect` is the command line's ``connect``: the same sign-in as ``login``, on
stores that keep nothing (``desktop_app.storage.memory``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from desktop_app.accounts.models import Account, Server, ServerSettings
from desktop_app.accounts.signin import Approve, LoginResult
from desktop_app.errors import MorePermissionsNeeded, SignInRequired, TokenRejected
from desktop_app.oauth.auth import BearerAuth
from desktop_app.oauth.authorize import Browser
from desktop_app.oauth.challenge import BearerChallenge
from desktop_app.oauth.tokenset import TokenSet
from desktop_app.oauth.trace import Trace

if TYPE_CHECKING:
    from desktop_app.accounts.manager import Accounts

#: Signs the account in again with these scopes added (a step-up).
Reauthorize = Callable[[Account, tuple[str, ...]], Awaitable[Account]]
#: Signs the account in again at its server's new authorization server.
Follow = Callable[[Account], Awaitable[Account]]


class StoredSession:
    """Tokens of one stored account for one server, renewed and stepped up on demand."""

    def __init__(
        self,
        accounts: Accounts,
        http: httpx.AsyncClient,
        account: Account,
        server: Server,
        *,
        reauthorize: Reauthorize | None = None,
        follow: Follow | None = None,
    ) -> None:
        self._accounts = accounts
        self._reauthorize = reauthorize
        #: A server that moved to another authorization server is followed there (after the person approves) instead
        #: of ending with "sign in again": ``connect``, where the person is at the terminal for this one sign-in.
        self._follow = follow
        self._http = http
        self.account = account
        self.server = server
        #: True once this session renewed the token because the resource refused it.
        self.renewed_after_rejection = False

    @property
    def resource(self) -> str:
        return self.server.resource

    async def token(self) -> TokenSet:
        return await self._accounts.token(self._http, self.account)

    async def renew(self, rejected: TokenSet, challenge: BearerChallenge | None) -> TokenSet:
        moved_to = await self._accounts.moved_authorization_server(self._http, self.server, self.account, challenge)
        if moved_to is not None:
            if self._follow is not None:
                self.account = await self._follow(self.account)
                return await self._accounts.token(self._http, self.account)
            old = self.account.issuer
            self.account = self._accounts.mark_needs_sign_in(
                self.account,
                f"this server now uses another authorization server ({moved_to} instead of {old})",
                code="authorization_server_changed",
            )
            raise SignInRequired(
                "authorization_server_changed",
                f"{self.server.name} now uses another authorization server, {moved_to} (instead of {old}); "
                f"{self.account.display_name} must sign in again there.",
                url=self.resource,
                account_id=self.account.id,
                server=self.server.name,
            )
        fresh = await self._accounts.token(self._http, self.account, force=True)
        if fresh.access_token == rejected.access_token:
            # No way to renew (no refresh token): the resource's refusal is final.
            self.mark_rejected("the server refused the access token and it cannot be renewed")
            raise TokenRejected(
                f"{self.server.name} refused the access token of {self.account.display_name}.", url=self.resource
            )
        self.renewed_after_rejection = True
        return fresh

    async def step_up(self, scopes: tuple[str, ...], challenge: BearerChallenge) -> TokenSet:
        """Sign this account in again with more scopes (the person is shown what changed), if the caller can."""
        if self._reauthorize is not None:
            self.account = await self._reauthorize(self.account, scopes)
            return await self._accounts.token(self._http, self.account)
        raise MorePermissionsNeeded(
            f"{self.server.name} asks for more permissions ({' '.join(scopes)}) than "
            f"{self.account.display_name} granted.",
            server=self.server.name,
            account_id=self.account.id,
            scopes=scopes,
            url=self.resource,
        )

    def mark_rejected(self, reason: str) -> None:
        self.account = self._accounts.mark_needs_sign_in(self.account, reason)

    def auth(self, *, authorizations: int = 0) -> BearerAuth:
        """The bearer auth of requests in this session; ``authorizations``: sign-ins already spent on the operation
        it serves (a step-up counts after them)."""
        return BearerAuth(self, authorizations=authorizations)


@dataclass(slots=True)
class Connection:
    """The result of :func:`connect`: ``session`` and ``login`` are None when the server needs no sign-in."""

    server: Server
    session: StoredSession | None
    login: LoginResult | None

    def auth(self) -> BearerAuth | None:
        # The sign-in is the first of the operation's authorizations: later step-ups count after it.
        return None if self.session is None else self.session.auth(authorizations=1)


async def connect(
    accounts: Accounts,
    http: httpx.AsyncClient,
    url: str,
    *,
    browser: Browser,
    approve: Approve,
    settings: ServerSettings | None = None,
    client_secret: str | None = None,
    on_url: Callable[[str], None] | None = None,
    trace: Trace | None = None,
    timeout: float | None = None,
) -> Connection:
    """Add ``url`` to ``accounts`` (stores that keep nothing) and sign in to it the way ``login`` does: discover,
    register, ask, open the browser. Step-ups and a move to another authorization server ask ``approve`` again."""
    server = accounts.add_server(url, settings=settings)
    if client_secret is not None:
        server = accounts.update_settings(server, server.settings, client_secret=client_secret)
    result = await accounts.sign_in(
        http, server, browser=browser, approve=approve, on_url=on_url, trace=trace, timeout=timeout
    )
    if result is None:
        return Connection(server, None, None)

    async def again(account: Account, **change: Any) -> Account:
        """The same sign-in once more for ``account``: a step-up or a move (``change``: what differs)."""
        result = await accounts.login(
            http, server, browser=browser, approve=approve, account=account, on_url=on_url, timeout=timeout, **change
        )
        return result.account

    async def reauthorize(account: Account, scopes: tuple[str, ...]) -> Account:
        return await again(account, extra_scopes=scopes)

    async def follow(account: Account) -> Account:
        return await again(account, without_client_id=True)

    session = accounts.session(http, result.account, server, reauthorize=reauthorize, follow=follow)
    return Connection(server, session, result)
