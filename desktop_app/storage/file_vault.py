"""Secrets in one 0600 JSON file (:class:`FileVault`): not encrypted, used only when the person chose it
(``--secret-store file``) and always described so.

Implements :class:`desktop_app.accounts.ports.SecretStore` like the keyring vault: the same keys and values
(:mod:`desktop_app.storage.secret_values`), crash-atomic writes, errors as
:class:`~desktop_app.errors.SecretStoreError` with the keyring's codes (the message names the file). See
docs/decisions/0008-secret-storage.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from desktop_app.errors import SecretStoreError, one_line
from desktop_app.storage.secret_values import check_key, encode_value

log = logging.getLogger(__name__)

_FILE_FORMAT = "mcp-connectors-secrets/1"


class FileVault:
    """Secrets in one JSON file, readable only by its owner (0600). Not encrypted: only when the person chose it.

    Writes replace the file atomically (a 0600 temporary file in the same directory, fsync, rename) under an
    exclusive lock on a sibling ``.lock`` file, so concurrent processes never lose each other's writes. A file
    that others may read or write, or that belongs to someone else, is refused (``file_store_unsafe``).
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock_path = self._path.with_name(self._path.name + ".lock")
        self._thread_lock = threading.Lock()

    @property
    def kind(self) -> str:
        return "file"

    @property
    def description(self) -> str:
        return f"file {self._path} (not encrypted)"

    @property
    def path(self) -> Path:
        return self._path

    def __repr__(self) -> str:
        return f"FileVault({str(self._path)!r})"

    def check(self) -> None:
        """Raise ``file_store_unsafe`` (or a read error) now rather than during a sign-in."""
        self._load()

    def get(self, key: str) -> dict[str, Any] | None:
        check_key(key)
        value = self._load().get(key)
        log.debug("file store get %s: %s", key, "found" if value is not None else "none")
        return dict(value) if isinstance(value, dict) else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        check_key(key)
        decoded = json.loads(encode_value(value))
        with self._locked():
            data = self._load()
            data[key] = decoded
            self._save(data)
        log.debug("file store put %s", key)

    def delete(self, key: str) -> None:
        check_key(key)
        with self._locked():
            data = self._load()
            if key not in data:
                return
            del data[key]
            self._save(data)
        log.debug("file store delete %s", key)

    # -- steps -------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Imported here, at the first write: reading a token (the `token` command) never needs the lock.
        from desktop_app.storage.lockfile import LockFile

        with self._thread_lock:
            lock = LockFile(self._lock_path)
            try:
                self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                lock.acquire()
            except OSError as exc:
                raise self._io_error("write", exc) from exc
            try:
                yield
            finally:
                lock.release()

    def _load(self) -> dict[str, Any]:
        try:
            fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            if os.path.islink(self._path):
                raise self._unsafe("is a symbolic link", f"rm {self._path}") from exc
            raise self._io_error("read", exc) from exc
        try:
            self._check_safe(fd)
            with os.fdopen(fd, "rb", closefd=False) as handle:
                raw = handle.read()
        except OSError as exc:
            raise self._io_error("read", exc) from exc
        finally:
            os.close(fd)
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        stored = data.get("secrets") if isinstance(data, dict) and data.get("format") == _FILE_FORMAT else None
        if not isinstance(stored, dict):
            raise SecretStoreError(
                "keyring_read_failed",
                f"The secret file {self._path} is damaged (not a secret store this app wrote).",
                hint=f"Move {self._path} away and sign in to your accounts again.",
            )
        return stored

    def _check_safe(self, fd: int) -> None:
        if not hasattr(os, "getuid"):  # pragma: no cover - Windows: the profile directory's ACL protects it
            return
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            raise self._unsafe(f"belongs to user id {info.st_uid}, not to you", f"chown $(id -u) {self._path}")
        if info.st_mode & 0o077:
            raise self._unsafe(
                f"can be read or written by others (mode {info.st_mode & 0o777:o})", f"chmod 600 {self._path}"
            )

    def _save(self, data: Mapping[str, Any]) -> None:
        text = json.dumps({"format": _FILE_FORMAT, "secrets": dict(data)}, separators=(",", ":"), sort_keys=True)
        directory = self._path.parent
        temp = directory / f".{self._path.name}.{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise self._io_error("write", exc) from exc
        try:
            try:
                with os.fdopen(fd, "wb", closefd=False) as handle:
                    handle.write(text.encode("utf-8"))
                    handle.flush()
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self._path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise self._io_error("write", exc) from exc
        if hasattr(os, "O_DIRECTORY"):
            with contextlib.suppress(OSError):
                dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)

    def _unsafe(self, why: str, command: str) -> SecretStoreError:
        return SecretStoreError(
            "file_store_unsafe",
            f"The secret file {self._path} {why}; it is not used.",
            hint=f"Run: {command} (and check nobody else has read it), or use the OS keyring.",
        )

    def _io_error(self, action: str, exc: OSError) -> SecretStoreError:
        reason = one_line(exc.strerror or type(exc).__name__, 80)
        return SecretStoreError(
            "keyring_read_failed" if action == "read" else "keyring_write_failed",
            f"Could not {action} the secret file {self._path}: {reason}.",
            hint="Check the disk has room and the directory is writable; the value stored before is unchanged."
            if action == "write"
            else "Check the file's permissions, then try again.",
        )
