"""Which connectors are in use right now, and by which program: a small file per running bridge.

Each bridge writes ``<profile>/bridges/<pid>.json`` (the account, the server, the program that launched it, when)
when it starts and removes it when it ends. The window and the tray read them with :func:`live_bridges`; a file
whose process is gone (a bridge killed with SIGKILL cannot remove it) is ignored and cleaned up. On Linux the
process's start time is kept too, so a file is not mistaken for a live bridge when its process id was reused.
Nothing secret is in these files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER = "bridges"


@dataclass(frozen=True, slots=True)
class LiveBridge:
    pid: int
    server_id: int
    account_id: int
    #: The name of the program that launched the bridge (its parent process), as the system names it.
    launched_by: str
    started_at: float
    #: The process's start time in clock ticks since boot (Linux), to tell a reused process id apart.
    process_start: int | None = None


def _process_start(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (Linux); None elsewhere or when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def parent_name() -> str:
    """What launched this process: the parent's program name where the system says, else its process id."""
    ppid = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            return Path(f"/proc/{ppid}/comm").read_text().strip() or f"process {ppid}"
    return f"process {ppid}"


def announce(
    home: Path, *, server_id: int, account_id: int, started_at: float, launched_by: str | None = None
) -> Path | None:
    """Write this bridge's file (``launched_by``: the launcher's name, default :func:`parent_name`); returns its
    path for :func:`withdraw`, or None when it cannot be written (the bridge serves all the same)."""
    try:
        return _write(home, server_id, account_id, started_at, launched_by)
    except OSError as exc:
        log.warning("Could not say that this connector is in use (%s)", exc.strerror or type(exc).__name__)
        return None


def _write(home: Path, server_id: int, account_id: int, started_at: float, launched_by: str | None) -> Path:
    folder = home / FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    pid = os.getpid()
    launcher = launched_by if launched_by is not None else parent_name()
    entry = LiveBridge(pid, server_id, account_id, launcher, started_at, _process_start(pid))
    path = folder / f"{pid}.json"
    temporary = folder / f".{pid}.json.tmp"
    temporary.write_text(json.dumps(asdict(entry)), encoding="utf-8")
    os.replace(temporary, path)
    return path


def withdraw(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(entry: LiveBridge) -> bool:
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would send Ctrl+C there; the bridge removes its file when it ends
    try:
        os.kill(entry.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone's process (not ours): cannot tell; the start time below decides where known
    except OSError:
        return False
    return entry.process_start is None or _process_start(entry.pid) == entry.process_start


def live_bridges(home: Path) -> list[LiveBridge]:
    """The bridges running now, oldest first; files of bridges that are gone are removed."""
    found: list[LiveBridge] = []
    folder = home / FOLDER
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            entry = LiveBridge(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            log.info("Ignoring an unreadable bridge file %s", path.name)
            continue
        if _alive(entry):
            found.append(entry)
        else:
            withdraw(path)
    return sorted(found, key=lambda entry: entry.started_at)
