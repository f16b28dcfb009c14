"""Putting a connector into a host, taking it out, and seeing which connectors each host has.

What the command line's ``hosts``, ``install`` and ``uninstall`` and the window's **Use in…** do, without words:
they get values and typed errors (:mod:`desktop_app.hosts.errors`) back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.hosts import documents, files
from desktop_app.hosts.catalog import HOSTS, Host, is_found, place
from desktop_app.hosts.entries import Connector, Launch, check_name, connector_in, entry_for, same_profile
from desktop_app.hosts.errors import EntryNameTaken, HostConfigUnreadable, NotAConnector


@dataclass(frozen=True, slots=True)
class HostState:
    """A host on this machine: its file, whether it is there, the connectors in it (or why they cannot be read)."""

    host: Host
    path: Path
    found: bool
    connectors: tuple[Connector, ...] = ()
    error: HostConfigUnreadable | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """What an install or uninstall did to ``path``: ``names`` written or removed, ``changed`` False when the file
    already said so; ``backup``: the copy of the previous file."""

    host: Host
    path: Path
    names: tuple[str, ...]
    changed: bool
    backup: Path | None = None


def config_path(host: Host) -> Path:
    return Path(place(host).config)


def state_of(host: Host) -> HostState:
    spot = place(host)
    path = Path(spot.config)
    try:
        snapshot = files.read(path)
        table = documents.entries(host, snapshot.text, path)
    except HostConfigUnreadable as error:
        return HostState(host, path, True, error=error)
    connectors = tuple(c for name, entry in table.items() if (c := connector_in(name, entry)) is not None)
    return HostState(host, path, is_found(spot), connectors)


def survey(hosts: Iterable[Host] = HOSTS) -> list[HostState]:
    return [state_of(host) for host in hosts]


def is_for(connector: Connector, server_id: int, account_id: int) -> bool:
    """The connector runs the bridge of that account, in this process's profile."""
    return connector.server == str(server_id) and connector.account == str(account_id) and same_profile(connector)


def connectors_of(states: Iterable[HostState], server_id: int, account_id: int) -> list[tuple[Host, Connector]]:
    """Where the account's connector is, host by host (in this process's profile)."""
    return [(s.host, c) for s in states for c in s.connectors if is_for(c, server_id, account_id)]


def snippet(host: Host, name: str, entry: dict[str, Any]) -> str:
    """The entry as it would stand alone in the host's file (``install --print``)."""
    return documents.with_entry(host, "", config_path(host), check_name(name), entry)


def install(
    host: Host,
    run: Launch,
    *,
    server_id: int,
    account_id: int,
    name: str | None,
    default_name: str,
    description: str,
) -> Change:
    """Put the account's connector into ``host``. Without ``name``, an entry the account already has there keeps
    its name (installing twice changes nothing), else ``default_name``. An entry of that name that is something else
    is never overwritten."""
    path = config_path(host)
    snapshot = files.read(path)
    table = documents.entries(host, snapshot.text, path)
    mine = [n for n, e in table.items() if (c := connector_in(n, e)) is not None and is_for(c, server_id, account_id)]
    chosen = check_name(name if name is not None else (mine[0] if mine else default_name))
    if chosen in table and chosen not in mine:
        theirs = connector_in(chosen, table[chosen])
        raise EntryNameTaken(host=host.name, name=chosen, path=path, ours=theirs is not None)
    text = documents.with_entry(
        host, snapshot.text, path, chosen, entry_for(host, chosen, run, description=description)
    )
    backup = files.write(snapshot, text)
    return Change(host, path, (chosen,), text != snapshot.text, backup)


def uninstall(
    host: Host, *, names: Iterable[str] = (), server_id: int | None = None, account_id: int | None = None
) -> Change:
    """Remove the entries ``names`` (each must be a connector), or every connector of the account (``server_id``,
    ``account_id``) in this profile. Nothing to remove is not an error."""
    path = config_path(host)
    snapshot = files.read(path)
    table = documents.entries(host, snapshot.text, path)
    wanted = list(names)
    for name in wanted:
        if name in table and connector_in(name, table[name]) is None:
            raise NotAConnector(host=host.name, name=name, path=path)
    if server_id is not None and account_id is not None:
        wanted += [
            n for n, e in table.items() if (c := connector_in(n, e)) is not None and is_for(c, server_id, account_id)
        ]
    text = snapshot.text
    removed = []
    for name in dict.fromkeys(wanted):
        if name in table:
            text = documents.without_entry(host, text, path, name)
            removed.append(name)
    backup = files.write(snapshot, text)
    return Change(host, path, tuple(removed), text != snapshot.text, backup)
