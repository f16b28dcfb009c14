"""The rule for ``$XDG_RUNTIME_DIR``, with the standard library only: the bridge's launcher applies it before anything
else of the app is imported (docs/decisions/0034), and :func:`desktop_app.storage.paths.runtime_dir` for the app's
own sockets (ADR 0016)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping


def private_runtime_dir(environ: Mapping[str, str]) -> str | None:
    """``$XDG_RUNTIME_DIR`` when it is an absolute path to a folder (where a link leads) that belongs to this user,
    with nobody else allowed in (0700, as the XDG Base Directory spec requires); else None (unset: macOS, a session
    without systemd; relative; another user's; open to others; not POSIX)."""
    value = environ.get("XDG_RUNTIME_DIR")
    if not value or not os.path.isabs(value) or os.name != "posix":
        return None
    try:
        info = os.stat(value)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        return None
    return value
