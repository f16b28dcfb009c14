"""A profile's registry and secret store, opened without the rest of the app: what the ``token`` command's
fresh-token path reads (no event loop, no HTTP client: tests/unit/test_layers.py).

The secret store is the OS keyring unless the person explicitly chose the file store (``--secret-store file``);
that choice is remembered in the profile and shown wherever secrets are mentioned.
"""

from __future__ import annotations

from pathlib import Path

from desktop_app.accounts.models import AccountState
from desktop_app.accounts.ports import SecretStore
from desktop_app.errors import ConfigurationError, SecretStoreInUse
from desktop_app.storage.paths import data_dir as default_data_dir
from desktop_app.storage.paths import ensure_private_dir
from desktop_app.storage.registry import SqliteRegistry, default_registry_path
from desktop_app.storage.vault import SECRET_STORE_CHOICES, open_secret_store

SECRET_STORE_SETTING = "secret_store"  # noqa: S105 - a setting name


def open_stores(
    *, directory: Path | None = None, secret_store: str | None = None
) -> tuple[SqliteRegistry, SecretStore, Path]:
    """Open (creating if needed) the profile in ``directory`` (default: the platform's data directory): its registry,
    its secret store and its folder.

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
    return registry, secrets, home


def _refuse_switch_while_in_use(registry: SqliteRegistry, current: str, wanted: str) -> None:
    """Secrets are never copied between stores: switching while logins live in one would strand them there (and,
    from the file store, leave usable tokens in a plain file)."""
    live = [a for a in registry.accounts() if a.state is not AccountState.SIGNED_OUT]
    if live:
        names = ", ".join(a.display_name for a in live[:5]) + (" …" if len(live) > 5 else "")
        raise SecretStoreInUse(
            f"Tokens of {len(live)} account(s) ({names}) are kept in the {current} store; switching to the {wanted} "
            "store would leave them behind.",
            current=current,
        )
