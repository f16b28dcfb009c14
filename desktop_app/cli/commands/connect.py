"""``connect``: sign in to an MCP server once, nothing stored, and list (or call) its tools.

The sign-in is ``login``'s, on stores that keep nothing (:mod:`desktop_app.storage.memory`): the same pairing text,
the same questions, the same step-ups."""

from __future__ import annotations

import argparse

from desktop_app import mcp
from desktop_app.accounts import session
from desktop_app.accounts.manager import Accounts
from desktop_app.cli.arguments import connect_settings, tool_arguments
from desktop_app.cli.console import Console, approver
from desktop_app.cli.output import EXIT_OK, EXIT_TOOL_ERROR
from desktop_app.cli.text import scope_list
from desktop_app.cli.tool_text import connected_line, format_tool_result, tool_lines, tool_name
from desktop_app.errors import SignInRequired, one_line
from desktop_app.oauth import authorize
from desktop_app.oauth import http as oauth_http
from desktop_app.oauth.trace import Trace
from desktop_app.storage.memory import memory_stores

# The engine's entry points are looked up on their modules at each call (session.connect, oauth_http.new_client,
# authorize.system_browser, mcp.McpClient): tests and the lab put scripted stand-ins there.


async def run_connect(args: argparse.Namespace, console: Console) -> int:
    tool_args = tool_arguments(args.args)
    settings, client_secret = connect_settings(args)
    registry, secrets, locks = memory_stores()
    accounts = Accounts(registry, secrets, locks)
    try:
        async with oauth_http.new_client(server_url=args.url) as http:
            connection = await session.connect(
                accounts,
                http,
                args.url,
                browser=authorize.system_browser,
                # A sign-in the person asked for, and the step-ups it meets on the way.
                approve=approver(console, asked_for_sign_in=True),
                settings=settings,
                client_secret=client_secret,
                on_url=console.show_sign_in_url,
                trace=Trace(),
                timeout=args.timeout,
            )
            if connection.session is None:
                console.say(f"{args.url} does not ask for a sign-in.")
            else:
                tokens = await connection.session.token()
                granted = scope_list(tokens.scopes) or "(none stated)"
                console.say(f"Signed in at {one_line(tokens.issuer, 4096)}; granted scopes: {granted}.")
            client = mcp.McpClient(http, connection.server.resource, auth=connection.auth())
            try:
                info = await client.initialize()
                console.say(connected_line(info, "the server"))
                tools = await client.list_tools()
                console.result(f"{len(tools)} tool(s):")
                for line in tool_lines(tools):
                    console.result(line)
                if args.call:
                    result = await client.call_tool(args.call, tool_args)
                    text = format_tool_result(result)
                    console.result(f"Result of {tool_name(args.call)}:" + ("" if not text else f"\n{text}"))
                    if result.is_error:
                        console.say(f"The tool {tool_name(args.call)} reported an error.")
                        return EXIT_TOOL_ERROR
            finally:
                await client.close()
    except SignInRequired as exc:
        # The account of this run is kept nowhere: no command can sign it in again, only connect itself.
        exc.account_id = exc.server = None
        exc.hint = exc.hint or "Sign in again: run the same connect command."
        raise
    finally:
        registry.close()
    return EXIT_OK
