"""The commands that put connectors into MCP hosts: ``hosts`` (which hosts, which connectors), ``install`` and
``uninstall``. The work is :mod:`desktop_app.hosts.installer`'s; the words are here."""

from __future__ import annotations

import argparse
import json
from typing import Any

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.appinfo import COMMAND
from desktop_app.cli.console import Console
from desktop_app.cli.output import EXIT_OK
from desktop_app.cli.profile import profile
from desktop_app.cli.text import URL_LIMIT, account_name, server_name, shell_word
from desktop_app.errors import ConfigurationError, one_line
from desktop_app.hosts.catalog import Host, find_host
from desktop_app.hosts.entries import (
    Connector,
    bridge_program,
    check_name,
    connector_description,
    default_name,
    entry_for,
    launch,
    same_profile,
)
from desktop_app.hosts.installer import Change, HostState, install, snippet, survey, uninstall


def _shown(path: object) -> str:
    return one_line(str(path), URL_LIMIT)


def _who(accounts: Accounts, connector: Connector) -> tuple[Server | None, Account | None]:
    if not same_profile(connector):
        return None, None
    server = accounts.registry.find_server(connector.server) if connector.server.isdigit() else None
    if server is None or connector.account is None or not connector.account.isdigit():
        return server, None
    return server, accounts.registry.find_account(server.id, connector.account)


def _connector_row(accounts: Accounts, connector: Connector) -> dict[str, Any]:
    server, account = _who(accounts, connector)
    return {
        "entry": connector.name,
        "server": connector.server,
        "account": connector.account,
        "server_name": server.name if server else None,
        "account_name": account.display_name if account else None,
        "profile": connector.profile,
        "this_profile": same_profile(connector),
        "command": connector.command,
    }


def _connector_line(accounts: Accounts, connector: Connector) -> str:
    server, account = _who(accounts, connector)
    entry = one_line(connector.name)
    if not same_profile(connector):
        return f"    {entry}  (another profile: {_shown(connector.profile or 'the default profile')})"
    if server is None:
        return f"    {entry}  (server {one_line(connector.server)} is not in this profile any more)"
    if account is None:
        return f"    {entry}  {server_name(server)}, account {one_line(str(connector.account))} (not in this profile)"
    note = "" if account.state is AccountState.SIGNED_IN else f"  ({account.state.value.replace('_', ' ')})"
    return f"    {entry}  {server_name(server)} as {account_name(account)}{note}"


def _host_lines(accounts: Accounts, state: HostState) -> list[str]:
    title = f"{state.host.name} ({state.host.id})  {_shown(state.path)}"
    if state.error is not None:
        return [title, f"    cannot be read: {one_line(state.error.message, URL_LIMIT)}"]
    if not state.connectors:
        return [title, "    no connectors" if state.found else "    not found on this machine"]
    return [title, *(_connector_line(accounts, c) for c in state.connectors)]


async def run_hosts(args: argparse.Namespace, console: Console) -> int:
    states = survey()
    async with profile(args) as accounts:
        if args.json:
            rows = [
                {
                    "id": s.host.id,
                    "name": s.host.name,
                    "config": str(s.path),
                    "format": s.host.format,
                    "found": s.found,
                    "error": s.error.message if s.error else None,
                    "connectors": [_connector_row(accounts, c) for c in s.connectors],
                }
                for s in states
            ]
            console.result(json.dumps({"hosts": rows}, indent=2))
            return EXIT_OK
        lines: list[str] = []
        for state in states:
            lines += _host_lines(accounts, state)
        lines.append(f"Put a connector into one with: {COMMAND} install SERVER [--account A] --host HOST")
        console.result("\n".join(lines))
    return EXIT_OK


def _said(console: Console, change: Change, done: str, nothing: str) -> None:
    if change.changed:
        console.result(done)
        if change.backup is not None:
            console.say(f"The previous file is kept as {_shown(change.backup)}.")
    else:
        console.result(nothing)


async def run_install(args: argparse.Namespace, console: Console) -> int:
    host: Host = find_host(args.host)
    name = check_name(args.name) if args.name else None
    async with profile(args) as accounts:
        server = accounts.server(args.server)
        account = accounts.account(server, args.account)
    run = launch(server.id, account.id, program=bridge_program())
    default = default_name(server.name, account.nickname or account.label, account.id)
    description = connector_description(server.name, account.display_name)
    if args.print:
        chosen = name or default
        console.result(snippet(host, chosen, entry_for(host, chosen, run, description=description)).rstrip("\n"))
        return EXIT_OK
    change = install(
        host,
        run,
        server_id=server.id,
        account_id=account.id,
        name=name,
        default_name=default,
        description=description,
    )
    entry = one_line(change.names[0])
    who = f"{server_name(server)} as {account_name(account)}"
    _said(
        console,
        change,
        f"Added {entry} to {host.name} ({_shown(change.path)}): it uses {who}. Restart {host.name} to use it.",
        f"{host.name} already has {entry} ({who}); nothing was changed.",
    )
    if account.state is not AccountState.SIGNED_IN:
        console.say(
            f"Note: {account_name(account)} is {account.state.value.replace('_', ' ')}; sign it in "
            f"({COMMAND} login {shell_word(server.name)} --account {account.id}) before the host uses it."
        )
    return EXIT_OK


async def run_uninstall(args: argparse.Namespace, console: Console) -> int:
    host = find_host(args.host)
    if not args.server and not args.name:
        raise ConfigurationError(
            "invalid_args", "Name the connector to remove: SERVER (with --account if it has several) or --name ENTRY."
        )
    server_id = account_id = None
    if args.server:
        async with profile(args) as accounts:
            server = accounts.server(args.server)
            account = accounts.account(server, args.account)
        server_id, account_id = server.id, account.id
    names = [check_name(args.name)] if args.name else []
    change = uninstall(host, names=names, server_id=server_id, account_id=account_id)
    removed = ", ".join(one_line(n) for n in change.names)
    _said(
        console,
        change,
        f"Removed {removed} from {host.name} ({_shown(change.path)}).",
        f"{host.name} has no such connector ({_shown(change.path)}); nothing was changed.",
    )
    return EXIT_OK
