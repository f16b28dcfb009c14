"""Wiring: one profile's registry, secret store and locks, assembled into ``Accounts``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from desktop_app.accounts.manager import Accounts
from desktop_app.storage.locks import AccountLocks
from desktop_app.storage.profile_stores import open_stores


def open_accounts(
    *,
    directory: Path | None = None,
    secret_store: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Accounts:
    """The profile in ``directory`` (see :func:`~desktop_app.storage.profile_stores.open_stores`) as ``Accounts``."""
    registry, secrets, home = open_stores(directory=directory, secret_store=secret_store)
    return Accounts(registry, secrets, AccountLocks(home / "locks"), clock=clock)
