"""Stores that keep nothing: a sign-in whose tokens are used and forgotten (the ``connect`` command).

The same ``Accounts`` code runs on them as on a profile's stores: the registry is the SQLite one, in memory
(:meth:`SqliteRegistry.in_memory`); the secrets stay in a dict with the vaults' rules for keys and values; the locks
serialise the coroutines of this process, there being no other process to share them with.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from desktop_app.storage.locks import DEFAULT_TIMEOUT, account_busy
from desktop_app.storage.registry import SqliteRegistry
from desktop_app.storage.secret_values import check_key, encode_value


class MemorySecretStore:
    """A :class:`~desktop_app.accounts.ports.SecretStore` in a dict: the vaults' keys, values and errors, nothing
    written anywhere. Each ``get`` returns a copy, so a caller never changes what is stored."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return "memory"

    @property
    def description(self) -> str:
        return "memory (nothing is kept)"

    def __repr__(self) -> str:
        return f"MemorySecretStore({len(self._values)} value(s))"

    def check(self) -> None:
        """Always usable."""

    def get(self, key: str) -> dict[str, Any] | None:
        check_key(key)
        with self._lock:
            text = self._values.get(key)
        return None if text is None else dict(json.loads(text))

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        check_key(key)
        text = encode_value(value)
        with self._lock:
            self._values[key] = text

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            self._values.pop(key, None)


class MemoryLocks:
    """The ``Locks`` of :class:`~desktop_app.accounts.manager.Accounts` within one process: an asyncio lock per
    name, the same timeout and ``account_busy`` error as :class:`~desktop_app.storage.locks.AccountLocks`."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(
        self, name: str, *, timeout: float = DEFAULT_TIMEOUT, what: str = "this account"
    ) -> AsyncIterator[None]:
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), timeout)
        except TimeoutError:
            raise account_busy(what, timeout) from None
        try:
            yield
        finally:
            lock.release()


def memory_stores() -> tuple[SqliteRegistry, MemorySecretStore, MemoryLocks]:
    """A registry, secret store and locks for ``Accounts(registry, secrets, locks)`` that keep nothing; close the
    registry when done."""
    return SqliteRegistry.in_memory(), MemorySecretStore(), MemoryLocks()
