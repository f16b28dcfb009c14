"""The Secret Service (org.freedesktop.secrets), reached through ``secretstorage`` without the keyring library.

:class:`SecretServiceEntries` reads and writes the very items keyring's SecretService backend does (same
collection, attributes, label and content type), over one D-Bus connection and one encrypted session per vault
where keyring opens one of each per entry. Linux only: ``secretstorage`` is installed there (a dependency), so this
module is imported only when the vault chooses the Secret Service (docs/decisions/0008-secret-storage.md).
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import secretstorage
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from secretstorage.dhcrypto import Session
from secretstorage.exceptions import ItemNotFoundException, LockedException, PromptDismissedException
from secretstorage.util import DBusAddressWrapper, open_session

from desktop_app.appinfo import APP_ID
from desktop_app.storage.keyring_backends import is_locked, is_missing_item

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: What keyring's SecretService backend writes (keyring.backends.SecretService.Keyring.appid, its default scheme
#: and its label): items written either way are the same items.
KEYRING_APPLICATION = "Python keyring library"
_SS_PATH = "/org/freedesktop/secrets"
_SS_SERVICE = "org.freedesktop.Secret.Service"
_SS_COLLECTION = "org.freedesktop.Secret.Collection"


def keyring_label(username: str) -> str:
    """The label keyring's SecretService backend gives the item of ``username``."""
    return f"Password for '{username}' on '{APP_ID}'"


