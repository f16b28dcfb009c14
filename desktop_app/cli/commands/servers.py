"""The commands on servers: ``add``, ``list``, ``remove`` and ``consent`` (the pairing approved for one)."""

from __future__ import annotations

import argparse
import time

from desktop_app.accounts.consent import describe_client
from desktop_app.accounts.models import ServerSettings
from desktop_app.appinfo import COMMAND
from desktop_app.cli.arguments import settings_from
from desktop_app.cli.console import Console
from desktop_app.cli.listing import listing
from desktop_app.cli.output import EXIT_ACTION, EXIT_OK
from desktop_app.cli.profile import profile
from desktop_app.cli.text import (
    URL_LIMIT,
    scope_list,
    server_name,
    shell_word,
    shown_url,
)
from desktop_app.errors import ConfigurationError, one_line
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


async def run_remove(args: argparse.Namespace, console: Console) -> int:
    async with profile(args) as accounts:
        server = accounts.server(args.server)
        count = len(accounts.registry.accounts(server.id))
        question = f"Remove {server_name(server)} ({shown_url(server.url)}) and its {count} account(s)? [y/N] "
        if not args.yes:
            if not console.has_terminal:
                raise ConfigurationError(
                    "confirmation_needed",
                    f"Removing {server_name(server)} needs your confirmation, but there is no terminal to ask in.",
                    hint="Add --yes to remove it.",
                )
            answer = await console.answer(question)
            if answer.strip().lower() not in ("y", "yes"):
                console.say("Nothing removed.")
                return EXIT_ACTION
        async with oauth_http.new_client(server_url=server.url) as http:
            removed, problems = await accounts.remove_server(http, server)
        for problem in problems:
            console.say(f"Note: {one_line(problem, URL_LIMIT)}")
        console.result(f"Removed {server_name(server)} and {len(removed.accounts)} account(s).")
    return EXIT_OK


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
                    f"  This app as:          {shown_url(describe_client(consent.client_kind, consent.client_id))}",
                ]
            )
        )
    return EXIT_OK
