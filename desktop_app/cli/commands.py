"""The commands that use the profile: add, login, list, tools, call, token, logout, remove, doctor, nickname, consent.

Each takes the parsed arguments and a :class:`~desktop_app.cli.main.Console`, and returns an exit code; errors are
raised as :class:`~desktop_app.errors.ConnectorError` and worded by ``main``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from desktop_app.accounts.manager import Accounts, StoredSession, metadata_from_json
from desktop_app.accounts.models import Account, AccountState, Server, ServerSettings
from desktop_app.appinfo import COMMAND
from desktop_app.cli.text import (
    URL_LIMIT,
    connected_line,
    format_tool_result,
    scope_list,
    shown_url,
    tool_lines,
    tool_name,
)
from desktop_app.errors import ConfigurationError, ConnectorError, SignInRequired, one_line
from desktop_app.oauth.redact import redact

# asyncio, httpx and the OAuth engine are imported inside the commands that talk to a server: `token` with a fresh
# token (token_if_fresh) needs none of them.
if TYPE_CHECKING:
    import httpx

    from desktop_app.accounts.consent import PairingCheck
    from desktop_app.cli.main import Console


# -- wording helpers -----------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def describe_state(account: Account, now: float) -> str:
    if account.state is AccountState.SIGNED_OUT:
        return "signed out"
    if account.state is AccountState.NEEDS_SIGN_IN:
        return "needs sign-in"
    if account.expires_at is None:
        text = "signed in"
    elif account.expires_at > now:
        text = f"signed in · expires in {human_duration(account.expires_at - now)}"
    elif account.has_refresh_token:
        text = "signed in · renews on next use"
    else:
        text = "expired"
    if account.last_error:
        text += " · last renewal failed"
    return text


def _settings_from_args(args: argparse.Namespace, base: ServerSettings) -> tuple[ServerSettings, str | bool | None]:
    """Apply the sign-in options given on the command line to a server's settings.

    Returns the new settings and the client secret to store (a string), to delete (None) or to leave (False).
    """
    import dataclasses
    import os

    from desktop_app.cli.main import _scopes

    changes: dict[str, Any] = {}
    secret: str | bool | None = False
    if getattr(args, "client_id", None):
        changes.update(registration="preregistered", client_id=args.client_id, client_auth=args.client_auth)
        given = args.client_secret or os.environ.get("MCP_CONNECTORS_CLIENT_SECRET") or None
        secret = given if given else None
    elif getattr(args, "client_secret", None) or getattr(args, "client_auth", None):
        raise ConfigurationError("missing_client_id", "--client-secret and --client-auth need --client-id.")
    if getattr(args, "client_metadata_url", None):
        changes.update(client_metadata_url=args.client_metadata_url)
        if "registration" not in changes and base.registration == "automatic":
            changes["registration"] = "cimd"
    scopes = _scopes(getattr(args, "scope", None))
    if scopes is not None:
        changes["scopes"] = scopes
    if getattr(args, "no_resource", False):
        changes["send_resource"] = False
    if getattr(args, "no_identity", False):
        changes["request_identity"] = False
    port = getattr(args, "callback_port", None)
    if port is not None:
        if not 0 <= port <= 65535:
            raise ConfigurationError("invalid_port", f"--callback-port {port} is not a port number.")
        changes["callback_port"] = port
    return dataclasses.replace(base, **changes), secret


def _settings_changed(args: argparse.Namespace) -> bool:
    return any(
        getattr(args, name, None) not in (None, False)
        for name in ("client_id", "client_metadata_url", "scope", "no_resource", "no_identity", "callback_port")
    )


# -- the profile, opened once per command ------------------------------------------------------------------------


async def open_profile(args: argparse.Namespace) -> Accounts:
    """Open the profile and finish anything a crashed process left half-done (see ``clean_pending_secrets``)."""
    from desktop_app.storage.profile import open_accounts

    accounts = open_accounts(secret_store=getattr(args, "secret_store", None))
    try:
        await accounts.clean_pending_secrets()
    except BaseException:
        accounts.registry.close()
        raise
    return accounts


def _server_or_add(accounts: Accounts, text: str, console: Console) -> Server:
    found = accounts.registry.find_server(text)
    if found is not None:
        return found
    if "://" in text:
        server = accounts.add_server(text)
        console.say(f"Added {_name(server)} ({shown_url(server.url)}).")
        return server
    return accounts.server(text)


# -- add -----------------------------------------------------------------------------------------------------


async def run_add(args: argparse.Namespace, console: Console) -> int:
    accounts = await open_profile(args)
    try:
        settings, secret = _settings_from_args(args, ServerSettings())
        server = accounts.add_server(args.url, name=args.name, settings=settings)
        if isinstance(secret, str):
            accounts.update_settings(server, settings, client_secret=secret)
        console.result(f"Added {_name(server)} ({shown_url(server.url)}).")
        console.say(f"Sign in with: {COMMAND} login {_quote(server.name)}")
    finally:
        accounts.registry.close()
    return 0


def _quote(text: str) -> str:
    """A word to paste into a shell: quoted, and printable on one line (a name with a control character or a line
    break in it comes out changed: it is not pasted whole)."""
    import shlex

    quoted = shlex.quote(text)
    return quoted if quoted.isprintable() else one_line(quoted, 1000)


def _name(server: Server) -> str:
    return one_line(server.name)


def _who(account: Account) -> str:
    """An account as the person knows it: its nickname and the label its id_token (or the person) gave it."""
    return one_line(account.display_name)


# -- login ---------------------------------------------------------------------------------------------------


def _approver(console: Console, *, asked_for_sign_in: bool) -> Callable[[PairingCheck], Awaitable[bool]]:
    """The ``approve`` of a sign-in: :meth:`Console.approve`, where ``--yes`` approves only what
    ``unattended_refusal`` allows (``asked_for_sign_in``: ``login``; not a step-up met by ``tools`` or ``call``)."""
    return functools.partial(console.approve, asked_for_sign_in=asked_for_sign_in)


def _nickname_asker(console: Console) -> Callable[[], Awaitable[str | None]]:
    async def ask() -> str | None:
        import asyncio

        console.say("The server did not say who signed in.")
        if not console.stdin.isatty():
            return None
        answer = await asyncio.to_thread(console.ask, "A name for this account (Enter for a default): ")
        return answer.strip() or None

    return ask


def _show_url(console: Console) -> Callable[[str], None]:
    from desktop_app.cli.main import show_sign_in_url

    return functools.partial(show_sign_in_url, console)


async def run_login(args: argparse.Namespace, console: Console) -> int:
    from desktop_app.oauth.authorize import system_browser
    from desktop_app.oauth.http import new_client

    if args.account and args.new_account:
        raise ConfigurationError("conflicting_options", "--account and --new-account cannot be used together.")
    if args.timeout <= 0:
        raise ConfigurationError("invalid_timeout", f"--timeout {args.timeout} must be positive.")
    accounts = await open_profile(args)
    try:
        server = _server_or_add(accounts, args.server, console)
        if _settings_changed(args):
            settings, secret = _settings_from_args(args, server.settings)
            server = accounts.update_settings(server, settings, client_secret=secret)
            console.say(f"Saved these sign-in settings for {_name(server)}.")
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
                    f"{_name(server)} has several accounts ({', '.join(_who(a) for a in existing)}).",
                    hint="Sign one in again with --account, or add another with --new-account.",
                )
        if target is not None:
            console.say(f"Signing in again as {_who(target)}.")
        async with new_client(server_url=server.url) as http:
            result = await accounts.login(
                http,
                server,
                browser=system_browser,
                approve=_approver(console, asked_for_sign_in=True),
                account=target,
                new_account=args.new_account,
                nickname=args.nickname,
                ask_nickname=_nickname_asker(console),
                on_url=_show_url(console),
                timeout=args.timeout,
            )
        account = result.account
        now = accounts.clock()
        granted = scope_list(account.scopes) or "(none stated)"
        verb = "Added account" if result.created else "Signed in again:"
        console.say(f"{verb} {_who(account)} on {_name(server)} (id {account.id}); granted: {granted}.")
        console.result(f"{account.id}\t{_who(account)}\t{describe_state(account, now)}")
    finally:
        accounts.registry.close()
    return 0


# -- list ----------------------------------------------------------------------------------------------------


def list_rows(accounts: Accounts, every_account: list[Account] | None = None) -> list[dict[str, Any]]:
    """The servers and their accounts as plain data; ``every_account``: the registry's accounts, if already read."""
    servers = accounts.registry.servers()
    by_server: dict[int, list[Account]] = {}
    for account in every_account if every_account is not None else accounts.registry.accounts():
        by_server.setdefault(account.server_id, []).append(account)
    rows = []
    for server in servers:
        rows.append(
            {
                "id": server.id,
                "name": server.name,
                "url": server.url,
                "resource_name": server.resource_name,
                "accounts": [
                    {
                        "id": a.id,
                        "label": a.label,
                        "nickname": a.nickname,
                        "state": a.state.value,
                        "issuer": a.issuer,
                        "scopes": list(a.scopes),
                        "expires_at": a.expires_at,
                        "last_refresh": a.last_refresh,
                        "last_error": a.last_error,
                    }
                    for a in by_server.get(server.id, [])
                ],
            }
        )
    return rows


