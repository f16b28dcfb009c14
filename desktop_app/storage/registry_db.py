"""The registry's SQLite database: opening a file without trusting it, migrating it, transactions, errors.

:class:`RegistryDatabase` is the connection half of :class:`desktop_app.storage.registry.SqliteRegistry` (the
queries are there). The file is opened in WAL mode with a busy timeout, so several processes can use it at once;
every transaction that writes starts with ``BEGIN IMMEDIATE``. The schema and its migrations are in
:mod:`desktop_app.storage.schema`. See docs/decisions/0009-registry-sqlite.md and 0016-local-trust.md.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from desktop_app.appinfo import APP_NAME
from desktop_app.errors import StorageError
from desktop_app.storage.paths import check_own_file, ensure_private_dir
from desktop_app.storage.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

#: How long a write waits for another process's transaction before giving up (seconds).
BUSY_TIMEOUT = 10.0
#: SQLite's files beside the database (write-ahead log, shared memory, rollback journal): opened by name too.
SIDE_FILES = ("-wal", "-shm", "-journal")
#: What an in-memory registry gives as its :attr:`RegistryDatabase.path` (SQLite's own name for such a database).
MEMORY_PATH = Path(":memory:")
#: The hint of every error about a registry file that cannot be used.
_MOVE_ASIDE = (
    "Move the file aside (rename it) and start the app again: a new, empty registry is created and the old file "
    "is left as it is, for recovery."
)


class RegistryDatabase:
    """The registry's connection: a SQLite file (created, 0600, when missing), or a database in memory.

    Opening refuses, with a :class:`StorageError` naming the file and never touching it: a file that is not a
    SQLite database or is damaged (``database_unreadable``), another program's database (``database_unreadable``),
    a registry written by a newer version (``schema_too_new``), a registry or SQLite file beside it that is a
    symbolic link, not a regular file or another user's (``file_unsafe``), a folder that belongs to another user
    or that others may write in (``data_dir_foreign``, ``data_dir_writable``; ADR 0016). One connection per
    instance, usable from any thread (calls are serialised by a lock).
    """

    def __init__(self, path: Path) -> None:
        self._attach(Path(path), _open_file(Path(path)))

    @classmethod
    def in_memory(cls) -> Self:
        """A registry kept in memory only: the same schema and queries, gone when closed (a sign-in that keeps
        nothing). Its :attr:`path` is :data:`MEMORY_PATH`; no other connection ever changes it."""
        registry = cls.__new__(cls)
        registry._attach(MEMORY_PATH, _open_memory())
        return registry

    def _attach(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = conn
        self._data_version: int | None = None

    # -- plumbing --------------------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction; ``write`` takes the write lock at once (``BEGIN IMMEDIATE``), so it cannot deadlock
        on an upgrade from reading. Errors of the person's input pass through, SQLite's become StorageError."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.ProgrammingError:
                raise  # a bug (closed registry, wrong binding): not the database's fault
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.debug("rollback after an error failed", exc_info=True)
                raise _storage_error(self.path, exc) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- profile ---------------------------------------------------------------------------------------------
    def profile_id(self) -> str:
        with self._transaction(write=False) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'profile_id'").fetchone()
        if row is None:
            raise StorageError(
                "database_unreadable", f"The registry {self.path} has no profile id: it is damaged.", hint=_MOVE_ASIDE
            )
        return str(row[0])

    def changed_elsewhere(self) -> bool:
        # SQLite's data_version changes when another connection commits, never for this one's own commits.
        with self._lock:
            try:
                version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.ProgrammingError:
                raise
            except sqlite3.Error as exc:
                raise _storage_error(self.path, exc) from exc
            previous, self._data_version = self._data_version, version
        return previous is not None and version != previous

    def get_setting(self, key: str) -> str | None:
        with self._transaction(write=False) as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str | None) -> None:
        """``None`` removes the setting."""
        with self._transaction(write=True) as conn:
            if value is None:
                conn.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                conn.execute(
                    """INSERT INTO settings (key, value) VALUES (?, ?)
                       ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                    (key, value),
                )


