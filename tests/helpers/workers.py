"""The app's own background processes a test (or the smoke test, or a benchmark) looks for: the renewal workers
(docs/decisions/0018) a profile has running — they outlive a requester that was killed, so a test that kills
requesters waits for them before it looks at the profile; Linux: read from ``/proc`` — and the warm starter answering
on a socket (docs/decisions/0034)."""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

from desktop_app.accounts.worker_words import WORKER_FLAG

#: The most :func:`wait_for_renewal_workers` waits (a guard against a hang, not a measure of speed).
PATIENCE = 60.0


def processes(words: tuple[str, ...], variable: str) -> list[int]:
    """The process ids whose command line has every one of ``words`` and whose environment holds ``variable`` (a
    ``NAME=value`` entry): this user's processes of one test's profile or runtime folder. Linux: ``/proc``."""
    wanted = [word.encode() for word in words]
    marker = variable.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if not all(word in command for word in wanted):
                continue
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if marker in environment:
            found.append(int(entry.name))
    return found


def parent_of(pid: int) -> int:
    """The parent's process id of ``pid`` (``/proc/PID/stat``; the name field may hold spaces and brackets)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def renewal_workers(home: Path) -> list[int]:
    """The process ids of the renewal workers running on the profile in ``home`` (``MCP_CONNECTORS_HOME``)."""
    return processes((WORKER_FLAG,), f"MCP_CONNECTORS_HOME={home}")


def wait_for_renewal_workers(home: Path) -> None:
    """Return once no renewal worker of the profile in ``home`` is left."""
    deadline = time.monotonic() + PATIENCE
    while running := renewal_workers(home):
        assert time.monotonic() < deadline, f"renewal workers {running} still running after {PATIENCE:.0f} s"
        time.sleep(0.01)


def starter_pid(path: str | Path) -> int | None:
    """The pid of the warm starter answering on the Unix socket ``path`` (``SO_PEERCRED``), or None when nobody
    answers. The starter reads the empty connection, finds no request and closes it."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        pid, _, _ = struct.unpack("3i", probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        return int(pid)
    except OSError:
        return None
    finally:
        probe.close()
