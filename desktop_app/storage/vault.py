"""The secret store a profile uses: the OS keyring (:class:`~desktop_app.storage.keyring_vault.KeyringVault`, the
default), or a 0600 file the person chose (:class:`~desktop_app.storage.file_vault.FileVault`).

Both implement :class:`desktop_app.accounts.ports.SecretStore`: values are JSON objects, ``put`` is crash-atomic,
errors are :class:`~desktop_app.errors.SecretStoreError`. Only key names are ever logged. A sign-in that keeps
nothing uses :class:`~desktop_app.storage.memory.MemorySecretStore` instead. See docs/decisions/0008.
"""

from __future__ import annotations

from pathlib import Path

from desktop_app.errors import ConfigurationError, one_line
from desktop_app.storage.file_vault import FileVault
from desktop_app.storage.keyring_vault import KeyringVault

SECRET_STORE_CHOICES = ("keyring", "file")


def open_secret_store(choice: str, *, profile_id: str, data_dir: Path) -> KeyringVault | FileVault:
    """``keyring`` (the default): the OS keyring; ``file``: ``data_dir/secrets.json``, not encrypted."""
    if choice == "keyring":
        return KeyringVault(profile_id)
    if choice == "file":
        return FileVault(Path(data_dir) / "secrets.json")
    raise ConfigurationError(
        "invalid_secret_store",
        f"Unknown secret store {one_line(str(choice), 40)!r}.",
        hint="Use 'keyring' (the default, the OS keyring) or 'file' (a file that is not encrypted).",
    )
