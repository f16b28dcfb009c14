"""``mcp-connectors``: the command line.

Exit codes (also in the README):
  0  success
  1  the person must act (sign-in declined or denied, sign in again, more permissions refused)
  2  the command line or a configured value is unusable
  3  a temporary problem (network, timeout, server unavailable): try again later
  4  a server broke the protocol (a mismatch or malformed answer): nothing was sent onwards
  5  the MCP server reported an error for the tool call
  6  this machine's storage cannot be used (the keyring is missing or locked, the database is unreadable)
  130 interrupted
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from desktop_app.appinfo import APP_NAME, COMMAND, DEFAULT_CLIENT_METADATA_URL, VERSION
from desktop_app.cli.text import connected_line, format_tool_result, scope_list, tool_lines, tool_name
from desktop_app.errors import (
    ConfigurationError,
    ConnectorError,
    ProtocolViolation,
    StorageError,
    TransientError,
    UserActionRequired,
    one_line,
    terminal_text,
)
from desktop_app.oauth.redact import configure_logging, redact

# Imported where they are used: `--help`, and `token` with a fresh token (the scripts' common case), need neither
# the OAuth engine, httpx nor asyncio (tests/unit/test_layers.py; benchmarks/accounts_cli.py).
if TYPE_CHECKING:
    from desktop_app.accounts.consent import PairingCheck
    from desktop_app.oauth.flow import Pairing, SignInOptions

#: The subcommands, in the order of ``--help``.
COMMANDS = (
    "connect",
    "add",
    "login",
    "list",
    "tools",
    "call",
    "token",
    "logout",
    "remove",
    "nickname",
    "consent",
    "doctor",
)

#: ``--client-auth`` choices: desktop_app.oauth.registration.SUPPORTED_AUTH_METHODS (tests/unit/test_layers.py checks
#: they agree), written out so that building the parser imports no HTTP code.
CLIENT_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")

EXIT_OK = 0
EXIT_ACTION = 1
EXIT_USAGE = 2
EXIT_TRANSIENT = 3
EXIT_PROTOCOL = 4
EXIT_TOOL_ERROR = 5
EXIT_STORAGE = 6
EXIT_INTERRUPTED = 130


def exit_code_for(error: ConnectorError) -> int:
    if isinstance(error, UserActionRequired):
        return EXIT_ACTION
    if isinstance(error, ConfigurationError):
        return EXIT_USAGE
    if isinstance(error, TransientError):
        return EXIT_TRANSIENT
    if isinstance(error, ProtocolViolation):
        return EXIT_PROTOCOL
    if isinstance(error, StorageError):
        return EXIT_STORAGE
    if error.kind == "server":
        return EXIT_TOOL_ERROR
    return EXIT_PROTOCOL


def _sign_in_options(parser: argparse.ArgumentParser, *, settings_only: bool = False) -> None:
    """The options of a sign-in (``connect``, ``login``) and of a server's settings (``add``)."""
    parser.add_argument(
        "--scope",
        action="append",
        metavar="S",
        help="request these scopes instead of the server's (repeat, or give several separated by spaces)",
    )
    parser.add_argument("--client-id", metavar="ID", help="a client id registered for this app at the server")
    parser.add_argument(
        "--client-secret",
        metavar="S",
        help="its secret, if it has one (prefer MCP_CONNECTORS_CLIENT_SECRET: arguments are visible to other users)",
    )
    parser.add_argument(
        "--client-auth",
        choices=CLIENT_AUTH_METHODS,
        help="how the pre-registered client authenticates (default: client_secret_basic with a secret, else none)",
    )
    parser.add_argument(
        "--client-metadata-url",
        metavar="URL",
        default=None
        if settings_only
        else os.environ.get("MCP_CONNECTORS_CLIENT_METADATA_URL") or DEFAULT_CLIENT_METADATA_URL,
        help="the https URL of this app's client metadata document (used when the server supports it)",
    )
    parser.add_argument(
        "--no-resource", action="store_true", help="don't send RFC 8707 'resource' (for servers that reject it)"
    )
    parser.add_argument(
        "--callback-port",
        type=int,
        default=None if settings_only else 0,
        metavar="N",
        help="fixed loopback port (default: any free port)",
    )


