"""``tools`` and ``call``: a server's tools, with a stored account's token (renewed, or stepped up, on the way).

``tools SERVER`` lists them live with each one's state for the account's connector (on, off, held: why), and records
the list as a bridge would (its first use pins the definitions; a change or a new tool is held). The other ``tools``
actions (enable, disable, review, settings) are :mod:`desktop_app.cli.commands.tool_control`'s. ``call`` is the
person's own call: tool control does not stand in their way.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

import httpx

from desktop_app import mcp
from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, Server
from desktop_app.accounts.session import StoredSession
from desktop_app.appinfo import COMMAND
from desktop_app.cli.arguments import tool_arguments
from desktop_app.cli.commands.tool_control import run_tool_action, tools_action
from desktop_app.cli.console import Console, approver
from desktop_app.cli.output import EXIT_OK, EXIT_TOOL_ERROR
from desktop_app.cli.profile import profile
from desktop_app.cli.text import scope_list, server_name, shell_word
from desktop_app.cli.tool_control_text import command_for, state_word, tool_state_line
from desktop_app.cli.tool_text import connected_line, format_tool_result, tool_name
from desktop_app.errors import ConfigurationError, TokenRejected, one_line
from desktop_app.mcp.client import REQUEST_DEADLINE
from desktop_app.oauth import authorize
from desktop_app.oauth import http as oauth_http
from desktop_app.storage.tool_store import SqliteToolStore
from desktop_app.tools.control import ToolControl
from desktop_app.tools.live_check import check_live, pins_of, record_check

# The engine's entry points are looked up on their modules at each call (oauth_http.new_client,
# authorize.system_browser, mcp.McpClient): tests and the lab put scripted stand-ins there.

#: What a command does with the session: the exit status it returns.
Work = Callable[[Accounts, Server, StoredSession, httpx.AsyncClient], Awaitable[int]]


def _reauthorizer(
    accounts: Accounts, http: httpx.AsyncClient, server: Server, console: Console
) -> Callable[[Account, tuple[str, ...]], Awaitable[Account]]:
    async def reauthorize(account: Account, scopes: tuple[str, ...]) -> Account:
        console.say(f"{server_name(server)} asks for more permissions: {scope_list(scopes)}.")
        result = await accounts.login(
            http,
            server,
            browser=authorize.system_browser,
            # Met on the way to a tool: --yes approves more scopes at the same authorization server, nothing else.
            approve=approver(console, asked_for_sign_in=False),
            account=account,
            on_url=console.show_sign_in_url,
            extra_scopes=scopes,
        )
        return result.account

    return reauthorize


async def _with_session(args: argparse.Namespace, console: Console, work: Work) -> int:
    """Run ``work`` with the session of ``--account`` on ``SERVER``."""
    async with profile(args) as accounts:
        server = accounts.server(args.server)
        account = accounts.account(server, args.account)
        async with oauth_http.new_client(server_url=server.url) as http:
            session = accounts.session(
                http, account, server, reauthorize=_reauthorizer(accounts, http, server, console)
            )
            try:
                return await work(accounts, server, session, http)
            except TokenRejected:
                if session.renewed_after_rejection:
                    session.mark_rejected("the server refused a freshly renewed access token")
                raise


async def run_tools(args: argparse.Namespace, console: Console) -> int:
    found = tools_action(args)
    if found.action != "list":
        return await run_tool_action(found, args, console)
    args.server = found.server

    async def work(accounts: Accounts, server: Server, session: StoredSession, http: httpx.AsyncClient) -> int:
        live = await check_live(
            http,
            server.id,
            server.resource,
            session.auth(),
            pins_of(accounts.registry),
            clock=accounts.clock,
            on_connected=lambda info: console.say(
                connected_line(info, server.name, account=session.account.display_name)
            ),
        )
        account = session.account
        tools = live.tools
        found = live.assessment.attestation
        observed = record_check(live, ToolControl(SqliteToolStore.of(accounts.registry)), account.id)
        if found.server_refused is not None:
            console.say(
                f"The server's identity is not accepted ({one_line(found.server_refused)}): AI tools get none of its "
                f"tools, and nothing was recorded. See: {COMMAND} identity {shell_word(server.name)}"
            )
        console.result(f"{len(tools)} tool(s):")
        for tool in tools:
            record = observed.book.records.get(tool.name)
            state = state_word(record, unusable=observed.unusable.get(tool.name))
            console.result(tool_state_line(tool.name, state, tool.description))
        waiting = sum(1 for r in observed.book.records.values() if r.waits_for_review)
        if waiting:
            console.say(f"{waiting} tool(s) wait for your review: {command_for(server.name, account.id, 'review')}")
        return EXIT_OK

    return await _with_session(args, console, work)


async def run_call(args: argparse.Namespace, console: Console) -> int:
    tool_args = tool_arguments(args.args)
    if args.deadline is not None and not args.deadline > 0:
        raise ConfigurationError("invalid_deadline", f"--deadline {args.deadline} must be a positive number.")

    async def work(accounts: Accounts, server: Server, session: StoredSession, http: httpx.AsyncClient) -> int:
        client = mcp.McpClient(http, server.resource, auth=session.auth(), deadline=args.deadline or REQUEST_DEADLINE)
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
        return EXIT_OK

    return await _with_session(args, console, work)
