"""An exclusive lock on a file of a private folder, held by the operating system (``filelock``: ``flock`` on POSIX,
``LockFileEx`` on Windows), for the per-account locks (:mod:`desktop_app.storage.locks`) and the file vault.

The kernel releases such a lock when its holder dies, even on SIGKILL, so a crash never leaves it held. The lock
file is created 0600 and never through a symbolic link planted at its name (``O_NOFOLLOW``; ADR 0016), and it is
never deleted: deleting it while another process waits on it would let two holders in. Never the soft (marker
file) fallback ``filelock`` offers on file systems without ``flock``: a marker outlives a killed holder.
"""

from __future__ import annotations

from pathlib import Path

import filelock

#: How often :meth:`LockFile.acquire` tries again while another process holds the lock (seconds).
POLL_INTERVAL = 0.005


class LockFile:
    """One lock file. Not reentrant, and not shared between threads: the callers serialise their own use (a
    threading lock in the file vault, an asyncio lock per account in :class:`~desktop_app.storage.locks.AccountLocks`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = filelock.FileLock(
            path,
            mode=0o600,
            thread_local=False,
            fallback_to_soft=False,
            preserve_lock_file=True,
            poll_interval=POLL_INTERVAL,
        )

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; False if someone does. OSError when the file cannot be used (a link
        or something else in its place, no permission)."""
        try:
            self._lock.acquire(blocking=False)
        except filelock.Timeout:
            return False
        return True

    def acquire(self) -> None:
        """Wait as long as it takes for the lock (OSError as for :meth:`try_acquire`)."""
        self._lock.acquire()

    def release(self) -> None:
        self._lock.release()
