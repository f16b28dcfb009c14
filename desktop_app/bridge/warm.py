"""The warm starter (docs/decisions/0034): a process that has imported everything a bridge needs and forks one for
each launcher (:mod:`desktop_app.bridge.launcher`), so that a bridge answers its host without Python's imports.

``python -m desktop_app --bridge-warm`` (or the frozen app with that flag): it imports the bridge and what its first
request loads, with no event loop and no thread (a fork copies only the thread that forks), forks (the first
process ends at once, so whoever started it reaps it and no walk down a host's process tree finds the starter), and
listens on ``$XDG_RUNTIME_DIR/bridge-warm-<key>.sock``: one starter per key; a live one keeps its socket, a stale
socket file is replaced.

Per connection: the peer must be this user (``SO_PEERCRED``); the request (bounded) and the three streams are read;
a child is forked. The child takes the launcher's streams, environment, folder and command words, acknowledges with
its pid, waits for ``go``, and runs the bridge as the launcher would have (:func:`desktop_app.bridge.main.main`).
When the connection ends (the launcher was killed, even with SIGKILL) or says ``stop`` (a signal to the launcher),
the child stops as on SIGTERM: the session is ended, the activity recorded. Its exit status goes to the launcher.

The starter reaps its children, logs nowhere (never to a host), and ends after :data:`IDLE_SECONDS` with no child
(``MCP_CONNECTORS_WARM_IDLE_SECONDS``), or when its socket file is gone or replaced.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from types import FrameType

import desktop_app.bridge.main as bridge_main
from desktop_app.bridge import launcher
from desktop_app.oauth.netpolicy import prepare_first_connection, shared_ssl_context

#: How long a starter with no child waits for a launcher before it ends.
IDLE_SECONDS = 15 * 60.0
IDLE_VARIABLE = "MCP_CONNECTORS_WARM_IDLE_SECONDS"
#: How often the starter looks at its socket file and its idle time.
TICK_SECONDS = 1.0
#: How long one launcher may take to send its request (a hang guard: the starter serves one at a time).
REQUEST_SECONDS = 5.0
#: Modules a bridge loads later than its start (a renewal, the secret store): loaded here once for every child.
LATER_MODULES = (
    "desktop_app.accounts.renewal_wire",
    "desktop_app.accounts.renewer",
    "desktop_app.accounts.worker_launch",
    "desktop_app.tools.identity_fetch",
    "subprocess",
)
#: Loaded when they can be: the vault's own Secret Service client (``secretstorage``, ``cryptography``), which a
#: bridge loads when it opens the profile on Linux (the keyring library's other backends stay unloaded).
OPTIONAL_MODULES = ("desktop_app.storage.secret_service",)
#: The environment that decides the TLS context made ahead here (httpx's ``trust_env``).
TLS_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_CREDENTIALS = struct.Struct("3i")


@dataclass(frozen=True, slots=True)
class Request:
    words: list[str]
    env: dict[str, str]
    cwd: str | None
    umask: int
    parent: str


def peer_is_this_user(credentials: bytes) -> bool:
    """``SO_PEERCRED``'s answer (pid, uid, gid) names a process of this user."""
    if len(credentials) != _CREDENTIALS.size:
        return False
    _, uid, _ = _CREDENTIALS.unpack(credentials)
    return bool(uid == os.getuid())


def parse_request(value: object) -> Request | None:
    """The launcher's request, or None when it is not one (a starter forks bridges and nothing else)."""
    if not isinstance(value, dict):
        return None
    words, env, cwd, parent = value.get("words"), value.get("env"), value.get("cwd"), value.get("parent")
    umask = value.get("umask")
    if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
        return None
    if not launcher.names_bridge(words) or not isinstance(umask, int) or not 0 <= umask <= 0o777:
        return None
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        return None
    if (cwd is not None and not isinstance(cwd, str)) or not isinstance(parent, str):
        return None
    return Request(words, env, cwd, umask, parent)


def main() -> int:
    if not launcher.enabled(os.environ):
        return 0
    path = launcher.socket_path(os.environ)
    if path is None or _live(path):
        return 0
    prepare()
    code = code_files()  # before it listens: a change from now on ends it
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() > 0:
        os._exit(0)  # the first stage: its starter reaps it at once
    _detach()
    listener = _bind(path)
    if listener is None:
        return 0
    try:
        serve(listener, path, _idle_seconds(), code)
    finally:
        listener.close()
    return 0


def prepare() -> None:
    """What a bridge would import at its start and its first request, loaded once here."""
    for name in LATER_MODULES:
        importlib.import_module(name)
    for name in OPTIONAL_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    prepare_first_connection(True)  # the TLS context too: a child keeps it when its environment chose the same


def _detach() -> None:
    """A session of its own (no terminal's signals) and standard streams on ``/dev/null``: the starter logs nowhere,
    and keeps no pipe of whoever started it open."""
    with contextlib.suppress(OSError):
        os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    if null > 2:
        os.close(null)


def _idle_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(IDLE_VARIABLE, IDLE_SECONDS)))
    except ValueError:
        return IDLE_SECONDS


