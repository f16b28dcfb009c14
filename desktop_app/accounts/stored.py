"""An account's tokens at rest: read, written, and whether they can be used as they are.

Everything here works without the network, so the `token` command's fresh-token path needs nothing more (no HTTP
client, no event loop: tests/unit/test_layers.py). When the stored sign-in cannot be used, the account is marked
"needs sign-in" with the reason, in one place (:meth:`StoredTokens.sign_in_needed`), and the caller raises the error
it returns.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from desktop_app.accounts.models import Account, AccountState, TokenBundle, account_secret_key
from desktop_app.accounts.ports import Registry, SecretStore, Stores
from desktop_app.error_codes import Code
from desktop_app.errors import AccountRemoved, SignInRequired
from desktop_app.oauth.tokenset import TokenSet

#: Renew this long before expiry (the token is "expiring" inside this window).
REFRESH_LEEWAY = 60.0


def renewal_leeway(tokens: TokenSet) -> float:
    """How long before expiry a token counts as expiring: REFRESH_LEEWAY, but at most half its lifetime, so a
    token that lives 30 seconds is used for about 15 of them instead of being renewed at every use."""
    if tokens.expires_at is None or tokens.obtained_at <= 0:
        return REFRESH_LEEWAY
    return min(REFRESH_LEEWAY, max(0.0, (tokens.expires_at - tokens.obtained_at) / 2))


class StoredTokens:
    """The vault entry of each account, read and written with the account's state kept in step."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def sign_in_needed(self, account: Account, code: Code, reason: str, message: str, hint: str) -> SignInRequired:
        """Record that ``account`` must sign in again (``reason`` is shown where the account is listed); return the
        error to raise."""
        self.stores.registry.record_refresh_failure(
            account.id, code=code, message=reason, needs_sign_in=True, now=self.stores.clock()
        )
        return self.sign_in_required(account, code, message, hint=hint)

    def sign_in_required(
        self, account: Account, code: Code, message: str, *, hint: str | None = None, url: str | None = None
    ) -> SignInRequired:
        """The error that says ``account`` must sign in again, naming it and its server (the command line and the
        window word how)."""
        server = self.stores.registry.server(account.server_id)
        return SignInRequired(
            code, message, hint=hint, url=url, account_id=account.id, server=server.name if server else None
        )

    def usable(self, account: Account) -> Account:
        """The account as stored now, if it is signed in; else the error that says what to do."""
        current = self.stores.registry.account(account.id)
        if current is None:
            raise AccountRemoved(f"The account {account.display_name} no longer exists.")
        if current.state is AccountState.SIGNED_OUT:
            raise self.sign_in_required(current, "signed_out", f"{current.display_name} is signed out.")
        if current.state is AccountState.NEEDS_SIGN_IN:
            raise self.sign_in_required(
                current,
                "sign_in_required",
                f"{current.display_name} must sign in again"
                + (f" ({current.last_error})." if current.last_error else "."),
            )
        return current

    def read(self, account: Account, *, missing_ok: bool = False) -> TokenBundle | None:
        return self._bundle_of(account, self.stores.secrets.get(account_secret_key(account.key)), missing_ok)

    async def read_async(self, account: Account, *, missing_ok: bool = False) -> TokenBundle | None:
        key = account_secret_key(account.key)
        value = await self.stores.offload(functools.partial(self.stores.secrets.get, key))
        return self._bundle_of(account, value, missing_ok)

    def _bundle_of(self, account: Account, value: dict[str, Any] | None, missing_ok: bool) -> TokenBundle | None:
        if value is None:
            if missing_ok:
                return None
            # Someone deleted the keyring entry: nothing can be renewed; say so where the account is shown.
            raise self.sign_in_needed(
                account,
                "secret_missing",
                f"its tokens are missing from {self.stores.secrets.description}",
                f"The sign-in of {account.display_name} is missing from {self.stores.secrets.description}.",
                "Sign in again.",
            )
        try:
            return TokenBundle.from_secret(value)
        except ValueError as exc:
            raise self.sign_in_needed(
                account,
                "secret_unreadable",
                f"its stored tokens cannot be read ({exc})",
                f"The stored sign-in of {account.display_name} cannot be read ({exc}).",
                "Sign in again.",
            ) from None

    def write(self, account_key: str, tokens: TokenSet) -> None:
        self.stores.secrets.put(account_secret_key(account_key), TokenBundle(tokens).to_secret())

    async def write_async(self, account_key: str, tokens: TokenSet) -> None:
        await self.stores.offload(functools.partial(self.write, account_key, tokens))

    def fresh(self, account: Account) -> TokenSet | None:
        """The stored access token if it needs no renewal, else None (then a renewal is due)."""
        account = self.usable(account)
        bundle = self.read(account)
        assert bundle is not None
        expiring = bundle.tokens.is_expired(self.stores.clock(), renewal_leeway(bundle.tokens))
        return None if expiring else bundle.tokens


def fresh_token(
    registry: Registry, secrets: SecretStore, account: Account, *, clock: Callable[[], float] = time.time
) -> TokenSet | None:
    """:meth:`StoredTokens.fresh` for a caller that has only the stores (the ``token`` command's fresh path)."""
    return StoredTokens(Stores(registry, secrets, _NO_LOCKS, clock)).fresh(account)


def stored_token(
    registry: Registry, secrets: SecretStore, account: Account, *, clock: Callable[[], float] = time.time
) -> TokenSet:
    """The stored tokens of a signed-in account as they are, expiring or not (the error that says what to do when
    the account is not signed in or its tokens are gone)."""
    tokens = StoredTokens(Stores(registry, secrets, _NO_LOCKS, clock))
    bundle = tokens.read(tokens.usable(account))
    assert bundle is not None
    return bundle.tokens


class _NoLocks:
    """Reading a stored token takes no lock: :class:`StoredTokens` writes only under a renewal's lock."""

    def hold(self, name: str, *, timeout: float = 0, what: str = "") -> AbstractAsyncContextManager[None]:
        raise AssertionError("reading a stored token takes no lock")


_NO_LOCKS = _NoLocks()
