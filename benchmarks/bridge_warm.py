"""Ours warm (docs/decisions/0034): a warm starter running, as when the app runs, for benchmarks/bridge.py.

The starter runs on a private runtime folder of the benchmark's own (so no other starter is found, and none is left
behind): :func:`warm_starter` starts it with the same Python and environment as the bridges it serves, waits until it
answers, and stops it at the end. The cold contender's environment turns the warm start off, so that it never starts
or finds a starter.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from benchmarks.lab_env import BenchmarkError
from desktop_app.bridge import launcher
from desktop_app.bridge.presence import live_bridges
from desktop_app.bridge.warm import IDLE_VARIABLE
from tests.helpers.workers import starter_pid

#: How long the starter may take to listen (a hang guard, not a measure).
LISTEN_WAIT = 60.0


def cold_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the warm start off: the bridge runs in its own process and starts no starter."""
    return {**env, launcher.OPT_OUT: "0"}


def warm_env(env: dict[str, str], runtime: Path) -> dict[str, str]:
    """``env`` with the warm start on, on the private runtime folder ``runtime``."""
    runtime.mkdir(mode=0o700, exist_ok=True)
    warm = {**env, "XDG_RUNTIME_DIR": str(runtime), IDLE_VARIABLE: str(24 * 3600)}
    warm.pop(launcher.OPT_OUT, None)
    return warm


def check_forked(launcher_pid: int, home: Path) -> None:
    """The bridge a launcher started was forked by the starter (its presence file names another process): a warm
    row that ran cold would be a measure of something else."""
    served_by = [bridge.pid for bridge in live_bridges(home)]
    if not served_by or launcher_pid in served_by:
        raise BenchmarkError("ours warm ran in the launched process itself, not forked by the warm starter")


@contextmanager
def warm_starter(python: Path, env: dict[str, str]) -> Iterator[int]:
    """A warm starter for ``python -m desktop_app bridge`` in ``env`` (see :func:`warm_env`); yields its pid."""
    runtime = launcher.runtime_dir(env)
    if runtime is None:
        raise BenchmarkError("the warm starter's runtime folder is not private")
    first = subprocess.run(
        [str(python), "-m", "desktop_app", launcher.WARM_FLAG], env=env, capture_output=True, timeout=LISTEN_WAIT
    )
    if first.returncode != 0:
        raise BenchmarkError(f"the warm starter did not start: {first.stderr.decode(errors='replace')[-300:]}")
    deadline = time.monotonic() + LISTEN_WAIT
    pid = None
    while pid is None:  # its key names ``python`` as it sees itself (sys.executable): the socket is found by pattern
        if time.monotonic() > deadline:
            raise BenchmarkError("the warm starter does not listen")
        time.sleep(0.05)
        pid = next(filter(None, map(starter_pid, map(str, Path(runtime).glob("bridge-warm-*.sock")))), None)
    try:
        yield pid
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
