"""Finding a server and an account from what a person typed (a name, an id, a URL, a label, a nickname).

Without the network, like :mod:`desktop_app.accounts.stored`: the `token` command's fresh-token path uses both.
"""

from __future__ import annotations

from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.accounts.ports import Registry
from desktop_app.errors import ChooseAccount, NoAccount, UnknownAccount, UnknownServer


def find_server(registry: Registry, text: str) -> Server:
    """A server by name, id, URL or resource; a clear error naming what was asked when none matches."""
    found = registry.find_server(text)
    if found is None:
        names = ", ".join(s.name for s in registry.servers()) or "none yet"
        raise UnknownServer(
            f"No server called {text!r} (servers: {names}).", known=tuple(s.name for s in registry.servers())
        )
    return found


def account_names(registry: Registry, server: Server) -> str:
    names = [f"{a.display_name} (id {a.id})" for a in registry.accounts(server.id)]
    return ", ".join(names) or "none"


def find_account(registry: Registry, server: Server, text: str | None) -> Account:
    """``--account``: by id, nickname or label; without it, the server's only account that is not signed out."""
    if text:
        found = registry.find_account(server.id, text)
        if found is None:
            raise UnknownAccount(
                f"{server.name} has no account {text!r} (accounts: {account_names(registry, server)}).",
                server=server.name,
            )
        return found
    live = [a for a in registry.accounts(server.id) if a.state is not AccountState.SIGNED_OUT]
    if len(live) == 1:
        return live[0]
    if not live:
        raise NoAccount(f"There is no signed-in account on {server.name}.", server=server.name, url=server.resource)
    raise ChooseAccount(f"{server.name} has several accounts ({account_names(registry, server)}).", server=server.name)
