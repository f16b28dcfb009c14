"""The commands on the server list as a whole and a server's name: ``rename``, ``export`` and ``import``.

The list goes to a file without any account, token or secret (:mod:`desktop_app.accounts.server_list`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop_app.accounts.server_list import export_text, import_servers, read_text
from desktop_app.appinfo import COMMAND
from desktop_app.cli.console import Console
from desktop_app.cli.output import EXIT_OK
from desktop_app.cli.profile import profile
from desktop_app.cli.text import server_name, shown_url
from desktop_app.errors import ConfigurationError, one_line

#: The file name that means standard input or output.
STDIO = "-"


async def run_rename(args: argparse.Namespace, console: Console) -> int:
    async with profile(args) as accounts:
        server = accounts.server(args.server)
        renamed = accounts.rename_server(server, args.name)
        if renamed.name == server.name:
            console.result(f"The server is already called {server_name(renamed)}.")
        else:
            console.result(f"Server {server_name(server)} is now called {server_name(renamed)}.")
    return EXIT_OK


async def run_export(args: argparse.Namespace, console: Console) -> int:
    async with profile(args) as accounts:
        servers = accounts.registry.servers()
    text = export_text(servers)
    if args.file in (None, STDIO):
        sys.stdout.write(text)
        sys.stdout.flush()
        return EXIT_OK
    path = Path(args.file)
    _write(path, text)
    count = len(servers)
    console.say(
        f"Exported {count} server{'' if count == 1 else 's'} to {path} (names, addresses and settings; no account, "
        "token or secret)."
    )
    return EXIT_OK


async def run_import(args: argparse.Namespace, console: Console) -> int:
    listed = read_text(_read(args.file))
    async with profile(args) as accounts:
        result = import_servers(accounts, listed)
    for entry, server in result.added:
        renamed = f" (as {server_name(server)}: the name was taken)" if server.name != entry.name else ""
        console.result(f"Added {one_line(entry.name)}{renamed}: {shown_url(server.url)}")
    for entry, existing in result.skipped:
        console.result(
            f"Skipped {one_line(entry.name)}: {shown_url(entry.url)} is added already, as {server_name(existing)}."
        )
    if result.added:
        console.say(f"Sign in to each with '{COMMAND} login SERVER' (accounts and tokens are never in the list).")
    elif not listed:
        console.say("The list holds no server.")
    return EXIT_OK


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            "file_unwritable",
            f"{path} cannot be written: {exc.strerror or exc}.",
            hint="Choose a file in a folder you may write to.",
        ) from None


def _read(name: str) -> str:
    try:
        return sys.stdin.read() if name == STDIO else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not UTF-8 text"
        raise ConfigurationError(
            "file_unreadable", f"{name} cannot be read: {reason}.", hint="Check the file's name and try again."
        ) from None
