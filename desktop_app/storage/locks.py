"""One refresh at a time per account, across coroutines of this process and across processes.

A lock file per account in the profile's ``locks`` directory, held with ``flock`` (POSIX) or ``msvcrt.locking``
(Windows). The operating system releases it when the holder dies, even on SIGKILL, so a crashed process never
leaves an account locked. Lock files are never deleted (deleting one while another process waits on it would let
two holders in).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from desktop_app.errors import StorageError, TransientError
from desktop_app.storage.paths import ensure_private_dir

DEFAULT_TIMEOUT = 90.0


def _try_lock(fd: int) -> bool:
    if sys.platform.startswith("win"):  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform.startswith("win"):  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


class AccountLocks:
    """``async with locks.hold(account_key):`` — exclusive for that account everywhere on this machine."""

    def __init__(self, directory: Path, *, poll: float = 0.02) -> None:
        self.directory = directory
        self._poll = poll
        self._local: dict[str, asyncio.Lock] = {}

    def path(self, name: str) -> Path:
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise ValueError(f"unusable lock name {name!r}")
        return self.directory / f"{name}.lock"

    @asynccontextmanager
    async def hold(
        self, name: str, *, timeout: float = DEFAULT_TIMEOUT, what: str = "this account"
    ) -> AsyncIterator[None]:
        path = self.path(name)
        local = self._local.setdefault(name, asyncio.Lock())
        async with local:
            ensure_private_dir(self.directory)
            try:
                # Never through a symbolic link planted in the folder (docs/decisions/0016).
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            except OSError as exc:
                raise StorageError(
                    "lock_unusable",
                    f"The lock file {path} cannot be used ({exc.strerror or type(exc).__name__}).",
                    hint=f"Remove {path} (a symbolic link or something else is in its place), then try again.",
                ) from None
            try:
                deadline = time.monotonic() + timeout
                while not _try_lock(fd):
                    if time.monotonic() >= deadline:
                        raise TransientError(
                            "account_busy",
                            f"Another process has been renewing {what} for over {timeout:.0f} s.",
                            hint="Try again in a moment; if it persists, check for a stuck mcp-connectors process.",
                        )
                    # Jitter, so that many waiters don't retry in lock step.
                    await asyncio.sleep(self._poll * (0.5 + random.random()))  # noqa: S311 - not security
                try:
                    yield
                finally:
                    _unlock(fd)
            finally:
                os.close(fd)
