"""The commands on one account: ``login`` (a first, another, or the same account again), ``token``, ``logout`` and
``nickname``."""

from __future__ import annotations

import argparse

from desktop_app.accounts.manager import Accounts, SignOutResult
from desktop_app.accounts.models import Account, AccountState, Server
from desktop_app.cli.arguments import settings_changed, settings_from
from desktop_app.cli.console import Console, approver
from desktop_app.cli.output import EXIT_OK
from desktop_app.cli.profile import profile
from desktop_app.cli.text import URL_LIMIT, account_name, describe_state, scope_list, server_name, shown_url
from desktop_app.errors import ConfigurationError, one_line
from desktop_app.oauth import authorize
from desktop_app.oauth import http as oauth_http

# The engine's entry points are looked up on their modules at each call (oauth_http.new_client,
# authorize.system_browser): tests and the lab put scripted stand-ins there.


def _server_or_add(accounts: Accounts, text: str, console: Console) -> Server:
    found = accounts.registry.find_server(text)
    if found is not None:
        return found
    if "://" in text:
        server = accounts.add_server(text)
        console.say(f"Added {server_name(server)} ({shown_url(server.url)}).")
        return server
    return accounts.server(text)


async def run_login(args: argparse.Namespace, console: Console) -> int:
    if args.account and args.new_account:
        raise ConfigurationError("conflicting_options", "--account and --new-account cannot be used together.")
    if args.timeout <= 0:
        raise ConfigurationError("invalid_timeout", f"--timeout {args.timeout} must be positive.")
    async with profile(args) as accounts:
        server = _server_or_add(accounts, args.server, console)
        if settings_changed(args):
            settings, secret = settings_from(args, server.settings)
            server = accounts.update_settings(server, settings, client_secret=secret)
            console.say(f"Saved these sign-in settings for {server_name(server)}.")
        target: Account | None = None
        if args.account:
            target = accounts.account(server, args.account)
        elif not args.new_account:
            existing = accounts.registry.accounts(server.id)
            if len(existing) == 1:
                target = existing[0]
            elif len(existing) > 1:
                raise ConfigurationError(
                    "choose_account",
                    f"{server_name(server)} has several accounts ({', '.join(account_name(a) for a in existing)}).",
                    hint="Sign one in again with --account, or add another with --new-account.",
                )
        if target is not None:
            console.say(f"Signing in again as {account_name(target)}.")
        async with oauth_http.new_client(server_url=server.url) as http:
            result = await accounts.login(
                http,
                server,
                browser=authorize.system_browser,
                approve=approver(console, asked_for_sign_in=True),
                account=target,
                new_account=args.new_account,
                nickname=args.nickname,
                ask_nickname=console.ask_nickname,
                on_url=console.show_sign_in_url,
                timeout=args.timeout,
            )
        account = result.account
        now = accounts.clock()
        granted = scope_list(account.scopes) or "(none stated)"
        verb = "Added account" if result.created else "Signed in again:"
        console.say(f"{verb} {account_name(account)} on {server_name(server)} (id {account.id}); granted: {granted}.")
        console.result(f"{account.id}\t{account_name(account)}\t{describe_state(account, now)}")
    return EXIT_OK


async def run_token(args: argparse.Namespace, console: Console) -> int:
    """``token`` when the fresh-token path (:mod:`desktop_app.cli.quick`) stepped aside: a renewal, or a profile to
    clean up first."""
    async with profile(args) as accounts:
        server = accounts.server(args.server)
        account = accounts.account(server, args.account)
        # A fresh token needs no network: the HTTP client (httpcore, the CA bundle) is only made for a renewal.
        tokens = None if args.force else accounts.fresh_token(account)
        if tokens is None:
            async with oauth_http.new_client(server_url=server.url) as http:
                tokens = await accounts.token(http, account, force=args.force)
        console.result(tokens.access_token)
    return EXIT_OK


async def run_logout(args: argparse.Namespace, console: Console) -> int:
    async with profile(args) as accounts:
        server = accounts.server(args.server)
        everyone = accounts.registry.accounts(server.id)
        if not args.account and everyone and all(a.state is AccountState.SIGNED_OUT for a in everyone):
            console.say(f"Every account on {server_name(server)} is already signed out.")
            return EXIT_OK
        account = accounts.account(server, args.account)
        if account.state is AccountState.SIGNED_OUT:
            console.say(f"{account_name(account)} on {server_name(server)} is already signed out.")
            return EXIT_OK
        async with oauth_http.new_client(server_url=server.url) as http:
            result = await accounts.logout(http, account)
        say_revocation(console, result)
        console.result(
            f"Signed out {account_name(account)} on {server_name(server)}; its tokens were deleted from this machine."
        )
    return EXIT_OK


def say_revocation(console: Console, result: SignOutResult) -> None:
    """What the authorization server revoked when an account was signed out or removed, and what it could not."""
    if result.revoked:
        revoked = ", ".join(one_line(r.replace("_", " ")) for r in result.revoked)
        console.say(f"Revoked at {shown_url(result.account.issuer)}: {revoked}.")
    for note in (*result.notes, *result.problems):
        console.say(f"Note: {one_line(note, URL_LIMIT)}")


async def run_nickname(args: argparse.Namespace, console: Console) -> int:
    async with profile(args) as accounts:
        server = accounts.server(args.server)
        account = accounts.account(server, args.account)
        saved = accounts.set_nickname(account, args.nickname)
        console.result(f"Account {saved.id} on {server_name(server)} is now shown as {account_name(saved)}.")
    return EXIT_OK
