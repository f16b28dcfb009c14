"""What a connector's entry in a host holds, and how one is recognised among the host's other servers.

An entry runs ``<absolute path of mcp-connectors> bridge <SERVER id> --account <ACCOUNT id>``: ids stay right when
the person renames the server or the account; the entry's name is the readable part (``files-work``). No token and
no secret ever goes into an entry: the bridge reads them from the keyring. When the profile is not the default one
(``MCP_CONNECTORS_HOME``), the entry carries it in its environment so the bridge opens the same profile.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from desktop_app.appinfo import APP_NAME, COMMAND
from desktop_app.hosts.catalog import Host
from desktop_app.hosts.errors import BridgeNotFound, InvalidEntryName

PROFILE_VARIABLE = "MCP_CONNECTORS_HOME"
BRIDGE = "bridge"
#: What every host accepts as a server's name (Codex: ``^[a-zA-Z0-9_-]+$``; Goose lower-cases its keys).
ENTRY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: Goose's default for a stdio extension (seconds).
GOOSE_TIMEOUT = 300


@dataclass(frozen=True, slots=True)
class Launch:
    """How a host starts the bridge: the program, its arguments, the environment it adds."""

    command: str
    args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Connector:
    """An entry of a host that runs this app's bridge: for which server and account (as written in the entry), in
    which profile (None: the default one)."""

    name: str
    server: str
    account: str | None
    profile: str | None
    command: str


def bridge_program(*, frozen: bool | None = None, executable: str | None = None) -> str:
    """The absolute path a host can run: the app itself when it is a frozen bundle, else the ``mcp-connectors``
    console script beside the running Python (a virtual environment or pipx), else the one on ``PATH``."""
    executable = executable or sys.executable
    if getattr(sys, "frozen", False) if frozen is None else frozen:
        return os.path.abspath(executable)
    name = f"{COMMAND}.exe" if os.name == "nt" else COMMAND
    beside = Path(executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside.absolute())
    found = shutil.which(COMMAND)
    if found:
        return os.path.abspath(found)
    raise BridgeNotFound(
        f"Cannot find the {COMMAND} program (looked beside {executable} and on PATH): a host would have nothing to run."
    )


def launch(server_id: int, account_id: int, *, program: str, environ: Mapping[str, str] | None = None) -> Launch:
    """The bridge of one account, as a host should start it."""
    environ = os.environ if environ is None else environ
    profile = environ.get(PROFILE_VARIABLE)
    env = {PROFILE_VARIABLE: os.path.abspath(os.path.expanduser(profile))} if profile else {}
    return Launch(program, (BRIDGE, str(server_id), "--account", str(account_id)), env)


def entry_for(host: Host, name: str, run: Launch, *, description: str) -> dict[str, Any]:
    """The entry ``host`` keeps for a stdio server (its documented shape; see docs/decisions/0021)."""
    args = list(run.args)
    env = dict(run.env)
    if host.shape == "goose":
        return {
            "enabled": True,
            "type": "stdio",
            "name": name,
            "description": description,
            "cmd": run.command,
            "args": args,
            "envs": env,
            "env_keys": [],
            "timeout": GOOSE_TIMEOUT,
        }
    entry: dict[str, Any] = {}
    if host.shape == "typed":
        entry["type"] = "stdio"
    if host.shape == "zed":
        entry["source"] = "custom"
    entry["command"] = run.command
    entry["args"] = args
    if env or host.shape == "zed":
        entry["env"] = env
    return entry


def _launch_of(entry: Any) -> tuple[str, list[str], Mapping[str, Any]] | None:
    """Program, arguments and environment of an entry of any host's shape (Zed's older ``command: {path, args,
    env}`` included); None when it runs no program."""
    if not isinstance(entry, Mapping):
        return None
    command: Any = entry.get("cmd", entry.get("command"))
    args, env = entry.get("args"), entry.get("envs", entry.get("env"))
    if isinstance(command, Mapping):  # Zed before "source": "custom"
        args, env = command.get("args"), command.get("env")
        command = command.get("path")
    if not isinstance(command, str):
        return None
    args = [str(a) for a in args] if isinstance(args, list) else []
    return command, args, env if isinstance(env, Mapping) else {}


def _is_our_program(command: str) -> bool:
    stem = PurePath(command.replace("\\", "/")).name.lower().removesuffix(".exe")
    return stem == COMMAND or stem == APP_NAME.lower().replace(" ", "-")


def connector_in(name: str, entry: Any) -> Connector | None:
    """The connector an entry runs: its program is ``mcp-connectors`` (or the frozen app), its first argument
    ``bridge``. None for any other server."""
    found = _launch_of(entry)
    if found is None:
        return None
    command, args, env = found
    if not args or args[0] != BRIDGE or not _is_our_program(command):
        return None
    server = args[1] if len(args) > 1 and not args[1].startswith("-") else ""
    account = None
    for index, arg in enumerate(args):
        if arg == "--account" and index + 1 < len(args):
            account = args[index + 1]
        elif arg.startswith("--account="):
            account = arg.removeprefix("--account=")
    profile = env.get(PROFILE_VARIABLE)
    return Connector(name, server, account, str(profile) if profile else None, command)


def same_profile(connector: Connector, environ: Mapping[str, str] | None = None) -> bool:
    """The connector opens the profile this process uses."""
    current = (os.environ if environ is None else environ).get(PROFILE_VARIABLE)
    if not current or not connector.profile:
        return not current and not connector.profile
    return os.path.abspath(os.path.expanduser(current)) == os.path.abspath(os.path.expanduser(connector.profile))


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits, runs of anything else as one ``-``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def default_name(server_name: str, account_name: str, account_id: int) -> str:
    """``files-work``: the server's name and the account's nickname (or label), so the model and the person can tell
    two accounts of one server apart."""
    server_part = slug(server_name)[:32].strip("-") or "server"
    account_part = slug(account_name)[:30].strip("-") or f"account-{account_id}"
    return f"{server_part}-{account_part}"


def connector_description(server_name: str, account_name: str) -> str:
    """The line a host shows beside the entry (Goose's ``description``): whose account the connector acts as."""
    return f"{server_name} as {account_name}, through {APP_NAME}"


def check_name(name: str) -> str:
    if not ENTRY_NAME.fullmatch(name):
        raise InvalidEntryName(name)
    return name