def _timeout_and_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="approve the pairing (and any step-up) without asking")
    parser.add_argument(
        "--timeout", type=float, default=300.0, metavar="SECONDS", help="how long to wait for the browser sign-in"
    )


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    stdout = sys.__stdout__
    if columns <= 0 and stdout is not None:
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own, given the terminal's width: argparse makes one for every ``add_argument`` and, left to
    itself, imports shutil (with zlib, bz2 and lzma) to measure the terminal, ~3 ms of every command."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)


class _ArgumentParser(argparse.ArgumentParser):
    """Subcommands' parsers are made of the same class, so they get the formatter too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line. With ``command`` (one of :data:`COMMANDS`), the global options and that subcommand only:
    what :func:`main` parses with, because building all twelve costs ~5 ms, a twentieth of a fresh ``token``."""

    def wanted(name: str) -> bool:
        return command not in COMMANDS or name == command

    parser = _ArgumentParser(
        prog=COMMAND,
        description=f"{APP_NAME}: connect AI tools to OAuth-protected MCP servers. Without a command it opens the "
        f"window ({WINDOW_HIDDEN_FLAG}: start in the tray only).",
        epilog="Exit codes: 0 ok, 1 you must act, 2 bad input, 3 temporary problem, 4 server broke the protocol, "
        "5 the tool reported an error, 6 the keyring or database cannot be used, 130 interrupted. "
        "SERVER is a server's name, id or URL; --account A is an account's label, nickname or id.",
    )
    parser.add_argument("--version", action="version", version=f"{COMMAND} {VERSION}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (secrets are redacted)")
    parser.add_argument(
        "--secret-store",
        choices=("keyring", "file"),
        help="where tokens are kept: the OS keyring (default) or, only if you choose it, a file that is NOT "
        "encrypted; the choice is remembered for this profile (MCP_CONNECTORS_HOME)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    if wanted("connect"):
        connect = commands.add_parser(
            "connect",
            help="sign in to an MCP server once (nothing is stored) and list its tools",
            description="Discover the server's authorization server, show the pairing, sign in through your browser, "
            "then list the server's tools (and call one with --call). Nothing is stored: see 'add' and 'login'.",
        )
        connect.add_argument("url", help="the MCP server's address, e.g. https://example.com/mcp")
        _timeout_and_yes(connect)
        _sign_in_options(connect)
        connect.add_argument("--call", metavar="TOOL", help="call this tool after listing the tools")
        connect.add_argument("--args", metavar="JSON", default="{}", help="the tool's arguments as a JSON object")

    if wanted("add"):
        add = commands.add_parser("add", help="add an MCP server by its URL", description="Remember a server.")
        add.add_argument("url", help="the MCP server's address, e.g. https://example.com/mcp")
        add.add_argument("--name", metavar="N", help="what to call it (default: its host name)")
        add.add_argument("--no-identity", action="store_true", help="don't ask the server who signed in (no openid)")
        _sign_in_options(add, settings_only=True)

    if wanted("login"):
        login = commands.add_parser(
            "login",
            help="sign in to a server (first account, another account, or an account again)",
            description="Sign in through your browser. With one account on the server, signs it in again (the same "
            "person must come back); --new-account adds another; --account chooses which one to sign in again. "
            "Sign-in options given here are saved as the server's settings.",
        )
        login.add_argument("server", metavar="SERVER", help="a server's name, id, or URL (a new URL is added)")
        login.add_argument("--account", metavar="A", help="sign this account in again")
        login.add_argument("--new-account", action="store_true", help="add another account on this server")
        login.add_argument("--nickname", metavar="N", help="a name of your own for the new account")
        login.add_argument("--no-identity", action="store_true", help="don't ask the server who signed in (no openid)")
        _timeout_and_yes(login)
        _sign_in_options(login, settings_only=True)

    if wanted("list"):
        listing = commands.add_parser("list", help="servers and accounts: who, state, expiry")
        listing.add_argument("--json", action="store_true", help="machine-readable output (no secrets)")

    if wanted("tools"):
        tools = commands.add_parser("tools", help="list a server's tools with an account's token")
        tools.add_argument("server", metavar="SERVER")
        tools.add_argument("--account", metavar="A")
        tools.add_argument("--yes", "-y", action="store_true", help="approve a step-up without asking")

    if wanted("call"):
        call = commands.add_parser("call", help="call one of a server's tools")
        call.add_argument("server", metavar="SERVER")
        call.add_argument("tool", metavar="TOOL")
        call.add_argument("--args", metavar="JSON", default="{}", help="the tool's arguments as a JSON object")
        call.add_argument("--account", metavar="A")
        call.add_argument("--yes", "-y", action="store_true", help="approve a step-up without asking")
        call.add_argument(
            "--deadline",
            type=float,
            metavar="SECONDS",
            help="give up on the call when the server has not finished answering after this long (default 300)",
        )

    if wanted("token"):
        token = commands.add_parser(
            "token",
            help="print a fresh access token (renewed if needed) for scripts",
            description="Print only the access token on stdout, renewing it first when it is about to expire.",
        )
        token.add_argument("server", metavar="SERVER")
        token.add_argument("--account", metavar="A")
        token.add_argument("--force", action="store_true", help="renew even if the token is still fresh")

    if wanted("logout"):
        logout = commands.add_parser("logout", help="sign an account out: revoke its tokens and delete them here")
        logout.add_argument("server", metavar="SERVER")
        logout.add_argument("--account", metavar="A")

    if wanted("remove"):
        remove = commands.add_parser("remove", help="remove a server with its accounts, registrations and approvals")
        remove.add_argument("server", metavar="SERVER")
        remove.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")

    if wanted("nickname"):
        nickname = commands.add_parser("nickname", help="give an account a name of your own ('' clears it)")
        nickname.add_argument("server", metavar="SERVER")
        nickname.add_argument("nickname", metavar="NAME")
        nickname.add_argument("--account", metavar="A")

    if wanted("consent"):
        consent = commands.add_parser("consent", help="show (or withdraw) the pairing you approved for a server")
        consent.add_argument("server", metavar="SERVER")
        consent.add_argument("--withdraw", action="store_true", help="forget the approval: ask again next time")

    if wanted("doctor"):
        doctor = commands.add_parser(
            "doctor", help="a redacted trace of discovery → registration → sign-in → token, safe to share"
        )
        doctor.add_argument("server", metavar="SERVER", nargs="?")

    return parser


def _scopes(values: list[str] | None) -> tuple[str, ...] | None:
    if not values:
        return None
    return tuple(dict.fromkeys(s for value in values for s in value.split()))


def options_from(args: argparse.Namespace) -> SignInOptions:
    from desktop_app.oauth.flow import SignInOptions
    from desktop_app.oauth.registration import PreRegisteredClient

    secret = args.client_secret or os.environ.get("MCP_CONNECTORS_CLIENT_SECRET") or None
    if (secret or args.client_auth) and not args.client_id:
        raise ConfigurationError("missing_client_id", "--client-secret and --client-auth need --client-id.")
    if not 0 <= args.callback_port <= 65535:
        raise ConfigurationError("invalid_port", f"--callback-port {args.callback_port} is not a port number.")
    if args.timeout <= 0:
        raise ConfigurationError("invalid_timeout", f"--timeout {args.timeout} must be positive.")
    pre = (
        PreRegisteredClient(client_id=args.client_id, client_secret=secret, token_endpoint_auth_method=args.client_auth)
        if args.client_id
        else None
    )
    return SignInOptions(
        scopes=_scopes(args.scope),
        preregistered=pre,
        client_metadata_url=args.client_metadata_url or None,
        send_resource=not args.no_resource,
        callback_port=args.callback_port,
        timeout=args.timeout,
    )


def check_against(pairing: Pairing, previous: Pairing | None) -> PairingCheck:
    """``connect``'s pairing compared with the one approved earlier in the same run (None: the first one), the way
    ``login`` compares it with the approval on record."""
    import time

    from desktop_app.accounts.consent import check_pairing, consent_from

    approved = None if previous is None else consent_from(previous, server_id=0, now=time.time())
    return check_pairing(pairing, approved)


def format_pairing(pairing: Pairing, previous: Pairing | None) -> str:
    """``connect``'s pairing text: the same words, warnings and notes as ``login``'s."""
    from desktop_app.cli.pairing_text import format_pairing_check

    return format_pairing_check(check_against(pairing, previous))


#: Why ``--yes`` did not approve a pairing (the codes of desktop_app.accounts.consent.unattended_refusal).
YES_REFUSALS = {
    "issuer_changed": "This server now sends you to another authorization server; --yes does not approve that.",
    "resource_changed": "This server now asks you to sign in for another address; --yes does not approve that.",
    "new_warnings": "This sign-in comes with a warning the pairing you approved did not have; --yes does not "
    "approve that.",
    "first_pairing": "Nothing is approved for this server yet; here --yes approves only more permissions at the "
    "authorization server you approved.",
    "client_changed": "This app would present itself to the authorization server as another client; here --yes "
    "does not approve that.",
    "not_a_step_up": "This sign-in differs from the one you approved in more than its permissions; here --yes does "
    "not approve that.",
}


#: The longest error message or hint printed (an error quotes URLs; those are shown whole).
_MESSAGE_LIMIT = 8192


def show_sign_in_url(console: Console, url: str) -> None:
    """What the person reads while the browser is open (``connect``, ``login``, a step-up)."""
    console.say("Opening your browser to sign in. If it does not open, visit this link:")
    console.say(f"  {one_line(url, 16384)}")
    console.say(
        "If the browser shows an error page from the authorization server instead of a sign-in page, press Ctrl+C; "
        "the server's settings (its client id, callback port or scopes) change what the app asks for."
    )
    console.say("Waiting for the sign-in to finish (Ctrl+C cancels)…")


class Console:
    """Where the command talks to the person: stderr for conversation, stdout for results."""

    def __init__(
        self, *, assume_yes: bool, stdin: TextIO | None = None, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.assume_yes = assume_yes
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    # Every line the app prints goes through terminal_text: text a server chose is already one line where it is
    # worded; this keeps a path someone forgot from writing escape sequences, bidi or zero-width characters. (An
    # access token a server quotes back is cut out where its answer is read: McpClient, with BearerAuth.sent.)
    def say(self, text: str) -> None:
        print(terminal_text(text), file=self.err, flush=True)

    def result(self, text: str) -> None:
        print(terminal_text(text), file=self.out, flush=True)

    async def confirm(self, pairing: Pairing, previous: Pairing | None) -> bool:
        """``connect``'s question (``previous``: the pairing approved earlier in this run, for a step-up or a move)."""
        return await self.approve(check_against(pairing, previous), asked_for_sign_in=True)

    async def approve(self, check: PairingCheck, *, asked_for_sign_in: bool) -> bool:
        """Show the pairing check and get it approved: by ``--yes`` within what it may approve (``asked_for_sign_in``:
        the command is a sign-in the person asked for; see ``unattended_refusal``), else by asking in the terminal."""
        import asyncio

        from desktop_app.accounts.consent import unattended_refusal
        from desktop_app.cli.pairing_text import format_pairing_check

        self.say(format_pairing_check(check))
        if not check.needs_approval:
            return True
        if self.assume_yes:
            refusal = unattended_refusal(check, asked_for_sign_in=asked_for_sign_in)
            if refusal is not None:
                # Someone else would hold the login, the tokens would go elsewhere, or more than permissions changed:
                # a person decides that, never --yes.
                raise UserActionRequired(
                    "approval_needed",
                    YES_REFUSALS.get(refusal, YES_REFUSALS["not_a_step_up"]),
                    hint="Run the same command in a terminal without --yes, and check the pairing shown above.",
                )
            self.say("Approved (--yes).")
            return True
        if not self.stdin.isatty():
            raise ConfigurationError(
                "confirmation_needed",
                "The pairing needs your approval, but there is no terminal to ask in.",
                hint="Run the command in a terminal, or add --yes to approve it.",
            )
        answer = await asyncio.to_thread(self._ask, "Open the browser to sign in? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    def ask(self, prompt: str) -> str:
        return self._ask(prompt)

    def _ask(self, prompt: str) -> str:
        self.err.write(terminal_text(prompt))
        self.err.flush()
        return self.stdin.readline()


def tool_arguments(text: str) -> dict[str, object]:
    """``--args``: a JSON object, or a refusal that quotes (the start of) what was given."""
    hint = 'Give the arguments as a JSON object, e.g. --args \'{"text": "hi"}\' (quote it for your shell).'
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            "invalid_args", f"--args {one_line(text, 60)!r} is not valid JSON ({exc.msg} at {exc.pos}).", hint=hint
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            "invalid_args", f"--args must be a JSON object, not {one_line(text, 60)!r}.", hint=hint
        )
    return value


async def run_connect(args: argparse.Namespace, console: Console) -> int:
    # Imported here so ``--help`` stays fast.
    from desktop_app.accounts.session import connect
    from desktop_app.mcp import LEGACY_VERSIONS, McpClient, build_probe_request
    from desktop_app.oauth.authorize import system_browser
    from desktop_app.oauth.http import new_client
    from desktop_app.oauth.trace import Trace

    tool_args = tool_arguments(args.args)
    options = options_from(args)
    trace = Trace()

    async with new_client(server_url=args.url) as http:
        connection = await connect(
            http,
            args.url,
            build_probe_request(args.url),
            # The newest revision with an initialize handshake, for servers that refuse the 2026 form.
            fallback_probe=build_probe_request(args.url, LEGACY_VERSIONS[0]),
            options=options,
            browser=system_browser,
            confirm=console.confirm,
            trace=trace,
            on_url=functools.partial(show_sign_in_url, console),
        )
        if connection.session is None:
            console.say(f"{args.url} does not ask for a sign-in.")
        else:
            tokens = connection.session.tokens
            granted = scope_list(tokens.scopes) or "(none stated)"
            console.say(f"Signed in at {one_line(tokens.issuer, 4096)}; granted scopes: {granted}.")
        client = McpClient(http, connection.signin.resource, auth=connection.auth)
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


async def _dispatch(args: argparse.Namespace, console: Console) -> int:
    if args.command == "connect":
        return await run_connect(args, console)
    from desktop_app.cli import commands

    handlers = {
        "add": commands.run_add,
        "login": commands.run_login,
        "list": commands.run_list,
        "tools": commands.run_tools,
        "call": commands.run_call,
        "token": commands.run_token,
        "logout": commands.run_logout,
        "remove": commands.run_remove,
        "nickname": commands.run_nickname,
        "consent": commands.run_consent,
        "doctor": commands.run_doctor,
    }
    return await handlers[args.command](args, console)


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is neither an option nor ``--secret-store``'s value.

    A guess that only decides how much of the parser to build: anything it gets wrong parses with the whole parser
    or fails as the whole parser would (a word it takes for the command can only be an option's value if it is
    ``keyring`` or ``file``, which no command is called)."""
    words = iter(argv)
    for word in words:
        if word == "--secret-store":
            next(words, None)
        elif word == "--" or not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


#: ``mcp-connectors --hidden``: the app, started in the tray without its window (used at login).
WINDOW_HIDDEN_FLAG = "--hidden"


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if not words or words == [WINDOW_HIDDEN_FLAG]:
        # No command: the app itself (the window, and the tray when the desktop has one).
        from desktop_app.app.main import main as window_main

        return window_main(words)
    parser = build_parser(_command_in(words))
    args = parser.parse_args(words)
    configure_logging(logging.INFO if args.verbose else logging.WARNING)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    console = Console(assume_yes=getattr(args, "yes", False))
    try:
        if args.command == "token":
            # A fresh token needs SQLite and one keyring read: no event loop, no HTTP stack. Only a token to renew
            # (or a crash to clean up after) goes on to the asynchronous command.
            from desktop_app.cli.commands import token_if_fresh

            done = token_if_fresh(args, console)
            if done is not None:
                return done
        import asyncio

        return asyncio.run(_dispatch(args, console))
    except ConnectorError as error:
        # A message (and a hint) is one line that may quote what a server sent: it is printed as one line, whatever
        # it holds.
        console.say(f"{COMMAND}: {one_line(redact(error.message), _MESSAGE_LIMIT)}")
        hint = one_line(redact(error.hint), _MESSAGE_LIMIT) if error.hint else ""
        if hint:
            console.say(f"  What you can do: {hint}")
        return exit_code_for(error)
    except KeyboardInterrupt:
        console.say(f"{COMMAND}: interrupted.")
        return EXIT_INTERRUPTED
