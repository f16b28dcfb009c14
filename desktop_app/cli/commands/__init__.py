"""The commands, by name. Each takes the parsed arguments and the :class:`~desktop_app.cli.console.Console` and
returns an exit status; errors are raised as :class:`~desktop_app.errors.ConnectorError` and worded by
:mod:`desktop_app.cli.main`."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable

from desktop_app.cli.commands.accounts import run_login, run_logout, run_nickname, run_token
from desktop_app.cli.commands.bridge import run_bridge
from desktop_app.cli.commands.connect import run_connect
from desktop_app.cli.commands.desktop import run_desktop
from desktop_app.cli.commands.diagnostics import run_doctor
from desktop_app.cli.commands.hosts import run_hosts, run_install, run_uninstall
from desktop_app.cli.commands.identity import run_identity
from desktop_app.cli.commands.server_file import run_export, run_import, run_rename
from desktop_app.cli.commands.servers import run_add, run_consent, run_list, run_remove
from desktop_app.cli.commands.tools import run_call, run_tools
from desktop_app.cli.console import Console

Command = Callable[[argparse.Namespace, Console], Awaitable[int]]

#: Every command of :data:`desktop_app.cli.parser.COMMANDS` (tests/unit/test_cli.py checks they agree).
COMMANDS: dict[str, Command] = {
    "connect": run_connect,
    "add": run_add,
    "login": run_login,
    "list": run_list,
    "tools": run_tools,
    "call": run_call,
    "identity": run_identity,
    "token": run_token,
    "logout": run_logout,
    "remove": run_remove,
    "nickname": run_nickname,
    "rename": run_rename,
    "export": run_export,
    "import": run_import,
    "consent": run_consent,
    "doctor": run_doctor,
    "bridge": run_bridge,
    "hosts": run_hosts,
    "install": run_install,
    "uninstall": run_uninstall,
    "desktop": run_desktop,
}


async def run(args: argparse.Namespace, console: Console) -> int:
    return await COMMANDS[args.command](args, console)