async def run_list(args: argparse.Namespace, console: Console) -> int:
    accounts = await open_profile(args)
    try:
        every_account = accounts.registry.accounts()  # read once: ~18 ms for 1,500 accounts
        rows = list_rows(accounts, every_account)
        if args.json:
            console.result(json.dumps({"secret_store": accounts.secrets.description, "servers": rows}, indent=2))
            return 0
        now = accounts.clock()
        lines = [f"Secrets are kept in: {accounts.secrets.description}"]
        check = getattr(accounts.secrets, "check", None)
        if callable(check):
            try:
                check()
            except ConnectorError as exc:
                lines.append(f"  Warning: {one_line(exc.message, URL_LIMIT)}")
        if accounts.secrets.kind != "keyring":
            lines.append(
                "  Warning: this file store is NOT encrypted; anyone who can read the file can use your logins."
            )
        if not rows:
            lines.append(f"No servers yet. Add one with: {COMMAND} add URL")
        all_accounts = {a.id: a for a in every_account}
        for row in rows:
            title = one_line(row["name"]) + (f" — {one_line(row['resource_name'])}" if row["resource_name"] else "")
            lines.append(f"{title}  {shown_url(row['url'])}")
            if not row["accounts"]:
                lines.append(f"    no accounts — sign in with: {COMMAND} login {_quote(row['name'])}")
            for data in row["accounts"]:
                account = all_accounts[data["id"]]
                parts = [f"    {account.id:>4}  {_who(account)}", describe_state(account, now)]
                if account.scopes:
                    parts.append("scopes: " + scope_list(account.scopes))
                if account.last_refresh:
                    parts.append(f"renewed {human_duration(now - account.last_refresh)} ago")
                if account.last_error and account.state is not AccountState.SIGNED_OUT:
                    parts.append(f"({one_line(account.last_error, 120)})")
                lines.append("  ·  ".join(parts))
        console.result("\n".join(lines))
    finally:
        accounts.registry.close()
    return 0


