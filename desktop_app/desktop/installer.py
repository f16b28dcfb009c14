"""``desktop install|remove|status``: the app's menu entry, metainfo and icons in the person's own data folder
(``$XDG_DATA_HOME``, usually ``~/.local/share``), for installs that have none from a package (pip, pipx).

Nothing that ``desktop install`` did not write is replaced or removed. The entry it writes lists every other file it
wrote with a digest of its content (the key :data:`FILES_KEY`); ``remove`` deletes a listed file only while it still
has that content (an icon the person replaced stays), and refuses an entry without the list. A file already where one
of ours goes is replaced only when it is ours (listed, unchanged) or already holds exactly what would be written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from desktop_app.desktop import entry
from desktop_app.desktop.errors import (
    DesktopFilesUnwritable,
    DesktopUnsupported,
    ForeignDesktopFile,
    ProgramNotFound,
)
from desktop_app.desktop.files import APPLICATIONS, ENTRY, HICOLOR, Icons, app_icons, share_files, write_file
from desktop_app.hosts.entries import bridge_program
from desktop_app.hosts.errors import BridgeNotFound

log = logging.getLogger(__name__)

#: The entry's list of the other files ``desktop install`` wrote: ``path:digest;``, relative to the share folder.
FILES_KEY = "X-MCP-Connectors-Installed-Files"
DIGEST_CHARS = 16
DEFAULT_DATA_DIRS = ("/usr/local/share", "/usr/share")
#: Refreshing a cache is a courtesy to the desktop: a few seconds at most, and never a reason to fail.
CACHE_TIMEOUT_S = 30.0

Runner = Callable[[Sequence[str]], object]


def supported(platform: str | None = None) -> bool:
    """A freedesktop system: Linux and the BSDs (not macOS, not Windows)."""
    name = platform or sys.platform
    return not (name == "darwin" or name.startswith(("win", "cygwin", "msys")))


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME`` when it is absolute (the XDG spec ignores a relative one), else ``~/.local/share``."""
    env = os.environ if environ is None else environ
    value = env.get("XDG_DATA_HOME")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / ".local" / "share"


