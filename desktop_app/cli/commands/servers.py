"""The commands on servers: ``add``, ``list``, ``remove`` (a server, or one of its accounts, and what AI tools still
list of it) and ``consent`` (the pairing approved for one)."""

from __future__ import annotations

import argparse
import time

from desktop_app.accounts.lookup import find_account, find_server
from desktop_app.accounts.models import ServerSettings
from desktop_app.appinfo import COMMAND
from desktop_app.cli.arguments import settings_from
from desktop_app.cli.commands.accounts import say_revocation
from desktop_app.cli.console import Console
from desktop_app.cli.listing import listing
from desktop_app.cli.output import EXIT_ACTION, EXIT_OK
from desktop_app.cli.profile import profile
from desktop_app.cli.text import (
    URL_LIMIT,
    account_name,
    client_text,
    scope_list,
    server_name,
    shell_word,
    shown_url,
)
from desktop_app.errors import ConfigurationError, ConnectorError, one_line
from desktop_app.hosts.catalog import Host
from desktop_app.hosts.entries import Connector
from desktop_app.hosts.installer import connectors_of, survey, uninstall
from desktop_app.oauth import http as oauth_http

# oauth_http.new_client is looked up on its module at each call: tests put a scripted endpoint there.


async def run_add(args: argparse.Namespace, console: Console) -> int:
    async with profile(args) as accounts:
        settings, secret = settings_from(args, ServerSettings())
        server = accounts.add_server(args.url, name=args.name, settings=settings)
        if isinstance(secret, str):
            accounts.update_settings(server, settings, client_secret=secret)
        console.result(f"Added {server_name(server)} ({shown_url(server.url)}).")
        console.say(f"Sign in with: {COMMAND} login {shell_word(server.name)}")
    return EXIT_OK


async def run_list(args: argparse.Namespace, console: Console) -> int:
    async with profile(args) as accounts:
        console.result(listing(accounts.registry, accounts.secrets, now=accounts.clock(), as_json=args.json))
    return EXIT_OK


async def _confirmed(args: argparse.Namespace, console: Console, question: str, what: str) -> bool:
    """``--yes``, or the person's yes at the terminal; without a terminal to ask in, an error saying what to add."""
    if args.yes:
        return True
    if not console.has_terminal:
        raise ConfigurationError(
            "confirmation_needed",
            f"{what} needs your confirmation, but there is no terminal to ask in.",
            hint="Add --yes to remove it.",
        )
    answer = await console.answer(question)
    if answer.strip().lower() in ("y", "yes"):
        return True
    console.say("Nothing removed.")
    return False


async def run_remove(args: argparse.Namespace, console: Console) -> int:
    async with profile(args) as accounts:
        # Asked first, the person reads the full name in the question; --yes removes only what was named in full.
        server = find_server(accounts.registry, args.server, prefix=not args.yes)
        name = server_name(server)
        if args.account:
            account = find_account(accounts.registry, server, args.account, prefix=not args.yes)
            who = account_name(account)
            question = (
                f"Remove the account {who} from {name}? Its tokens are revoked where the server allows it and deleted "
                "from this machine, with its history. [y/N] "
            )
            if not await _confirmed(args, console, question, f"Removing {who}"):
                return EXIT_ACTION
            async with oauth_http.new_client(server_url=server.url) as http:
                result = await accounts.remove_account(http, account)
            say_revocation(console, result)
            others = len(accounts.registry.accounts(server.id))
            left = f"{others} other account{'s' if others != 1 else ''}" if others else "no accounts left"
            console.result(f"Removed {who} from {name}; {name} has {left}.")
            if not others:
                console.say(
                    f"Sign in again with '{COMMAND} login {shell_word(server.name)}', or remove the server with "
                    f"'{COMMAND} remove {shell_word(server.name)}'."
                )
            removed_ids = [account.id]
        else:
            count = len(accounts.registry.accounts(server.id))
            question = f"Remove {name} ({shown_url(server.url)}) and its {count} account(s)? [y/N] "
            if not await _confirmed(args, console, question, f"Removing {name}"):
                return EXIT_ACTION
            async with oauth_http.new_client(server_url=server.url) as http:
                removed, problems = await accounts.remove_server(http, server)
            for problem in problems:
                console.say(f"Note: {one_line(problem, URL_LIMIT)}")
            console.result(f"Removed {name} and {len(removed.accounts)} account(s).")
            removed_ids = [a.id for a in removed.accounts]
    return _left_in_hosts(console, server.id, removed_ids, take_out=args.from_hosts)


def _left_in_hosts(console: Console, server_id: int, account_ids: list[int], *, take_out: bool) -> int:
    """The AI tools that still list a removed account's connector: taken out (``take_out``), else named, each with
    the command that takes it out. A host whose file cannot be changed is named the same way (exit status 1)."""
    states = survey()
    left: dict[str, tuple[Host, list[Connector]]] = {}
    for account_id in account_ids:
        for host, connector in connectors_of(states, server_id, account_id):
            left.setdefault(host.id, (host, []))[1].append(connector)
    if not left:
        return EXIT_OK
    if take_out:
        for host_id, (host, connectors) in list(left.items()):
            try:
                change = uninstall(host, names=[c.name for c in connectors])
            except ConnectorError as exc:
                console.say(f"Could not change {host.name}: {one_line(exc.message, URL_LIMIT)}")
                continue
            taken = ", ".join(one_line(n) for n in change.names)
            console.say(f"Took {taken} out of {host.name} ({one_line(str(change.path), URL_LIMIT)}).")
            del left[host_id]
        if not left:
            return EXIT_OK
    console.say("These AI tools still list what was removed (they would only get an error from it now):")
    for host, connectors in left.values():
        console.say(f"  {host.name}: {', '.join(one_line(c.name) for c in connectors)}")
    console.say("Take them out with:")
    for host, connectors in left.values():
        for connector in connectors:
            console.say(f"  {COMMAND} uninstall --host {shell_word(host.id)} --name {shell_word(connector.name)}")
    return EXIT_ACTION if take_out else EXIT_OK


async def run_consent(args: argparse.Namespace, console: Console) -> int:
    async with profile(args) as accounts:
        server = accounts.server(args.server)
        consent = accounts.registry.consent(server.id)
        if args.withdraw:
            accounts.registry.withdraw_consent(server.id, now=accounts.clock())
            accounts.registry.add_event(
                server_id=server.id, account_id=None, kind="consent_withdrawn", detail="", now=accounts.clock()
            )
            console.result(
                f"Withdrew the approval for {server_name(server)}; the pairing will be shown again before the next "
                "sign-in."
            )
            return EXIT_OK
        if consent is None:
            console.result(f"No pairing is approved for {server_name(server)} yet.")
            return EXIT_OK
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(consent.approved_at))
        console.result(
            "\n".join(
                [
                    f"Approved on {when} for {server_name(server)}:",
                    f"  Server:               {shown_url(consent.resource)}",
                    f"  Authorization server: {shown_url(consent.issuer)}",
                    f"  Scopes:               {scope_list(consent.scopes) or '(none)'}",
                    f"  This app as:          {client_text(consent.client_kind, consent.client_id)}",
                ]
            )
        )
    return EXIT_OK