# -- tools, call, token ------------------------------------------------------------------------------------------


def _reauthorizer(
    accounts: Accounts, http: httpx.AsyncClient, server: Server, console: Console
) -> Callable[[Account, tuple[str, ...]], Awaitable[Account]]:
    from desktop_app.oauth.authorize import system_browser

    async def reauthorize(account: Account, scopes: tuple[str, ...]) -> Account:
        console.say(f"{_name(server)} asks for more permissions: {scope_list(scopes)}.")
        result = await accounts.login(
            http,
            server,
            browser=system_browser,
            # Met on the way to a tool: --yes approves more scopes at the same authorization server, nothing else.
            approve=_approver(console, asked_for_sign_in=False),
            account=account,
            on_url=_show_url(console),
            extra_scopes=scopes,
        )
        return result.account

    return reauthorize


async def _with_session(
    args: argparse.Namespace,
    console: Console,
    work: Callable[[Accounts, Server, StoredSession, httpx.AsyncClient], Awaitable[int]],
) -> int:
    from desktop_app.oauth.http import new_client

    accounts = await open_profile(args)
    try:
        server = accounts.server(args.server)
        account = accounts.account(server, args.account)
        async with new_client(server_url=server.url) as http:
            session = accounts.session(
                http, account, server, reauthorize=_reauthorizer(accounts, http, server, console)
            )
            try:
                return await work(accounts, server, session, http)
            except SignInRequired as exc:
                if exc.code == "sign_in_required" and session.renewed_after_rejection:
                    session.mark_rejected("the server refused a freshly renewed access token")
                raise
    finally:
        accounts.registry.close()


