"""Reading and writing a host's configuration file: UTF-8 text, written atomically with a backup of what was there.

A write goes to a temporary file in the same folder, is flushed to the disk, takes the old file's permissions, and
replaces the old file in one rename; the previous text is kept beside it as ``<name>.mcp-connectors.bak``. A file
reached through a symbolic link (dotfiles kept in a repository) is written where the link points, so the link stays.
If the host rewrote the file between our read and our write, the write is refused rather than its change lost.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from desktop_app.hosts.errors import HostConfigUnreadable, HostConfigUnwritable

BACKUP_SUFFIX = ".mcp-connectors.bak"
#: A new file (and a new folder) is the person's alone: a host's configuration may hold its own servers' secrets.
NEW_FILE_MODE = 0o600
NEW_DIR_MODE = 0o700


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A configuration file as read: its text (``""`` when it does not exist) and its bytes, to notice a change."""

    path: Path
    text: str
    raw: bytes | None


def target(path: Path) -> Path:
    """Where writing ``path`` lands: the file a symbolic link leads to, else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def read(path: Path) -> Snapshot:
    try:
        raw = target(path).read_bytes()
    except FileNotFoundError:
        return Snapshot(path, "", None)
    except OSError as exc:
        raise HostConfigUnreadable(path, exc.strerror or str(exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise HostConfigUnreadable(path, "not UTF-8 text", line=line) from None
    return Snapshot(path, text, raw)


def backup_of(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _replace(destination: Path, data: bytes, mode: int) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if os.name == "posix":
        folder = os.open(destination.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write(snapshot: Snapshot, text: str) -> Path | None:
    """Replace the file read as ``snapshot`` with ``text``; returns the backup written (None for a new file). Nothing
    is written when ``text`` is what is there."""
    if text == snapshot.text:
        return None
    destination = target(snapshot.path)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True, mode=NEW_DIR_MODE)
        current = destination.read_bytes() if destination.exists() else None
        if current != snapshot.raw:
            raise HostConfigUnwritable(snapshot.path, "it changed while it was being edited (try again)")
        backup = None
        mode = NEW_FILE_MODE
        if current is not None:
            mode = stat.S_IMODE(destination.stat().st_mode)
            backup = backup_of(destination)
            _replace(backup, current, mode)
        _replace(destination, text.encode("utf-8"), mode)
    except OSError as exc:
        raise HostConfigUnwritable(snapshot.path, exc.strerror or str(exc)) from None
    return backup
