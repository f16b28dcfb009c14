"""Wiring: one profile's registry, secret store and locks, assembled into ``Accounts``."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.renewer import renew_detached
from desktop_app.storage.locks import AccountLocks
from desktop_app.storage.profile_stores import open_stores


def open_accounts(
    *,
    directory: Path | None = None,
    secret_store: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Accounts:
    """The profile in ``directory`` (see :func:`~desktop_app.storage.profile_stores.open_stores`) as ``Accounts``.

    Its renewals run in the renewal worker (:func:`~desktop_app.accounts.renewer.renew_detached`), which finishes
    and stores them even when this process is killed meanwhile (docs/decisions/0018)."""
    registry, secrets, home = open_stores(directory=directory, secret_store=secret_store)
    return Accounts(
        registry,
        secrets,
        AccountLocks(home / "locks"),
        clock=clock,
        renew_elsewhere=functools.partial(renew_detached, home),
    )
