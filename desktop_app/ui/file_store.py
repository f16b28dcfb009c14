"""The file store as the way out of a missing keyring: finding that the keyring is missing, and switching to the file
store as the command line's ``--secret-store file`` does (ADR 0031). Blocking calls (D-Bus, SQLite): the controller
runs them on its keyring thread.
"""

from __future__ import annotations

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.ports import SecretStore
from desktop_app.errors import SecretStoreError
from desktop_app.storage.keyring_vault import KeyringVault
from desktop_app.storage.profile_stores import open_stores
from desktop_app.ui.errors import actions_for


def missing_keyring(secrets: SecretStore) -> SecretStoreError | None:
    """Why the profile's keyring cannot be used because it is missing, or None (the file store, a keyring that is
    there, locked or not). Blocking: a D-Bus round trip."""
    if not isinstance(secrets, KeyringVault):
        return None
    try:
        secrets.check_reachable()
    except SecretStoreError as exc:
        return exc if offers_file_store(exc) else None
    return None


def offers_file_store(exc: BaseException) -> bool:
    """The file store is the way out of ``exc`` (a missing keyring: ui/errors.py decides, by its code)."""
    return isinstance(exc, SecretStoreError) and any(a.kind == "use_file_store" for a in actions_for(exc))


def file_store_accounts(accounts: Accounts) -> Accounts:
    """Switch the profile of ``accounts`` to the file store as ``--secret-store file`` does (the choice is remembered;
    :class:`~desktop_app.errors.SecretStoreInUse` while accounts are kept in the keyring), and the same profile's
    accounts on it: the same registry, locks and renewals. Blocking."""
    registry, secrets, _home = open_stores(directory=accounts.registry.path.parent, secret_store="file")  # noqa: S106
    registry.close()  # the switch is recorded; the window keeps its own connection
    return Accounts(
        accounts.registry,
        secrets,
        accounts.locks,
        clock=accounts.clock,
        renew_elsewhere=accounts.renewal.renew_elsewhere,
    )
