"""When a connector's sign-in has ended: make sure the app is there to say so, starting it in the tray if needed.

A running app already shows the account as needing sign-in: the renewal recorded it in the registry, and the app's
profile watcher sees every commit of another process (``ui/profile_watch``). So the bridge only checks whether an
app of this profile answers on its single-instance socket (this user's socket, in a private folder, ADR 0016); when
none does, it starts one in the tray (``mcp-connectors --hidden``, detached, so that the host stopping the bridge does
not stop it), once per bridge, unless the person turned that off (:data:`START_APP_SETTING` = ``"off"``).

Nothing is sent over the socket: the window is never brought forward over the person's work by an AI tool.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from desktop_app.accounts.ports import Registry
from desktop_app.errors import ConnectorError
from desktop_app.storage.paths import instance_socket

log = logging.getLogger(__name__)

#: Registry setting: "off" keeps a bridge from starting the app when a sign-in has ended.
START_APP_SETTING = "bridge_starts_app"
HIDDEN_FLAG = "--hidden"

Launch = Callable[[list[str]], None]


def app_command() -> list[str]:
    """The app in the tray, from this installation (the frozen bundle's executable, else this Python)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, HIDDEN_FLAG]
    return [sys.executable, "-m", "desktop_app", HIDDEN_FLAG]


def launch_detached(command: list[str]) -> None:
    """Start ``command`` in a session (POSIX) or process group (Windows) of its own with nothing inherited."""
    quiet = subprocess.DEVNULL
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
        subprocess.Popen(command, stdin=quiet, stdout=quiet, stderr=quiet, close_fds=True, creationflags=flags)
    else:
        subprocess.Popen(command, stdin=quiet, stdout=quiet, stderr=quiet, close_fds=True, start_new_session=True)


def _app_socket(home: Path) -> Path | None:
    """The profile's single-instance socket when it is this user's socket (ADR 0016), else None."""
    try:
        path = instance_socket(home)
        info = path.lstat()
    except (ConnectorError, OSError):
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        return None
    return path


def _peer_is_this_user(connection: socket.socket) -> bool:
    """``SO_PEERCRED`` on Linux; elsewhere the socket's private folder is the guard."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("iII"))
    _pid, uid, _gid = struct.unpack("iII", credentials)
    return bool(uid == os.getuid())


def ask_step_up(home: Path, *, account_id: int, scopes: tuple[str, ...], host: str) -> bool:
    """Ask the running app of ``home`` to sign ``account_id`` in again with ``scopes`` (it shows the pairing);
    False when no app of this user answers."""
    if os.name != "posix":
        return False
    path = _app_socket(home)
    if path is None:
        return False
    message = {"account": account_id, "scopes": list(scopes), "host": host}
    with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)) as connection:
        connection.settimeout(0.5)
        try:
            connection.connect(str(path))
            if not _peer_is_this_user(connection):
                log.warning("The app's socket is held by another user: not asked")
                return False
            connection.sendall(b"step-up " + json.dumps(message).encode("utf-8") + b"\n")
        except OSError as exc:
            log.info("Could not ask the app for a step-up (%s)", exc.strerror or type(exc).__name__)
            return False
    return True


def app_is_running(home: Path) -> bool:
    """Whether an app of the profile in ``home`` answers on its single-instance socket (POSIX; elsewhere: unknown,
    taken as running, so nothing is started twice)."""
    if os.name != "posix":
        return True
    path = _app_socket(home)
    if path is None:
        return False
    with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class AppLink:
    """Starts the app at most once for this bridge, when a sign-in ended and no app runs."""

    def __init__(
        self,
        home: Path,
        registry: Registry,
        *,
        launch: Launch = launch_detached,
        running: Callable[[Path], bool] = app_is_running,
    ) -> None:
        self._home = home
        self._registry = registry
        self._launch = launch
        self._running = running
        self.started = False

    def sign_in_ended(self) -> None:
        if self.started or self._registry.get_setting(START_APP_SETTING) == "off":
            return
        if self._running(self._home):
            return
        self.started = True
        try:
            self._launch(app_command())
            log.info("Started the app in the tray: a sign-in must be renewed")
        except OSError as exc:
            log.warning("Could not start the app in the tray (%s)", exc.strerror or type(exc).__name__)