async def run_tools(args: argparse.Namespace, console: Console) -> int:
    async def work(accounts: Accounts, server: Server, session: StoredSession, http: httpx.AsyncClient) -> int:
        from desktop_app.mcp import McpClient

        client = McpClient(http, server.resource, auth=session.auth())
        try:
            info = await client.initialize()
            console.say(connected_line(info, server.name, account=session.account.display_name))
            tools = await client.list_tools()
            console.result(f"{len(tools)} tool(s):")
            for line in tool_lines(tools):
                console.result(line)
        finally:
            await client.close()
        return 0

    return await _with_session(args, console, work)


async def run_call(args: argparse.Namespace, console: Console) -> int:
    from desktop_app.cli.main import EXIT_TOOL_ERROR, tool_arguments

    tool_args = tool_arguments(args.args)
    if args.deadline is not None and not args.deadline > 0:
        raise ConfigurationError("invalid_deadline", f"--deadline {args.deadline} must be a positive number.")

    async def work(accounts: Accounts, server: Server, session: StoredSession, http: httpx.AsyncClient) -> int:
        from desktop_app.mcp import McpClient
        from desktop_app.mcp.client import REQUEST_DEADLINE

        client = McpClient(http, server.resource, auth=session.auth(), deadline=args.deadline or REQUEST_DEADLINE)
        try:
            await client.initialize()
            result = await client.call_tool(args.tool, tool_args)
        finally:
            await client.close()
        text = format_tool_result(result)
        if text:
            console.result(text)
        if result.is_error:
            console.say(f"The tool {tool_name(args.tool)} reported an error.")
            return EXIT_TOOL_ERROR
        return 0

    return await _with_session(args, console, work)


def token_if_fresh(args: argparse.Namespace, console: Console) -> int | None:
    """``token`` when the stored token needs no renewal: print it and return 0. None when it must be renewed
    (``--force``, or about to expire), or when a crash left something for :func:`open_profile` to finish: then
    :func:`run_token` does the rest.

    Synchronous, and imports neither asyncio, httpx nor the OAuth engine: a script asking for a token pays for
    SQLite and one keyring read (benchmarks/accounts_cli.py). Errors are the same as :func:`run_token`'s.
    """
    if args.force:
        return None
    from desktop_app.storage.profile import open_accounts

    accounts = open_accounts(secret_store=getattr(args, "secret_store", None))
    try:
        if accounts.registry.stale_pending_secrets(older_than=accounts.clock() + 1):
            return None  # an interrupted sign-in or sign-out to finish first, under the account locks
        server = accounts.server(args.server)
        account = accounts.account(server, args.account)
        tokens = accounts.fresh_token(account)
        if tokens is None:
            return None
        console.result(tokens.access_token)
    finally:
        accounts.registry.close()
    return 0


async def run_token(args: argparse.Namespace, console: Console) -> int:
    accounts = await open_profile(args)
    try:
        server = accounts.server(args.server)
        account = accounts.account(server, args.account)
        # A fresh token needs no network: the HTTP client (httpcore, the CA bundle) is only made for a renewal.
        tokens = None if args.force else accounts.fresh_token(account)
        if tokens is None:
            from desktop_app.oauth.http import new_client

            async with new_client(server_url=server.url) as http:
                tokens = await accounts.token(http, account, force=args.force)
        console.result(tokens.access_token)
    finally:
        accounts.registry.close()
    return 0


# -- logout, remove ---------------------------------------------------------------------------------------------


async def run_logout(args: argparse.Namespace, console: Console) -> int:
    from desktop_app.oauth.http import new_client

    accounts = await open_profile(args)
    try:
        server = accounts.server(args.server)
        everyone = accounts.registry.accounts(server.id)
        if not args.account and everyone and all(a.state is AccountState.SIGNED_OUT for a in everyone):
            console.say(f"Every account on {_name(server)} is already signed out.")
            return 0
        account = accounts.account(server, args.account)
        if account.state is AccountState.SIGNED_OUT:
            console.say(f"{_who(account)} on {_name(server)} is already signed out.")
            return 0
        async with new_client(server_url=server.url) as http:
            result = await accounts.logout(http, account)
        if result.revoked:
            revoked = ", ".join(one_line(r.replace("_", " ")) for r in result.revoked)
            console.say(f"Revoked at {shown_url(account.issuer)}: {revoked}.")
        for note in (*result.notes, *result.problems):
            console.say(f"Note: {one_line(note, URL_LIMIT)}")
        console.result(f"Signed out {_who(account)} on {_name(server)}; its tokens were deleted from this machine.")
    finally:
        accounts.registry.close()
    return 0


