"""The renewal workers (docs/decisions/0018) a test's profile has running: they outlive a requester that was killed,
so a test that kills requesters waits for them before it looks at the profile. Linux: read from ``/proc``."""

from __future__ import annotations

import time
from pathlib import Path

from desktop_app.accounts.worker_words import WORKER_FLAG

#: The most :func:`wait_for_renewal_workers` waits (a guard against a hang, not a measure of speed).
PATIENCE = 60.0


def renewal_workers(home: Path) -> list[int]:
    """The process ids of the renewal workers running on the profile in ``home`` (``MCP_CONNECTORS_HOME``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if WORKER_FLAG.encode() not in (entry / "cmdline").read_bytes().split(b"\0"):
                continue
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if f"MCP_CONNECTORS_HOME={home}".encode() in environment:
            found.append(int(entry.name))
    return found


def wait_for_renewal_workers(home: Path) -> None:
    """Return once no renewal worker of the profile in ``home`` is left."""
    deadline = time.monotonic() + PATIENCE
    while running := renewal_workers(home):
        assert time.monotonic() < deadline, f"renewal workers {running} still running after {PATIENCE:.0f} s"
        time.sleep(0.01)
