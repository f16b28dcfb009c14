"""Wiring: one profile's registry, secret store and locks, assembled into ``Accounts``.

The secret store is the OS keyring unless the person explicitly chose the file store (``--secret-store file``);
that choice is remembered in the profile and shown wherever secrets are mentioned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import AccountState
from desktop_app.errors import ConfigurationError
from desktop_app.storage.paths import data_dir as default_data_dir
from desktop_app.storage.paths import ensure_private_dir
from desktop_app.storage.registry import SqliteRegistry, default_registry_path
from desktop_app.storage.vault import SECRET_STORE_CHOICES, open_secret_store

if TYPE_CHECKING:
    from desktop_app.storage.locks import AccountLocks

SECRET_STORE_SETTING = "secret_store"  # noqa: S105 - a setting name


def open_accounts(
    *,
    directory: Path | None = None,
    secret_store: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Accounts:
    """Open (creating if needed) the profile in ``directory`` (default: the platform's data directory).

    A folder of another user's, or one others may write in, is refused with a :class:`StorageError` before anything
    in it is read; one others may only read is made private (:func:`ensure_private_dir`, ADR 0016).

    ``secret_store`` given: use it and remember the choice for this profile; else the remembered one, else the
    keyring.
    """
    home = ensure_private_dir(directory if directory is not None else default_data_dir())
    registry = SqliteRegistry(default_registry_path(home))
    try:
        if secret_store is not None and secret_store not in SECRET_STORE_CHOICES:
            raise ConfigurationError(
                "invalid_secret_store",
                f"Unknown secret store {secret_store!r}.",
                hint="Use 'keyring' (the default) or 'file' (not encrypted).",
            )
        remembered = registry.get_setting(SECRET_STORE_SETTING)
        if secret_store is not None and secret_store != (remembered or "keyring"):
            _refuse_switch_while_in_use(registry, remembered or "keyring", secret_store)
        choice = secret_store or remembered or "keyring"
        secrets = open_secret_store(choice, profile_id=registry.profile_id(), data_dir=home)
        if secret_store is not None and secret_store != remembered:
            registry.set_setting(SECRET_STORE_SETTING, secret_store)
    except BaseException:
        registry.close()
        raise
    return Accounts(registry, secrets, LocksOnFirstUse(home / "locks"), clock=clock)


class LocksOnFirstUse:
    """The profile's :class:`~desktop_app.storage.locks.AccountLocks`, made when a lock is first taken: they bring
    asyncio, which a command that only reads a fresh token never needs (tests/unit/test_layers.py)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._locks: AccountLocks | None = None

    def hold(self, name: str, **options: Any) -> AbstractAsyncContextManager[None]:
        """``AccountLocks.hold`` (same keyword options: ``timeout``, ``what``)."""
        if self._locks is None:
            from desktop_app.storage.locks import AccountLocks

            self._locks = AccountLocks(self.directory)
        return self._locks.hold(name, **options)


def _refuse_switch_while_in_use(registry: SqliteRegistry, current: str, wanted: str) -> None:
    """Secrets are never copied between stores: switching while logins live in one would strand them there (and,
    from the file store, leave usable tokens in a plain file)."""
    live = [a for a in registry.accounts() if a.state is not AccountState.SIGNED_OUT]
    if live:
        names = ", ".join(a.display_name for a in live[:5]) + (" …" if len(live) > 5 else "")
        raise ConfigurationError(
            "secret_store_in_use",
            f"Tokens of {len(live)} account(s) ({names}) are kept in the {current} store; switching to the {wanted} "
            "store would leave them behind.",
            hint=f"Sign them out first (mcp-connectors logout SERVER --account A), or keep the {current} store.",
        )