class SecretServiceEntries:
    """Straight to the Secret Service through ``secretstorage``: the default collection, as keyring's SecretService
    backend would use it (attributes ``service``/``username``/``application``, its label, ``text/plain``).

    One D-Bus connection and one encrypted session (a Diffie-Hellman exchange), opened at first use and kept until
    :meth:`close` or the vault is collected; keyring's backend opens one of each for every entry. Reading several
    entries is one ``SearchItems`` per entry and one ``GetSecrets`` for all of them. When a call fails on a
    connection kept from an earlier operation (the keyring daemon restarted: its sessions are gone; the bus
    closed), it is tried once more on a new connection. Not thread-safe: the vault's lock serialises calls.
    """

    def __init__(self) -> None:
        self._connection: Any = None  # jeepney's DBusConnection (jeepney has no type information)
        self._collection: secretstorage.Collection | None = None
        self._session: Session | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- the connection and the session -------------------------------------------------------------------------
    def _open(self) -> secretstorage.Collection:
        if self._collection is None:
            connection = secretstorage.dbus_init()
            try:
                # Its errors as they come (SecretServiceNotAvailableException: nobody owns the name).
                collection = secretstorage.get_default_collection(connection)
            except BaseException:
                connection.close()
                raise
            self._connection, self._collection = connection, collection
            self._finalizer = weakref.finalize(self, connection.close)
        return self._collection

    def _opened_session(self, collection: secretstorage.Collection) -> Session:
        if self._session is None:
            self._session = open_session(self._connection)
            collection.session = self._session
        return self._session

    def close(self) -> None:
        finalizer, self._finalizer = self._finalizer, None
        self._connection = self._collection = self._session = None
        if finalizer is not None:
            finalizer()

    def _run(self, operation: Callable[[secretstorage.Collection], _T]) -> _T:
        for last in (self._collection is None, True):
            try:
                return operation(self._open())
            except Exception as exc:
                if is_locked(exc) or is_missing_item(exc):
                    raise  # an answer, not a broken connection
                self.close()
                if last or isinstance(exc, TimeoutError):
                    raise
                log.debug("keyring: the kept D-Bus connection failed (%s); opening another", type(exc).__name__)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- entries ------------------------------------------------------------------------------------------------
    def _find_all(self, collection: secretstorage.Collection, username: str) -> list[str]:
        """The items of that name, in the order keyring's ``get_password(APP_ID, username)`` considers them."""
        proxy = DBusAddressWrapper(collection.collection_path, _SS_COLLECTION, self._connection)
        (paths,) = proxy.call("SearchItems", "a{ss}", {"username": username, "service": APP_ID})
        return [str(path) for path in paths]

    def _find(self, collection: secretstorage.Collection, username: str) -> str | None:
        """The item keyring's ``get_password(APP_ID, username)`` would read, or None."""
        paths = self._find_all(collection, username)
        return paths[0] if paths else None

    def _delete_items(self, paths: Sequence[str]) -> None:
        for path in paths:
            with contextlib.suppress(ItemNotFoundException):  # gone already
                secretstorage.Item(self._connection, path).delete()

    def reach(self) -> None:
        """Open the default collection (SecretServiceNotAvailableException: nobody owns the name); nothing more."""
        self._run(lambda collection: None)

    def ensure_unlocked(self, what: str, timeout: float) -> None:
        def check(collection: secretstorage.Collection) -> None:
            if collection.is_locked():
                log.debug("keyring: the collection is locked; asking to unlock it for %s", what)
                collection.unlock(timeout=timeout)
                if collection.is_locked():
                    raise PromptDismissedException("the unlock prompt was dismissed")

        self._run(check)

    def get_many(self, usernames: Sequence[str]) -> list[str | None]:
        def read(collection: secretstorage.Collection) -> list[str | None]:
            found = [self._find(collection, username) for username in usernames]
            paths = [path for path in found if path is not None]
            if not paths:
                return [None] * len(found)
            session = self._opened_session(collection)
            service = DBusAddressWrapper(_SS_PATH, _SS_SERVICE, self._connection)
            (secrets_by_path,) = service.call("GetSecrets", "aoo", paths, session.object_path)
            values: list[str | None] = []
            for path in found:
                if path is None:
                    values.append(None)
                    continue
                secret = secrets_by_path.get(path)
                if secret is None:  # GetSecrets leaves out locked items and items that are gone
                    if collection.is_locked():
                        raise LockedException("the collection was locked while reading")
                    raise ItemNotFoundException("an item went away while reading")
                values.append(decrypt(session, secret))
            return values

        return self._run(read)

    def set(self, username: str, password: str) -> None:
        """Replaces the item of that name. An item of the same name with other attributes (written by another
        program, e.g. ``secret-tool``, which CreateItem's ``replace`` does not match) is deleted, so that the name
        reads as what was written last; keyring would leave it, and read whichever the search returns first."""

        def write(collection: secretstorage.Collection) -> None:
            self._opened_session(collection)
            attributes = {"username": username, "service": APP_ID, "application": KEYRING_APPLICATION}
            item = collection.create_item(keyring_label(username), attributes, password.encode("utf-8"), replace=True)
            try:
                self._delete_items([path for path in self._find_all(collection, username) if path != item.item_path])
            except Exception as exc:  # noqa: BLE001 - the value is written, which is what the caller asked
                log.debug("keyring: another item named %s stays (%s)", username, type(exc).__name__)

        self._run(write)

    def delete(self, username: str) -> None:
        """Every item of that name (keyring deletes the first); none is fine."""

        def remove(collection: secretstorage.Collection) -> None:
            self._delete_items(self._find_all(collection, username))

        self._run(remove)


def decrypt(session: Session, secret: tuple[str, bytes, bytes, str]) -> str:
    """One secret of a ``GetSecrets`` answer, as ``secretstorage.Item.get_secret`` decodes it (AES-128-CBC, PKCS#7
    padding, with the session's key), checked, as text. Errors name nothing of the content."""
    _session_path, parameters, value, _content_type = secret
    if not session.encrypted:
        return bytes(value).decode("utf-8")
    assert session.aes_key is not None
    decryptor = Cipher(algorithms.AES(session.aes_key), modes.CBC(bytes(parameters))).decryptor()
    padded = decryptor.update(bytes(value)) + decryptor.finalize()
    padding = padded[-1] if padded else 0
    if not 1 <= padding <= 16 or padded[-padding:] != bytes((padding,)) * padding:
        raise ValueError("a secret from the Secret Service is not padded as it should be")
    return padded[:-padding].decode("utf-8")
