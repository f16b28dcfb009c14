"""One refresh at a time per account, across coroutines of this process and across processes.

A lock file per account in the profile's ``locks`` directory (:class:`~desktop_app.storage.lockfile.LockFile`:
released by the operating system when the holder dies, even on SIGKILL, so a crashed process never leaves an account
locked; never deleted, never opened through a symbolic link). Waiting never blocks the event loop: each try is
non-blocking, and the waits between tries are ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from desktop_app.errors import StorageError, TransientError
from desktop_app.storage.lockfile import LockFile
from desktop_app.storage.paths import ensure_private_dir

DEFAULT_TIMEOUT = 90.0


def account_busy(what: str, timeout: float) -> TransientError:
    """The error of a lock still held by someone else after ``timeout`` seconds."""
    return TransientError(
        "account_busy",
        f"Another process has been renewing {what} for over {timeout:.0f} s.",
        hint="Try again in a moment; if it persists, check for a stuck copy of the app or of its command line.",
    )


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
            lock = LockFile(path)
            deadline = time.monotonic() + timeout
            while not self._try(lock):
                if time.monotonic() >= deadline:
                    raise account_busy(what, timeout)
                # Jitter, so that many waiters don't retry in lock step.
                await asyncio.sleep(self._poll * (0.5 + random.random()))  # noqa: S311 - not security
            try:
                yield
            finally:
                lock.release()

    @staticmethod
    def _try(lock: LockFile) -> bool:
        try:
            return lock.try_acquire()
        except OSError as exc:
            # Never through a symbolic link planted in the folder (docs/decisions/0016).
            raise StorageError(
                "lock_unusable",
                f"The lock file {lock.path} cannot be used ({exc.strerror or type(exc).__name__}).",
                hint=f"Remove {lock.path} (a symbolic link or something else is in its place), then try again.",
            ) from None