def _live(path: str) -> bool:
    """A starter answers on ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _bind(path: str) -> socket.socket | None:
    """The listening socket at ``path``: a stale file (nobody answers) is replaced; a live starter keeps its own."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            listener.bind(path)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or _live(path):
                raise
            os.unlink(path)
            listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(16)
    except OSError:
        listener.close()
        return None
    return listener


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def serve(listener: socket.socket, path: str, idle_seconds: float, code: dict[str, tuple[int, int]]) -> None:
    """Fork a bridge per launcher until idle, until the socket file is not this starter's any more, or until the code
    it loaded changed on disk (an upgrade: the next launcher runs cold, and its bridge starts a new starter)."""
    children: set[int] = set()

    def reap(signum: int = 0, frame: FrameType | None = None) -> None:
        for pid in list(children):
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    children.discard(pid)

    signal.signal(signal.SIGCHLD, reap)
    mine = _identity(path)
    last_busy = time.monotonic()
    try:
        while mine is not None and _identity(path) == mine and same_code(code):
            ready, _, _ = select.select([listener], [], [], TICK_SECONDS)
            if ready:
                with contextlib.suppress(OSError):
                    connection, _ = listener.accept()
                    child = _accept(connection, listener)
                    if child is not None:
                        children.add(child)
                        reap()  # a child that ended before it was counted
            now = time.monotonic()
            if children or ready:
                last_busy = now
            elif now - last_busy >= idle_seconds:
                break
    finally:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if _identity(path) == mine:
            with contextlib.suppress(OSError):
                os.unlink(path)


def code_files() -> dict[str, tuple[int, int]]:
    """The file of every module loaded, and the program's own, with its modification time and size."""
    found: dict[str, tuple[int, int]] = {}
    paths = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
    for path in [*paths, sys.executable]:
        if isinstance(path, str):
            with contextlib.suppress(OSError):
                info = os.stat(path)
                found[path] = (info.st_mtime_ns, info.st_size)
    return found


def same_code(files: dict[str, tuple[int, int]]) -> bool:
    """None of ``files`` changed or went away since :func:`code_files` (about 1 ms for a bridge's modules)."""
    for path, seen in files.items():
        try:
            info = os.stat(path)
        except OSError:
            return False
        if (info.st_mtime_ns, info.st_size) != seen:
            return False
    return True


def _accept(connection: socket.socket, listener: socket.socket) -> int | None:
    """Check the peer, read its request and streams, fork its bridge; the child's pid, or None."""
    fds: list[int] = []
    try:
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
        if not peer_is_this_user(credentials):
            return None
        connection.settimeout(REQUEST_SECONDS)
        data, fds, _, _ = socket.recv_fds(connection, 65536, 3)
        if len(fds) != 3 or not data:
            return None
        value, pending = launcher.read_line(connection, data)
        request = parse_request(value)
        if request is None:
            return None
        pid = os.fork()
        if pid == 0:
            _child(connection, listener, fds, request, pending)  # never returns
        return pid
    except (OSError, ValueError):
        return None
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        connection.close()


def _child(
    connection: socket.socket, listener: socket.socket, fds: list[int], request: Request, pending: bytes
) -> None:
    """The forked bridge: never returns to the starter's loop."""
    status = launcher.EXIT_LOST
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the bridge waits for its own children (the renewal worker)
        listener.close()
        connection.settimeout(launcher.ACK_SECONDS)
        if request.cwd is not None:
            os.chdir(request.cwd)
        os.umask(request.umask)
        _take_environment(request.env)
        connection.sendall(json.dumps({"pid": os.getpid()}).encode("ascii") + b"\n")
        go, pending = launcher.read_line(connection, pending)
        if go is None or go.get("go") is not True:
            os._exit(0)  # the launcher runs the bridge itself: the streams stay untouched
        connection.settimeout(None)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            os.close(fd)
        fds.clear()
        sys.argv = [sys.argv[0], *request.words]
        watcher = _StopWatcher(connection, pending)
        status = _run_bridge(request)
        watcher.finished = True
        connection.sendall(json.dumps({"exit": status}).encode("ascii") + b"\n")
    except BaseException:  # noqa: BLE001 - the child must never go back to the starter's loop
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _take_environment(env: dict[str, str]) -> None:
    """The launcher's environment, as if it had run the bridge itself; the TLS context made ahead is kept only when
    the variables that chose it are the same."""
    before = {name: os.environ.get(name) for name in TLS_VARIABLES}
    os.environ.clear()
    os.environ.update(env)
    if {name: os.environ.get(name) for name in TLS_VARIABLES} != before:
        shared_ssl_context.cache_clear()


def _run_bridge(request: Request) -> int:
    try:
        return bridge_main.main(request.words, launched_by=request.parent, start_warm=False)
    except SystemExit as done:  # argparse's refusal or --help, as the cold entry would have ended
        code = done.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1


class _StopWatcher:
    """Reads the launcher's connection in a thread: ``stop``, or its end, stops the bridge as SIGTERM does."""

    def __init__(self, connection: socket.socket, pending: bytes) -> None:
        self.finished = False
        self._connection = connection
        self._pending = pending
        threading.Thread(target=self._watch, name="warm-stop", daemon=True).start()

    def _watch(self) -> None:
        pending = self._pending
        while True:
            try:
                message, pending = launcher.read_line(self._connection, pending)
            except (OSError, ValueError):
                message = None
            if message is None or message.get("stop") is True:
                if not self.finished:
                    os.kill(os.getpid(), signal.SIGTERM)
                if message is None:
                    return