def _open_file(path: Path) -> sqlite3.Connection:
    """SQLite opens files by name and follows symbolic links: the folder is checked first (it is the user's and
    nobody else may write in it, so nobody can swap a name afterwards), then each file by name (ADR 0016)."""
    ensure_private_dir(path.parent)
    for name in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        check_own_file(name)
    try:
        _create_private_file(path)
    except OSError as exc:
        raise StorageError(
            "database_unavailable",
            f"The registry {path} cannot be created: {exc.strerror or exc}.",
            hint="Check that the folder exists, belongs to you and that the disk is not full.",
        ) from exc
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise _storage_error(path, exc) from exc
    try:
        conn.row_factory = sqlite3.Row
        _check_file(conn, path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("The registry %s cannot use WAL (journal mode %s): other processes may wait longer", path, mode)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        _migrate(conn, path)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.ProgrammingError):
            raise _storage_error(path, exc) from exc
        raise
    _tighten_mode(path)
    return conn


def _open_memory() -> sqlite3.Connection:
    """A private database that lives as long as its connection (nothing is written anywhere)."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn, MEMORY_PATH)
    except BaseException:
        conn.close()
        raise
    return conn


def _create_private_file(path: Path) -> None:
    """Create the empty database file readable by the user only; an existing file is not touched."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return
    os.close(fd)
    log.info("Created the registry %s", path)


def _tighten_mode(path: Path) -> None:
    """An existing registry readable by others (copied in, restored from a backup) is made 0600."""
    if os.name != "posix":
        return
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
            log.warning("The registry %s was readable by other users; it is now private (0600)", path)
    except OSError as exc:
        log.warning("Could not make the registry %s private: %s", path, exc.strerror)


def _check_file(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse, before writing anything, a file that is not a registry this version can use."""
    version = _user_version(conn)  # the first read: "file is not a database" surfaces here
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    foreign = application_id not in (0, APPLICATION_ID)
    if not foreign and version == 0:
        foreign = conn.execute("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0] > 0
    if foreign:
        raise StorageError(
            "database_unreadable",
            f"The file {path} is a SQLite database of another program, not a registry of {APP_NAME}.",
            hint=_MOVE_ASIDE,
        )
    if version > SCHEMA_VERSION:
        raise _too_new(path, version)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the missing migrations, each in its own ``BEGIN IMMEDIATE`` transaction. Another process may be
    migrating the same file: the version is read again under the write lock."""
    while _user_version(conn) < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _user_version(conn)
            if version > SCHEMA_VERSION:
                raise _too_new(path, version)
            if version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if version < SCHEMA_VERSION and path != MEMORY_PATH:  # a new database in memory is no news
            log.info("Registry %s: schema %d → %d", path, version, version + 1)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _too_new(path: Path, version: int) -> StorageError:
    return StorageError(
        "schema_too_new",
        f"The registry {path} was written by a newer version of {APP_NAME} (schema {version}; this version knows "
        f"up to {SCHEMA_VERSION}).",
        hint="Use the newer version of the app, or move the file aside to start with an empty registry.",
    )


def _storage_error(path: Path, exc: sqlite3.Error) -> StorageError:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StorageError(
            "database_busy",
            f"The registry {path} stayed locked by another process for more than {BUSY_TIMEOUT:g} s.",
            hint="Another copy of the app or of the command line may be stuck: close it and try again.",
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StorageError(
            "database_unreadable",
            f"The registry {path} is not a database this app can read (it is damaged, or another kind of file).",
            hint=_MOVE_ASIDE,
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_FULL", "SQLITE_IOERR")):
        return StorageError(
            "database_unavailable",
            f"The registry {path} cannot be used: {exc}.",
            hint="Check that the disk is not full and that the file and its folder belong to you.",
        )
    return StorageError("database_error", f"The registry {path} refused an operation: {exc}.")
