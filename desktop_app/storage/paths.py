"""Where the app keeps its files: the platform's data directory, or ``MCP_CONNECTORS_HOME`` for a separate profile.

Nothing in a profile is trusted on sight (docs/decisions/0016): a folder must belong to the user and be writable by
nobody else (:func:`ensure_private_dir`), a file the app opens by name must be a regular file of the user's, never a
symbolic link (:func:`check_own_file`). Inside such a folder nobody else can plant or swap a file, so a check made
before opening holds when the file is opened.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from desktop_app.appinfo import APP_NAME
from desktop_app.errors import StorageError
from desktop_app.storage.runtime_folder import private_runtime_dir

log = logging.getLogger(__name__)

HOME_VARIABLE = "MCP_CONNECTORS_HOME"
#: The directory name on Linux and other XDG systems; macOS and Windows use the app's display name.
LINUX_DIR_NAME = "mcp-connectors"


def data_dir() -> Path:
    """The profile directory (not created here): ``MCP_CONNECTORS_HOME`` when set, else the platform's user data
    directory as ``platformdirs`` gives it, in a folder named :func:`app_dir_name`.

    Linux: ``$XDG_DATA_HOME/mcp-connectors`` (``~/.local/share/mcp-connectors``; a relative ``XDG_DATA_HOME`` is
    ignored, as the XDG spec asks); macOS: ``~/Library/Application Support/MCP Connector Manager`` (platformdirs
    honours an absolute ``XDG_DATA_HOME`` there too); Windows: ``%LOCALAPPDATA%\\MCP Connector Manager``.
    """
    override = os.environ.get(HOME_VARIABLE)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path(app_dir_name(), appauthor=False)


def app_dir_name(platform: str = sys.platform) -> str:
    """The data folder's name: lower case where XDG folders are the habit, the app's display name on macOS and
    Windows."""
    return APP_NAME if platform == "darwin" or platform.startswith("win") else LINUX_DIR_NAME


def runtime_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$XDG_RUNTIME_DIR`` when it is fit for the app's socket (:func:`~desktop_app.storage.runtime_folder.
    private_runtime_dir`: this user's, 0700, absolute); None otherwise (unset: macOS, a session without systemd; or
    not private, which is logged)."""
    environ = os.environ if environ is None else environ
    value = private_runtime_dir(environ)
    if value is None:
        if environ.get("XDG_RUNTIME_DIR"):
            log.info("XDG_RUNTIME_DIR %s is not a private folder of this user's: not used", environ["XDG_RUNTIME_DIR"])
        return None
    return Path(value)


def instance_socket(profile: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where the single-instance socket of ``profile`` lives (POSIX): in :func:`runtime_dir` when there is one,
    named after the app and a hash of the profile folder (two profiles run side by side); else ``run/instance``
    inside the profile folder, both checked by :func:`ensure_private_dir`. Never in ``/tmp``, where anyone may bind a
    name first (ADR 0016). Raises :class:`StorageError` when the profile folder cannot be used."""
    runtime = runtime_dir(environ)
    if runtime is not None:
        digest = hashlib.sha256(str(profile.resolve()).encode()).hexdigest()[:16]
        return runtime / f"{LINUX_DIR_NAME}-{digest}"
    return ensure_private_dir(ensure_private_dir(profile) / "run") / "instance"


def ensure_private_dir(path: Path) -> Path:
    """Create the directory (and parents) if missing; new directories are private to the user (0700). An existing
    one is looked at first (POSIX; where ``path`` is a symbolic link, the folder it leads to):

    - it belongs to another user, or others may write in it: :class:`StorageError` (``data_dir_foreign``,
      ``data_dir_writable``) naming the folder, what is wrong and what to do; nothing in it is used;
    - others may only read it (0755): it is made 0700, with a warning in the log.

    Raises :class:`StorageError` (``data_dir_unusable``) naming the folder when it cannot be created (a file in its
    place, no permission, ...).
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(path)
    except OSError as exc:
        reason = "a file is in its place" if isinstance(exc, FileExistsError) else (exc.strerror or type(exc).__name__)
        raise StorageError(
            "data_dir_unusable",
            f"The app's data folder {path} cannot be used: {reason}.",
            hint=f"Make it a folder you can write to, or set {HOME_VARIABLE} to another folder.",
        ) from exc
    if os.name == "posix":
        _check_private_dir(path, info)
    return path


def _check_private_dir(path: Path, info: os.stat_result) -> None:
    quoted = shlex.quote(str(path))
    if info.st_uid != os.geteuid():
        raise StorageError(
            "data_dir_foreign",
            f"The app's data folder {path} belongs to another user (user id {info.st_uid}): whoever owns it could "
            "read and change your connectors, so the app does not use it.",
            hint=f"If the folder is yours (the app once ran as another user, with sudo for example), take it back: "
            f"sudo chown -R $(id -u) {quoted}. Otherwise set {HOME_VARIABLE} to a folder of your own.",
        )
    mode = original = stat.S_IMODE(info.st_mode)
    if mode & stat.S_IWGRP and not mode & stat.S_IWOTH and _own_private_group(info.st_gid):
        # umask 002 with a group of one's own (Fedora, Debian's user private groups): nobody else is in that group,
        # so nobody else could write here; made private like a folder others can only read.
        mode &= ~stat.S_IWGRP
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StorageError(
            "data_dir_writable",
            f"The app's data folder {path} can be written by other users (mode {mode:o}): they could replace the "
            "files the app reads, so the app does not use it.",
            hint=f"Make it private to you: chmod 700 {quoted}; or set {HOME_VARIABLE} to a folder of your own.",
        )
    if original & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError as exc:
            log.warning("The data folder %s can be read by other users and could not be made private: %s", path, exc)
            return
        log.warning(
            "The data folder %s could be read by other users (mode %o); it is now private to you (700)", path, original
        )


def _own_private_group(gid: int) -> bool:
    """The group is the user's own and nobody else belongs to it (a "user private group")."""
    if gid != os.getegid():
        return False
    try:
        import grp  # POSIX only; this runs only there

        return not grp.getgrgid(gid).gr_mem
    except (ImportError, KeyError):
        return False


def check_own_file(path: Path) -> None:
    """A file the app opens by name: absent, or a regular file of the user's. A symbolic link (even to a file of
    the user's), anything else in its place, or a file of another user raise :class:`StorageError` (``file_unsafe``)
    naming it. Call it on a file inside a folder checked by :func:`ensure_private_dir`: nobody else can then change
    what the name leads to between this look and the opening."""
    if os.name != "posix":
        return
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(
            "file_unsafe",
            f"The file {path} cannot be looked at: {exc.strerror or type(exc).__name__}.",
            hint="Check that the app's data folder and the files in it belong to you.",
        ) from exc
    quoted = shlex.quote(str(path))
    aside = (
        f"move it aside (mv {quoted} {shlex.quote(str(path) + '.suspect')}) and start again: the app makes a new one"
    )
    if stat.S_ISLNK(info.st_mode):
        why = "is a symbolic link: the app opens its own files only, never what a link leads to"
        hint = f"If the file it leads to is yours, put that file itself in its place; otherwise {aside}."
    elif not stat.S_ISREG(info.st_mode):
        why = "is not a regular file"
        hint = f"Remove it or {aside}."
    elif info.st_uid != os.geteuid():
        why = f"belongs to another user (user id {info.st_uid})"
        hint = f"If the file is yours, take it back (sudo chown $(id -u) {quoted}); otherwise {aside}."
    else:
        return
    raise StorageError("file_unsafe", f"The file {path} {why}; it is not used.", hint=hint)
