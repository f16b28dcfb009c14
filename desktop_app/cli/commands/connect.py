"""``connect``: sign in to an MCP server once, nothing stored, and list (or call) its tools."""

from __future__ import annotations

import argparse

from desktop_app import mcp
from desktop_app.accounts import session
from desktop_app.cli.arguments import options_from, tool_arguments
from desktop_app.cli.console import Console
from desktop_app.cli.output import EXIT_OK, EXIT_TOOL_ERROR
from desktop_app.cli.text import connected_line, format_tool_result, scope_list, tool_lines, tool_name
from desktop_app.errors import one_line
from desktop_app.oauth import authorize
from desktop_app.oauth import http as oauth_http
from desktop_app.oauth.trace import Trace

# The engine's entry points are looked up on their modules at each call (session.connect, oauth_http.new_client,
# authorize.system_browser, mcp.McpClient): tests and the lab put scripted stand-ins there.


async def run_connect(args: argparse.Namespace, console: Console) -> int:
    tool_args = tool_arguments(args.args)
    options = options_from(args)
    trace = Trace()

    async with oauth_http.new_client(server_url=args.url) as http:
        connection = await session.connect(
            http,
            args.url,
            mcp.build_probe_request(args.url),
            # The newest revision with an initialize handshake, for servers that refuse the 2026 form.
            fallback_probe=mcp.build_probe_request(args.url, mcp.LEGACY_VERSIONS[0]),
            options=options,
            browser=authorize.system_browser,
            confirm=console.confirm,
            trace=trace,
            on_url=console.show_sign_in_url,
        )
        if connection.session is None:
            console.say(f"{args.url} does not ask for a sign-in.")
        else:
            tokens = connection.session.tokens
            granted = scope_list(tokens.scopes) or "(none stated)"
            console.say(f"Signed in at {one_line(tokens.issuer, 4096)}; granted scopes: {granted}.")
        client = mcp.McpClient(http, connection.signin.resource, auth=connection.auth)
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
    return EXIT_OK