def data_dirs(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    env = os.environ if environ is None else environ
    listed = [part for part in (env.get("XDG_DATA_DIRS") or "").split(":") if os.path.isabs(part)]
    return tuple(Path(part) for part in (listed or DEFAULT_DATA_DIRS))


def installed_program() -> str:
    """The absolute path of the installed ``mcp-connectors`` (the bundle itself when frozen): what the entry starts."""
    try:
        return bridge_program()
    except BridgeNotFound:
        raise ProgramNotFound(f"beside {sys.executable} and on PATH") from None


def _digest(data: bytes) -> str:
    """Enough of a SHA-256 to notice a changed file (the list stays readable in the entry)."""
    return hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DesktopFilesUnwritable(path, exc.strerror or str(exc)) from None


def recorded_files(entry_text: str) -> dict[PurePosixPath, str] | None:
    """What an entry says ``desktop install`` wrote (path → digest), or None when it is not such an entry."""
    value = entry.value_of(entry_text, FILES_KEY)
    if value is None:
        return None
    files: dict[PurePosixPath, str] = {}
    for item in value.split(";"):
        relative, _, digest = item.rpartition(":")
        if relative and digest and ".." not in PurePosixPath(relative).parts and not relative.startswith("/"):
            files[PurePosixPath(relative)] = digest
    return files


@dataclass(frozen=True, slots=True)
class Installed:
    entry: Path
    command: str
    written: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class Removed:
    #: Deleted files (the entry last); empty when there was nothing of ours.
    removed: tuple[Path, ...]
    #: Files we wrote that were changed since: left where they are.
    kept: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class MenuEntry:
    """Which menu entry the desktop finds for the app. ``path``: the first of ``$XDG_DATA_HOME`` and
    ``$XDG_DATA_DIRS`` that has one (None: none, the app is not in the menu); ``ours``: written by ``desktop
    install``; ``program``: what it starts, and ``program_found``: whether that is there (else the desktop hides the
    entry: ``TryExec``)."""

    path: Path | None
    ours: bool
    program: str | None
    program_found: bool
    #: Where ``desktop install`` writes (the person's own ``applications`` folder).
    user_entry: Path

    @property
    def missing(self) -> bool:
        """Nothing in the menu: no entry, or one whose program is gone."""
        return self.path is None or not self.program_found


def _program_found(program: str | None) -> bool:
    if not program:
        return False
    if os.path.isabs(program):
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


def status(environ: Mapping[str, str] | None = None, *, platform: str | None = None) -> MenuEntry:
    if not supported(platform):
        raise DesktopUnsupported(platform or sys.platform)
    home = data_home(environ)
    user_entry = home.joinpath(ENTRY)
    for share in (home, *data_dirs(environ)):
        path = share.joinpath(ENTRY)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError:  # there, but not ours to read: the desktop reads it as it can
            return MenuEntry(path, False, None, True, user_entry)
        text = data.decode("utf-8", "replace")
        try_exec = entry.value_of(text, "TryExec")
        program = try_exec.replace("\\\\", "\\") if try_exec else None
        return MenuEntry(path, recorded_files(text) is not None, program, _program_found(program), user_entry)
    return MenuEntry(None, False, None, False, user_entry)


def install(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    icons: Callable[[], Icons] = app_icons,
    run: Runner | None = None,
    platform: str | None = None,
) -> Installed:
    """Write the menu entry (starting ``argv``, by default the installed program) with the metainfo and icons into
    the person's data folder, then refresh the desktop's caches. Raises :class:`ForeignDesktopFile` before writing
    anything when a file that is not ours is in the way."""
    if not supported(platform):
        raise DesktopUnsupported(platform or sys.platform)
    argv = list(argv) if argv is not None else [installed_program()]
    share = data_home(environ)
    previous = _read(share.joinpath(ENTRY))
    recorded = recorded_files(previous.decode("utf-8", "replace")) if previous is not None else None
    files = share_files(argv, icons=icons)
    others, menu_entry = files[:-1], files[-1]
    for item in others:
        current = _read(share.joinpath(item.relative))
        ours = recorded is not None and recorded.get(item.relative) == _digest(current or b"")
        if current is not None and current != item.data and not ours:
            raise ForeignDesktopFile(share.joinpath(item.relative))
    if previous is not None and recorded is None and previous != menu_entry.data:
        raise ForeignDesktopFile(share.joinpath(ENTRY))
    listing = "".join(f"{item.relative}:{_digest(item.data)};" for item in others)
    extra = f"{FILES_KEY}={listing}\n"
    written: list[Path] = []
    for item in [*others, menu_entry]:
        path = share.joinpath(item.relative)
        data = item.data + extra.encode("utf-8") if item is menu_entry else item.data
        try:
            write_file(path, data)
        except DesktopFilesUnwritable as exc:
            raise DesktopFilesUnwritable(exc.path, exc.reason, done=tuple(written)) from None
        written.append(path)
    # Files an earlier install wrote that this one does not (an icon size dropped since): removed when unchanged.
    for relative, digest in (recorded or {}).items():
        if relative not in {item.relative for item in others}:
            path = share.joinpath(relative)
            if _digest(_read(path) or b"") == digest:
                _unlink(path, [])
                _prune(share, relative)
    refresh_caches(share, run=run)
    return Installed(share.joinpath(ENTRY), argv[0], tuple(written))


def remove(
    *, environ: Mapping[str, str] | None = None, run: Runner | None = None, platform: str | None = None
) -> Removed:
    """Delete what ``desktop install`` wrote and is unchanged, the entry last; then refresh the caches. Raises
    :class:`ForeignDesktopFile` when the entry there was not written by ``desktop install`` (nothing is removed)."""
    if not supported(platform):
        raise DesktopUnsupported(platform or sys.platform)
    share = data_home(environ)
    entry_path = share.joinpath(ENTRY)
    data = _read(entry_path)
    if data is None:
        return Removed((), ())
    recorded = recorded_files(data.decode("utf-8", "replace"))
    if recorded is None:
        raise ForeignDesktopFile(entry_path, removing=True)
    removed: list[Path] = []
    kept: list[Path] = []
    for relative, digest in recorded.items():
        path = share.joinpath(relative)
        current = _read(path)
        if current is None:
            continue
        if _digest(current) != digest:
            kept.append(path)
            continue
        _unlink(path, removed)
    _unlink(entry_path, removed)
    for relative in recorded:
        _prune(share, relative)
    refresh_caches(share, run=run)
    return Removed(tuple(removed), tuple(kept))


def _unlink(path: Path, removed: list[Path]) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise DesktopFilesUnwritable(path, exc.strerror or str(exc), done=tuple(removed)) from None
    removed.append(path)


def _prune(share: Path, relative: PurePosixPath) -> None:
    """Remove the folders above ``relative`` that are now empty, up to the top folders of ``share`` (an empty
    ``icons/hicolor/22x22/apps`` goes; ``icons`` and ``metainfo`` stay)."""
    for parent in relative.parents:
        if len(parent.parts) < 2:
            break
        try:
            share.joinpath(parent).rmdir()
        except OSError:
            break


def refresh_caches(share: Path, *, run: Runner | None = None) -> None:
    """Bring the desktop's caches of ``share`` up to date: ``update-desktop-database`` for the ``applications``
    folder, ``gtk-update-icon-cache`` for hicolor. Only a cache that is there is refreshed (none is created: without
    one the desktop reads the folders, and a file we made would outlive ``desktop remove``), only with a tool that is
    installed; a failure is logged, never raised."""
    runner: Runner = run or _run_quietly
    for tool, folder, cache, options in (
        ("update-desktop-database", share.joinpath(APPLICATIONS), "mimeinfo.cache", ["-q"]),
        ("gtk-update-icon-cache", share.joinpath(HICOLOR), "icon-theme.cache", ["-q", "-t", "-f"]),
    ):
        program = shutil.which(tool)
        if program and folder.joinpath(cache).is_file():
            runner([program, *options, str(folder)])


def _run_quietly(command: Sequence[str]) -> object:
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, timeout=CACHE_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("%s did not run: %s", command[0], exc)
        return None
    if result.returncode != 0:
        log.info("%s ended with status %s: %s", command[0], result.returncode, result.stderr.strip()[:300])
    return result
