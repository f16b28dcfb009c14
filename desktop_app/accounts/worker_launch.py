"""Starting the renewal worker where nothing that stops its requester can reach it (docs/decisions/0018).

Hosts stop a stdio server in one of three ways, and the worker must survive all of them:

- a signal to the server's process group or session (a terminal closing, a supervisor): the worker runs in a
  session of its own (``setsid``), or on Windows a process group of its own without a console;
- a walk down the process tree by parent id (VS Code's ``killTree``, the ``tree-kill`` package, ``taskkill /T``):
  the worker is started in two stages. The requester starts the first (``--renewal-worker``), which starts the
  worker proper (``--renewal-worker --handed-over``) with the same pipes and ends at once: the worker's parent is
  gone, so no walk from the requester finds it;
- a Windows job that kills its processes when it closes: the worker asks to break away from it (allowed by the job
  libuv gives Node's children, so by every host written on Node); a job that forbids it keeps the worker.

Light on purpose: the first stage runs this and nothing else of the app.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import IO, Any

from desktop_app.accounts.renewal_wire import RenewalAnswer
from desktop_app.accounts.worker_words import HANDED_OVER, WORKER_FLAG
from desktop_app.errors import RenewerUnavailable

#: What a standard stream of the started process is: a new pipe, or one of this process's streams.
Stream = int | IO[Any]


def worker_command() -> list[str]:
    """How this installation starts the worker's first stage: the app itself when it is a frozen bundle (its
    ``sys.executable`` is the app, whose entry looks at :data:`WORKER_FLAG` before anything else), else this Python
    running the package."""
    if getattr(sys, "frozen", False):
        return [sys.executable, WORKER_FLAG]
    return [sys.executable, "-m", "desktop_app", WORKER_FLAG]


def start_detached(command: list[str], *, stdin: Stream, stdout: Stream, stderr: Stream) -> subprocess.Popen[bytes]:
    """``command`` in a session (POSIX) or process group without a console (Windows) of its own, out of this
    process's job where the job allows it; nothing inherited but the three streams. :class:`RenewerUnavailable` when
    it cannot be started."""
    if not command or not command[0]:
        raise RenewerUnavailable("This program does not know its own executable, so it cannot start a renewal")
    streams: dict[str, Any] = {"stdin": stdin, "stdout": stdout, "stderr": stderr, "close_fds": True}
    try:
        if sys.platform == "win32":
            flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
            try:
                return subprocess.Popen(command, creationflags=flags | subprocess.CREATE_BREAKAWAY_FROM_JOB, **streams)
            except PermissionError:
                pass  # the job does not allow breaking away: the worker stays in it
            return subprocess.Popen(command, creationflags=flags, **streams)
        return subprocess.Popen(command, start_new_session=True, **streams)
    except OSError as exc:
        raise RenewerUnavailable(
            f"The process that renews accounts could not be started ({exc.strerror or type(exc).__name__})"
        ) from None


def hand_over() -> int:
    """The first stage: start the worker proper on this process's own stdin, stdout and stderr (the requester's
    pipes), and end. When it cannot be started, say so in the answer's place, so that the requester renews in its
    own process instead (nothing was read, nothing was sent)."""
    try:
        start_detached([*worker_command(), HANDED_OVER], stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)
    except RenewerUnavailable as exc:
        with contextlib.suppress(OSError):
            sys.stdout.buffer.write(RenewalAnswer(None, exc).to_line())
            sys.stdout.buffer.flush()
        return 1
    return 0
