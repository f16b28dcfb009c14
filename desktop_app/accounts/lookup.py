"""Finding a server and an account from what a person typed (a name, an id, a URL, a label, a nickname, or the start
of a name).

Without the network, like :mod:`desktop_app.accounts.stored`: the `token` command's fresh-token path uses both, and so
does the bridge an AI tool starts.

The rules (docs/decisions/0027-cli-newcomer.md):

- A name given in full always wins: the registry's exact lookup (id, name, URL; id, nickname, label) comes first.
- Otherwise a server may be named by the start of its name, an account by the start of its label or its nickname,
  case-insensitively, when exactly one matches. Several: :class:`AmbiguousServer` / :class:`AmbiguousAccount` with
  the candidates; nothing is ever chosen among them.
- Digits are an id and nothing else: ``bridge 3 --account 7``, as a host's config runs it, never falls back to a
  server whose name starts with ``3`` once server 3 is gone.
- ``prefix=False`` (``remove --yes``, which deletes without asking) takes names given in full only; what the text
  abbreviates is in the error (``abbreviates``), for the words that say so.
"""

from __future__ import annotations

from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.accounts.ports import Registry, describe_accounts
from desktop_app.errors import (
    AmbiguousAccount,
    AmbiguousServer,
    Candidate,
    ChooseAccount,
    NoAccount,
    UnknownAccount,
    UnknownServer,
)
from desktop_app.oauth.urls import address_with_scheme


def _starts(text: str, name: str | None) -> bool:
    """Whether ``name`` starts with ``text`` (case-insensitive); digits are an id, never the start of a name."""
    if not text or (text.isascii() and text.isdigit()):
        return False
    return name is not None and name.casefold().startswith(text.casefold())


def server_candidate(server: Server) -> Candidate:
    return Candidate(server.id, server.name)


def account_candidate(account: Account) -> Candidate:
    return Candidate(account.id, account.label, account.nickname)


def find_server(registry: Registry, text: str, *, prefix: bool = True) -> Server:
    """A server by id, name, URL or resource; else (``prefix``) the one server whose name starts with ``text``. A
    clear error naming what was asked when none matches, or the candidates when several do."""
    found = registry.find_server(text)
    if found is not None:
        return found
    wanted = text.strip()
    servers = registry.servers()
    starting = [s for s in servers if _starts(wanted, s.name)]
    if prefix and len(starting) == 1:
        return starting[0]
    if prefix and starting:
        names = ", ".join(s.name for s in starting)
        raise AmbiguousServer(
            f"{wanted!r} is the start of several servers' names: {names}.",
            text=wanted,
            candidates=tuple(map(server_candidate, starting)),
        )
    names = ", ".join(s.name for s in servers) or "none yet"
    looks_like_address = any(c in wanted for c in "./:")
    raise UnknownServer(
        f"No server called {wanted!r} (servers: {names}).",
        known=tuple(s.name for s in servers),
        text=wanted,
        address=address_with_scheme(wanted) if looks_like_address else None,
        abbreviates=tuple(map(server_candidate, starting)),
    )


def account_names(registry: Registry, server: Server) -> str:
    return describe_accounts(registry.accounts(server.id)) or "none"


def find_account(registry: Registry, server: Server, text: str | None, *, prefix: bool = True) -> Account:
    """``--account``: by id, nickname or label; else (``prefix``) the one account whose label or nickname starts
    with it. Without it, the server's only account that is not signed out."""
    if text:
        found = registry.find_account(server.id, text)
        if found is not None:
            return found
        wanted = text.strip()
        everyone = registry.accounts(server.id)
        starting = [a for a in everyone if _starts(wanted, a.label) or _starts(wanted, a.nickname)]
        if prefix and len(starting) == 1:
            return starting[0]
        if prefix and starting:
            raise AmbiguousAccount(
                f"{wanted!r} is the start of several accounts of {server.name}: {describe_accounts(starting)}.",
                server=server.name,
                text=wanted,
                candidates=tuple(map(account_candidate, starting)),
            )
        raise UnknownAccount(
            f"{server.name} has no account {wanted!r} (accounts: {describe_accounts(everyone) or 'none'}).",
            server=server.name,
            text=wanted,
            abbreviates=tuple(map(account_candidate, starting)),
        )
    live = [a for a in registry.accounts(server.id) if a.state is not AccountState.SIGNED_OUT]
    if len(live) == 1:
        return live[0]
    if not live:
        raise NoAccount(f"There is no signed-in account on {server.name}.", server=server.name, url=server.resource)
    raise ChooseAccount(f"{server.name} has several accounts ({account_names(registry, server)}).", server=server.name)
