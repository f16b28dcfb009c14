"""The bridge's warm start, the launcher's side (docs/decisions/0034): hand this bridge to a warm starter.

A warm starter (:mod:`desktop_app.bridge.warm`) has imported everything a bridge needs and waits on a private Unix
socket. :func:`run` connects to it, sends one request (the command's words, this process's whole environment, its
working folder and umask, the name of what launched it, its pid) with this process's standard streams (file
descriptors 0, 1 and 2), and waits for the acknowledgement naming the bridge the starter forked for it. It then
answers ``go`` (from then on the child owns the streams), passes SIGTERM, SIGINT and SIGHUP on as ``stop``, and ends
with the exit status the child sends when it ends (1 when the connection closes without one).

When there is no starter (no socket, refused, not Linux, opted out with ``MCP_CONNECTORS_WARM_BRIDGE=0``) or no
acknowledgement comes, :func:`run` returns None and the bridge runs in this process as it always did: nothing was
started, the streams were not touched.

Standard library only, and only its light modules: this runs in every bridge before anything else is imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import zlib
from collections.abc import Mapping, Sequence
from types import FrameType

from desktop_app.appinfo import VERSION
from desktop_app.storage.runtime_folder import private_runtime_dir

#: ``MCP_CONNECTORS_WARM_BRIDGE=0`` turns the warm start off: bridges run cold and start no starter.
OPT_OUT = "MCP_CONNECTORS_WARM_BRIDGE"
#: The program's first word that makes it a warm starter (``python -m desktop_app --bridge-warm``).
WARM_FLAG = "--bridge-warm"
#: How long the launcher waits for the starter's acknowledgement before running cold (a hang guard).
ACK_SECONDS = 10.0
#: The longest line either side sends (the request carries the whole environment).
MAX_LINE_BYTES = 4 * 1024 * 1024
#: The exit status when the bridge's connection closed without one (the child died).
EXIT_LOST = 1
STOP = b'{"stop":true}\n'
GO = b'{"go":true}\n'
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def names_bridge(words: Sequence[str]) -> bool:
    """The command ``words`` name is ``bridge``: the rule of :func:`desktop_app.cli.parser.command_in` (the first
    word that is neither an option nor ``--secret-store``'s value), without the parser's imports."""
    remaining = iter(words)
    for word in remaining:
        if word == "--secret-store":
            next(remaining, None)
        elif word == "--" or not word.startswith("-"):
            return word == "bridge"
    return False


def enabled(environ: Mapping[str, str]) -> bool:
    """Linux (the peer check needs ``SO_PEERCRED``), with file-descriptor passing, and not opted out."""
    return sys.platform.startswith("linux") and hasattr(socket, "send_fds") and environ.get(OPT_OUT, "") != "0"


def starter_key(executable: str | None = None) -> str:
    """A short hash of what makes a starter fit this program: the app's version, the package's folder and the
    Python (or frozen app) that runs it. Another install or version never uses this one's starter."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = "\0".join((VERSION, package, executable or sys.executable)).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(text):08x}{zlib.adler32(text):08x}"


def runtime_dir(environ: Mapping[str, str]) -> str | None:
    """The private ``$XDG_RUNTIME_DIR`` (:func:`desktop_app.storage.runtime_folder.private_runtime_dir`), or None."""
    return private_runtime_dir(environ)


def socket_path(environ: Mapping[str, str]) -> str | None:
    """Where this program's warm starter listens, or None when there is no private runtime folder."""
    folder = runtime_dir(environ)
    return None if folder is None else os.path.join(folder, f"bridge-warm-{starter_key()}.sock")


def parent_name() -> str:
    """What launched this process (as :func:`desktop_app.bridge.presence.parent_name` says it)."""
    ppid = os.getppid()
    try:
        with open(f"/proc/{ppid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip() or f"process {ppid}"
    except OSError:
        return f"process {ppid}"


def warm_command() -> list[str]:
    """How this installation starts a warm starter (the frozen app is its own Python)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, WARM_FLAG]
    return [sys.executable, "-m", "desktop_app", WARM_FLAG]


#: The registry setting a bridge sets once it has answered a host: from then on the app starts a warm starter at its
#: start (until then it would wait, ~33 MiB, for bridges that never come).
USED_SETTING = "bridge_used"


def start_starter_soon() -> None:
    """Start a warm starter in the background (a thread starts it detached and waits for its first stage), unless
    the warm start is off or there is no private runtime folder. For the app at its start and a cold bridge once it
    has answered ``initialize``; a starter already running makes the new one end at once."""
    if not enabled(os.environ) or runtime_dir(os.environ) is None:
        return
    import threading  # a cold bridge after its first answer, or the app: never a warm bridge's start-up

    threading.Thread(target=_start_starter, name="warm-starter", daemon=True).start()


def keep_starter_warm() -> None:
    """For the running app, every few minutes once a bridge has been used: a starter that answers is kept from ending
    idle (a connection counts as use; it finds no request and closes it); when none answers, one is started."""
    if not enabled(os.environ):
        return
    path = socket_path(os.environ)
    if path is None:
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            probe.connect(path)
    except OSError:
        start_starter_soon()


def _start_starter() -> None:
    import subprocess

    from desktop_app.accounts.worker_launch import start_detached
    from desktop_app.errors import RenewerUnavailable

    try:
        first_stage = start_detached(
            warm_command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except RenewerUnavailable:
        return
    first_stage.wait()  # it forks the starter proper and ends: no zombie left here


def run(words: Sequence[str]) -> int | None:
    """The bridge's exit status when a warm starter ran it for this process; None: run it here (cold)."""
    if not enabled(os.environ):
        return None
    path = socket_path(os.environ)
    if path is None:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(ACK_SECONDS)  # a starter that stopped answering (its queue full) is given up on
    try:
        connection.connect(path)
        started = _hand_over(connection, words)
    except (OSError, ValueError):
        started = False
    if not started:
        connection.close()  # a child that sent its acknowledgement waits for "go": without it, it ends untouched
        return None
    return _follow(connection)


def request_line(words: Sequence[str]) -> bytes:
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None  # the folder was removed: the child stays in the starter's
    umask = os.umask(0o077)  # read by setting it: set back at once
    os.umask(umask)
    request = {
        "words": list(words),
        "env": dict(os.environ),
        "cwd": cwd,
        "umask": umask,
        "parent": parent_name(),
        "pid": os.getpid(),
    }
    return json.dumps(request).encode("ascii") + b"\n"  # ASCII: a name that is not UTF-8 travels as escapes


def _hand_over(connection: socket.socket, words: Sequence[str]) -> bool:
    """Send the request and the streams; True once the child acknowledged it and was told to go."""
    line = request_line(words)
    if len(line) > MAX_LINE_BYTES:
        return False
    first = line[:65536]
    sent = socket.send_fds(connection, [first], [0, 1, 2])
    connection.sendall(line[sent:])
    answer, _ = read_line(connection, b"")
    if answer is None or not isinstance(answer.get("pid"), int):
        return False
    connection.sendall(GO)
    connection.settimeout(None)
    return True


def read_line(connection: socket.socket, pending: bytes) -> tuple[dict[str, object] | None, bytes]:
    """The next line's JSON object and what came after it; (None, ...) at the end or on a line that is no object."""
    while b"\n" not in pending:
        if len(pending) > MAX_LINE_BYTES:
            return None, b""
        chunk = connection.recv(65536)
        if not chunk:
            return None, b""
        pending += chunk
    line, _, rest = pending.partition(b"\n")
    value = json.loads(line)
    return (value if isinstance(value, dict) else None), rest


def _follow(connection: socket.socket) -> int:
    """Pass signals on as ``stop`` until the child sends its exit status."""

    def stop(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):  # the child is ending anyway
            connection.sendall(STOP)

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, stop)
    pending = b""
    while True:
        try:
            message, pending = read_line(connection, pending)
        except (OSError, ValueError):
            return EXIT_LOST
        if message is None:
            return EXIT_LOST
        status = message.get("exit")
        if isinstance(status, int) and not isinstance(status, bool):
            return status