async def run_remove(args: argparse.Namespace, console: Console) -> int:
    from desktop_app.oauth.http import new_client

    accounts = await open_profile(args)
    try:
        server = accounts.server(args.server)
        count = len(accounts.registry.accounts(server.id))
        question = f"Remove {_name(server)} ({shown_url(server.url)}) and its {count} account(s)? [y/N] "
        if not args.yes:
            if not console.stdin.isatty():
                raise ConfigurationError(
                    "confirmation_needed",
                    f"Removing {_name(server)} needs your confirmation, but there is no terminal to ask in.",
                    hint="Add --yes to remove it.",
                )
            import asyncio

            answer = await asyncio.to_thread(console.ask, question)
            if answer.strip().lower() not in ("y", "yes"):
                console.say("Nothing removed.")
                return 1
        async with new_client(server_url=server.url) as http:
            removed, problems = await accounts.remove_server(http, server)
        for problem in problems:
            console.say(f"Note: {one_line(problem, URL_LIMIT)}")
        console.result(f"Removed {_name(server)} and {len(removed.accounts)} account(s).")
    finally:
        accounts.registry.close()
    return 0


# -- nickname, consent -----------------------------------------------------------------------------------------------


async def run_nickname(args: argparse.Namespace, console: Console) -> int:
    accounts = await open_profile(args)
    try:
        server = accounts.server(args.server)
        account = accounts.account(server, args.account)
        saved = accounts.set_nickname(account, args.nickname)
        console.result(f"Account {saved.id} on {_name(server)} is now shown as {_who(saved)}.")
    finally:
        accounts.registry.close()
    return 0


async def run_consent(args: argparse.Namespace, console: Console) -> int:
    from desktop_app.accounts.consent import describe_client

    accounts = await open_profile(args)
    try:
        server = accounts.server(args.server)
        consent = accounts.registry.consent(server.id)
        if args.withdraw:
            accounts.registry.withdraw_consent(server.id, now=accounts.clock())
            accounts.registry.add_event(
                server_id=server.id, account_id=None, kind="consent_withdrawn", detail="", now=accounts.clock()
            )
            console.result(
                f"Withdrew the approval for {_name(server)}; the pairing will be shown again before the next sign-in."
            )
            return 0
        if consent is None:
            console.result(f"No pairing is approved for {_name(server)} yet.")
            return 0
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(consent.approved_at))
        console.result(
            "\n".join(
                [
                    f"Approved on {when} for {_name(server)}:",
                    f"  Server:               {shown_url(consent.resource)}",
                    f"  Authorization server: {shown_url(consent.issuer)}",
                    f"  Scopes:               {scope_list(consent.scopes) or '(none)'}",
                    f"  This app as:          {shown_url(describe_client(consent.client_kind, consent.client_id))}",
                ]
            )
        )
    finally:
        accounts.registry.close()
    return 0


# -- doctor --------------------------------------------------------------------------------------------------


async def run_doctor(args: argparse.Namespace, console: Console) -> int:
    """A redacted report safe to paste into a bug report: no token, code, secret or Authorization header."""
    from desktop_app.oauth.http import new_client
    from desktop_app.storage.paths import data_dir

    lines: list[str] = [f"{COMMAND} doctor — safe to share: no tokens, codes or secrets are included."]
    accounts = await open_profile(args)
    try:
        lines.append(f"Profile: {data_dir()}")
        lines.append(f"Secrets: {accounts.secrets.description}")
        check = getattr(accounts.secrets, "check", None)
        if callable(check):
            try:
                check()
                lines.append("  keyring: usable")
            except ConnectorError as exc:
                lines.append(f"  keyring: NOT usable — {one_line(exc.message, URL_LIMIT)}")
        servers = [accounts.server(args.server)] if args.server else accounts.registry.servers()
        if not servers:
            lines.append("No servers.")
        for server in servers:
            async with new_client(server_url=server.url) as http:
                lines.extend(await _diagnose(accounts, http, server))
    finally:
        accounts.registry.close()
    console.result(redact("\n".join(lines)))
    return 0


