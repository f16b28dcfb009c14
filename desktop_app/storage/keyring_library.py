"""Keyring entries through a keyring-library backend: macOS Keychain, Windows Credential Manager, KWallet, a
backend configured with ``keyringrc.cfg`` or ``PYTHON_KEYRING_BACKEND``, or one injected by a test.

Imported only when the vault uses such a backend (:class:`desktop_app.storage.keyring_vault.KeyringVault`): the
keyring library is then loaded anyway, while a command reading a fresh token on Linux never loads it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import keyring.backend
import keyring.errors

from desktop_app.appinfo import APP_ID
from desktop_app.storage.keyring_backends import module_of

log = logging.getLogger(__name__)


class KeyringLibraryEntries:
    """Through a keyring-library backend (macOS, Windows, KWallet, a configured backend, an injected one)."""

    def __init__(self, backend: keyring.backend.KeyringBackend) -> None:
        self.backend = backend

    def reach(self) -> None:
        """Nothing to do: the keyring library chose this backend because it found it usable (one it could not use is
        refused when the vault is made)."""

    def ensure_unlocked(self, what: str, timeout: float) -> None:
        """Secret Service: unlock (or fail on) a locked collection ourselves, on a connection we close.

        The keyring library raises KeyringLocked in that case but leaves its D-Bus connection open.
        """
        if module_of(self.backend) != "keyring.backends.SecretService":
            return
        import secretstorage  # here only: the keyring library's Secret Service backend implies Linux

        with contextlib.closing(secretstorage.dbus_init()) as connection:
            preferred = getattr(self.backend, "preferred_collection", None)
            if isinstance(preferred, str):
                collection = secretstorage.Collection(connection, preferred)
            else:
                collection = secretstorage.get_default_collection(connection)
            if collection.is_locked():
                log.debug("keyring: the collection is locked; asking to unlock it for %s", what)
                collection.unlock(timeout=timeout)
                if collection.is_locked():
                    raise keyring.errors.KeyringLocked("the unlock prompt was dismissed")

    def get_many(self, usernames: Sequence[str]) -> list[str | None]:
        return [self.backend.get_password(APP_ID, username) for username in usernames]

    def set(self, username: str, password: str) -> None:
        self.backend.set_password(APP_ID, username, password)

    def delete(self, username: str) -> None:
        try:
            self.backend.delete_password(APP_ID, username)
        except keyring.errors.PasswordDeleteError:
            # "No such password", or a refusal: only a second look tells.
            if self.backend.get_password(APP_ID, username) is not None:
                raise

    def close(self) -> None:
        pass
