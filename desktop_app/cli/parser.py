"""The command line's words: the parser of ``mcp-connectors`` and its commands.

Light on purpose: the entry parses with it before it knows whether the command line's engine is needed at all
(``--help``, ``--version`` and a fresh ``token`` never load it; see :mod:`desktop_app.cli.quick`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from desktop_app.appinfo import APP_NAME, COMMAND, DEFAULT_CLIENT_METADATA_URL, VERSION
from desktop_app.cli import suggest
from desktop_app.oauth.redact import configure_logging

#: The subcommands, in the order of ``--help``.
COMMANDS = (
    "connect",
    "add",
    "login",
    "list",
    "tools",
    "call",
    "identity",
    "token",
    "logout",
    "remove",
    "nickname",
    "rename",
    "export",
    "import",
    "consent",
    "doctor",
    "bridge",
    "hosts",
    "install",
    "uninstall",
    "desktop",
)

#: ``--client-auth`` choices: desktop_app.oauth.registration.SUPPORTED_AUTH_METHODS (tests/unit/test_layers.py checks
#: they agree), written out so that building the parser imports no HTTP code.
CLIENT_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")

#: ``mcp-connectors --hidden``: the app, started in the tray without its window (used at login).
WINDOW_HIDDEN_FLAG = "--hidden"

#: The help of a command's SERVER and --account (desktop_app.accounts.lookup: how they are found).
SERVER_HELP = "the server: its name (or the start of it), id or address, as 'list' shows them"
ACCOUNT_HELP = "which account: its label, nickname (or the start of either) or id; needed when the server has several"


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
        "--no-resource",
        action="store_true",
        help="don't name the server to the authorization server (RFC 8707 'resource'), for those that reject it",
    )
    parser.add_argument(
        "--callback-port",
        type=int,
        default=None if settings_only else 0,
        metavar="N",
        help="fixed loopback port (default: any free port)",
    )


def _timeout_and_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="approve the pairing (and a request for more permissions) without asking",
    )
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
    itself, imports shutil (with zlib, bz2 and lzma) to measure the terminal, a cost every command would pay."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)


class _Subcommands(argparse._SubParsersAction):  # type: ignore[type-arg] # generic only in typeshed
    """A subcommand's one-line help (its line in ``--help``) is its own ``--help``'s description too, unless it has
    a longer one."""

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        short = kwargs.get("help")
        if short and not kwargs.get("description"):
            kwargs["description"] = short[:1].upper() + short[1:] + ("" if short.endswith(".") else ".")
        return super().add_parser(name, **kwargs)


class _ArgumentParser(argparse.ArgumentParser):
    """Subcommands' parsers are made of the same class, so they get the formatter too, and the suggestions: a
    mistyped command or choice is answered with the one meant (:mod:`desktop_app.cli.suggest`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _Subcommands)
        self.suggest_on_error = False  # Python 3.14's own suggestion for choices: ours says the same in other words

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is None or not isinstance(value, str) or value in action.choices:
            return super()._check_value(action, value)
        choices = [str(choice) for choice in action.choices]
        if isinstance(action, argparse._SubParsersAction):
            raise argparse.ArgumentError(None, suggest.unknown_command(value, choices))
        raise argparse.ArgumentError(action, suggest.unknown_choice(value, choices))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line. With ``command`` (one of :data:`COMMANDS`), the global options and that subcommand only:
    what :func:`parse` uses, because a script calling ``token`` in a loop should not pay for building all twelve."""

    def wanted(name: str) -> bool:
        return command not in COMMANDS or name == command

    parser = _ArgumentParser(
        prog=COMMAND,
        description=f"{APP_NAME}: connect AI tools to OAuth-protected MCP servers. Without a command it opens the "
        f"window ({WINDOW_HIDDEN_FLAG}: start in the tray only).",
        epilog="Exit codes: 0 ok, 1 you must act, 2 bad input, 3 temporary problem, 4 server broke the protocol, "
        "5 the tool reported an error, 6 the keyring or database cannot be used, 7 the window cannot open here (no "
        "display, or a library it needs is missing), 130 interrupted. "
        "SERVER is a server's name, id or address; --account A is an account's label, nickname or id; the start of "
        "a name will do when no other begins the same way.",
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
        add = commands.add_parser(
            "add",
            help="add an MCP server by its address",
            description="Remember a server by its address; then sign in to it with 'login'.",
        )
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
        tools = commands.add_parser(
            "tools",
            help="a server's tools for one of your accounts: list them (on, off, held), turn them on or off, review "
            "changes",
            description="'tools SERVER' lists the tools live with their state for the account's connector and records "
            "them (the first list is trusted; a changed or new tool is then held until you approve it). 'tools "
            "enable|disable SERVER TOOL...' turns tools on or off for AI tools using the connector; 'tools review "
            "SERVER' shows what changed (--approve approves it); 'tools settings' shows or sets the defaults. A server "
            "named like an action (e.g. review) is named by its id or URL.",
        )
        tools.add_argument(
            "words",
            nargs="+",
            metavar="SERVER | enable SERVER TOOL... | disable SERVER TOOL... | review SERVER | settings",
            help=f"what to do; {SERVER_HELP}",
        )
        tools.add_argument("--account", metavar="A", help=ACCOUNT_HELP)
        tools.add_argument(
            "--approve", nargs="*", metavar="TOOL", help="with review: approve what it shows (only the TOOLs named)"
        )
        tools.add_argument(
            "--destructive-off",
            choices=("on", "off"),
            help="with settings: tools that may be destructive start off on new connectors",
        )
        tools.add_argument(
            "--new-need-approval", choices=("on", "off"), help="with settings: new tools wait for your approval"
        )
        tools.add_argument(
            "--yes", "-y", action="store_true", help="approve a request for more permissions without asking"
        )

    if wanted("call"):
        call = commands.add_parser("call", help="call one of a server's tools")
        call.add_argument("server", metavar="SERVER", help=SERVER_HELP)
        call.add_argument("tool", metavar="TOOL", help="the tool's name, as 'tools' lists it")
        call.add_argument("--args", metavar="JSON", default="{}", help="the tool's arguments as a JSON object")
        call.add_argument("--account", metavar="A", help=ACCOUNT_HELP)
        call.add_argument(
            "--yes", "-y", action="store_true", help="approve a request for more permissions without asking"
        )
        call.add_argument(
            "--deadline",
            type=float,
            metavar="SECONDS",
            help="give up on the call when the server has not finished answering after this long (default 300)",
        )

    if wanted("identity"):
        identity = commands.add_parser(
            "identity",
            help="a server's identity key (where it offers one): verified, pinned, or changed",
            description="Check the key the server proves its identity with against the key pinned for it on first "
            "use, and the signatures of its tools. A changed key is refused until you accept it with --accept.",
        )
        identity.add_argument("server", metavar="SERVER", help=SERVER_HELP)
        identity.add_argument("--account", metavar="A", help="connect as this account")
        identity.add_argument("--accept", action="store_true", help="accept the server's changed key")
        identity.add_argument("--yes", "-y", action="store_true", help="accept without asking (compare first!)")

    if wanted("token"):
        token = commands.add_parser(
            "token",
            help="print a fresh access token (renewed if needed) for scripts",
            description="Print only the access token on stdout, renewing it first when it is about to expire.",
        )
        token.add_argument("server", metavar="SERVER", help=SERVER_HELP)
        token.add_argument("--account", metavar="A", help=ACCOUNT_HELP)
        token.add_argument("--force", action="store_true", help="renew even if the token is still fresh")

    if wanted("logout"):
        logout = commands.add_parser("logout", help="sign an account out: revoke its tokens and delete them here")
        logout.add_argument("server", metavar="SERVER", help=SERVER_HELP)
        logout.add_argument("--account", metavar="A", help=ACCOUNT_HELP)

    if wanted("remove"):
        remove = commands.add_parser(
            "remove",
            help="remove a server with its accounts, registrations and approvals, or only one account (--account)",
            description="Revoke the tokens where the authorization server allows it, delete them here, and forget the "
            "server with its accounts, registrations, approval and history; with --account, only that account (the "
            "server and its other accounts stay). AI tools that still list a removed connector are named, each with "
            "the command that takes it out; --from-hosts takes them out at once.",
        )
        remove.add_argument(
            "server", metavar="SERVER", help="the server: its name, id or address (the start of its name without --yes)"
        )
        remove.add_argument(
            "--account",
            metavar="A",
            help="remove only this account: its label, nickname or id (the start of one without --yes)",
        )
        remove.add_argument("--yes", "-y", action="store_true", help="don't ask for confirmation")
        remove.add_argument(
            "--from-hosts", action="store_true", help="also take the removed connectors out of the AI tools"
        )

    if wanted("nickname"):
        nickname = commands.add_parser("nickname", help="give an account a name of your own ('' clears it)")
        nickname.add_argument("server", metavar="SERVER", help=SERVER_HELP)
        nickname.add_argument("nickname", metavar="NAME", help="the name to show for the account ('' clears it)")
        nickname.add_argument("--account", metavar="A", help=ACCOUNT_HELP)

    if wanted("rename"):
        rename = commands.add_parser("rename", help="give a server another name (its accounts and settings stay)")
        rename.add_argument("server", metavar="SERVER", help=SERVER_HELP)
        rename.add_argument("name", metavar="NEW-NAME", help="the server's new name (not only digits)")

    if wanted("export"):
        export = commands.add_parser(
            "export",
            help="write the server list (names, addresses, settings; no account, token or secret) as JSON",
            description="Write every server's name, address and settings as JSON, to move them to another computer "
            "or keep a copy. No account, token, client secret or approval is written: after 'import', sign in again.",
        )
        export.add_argument("file", metavar="FILE", nargs="?", help="the file to write ('-' or none: standard output)")

    if wanted("import"):
        import_ = commands.add_parser(
            "import",
            help="add the servers of a list written by 'export' (servers already added are skipped)",
            description="Add each server of a list written by 'export', with its settings; a server already added "
            "(same address) is skipped, a name already taken gets a number. A file that is not such a list is "
            "refused, naming the line at fault, before anything is added.",
        )
        import_.add_argument("file", metavar="FILE", help="the list to read ('-': standard input)")

    if wanted("consent"):
        consent = commands.add_parser("consent", help="show (or withdraw) the pairing you approved for a server")
        consent.add_argument("server", metavar="SERVER", help=SERVER_HELP)
        consent.add_argument("--withdraw", action="store_true", help="forget the approval: ask again next time")

    if wanted("doctor"):
        doctor = commands.add_parser(
            "doctor",
            help="check each step of signing in to a server and say what fails, in a report safe to share",
            description="Try each step (finding where to sign in, the app's registration there, each account's "
            "token, a call to the server) and print what happened. Tokens, codes and secrets are left out: the "
            "report is safe to paste into a bug report.",
        )
        doctor.add_argument("server", metavar="SERVER", nargs="?", help="only this server (default: every server)")

    if wanted("bridge"):
        bridge = commands.add_parser(
            "bridge",
            help="serve one account of a server to an AI tool over stdio (what a host's config runs)",
            description="Speak MCP on stdin/stdout for the server, as the account: the AI tool launching this never "
            "sees a token. Tokens are renewed here; logs go to stderr (-v for more).",
        )
        bridge.add_argument("server", metavar="SERVER", help=SERVER_HELP)
        bridge.add_argument("--account", metavar="A", help=ACCOUNT_HELP)

    if wanted("hosts"):
        hosts = commands.add_parser(
            "hosts", help="the MCP hosts (AI tools) on this machine, their config files and the connectors in them"
        )
        hosts.add_argument("--json", action="store_true", help="machine-readable output (no secrets)")

    if wanted("install"):
        install = commands.add_parser(
            "install",
            help="put an account's connector into an MCP host (Claude, VS Code, Cursor, Zed, Codex, Goose ...)",
            description="Add an entry to the host's configuration that runs this app's bridge for the account. The "
            "rest of the file is kept as it is; the previous file is kept beside it (.mcp-connectors.bak).",
        )
        install.add_argument("server", metavar="SERVER", help=SERVER_HELP)
        install.add_argument("--account", metavar="A", help=ACCOUNT_HELP)
        install.add_argument("--host", required=True, metavar="HOST", help="the host's id or name (see 'hosts')")
        install.add_argument("--name", metavar="ENTRY", help="the entry's name in the host (default: server-nickname)")
        install.add_argument("--print", action="store_true", help="print the entry instead of writing it")

    if wanted("uninstall"):
        uninstall = commands.add_parser(
            "uninstall",
            help="take an account's connector (or the entry --name) out of an MCP host",
            description="Remove the account's connectors from the host's configuration, or the entry named with "
            "--name (only entries that run this app's bridge are ever removed).",
        )
        uninstall.add_argument(
            "server", metavar="SERVER", nargs="?", help=f"{SERVER_HELP} (or name the entry with --name)"
        )
        uninstall.add_argument("--account", metavar="A", help=ACCOUNT_HELP)
        uninstall.add_argument("--host", required=True, metavar="HOST", help="the host's id or name (see 'hosts')")
        uninstall.add_argument("--name", metavar="ENTRY", help="the entry to remove")

    if wanted("desktop"):
        desktop = commands.add_parser(
            "desktop",
            help="put the app into your desktop's application menu (or take it out): for pip and pipx installs",
            description="install: write the menu entry and icons into your data folder (~/.local/share), starting "
            "this installed program; remove: delete exactly what install wrote; status: say which entry the menu has.",
        )
        desktop.add_argument("action", choices=("install", "remove", "status"), help="what to do")

    return parser


def command_in(argv: Sequence[str]) -> str | None:
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


def parse(argv: Sequence[str]) -> argparse.Namespace | None:
    """The arguments of ``argv``, with logging set as they ask; None when they name no command (the help was printed
    instead). A command line argparse refuses, ``--help`` and ``--version`` end here (``SystemExit``)."""
    words = list(argv)
    parser = build_parser(command_in(words))
    args, unknown = parser.parse_known_args(words)
    if unknown:  # what parse_args refuses, refused by the chosen subcommand's parser, with the option meant
        chosen = suggest.chosen_parser(parser, args)
        chosen.error(suggest.unrecognized(parser, chosen, unknown))
    configure_logging(logging.INFO if args.verbose else logging.WARNING)
    if args.command is None:
        parser.print_help()
        return None
    return args