async def _diagnose(accounts: Accounts, http: httpx.AsyncClient, server: Server) -> list[str]:
    from desktop_app.mcp import LEGACY_VERSIONS, McpClient, build_probe_request
    from desktop_app.oauth.flow import NoAuthorizationNeeded, SignIn
    from desktop_app.oauth.trace import Trace

    lines = ["", f"== {_name(server)}: {shown_url(server.url)}", f"resource: {shown_url(server.resource)}"]
    s = server.settings
    lines.append(
        f"settings: registration={s.registration} send_resource={s.send_resource} "
        f"request_identity={s.request_identity} callback_port={s.callback_port or 'any'} "
        f"scopes={scope_list(s.scopes) if s.scopes is not None else '(server default)'}"
    )
    trace = Trace()
    signin = SignIn(
        http, server.url, options=accounts.sign_in_options(server), store=accounts.registrations, trace=trace
    )
    issuer = None
    try:
        discovery = await signin.discover(
            build_probe_request(server.url), build_probe_request(server.url, LEGACY_VERSIONS[0])
        )
        metadata = discovery.metadata
        issuer = metadata.issuer
        lines.append("discovery:")
        lines.extend(f"  {shown_url(line)}" for line in trace.lines())
        lines.append(f"  authorization server: {shown_url(metadata.issuer)}")
        lines.append(f"  token endpoint: {shown_url(metadata.token_endpoint)}")
        lines.append(f"  revocation: {shown_url(metadata.revocation_endpoint or 'not offered')}")
        lines.append(f"  scopes the server asks for: {scope_list(signin.requested_scopes) or '(none)'}")
    except NoAuthorizationNeeded:
        lines.append("discovery: the server answers without asking for a sign-in.")
    except ConnectorError as exc:
        lines.append("discovery:")
        lines.extend(f"  {shown_url(line)}" for line in trace.lines())
        lines.append(f"  FAILED [{one_line(exc.code, 60)}]: {one_line(exc.message, URL_LIMIT)}")
    lines.append("registration:")
    registrations = [r for r in accounts.registry.registrations() if issuer is None or r.issuer == issuer]
    if not registrations:
        lines.append("  none stored (the next sign-in registers or uses the configured client)")
    for r in registrations:
        lines.append(
            f"  {one_line(r.method)} client {shown_url(r.client_id)} at {shown_url(r.issuer)} "
            f"(auth {one_line(r.token_endpoint_auth_method)}"
            f"{', secret in the keyring' if r.has_secret else ''}{'' if r.current else ', retired'})"
        )
        if r.redirect_uris:
            lines.append(f"    redirect URIs: {' '.join(shown_url(uri) for uri in r.redirect_uris)}")
    consent = accounts.registry.consent(server.id)
    if consent is None:
        lines.append("pairing: not approved yet")
    else:
        lines.append(f"pairing: approved {shown_url(consent.issuer)} · scopes {scope_list(consent.scopes) or '(none)'}")
        if issuer is not None and issuer != consent.issuer:
            lines.append(f"  CHANGED: the server now uses {shown_url(issuer)}")
    now = accounts.clock()
    lines.append("accounts:")
    server_accounts = accounts.registry.accounts(server.id)
    if not server_accounts:
        lines.append("  none")
    for account in server_accounts:
        lines.append(f"  {account.id} {_who(account)} [{account.identity_source}]: {describe_state(account, now)}")
        if account.last_error:
            lines.append(f"    last problem: {one_line(account.last_error)}")
        for event in accounts.registry.events(account_id=account.id, limit=5):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.at))
            lines.append(f"    {when} {one_line(event.kind)} {one_line(event.detail, 160)}")
        if account.state is not AccountState.SIGNED_IN:
            continue
        token_trace = Trace()
        try:
            await accounts.token(http, account, trace=token_trace)
            lines.extend(f"    {shown_url(line)}" for line in token_trace.lines())
            lines.append("    token: usable")
            session = accounts.session(http, account, server)
            client = McpClient(http, server.resource, auth=session.auth())
            try:
                info = await client.initialize()
                said = f"{one_line(info.name or '') or '?'} {one_line(info.version or '', 60)}"
                lines.append(f"    MCP: {said} (MCP {one_line(info.protocol_version, 40)}) answered")
            finally:
                await client.close()
        except ConnectorError as exc:
            lines.extend(f"    {shown_url(line)}" for line in token_trace.lines())
            lines.append(f"    FAILED [{one_line(exc.code, 60)}]: {one_line(exc.message, URL_LIMIT)}")
    if issuer is not None:
        cached = accounts.registry.metadata(issuer)
        if cached is not None:
            lines.append(f"cached metadata for {shown_url(metadata_from_json(cached).issuer)}: yes")
    return lines
