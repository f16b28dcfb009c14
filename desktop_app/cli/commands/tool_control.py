"""``tools enable|disable SERVER TOOL…``, ``tools review SERVER [--approve [TOOL…]]`` and ``tools settings``: what
the person decides about a connector's tools, without the network (docs/decisions/0025-tool-control.md).

``tools SERVER`` (the live list, in :mod:`desktop_app.cli.commands.tools`) and these share one word list:
:func:`tools_action` reads which one it is. A server literally named like an action (``review``) is named by its id
or URL instead; the error says so.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from desktop_app.accounts.lookup import find_account, find_server
from desktop_app.accounts.models import Account, Server
from desktop_app.appinfo import COMMAND
from desktop_app.cli.console import Console
from desktop_app.cli.output import EXIT_OK
from desktop_app.cli.tool_control_text import command_for, review_lines, settings_lines, state_word
from desktop_app.cli.tool_text import tool_name
from desktop_app.errors import ConfigurationError, UnknownTool, one_line
from desktop_app.storage.profile_stores import open_stores
from desktop_app.storage.tool_store import SqliteToolStore
from desktop_app.tools import policy
from desktop_app.tools.control import ToolControl
from desktop_app.tools.model import ToolSettings, ToolState

#: The words after ``tools`` that are actions, not a server.
ACTIONS = ("enable", "disable", "review", "settings")


@dataclass(frozen=True, slots=True)
class ToolsAction:
    """What ``tools WORDS…`` asks: ``list`` (live), ``enable``, ``disable``, ``review`` or ``settings``."""

    action: str
    server: str | None = None
    tools: tuple[str, ...] = ()


def tools_action(args: argparse.Namespace) -> ToolsAction:
    """Read the words after ``tools`` (and check that the options fit them)."""
    words = list(args.words)
    first = words[0]
    if first not in ACTIONS:
        if len(words) > 1:
            raise _usage(
                f"'tools {first}' takes one server, not {len(words)} words.",
                f"To turn tools on or off: {COMMAND} tools enable|disable SERVER TOOL…",
            )
        found = ToolsAction("list", first)
    elif first == "settings":
        if len(words) > 1:
            raise _usage("'tools settings' takes no server.", f"{COMMAND} tools settings [--destructive-off on|off] …")
        found = ToolsAction("settings")
    elif len(words) == 1:
        raise _usage(
            f"'tools {first}' needs a SERVER.",
            f"To list the tools of a server named {first!r}, name it by its id or URL ({COMMAND} list shows them).",
        )
    elif first == "review":
        if len(words) > 2:
            raise _usage("'tools review' takes one server.", "Name the tools to approve after --approve.")
        found = ToolsAction("review", words[1])
    else:
        if len(words) < 3:
            raise _usage(
                f"'tools {first}' needs a SERVER and one or more TOOLs.", f"{COMMAND} tools {first} SERVER TOOL…"
            )
        found = ToolsAction(first, words[1], tuple(words[2:]))
    _check_options(args, found.action)
    return found


#: The options each action takes (besides the global ones and --yes, which only a live list may need).
_OPTIONS = {
    "list": {"--account"},
    "enable": {"--account"},
    "disable": {"--account"},
    "review": {"--account", "--approve"},
    "settings": {"--destructive-off", "--new-need-approval"},
}


def _check_options(args: argparse.Namespace, action: str) -> None:
    given = {
        "--account": args.account is not None,
        "--approve": args.approve is not None,
        "--destructive-off": args.destructive_off is not None,
        "--new-need-approval": args.new_need_approval is not None,
    }
    for option, present in given.items():
        if present and option not in _OPTIONS[action]:
            takes = [name for name, options in _OPTIONS.items() if option in options]
            shown = "list" if action == "list" else action
            raise _usage(f"{option} does not go with 'tools {shown}'.", f"It goes with 'tools {' / '.join(takes)}'.")


def _usage(message: str, hint: str) -> ConfigurationError:
    return ConfigurationError("invalid_args", message, hint=hint)


@contextlib.contextmanager
def _connector(args: argparse.Namespace, server_text: str | None) -> Iterator[tuple[ToolControl, Server, Account]]:
    registry, _, _ = open_stores(secret_store=getattr(args, "secret_store", None))
    try:
        server = find_server(registry, server_text or "")
        account = find_account(registry, server, args.account)
        yield ToolControl(SqliteToolStore(registry)), server, account
    finally:
        registry.close()


async def run_tool_action(found: ToolsAction, args: argparse.Namespace, console: Console) -> int:
    """``enable``, ``disable``, ``review``, ``settings`` (the live list is ``run_tools``'s)."""
    if found.action == "settings":
        return _settings(args, console)
    with _connector(args, found.server) as (control, server, account):
        if found.action == "review":
            return _review(control, server, account, args.approve, console)
        return _switch(control, server, account, found.tools, found.action == "enable", console)


def _settings(args: argparse.Namespace, console: Console) -> int:
    registry, _, _ = open_stores(secret_store=getattr(args, "secret_store", None))
    try:
        control = ToolControl(SqliteToolStore(registry))
        settings = control.settings()
        if args.destructive_off is not None or args.new_need_approval is not None:
            settings = ToolSettings(
                destructive_off=settings.destructive_off
                if args.destructive_off is None
                else args.destructive_off == "on",
                new_need_approval=settings.new_need_approval
                if args.new_need_approval is None
                else args.new_need_approval == "on",
            )
            control.set_settings(settings)
            console.say("Saved. These apply to tools seen from now on; a connector's switches are kept.")
        for line in settings_lines(settings):
            console.result(line)
    finally:
        registry.close()
    return EXIT_OK


def _switch(
    control: ToolControl, server: Server, account: Account, names: tuple[str, ...], enabled: bool, console: Console
) -> int:
    try:
        records = control.set_enabled(account.id, names, enabled)
    except UnknownTool as exc:
        raise UnknownTool(
            f"{exc.message} Only tools the connector has listed can be switched.", tools=exc.tools, known=exc.known
        ) from None
    for record in records:
        console.result(f"  {tool_name(record.name)} [{state_word(record)}]")
    if any(r.state is ToolState.HELD for r in records):
        console.say(f"A held tool is used once you approve it: {command_for(server.name, account.id, 'review')}")
    console.say(f"Saved for {one_line(server.name)} ({one_line(account.display_name)}); running bridges follow it.")
    return EXIT_OK


def _review(control: ToolControl, server: Server, account: Account, approve: list[str] | None, console: Console) -> int:
    """Print what waits (only the tools named after --approve, when named) as diffs; with --approve, approve exactly
    the definitions printed (a tool that changed again meanwhile is refused: ReviewOutdated)."""
    who = f"{one_line(server.name)} ({one_line(account.display_name)})"
    waiting = {r.name: r for r in control.waiting(account.id)}
    if approve:
        for record in policy.named(control.book(account.id), approve):
            if record.name not in waiting:
                console.say(f"{tool_name(record.name)} does not wait for a review: it is {state_word(record)}.")
    shown = [r for name, r in waiting.items() if not approve or name in approve]
    if not shown:
        console.say(f"No tool of {who} waits for a review.")
        return EXIT_OK
    console.result(f"{len(shown)} tool(s) of {who} wait for your review:")
    for record in shown:
        console.result("")
        for line in review_lines(record):
            console.result(line)
    if approve is None:
        console.say(f"To approve: {command_for(server.name, account.id, 'review')} --approve [TOOL…]")
        return EXIT_OK
    reviewed = {r.name: (r.current.fingerprint if r.current is not None else None) for r in shown}
    approved = control.approve(account.id, reviewed)
    console.result("")
    for record in approved:
        console.result(f"Approved {tool_name(record.name)}: it is {state_word(record)} now.")
    return EXIT_OK
