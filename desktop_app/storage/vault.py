"""The secret stores: the OS keyring (:class:`KeyringVault`), or a 0600 file the person chose (:class:`FileVault`).

Both implement :class:`desktop_app.accounts.ports.SecretStore`: values are JSON objects, ``put`` is crash-atomic,
errors are :class:`~desktop_app.errors.SecretStoreError`. Only key names are ever logged.

Keyring layout (format generation ``v1``), all under the service name :data:`desktop_app.appinfo.APP_ID`::

    v1/<profile>/<key>              head: {"format": 1, "value": {"gen", "chunks", "length", "sha256"} | null,
                                           "garbage": [[gen, chunks], ...]}
    v1/<profile>/<key>#<gen>/<i>    chunk i of the value written as generation <gen> (random, 16 hex digits)

A value is compact ASCII JSON cut into chunks of at most :data:`CHUNK_CHARS` characters, because Windows Credential
Manager caps one secret at 2560 bytes (UTF-16). ``put`` writes the chunks of a new generation, then switches the
head to it, then deletes the old generation; the head is one keyring entry, so a reader sees the old value or the
new one. Generations whose chunks may still exist (a crash, a failed delete) are listed in the head as garbage and
removed by the next ``put`` or ``delete``, so no fragment of an old secret is left behind for long.

Each entry is a keyring-library entry (``keyring.get_password(APP_ID, name)`` reads it). On Linux with a Secret
Service and no keyring configuration, the vault talks to the Secret Service itself through ``secretstorage``
(:class:`_SecretServiceEntries`): one D-Bus connection and one encrypted session per vault instead of one of each per
entry, and the items exactly as keyring's SecretService backend writes them. Elsewhere the keyring library does the
work (:class:`_KeyringLibraryEntries`). Neither ``keyring`` nor ``secretstorage`` is imported before it is needed.
See docs/decisions/0008-secret-storage.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from desktop_app.appinfo import APP_ID
from desktop_app.errors import ConfigurationError, SecretStoreError, one_line

if TYPE_CHECKING:  # both are imported when first used: `keyring` alone costs ~80 ms of every command's start
    import keyring.backend
    import secretstorage
    from secretstorage.dhcrypto import Session

log = logging.getLogger(__name__)
_T = TypeVar("_T")

#: The keyring entry layout generation, part of every entry name.
FORMAT_GENERATION = "v1"
#: Longest keyring password we write (characters; the JSON is ASCII, so also bytes, and 2000 bytes as UTF-16).
CHUNK_CHARS = 1000
#: Lock-free reads retry this many times while another process keeps replacing the value under them.
READ_ATTEMPTS = 5
#: Pauses between tries of one keyring read that failed for a reason other than a locked keyring (seconds).
READ_RETRY_DELAYS = (0.02, 0.05, 0.1, 0.2)
#: Longest value we accept (characters of JSON): a token bundle is 4-10 KB.
MAX_VALUE_CHARS = 256 * CHUNK_CHARS
#: Garbage generations remembered in a head (more can only come from deletes failing again and again).
MAX_GARBAGE = 8
#: How long an unlock prompt may stay unanswered before the operation reports the keyring as locked.
UNLOCK_PROMPT_TIMEOUT = 300.0

_KEY = re.compile(r"[!-~]{1,200}")
_PROFILE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_GEN = re.compile(r"[0-9a-f]{16}")
_HEX64 = re.compile(r"[0-9a-f]{64}")

_FILE_STORE_HINT = "or choose the file store explicitly with --secret-store file (not encrypted)"


# -- values ----------------------------------------------------------------------------------------------------------
def _encode(value: Mapping[str, Any]) -> str:
    if not isinstance(value, Mapping):
        raise TypeError("a secret value must be a mapping")
    text = json.dumps(dict(value), separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"a secret value must be at most {MAX_VALUE_CHARS} characters of JSON")
    return text


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not _KEY.fullmatch(key) or "#" in key:
        raise ValueError("a secret key is 1-200 printable ASCII characters without spaces or '#'")


# -- keyring backends ------------------------------------------------------------------------------------------------
def _module_of(backend: keyring.backend.KeyringBackend) -> str:
    return type(backend).__module__


def _is_plaintext(backend: keyring.backend.KeyringBackend) -> bool:
    """Anything from the ``keyrings.alt`` package (plaintext, base64 or a file the app does not control)."""
    return any((cls.__module__ or "").split(".")[:2] == ["keyrings", "alt"] for cls in type(backend).__mro__)


#: What the vault calls the Secret Service, whichever way it is reached.
SECRET_SERVICE_NAME = "Secret Service (org.freedesktop.secrets)"  # noqa: S105 - a name, not a secret


def backend_name(backend: keyring.backend.KeyringBackend) -> str:
    """A human name for a keyring backend."""
    from keyring.backends import fail

    module = _module_of(backend)
    if module == "keyring.backends.SecretService":
        return SECRET_SERVICE_NAME
    if module == "keyring.backends.libsecret":
        return "Secret Service (libsecret)"
    if module.startswith("keyring.backends.macOS"):
        return "macOS Keychain"
    if module == "keyring.backends.Windows":
        return "Windows Credential Manager"
    if module == "keyring.backends.kwallet":
        return "KWallet"
    if isinstance(backend, fail.Keyring):
        return "no keyring"
    return f"{module}.{type(backend).__qualname__}"


def _refusal(backend: keyring.backend.KeyringBackend) -> SecretStoreError | None:
    """Why this backend must not hold secrets, or None when it may."""
    from keyring.backends import fail, null

    cls = f"{_module_of(backend)}.{type(backend).__qualname__}"
    if _is_plaintext(backend):
        return SecretStoreError(
            "keyring_unavailable",
            f"The keyring backend {cls} (package keyrings.alt) does not encrypt secrets; it is never used.",
            hint="Uninstall keyrings.alt or point PYTHON_KEYRING_BACKEND at the system keyring; "
            f"{_install_hint()}, {_FILE_STORE_HINT}.",
        )
    if isinstance(backend, null.Keyring):
        return SecretStoreError(
            "keyring_unavailable",
            f"The keyring is disabled ({cls}).",
            hint=f"Remove the keyringrc.cfg or PYTHON_KEYRING_BACKEND setting that disables it, {_FILE_STORE_HINT}.",
        )
    if isinstance(backend, fail.Keyring):
        return SecretStoreError(
            "keyring_unavailable",
            f"No OS keyring was found ({_no_keyring_detail()}).",
            hint=f"{_sentence(_install_hint())}, {_FILE_STORE_HINT}.",
        )
    return None


def _no_keyring_detail() -> str:
    if sys.platform.startswith("linux"):
        return "no Secret Service provider answers on the D-Bus session bus"
    return "the keyring library found no usable backend"


def _install_hint() -> str:
    if sys.platform.startswith("linux"):
        return (
            "install and start a Secret Service provider (GNOME Keyring, or KeePassXC with Secret Service "
            "integration enabled) and try again"
        )
    return "make sure the system keyring is available and try again"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _unlock_hint(name: str) -> str:
    if name.startswith("Secret Service"):
        return (
            "Unlock the keyring (GNOME Keyring: the 'Login' keyring, e.g. in Passwords and Keys; KeePassXC: "
            "unlock the database) and try again."
        )
    if name == "macOS Keychain":
        return "Unlock the login keychain (Keychain Access) and try again."
    return f"Unlock the {name} and try again."


def select_backend(
    backend: keyring.backend.KeyringBackend | None = None,
) -> tuple[keyring.backend.KeyringBackend, SecretStoreError | None]:
    """The backend to use (the injected one, else keyring's choice) and, if it must not be used, why.

    A chainer is resolved to the first backend in it that may hold secrets, so a plaintext backend it also chains
    is never written to.
    """
    from keyring.backends import chainer

    chosen = backend if backend is not None else _default_backend()
    if isinstance(chosen, chainer.ChainerBackend):
        members: Sequence[keyring.backend.KeyringBackend] = list(chosen.backends)
        usable = [member for member in members if _refusal(member) is None]
        if usable:
            return usable[0], None
        return chosen, SecretStoreError(
            "keyring_unavailable",
            "No usable OS keyring was found (the keyring library's chain holds none that encrypts secrets).",
            hint=f"{_sentence(_install_hint())}, {_FILE_STORE_HINT}.",
        )
    return chosen, _refusal(chosen)


def _default_backend() -> keyring.backend.KeyringBackend:
    """keyring's own choice, except in the common Linux case, where it is known in advance: the Secret Service.

    keyring's detection imports every backend, and its macOS one runs ``ctypes.util.find_library`` at import time
    (on Linux: ``ldconfig``, ``gcc`` and ``ld`` in child processes), ~30-45 ms of every command
    (benchmarks/accounts_cli.py). A vault made without a backend takes the Secret Service without the keyring
    library at all in that case (:func:`secret_service_is_the_choice`); this is the same choice for a caller that
    wants a keyring backend.
    """
    if secret_service_is_the_choice():
        try:
            from keyring.backends import SecretService
        except ImportError:  # pragma: no cover - secretstorage is a dependency of keyring on Linux
            pass
        else:
            return SecretService.Keyring()  # type: ignore[no-untyped-call]
    import keyring

    return keyring.get_keyring()


def secret_service_is_the_choice() -> bool:
    """The keyring library would choose its Secret Service backend here, and nothing could make it choose another.

    Linux with a session bus socket that exists, no ``PYTHON_KEYRING_BACKEND``, no ``keyringrc.cfg``, and not KDE
    (where keyring prefers KWallet). An unreachable Secret Service then shows up at the first read or write, mapped
    like any other (``keyring_unavailable``).
    """
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("PYTHON_KEYRING_BACKEND")
        and "KDE" not in os.environ.get("XDG_CURRENT_DESKTOP", "").upper()
        and _session_bus_socket_exists()
        and not (keyring_config_root() / "keyringrc.cfg").exists()
    )


def keyring_config_root() -> Path:
    """Where the keyring library looks for ``keyringrc.cfg`` on Linux (``keyring.util.platform_.config_root()``),
    worked out without importing keyring."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config", "python_keyring")


def _session_bus_socket_exists() -> bool:
    """``DBUS_SESSION_BUS_ADDRESS`` names a ``unix:path=`` socket that exists (other address forms: don't know)."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "").split(";")[0]
    if not address.startswith("unix:"):
        return False
    options = dict(part.split("=", 1) for part in address[5:].split(",") if "=" in part)
    path = options.get("path")
    return path is not None and Path(path).exists()


def _secretstorage_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("secretstorage") is not None


#: The Secret Service's answer to a call on a locked item or collection.
_DBUS_IS_LOCKED = "org.freedesktop.Secret.Error.IsLocked"


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """These exception classes of ``module`` if it was imported (an exception of it can only come from there)."""
    loaded = sys.modules.get(module)
    return tuple(getattr(loaded, name) for name in names if hasattr(loaded, name)) if loaded is not None else ()


def _is_locked(exc: BaseException) -> bool:
    locked = _loaded("keyring.errors", "KeyringLocked") + _loaded(
        "secretstorage.exceptions", "LockedException", "PromptDismissedException"
    )
    return isinstance(exc, locked) or getattr(exc, "name", None) == _DBUS_IS_LOCKED


def _is_unavailable(exc: BaseException) -> bool:
    unavailable = _loaded("keyring.errors", "NoKeyringError", "InitError") + _loaded(
        "secretstorage.exceptions", "SecretServiceNotAvailableException"
    )
    return isinstance(exc, unavailable)


def _is_missing_item(exc: BaseException) -> bool:
    return isinstance(exc, _loaded("secretstorage.exceptions", "ItemNotFoundException"))


# -- the entries, through keyring or straight to the Secret Service --------------------------------------------------
class _Entries(Protocol):
    """Entries ``(APP_ID, username) -> password``. Errors are raised as they come; the vault maps them."""

    def ensure_unlocked(self, what: str, timeout: float) -> None: ...
    def get_many(self, usernames: Sequence[str]) -> list[str | None]: ...
    def set(self, username: str, password: str) -> None: ...
    def delete(self, username: str) -> None:
        """A missing entry is fine."""

    def close(self) -> None: ...


class _KeyringLibraryEntries:
    """Through a keyring-library backend (macOS, Windows, KWallet, a configured backend, an injected one)."""

    def __init__(self, backend: keyring.backend.KeyringBackend) -> None:
        self.backend = backend

    def ensure_unlocked(self, what: str, timeout: float) -> None:
        """Secret Service: unlock (or fail on) a locked collection ourselves, on a connection we close.

        The keyring library raises KeyringLocked in that case but leaves its D-Bus connection open.
        """
        if _module_of(self.backend) != "keyring.backends.SecretService":
            return
        import keyring.errors
        import secretstorage

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
        import keyring.errors

        try:
            self.backend.delete_password(APP_ID, username)
        except keyring.errors.PasswordDeleteError:
            # "No such password", or a refusal: only a second look tells.
            if self.backend.get_password(APP_ID, username) is not None:
                raise

    def close(self) -> None:
        pass


#: What keyring's SecretService backend writes (keyring.backends.SecretService.Keyring.appid, its default scheme
#: and its label): items written either way are the same items.
KEYRING_APPLICATION = "Python keyring library"
_SS_PATH = "/org/freedesktop/secrets"
_SS_SERVICE = "org.freedesktop.Secret.Service"
_SS_COLLECTION = "org.freedesktop.Secret.Collection"


def keyring_label(username: str) -> str:
    return f"Password for '{username}' on '{APP_ID}'"


class _SecretServiceEntries:
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
            import secretstorage

            connection = secretstorage.dbus_init()
            try:
                # Its errors as they come, as before (SecretServiceNotAvailableException: nobody owns the name).
                collection = secretstorage.get_default_collection(connection)
            except BaseException:
                connection.close()
                raise
            self._connection, self._collection = connection, collection
            self._finalizer = weakref.finalize(self, connection.close)
        return self._collection

    def _opened_session(self, collection: secretstorage.Collection) -> Session:
        if self._session is None:
            from secretstorage.util import open_session

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
                if _is_locked(exc) or _is_missing_item(exc):
                    raise  # an answer, not a broken connection
                self.close()
                if last or isinstance(exc, TimeoutError):
                    raise
                log.debug("keyring: the kept D-Bus connection failed (%s); opening another", type(exc).__name__)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- entries ------------------------------------------------------------------------------------------------
    def _find_all(self, collection: secretstorage.Collection, username: str) -> list[str]:
        """The items of that name, in the order keyring's ``get_password(APP_ID, username)`` considers them."""
        from secretstorage.util import DBusAddressWrapper

        proxy = DBusAddressWrapper(collection.collection_path, _SS_COLLECTION, self._connection)
        (paths,) = proxy.call("SearchItems", "a{ss}", {"username": username, "service": APP_ID})
        return [str(path) for path in paths]

    def _find(self, collection: secretstorage.Collection, username: str) -> str | None:
        """The item keyring's ``get_password(APP_ID, username)`` would read, or None."""
        paths = self._find_all(collection, username)
        return paths[0] if paths else None

    def _delete_items(self, paths: Sequence[str]) -> None:
        import secretstorage

        for path in paths:
            with contextlib.suppress(secretstorage.ItemNotFoundException):  # gone already
                secretstorage.Item(self._connection, path).delete()

    def ensure_unlocked(self, what: str, timeout: float) -> None:
        def check(collection: secretstorage.Collection) -> None:
            if collection.is_locked():
                from secretstorage.exceptions import PromptDismissedException

                log.debug("keyring: the collection is locked; asking to unlock it for %s", what)
                collection.unlock(timeout=timeout)
                if collection.is_locked():
                    raise PromptDismissedException("the unlock prompt was dismissed")

        self._run(check)

    def get_many(self, usernames: Sequence[str]) -> list[str | None]:
        def read(collection: secretstorage.Collection) -> list[str | None]:
            from secretstorage.exceptions import ItemNotFoundException, LockedException
            from secretstorage.util import DBusAddressWrapper

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
                values.append(_decrypt(session, secret))
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


def _decrypt(session: Session, secret: tuple[str, bytes, bytes, str]) -> str:
    """One secret of a ``GetSecrets`` answer, as ``secretstorage.Item.get_secret`` decodes it (AES-128-CBC, PKCS#7
    padding, with the session's key), checked, as text. Errors name nothing of the content."""
    _session_path, parameters, value, _content_type = secret
    if not session.encrypted:
        return bytes(value).decode("utf-8")
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    assert session.aes_key is not None
    decryptor = Cipher(algorithms.AES(session.aes_key), modes.CBC(bytes(parameters))).decryptor()
    padded = decryptor.update(bytes(value)) + decryptor.finalize()
    padding = padded[-1] if padded else 0
    if not 1 <= padding <= 16 or padded[-padding:] != bytes((padding,)) * padding:
        raise ValueError("a secret from the Secret Service is not padded as it should be")
    return padded[:-padding].decode("utf-8")


# -- the keyring vault -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Generation:
    gen: str
    chunks: int


@dataclass(frozen=True, slots=True)
class _Head:
    #: The current value: its generation, chunk count, length and sha256; None when there is none.
    value: tuple[_Generation, int, str] | None
    #: Generations whose chunks may still be in the keyring.
    garbage: tuple[_Generation, ...] = ()

    def dump(self) -> str:
        value = None
        if self.value is not None:
            generation, length, digest = self.value
            value = {"gen": generation.gen, "chunks": generation.chunks, "length": length, "sha256": digest}
        data = {"format": 1, "value": value, "garbage": [[g.gen, g.chunks] for g in self.garbage[-MAX_GARBAGE:]]}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def load(cls, text: str) -> _Head:
        """Raises ValueError for anything that is not a head this code wrote."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ValueError("not a v1 head")
        value = data.get("value")
        current = None
        if value is not None:
            if not isinstance(value, dict):
                raise ValueError("bad value")
            generation = _generation(value.get("gen"), value.get("chunks"))
            length, digest = value.get("length"), value.get("sha256")
            if not isinstance(length, int) or not isinstance(digest, str) or not _HEX64.fullmatch(digest):
                raise ValueError("bad value")
            current = (generation, length, digest)
        garbage = data.get("garbage", [])
        if not isinstance(garbage, list):
            raise ValueError("bad garbage")
        return cls(current, tuple(_generation(*entry) for entry in garbage if isinstance(entry, list)))


def _generation(gen: object, chunks: object) -> _Generation:
    if not isinstance(gen, str) or not _GEN.fullmatch(gen) or not isinstance(chunks, int) or not 0 < chunks <= 256:
        raise ValueError("bad generation")
    return _Generation(gen, chunks)


class KeyringVault:
    """Secrets in the OS keyring, one entry per :data:`CHUNK_CHARS` characters of JSON, plus a head per key.

    Writes to one key must not run concurrently from two processes (the account lock serialises them); within a
    process a lock does. Without an injected ``backend``, on Linux where the keyring library could only choose the
    Secret Service (:func:`secret_service_is_the_choice`), the vault talks to it directly over one D-Bus connection
    that it keeps (:meth:`close` ends it; so does collecting the vault).
    """

    def __init__(self, profile_id: str, *, backend: keyring.backend.KeyringBackend | None = None) -> None:
        if not _PROFILE.fullmatch(profile_id):
            raise ValueError("a profile id is 1-64 characters of A-Z a-z 0-9 . _ -")
        self._prefix = f"{FORMAT_GENERATION}/{profile_id}/"
        self._backend: keyring.backend.KeyringBackend | None
        self._entries: _Entries
        if backend is None and secret_service_is_the_choice() and _secretstorage_installed():
            self._backend, self._refused = None, None
            self._entries = _SecretServiceEntries()
            self._name = SECRET_SERVICE_NAME
        else:
            self._backend, self._refused = select_backend(backend)
            self._entries = _KeyringLibraryEntries(self._backend)
            self._name = backend_name(self._backend)
        self._lock = threading.RLock()

    @property
    def kind(self) -> str:
        return "keyring"

    @property
    def description(self) -> str:
        return self._name

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        """The keyring-library backend that reads and writes the same entries (when the vault talks to the Secret
        Service itself: keyring's SecretService backend, made when first asked for)."""
        if self._backend is None:
            from keyring.backends import SecretService

            self._backend = SecretService.Keyring()  # type: ignore[no-untyped-call]
        return self._backend

    def __repr__(self) -> str:
        return f"KeyringVault({self._prefix!r}, {self._name!r})"

    def close(self) -> None:
        """End the D-Bus connection the vault keeps, if any (the next call opens a new one)."""
        with self._lock:
            self._entries.close()

    # -- the port ----------------------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise the :class:`SecretStoreError` a read would raise now (unavailable, locked...); else return.

        On a locked Secret Service this is where the unlock prompt appears: before a sign-in, not after it.
        """
        with self._session("the app's secrets", "read"):
            self._read(self._prefix + "#probe", "the app's secrets")

    def get(self, key: str) -> dict[str, Any] | None:
        """Read without a lock: a writer in another process may switch the head and delete the parts we were
        about to read. A part that vanished (or doesn't add up) while the head moved on means "read again", up to
        :data:`READ_ATTEMPTS` times; only a head that stays put with parts missing is damage."""
        _check_key(key)
        name = self._prefix + key
        with self._session(key, "read"):
            for _ in range(READ_ATTEMPTS - 1):
                head = self._head(name, key, strict=True)
                if head is None or head.value is None:
                    log.debug("keyring get %s: none", key)
                    return None
                try:
                    return self._assemble(name, key, head.value)
                except SecretStoreError:
                    again = self._head(name, key, strict=True)
                    if again is not None and again.value == head.value:
                        raise  # the head did not move: the parts really are missing or damaged
                    log.debug("keyring get %s: changed while reading, reading again", key)
            head = self._head(name, key, strict=True)
            if head is None or head.value is None:
                return None
            return self._assemble(name, key, head.value)

    def _assemble(self, name: str, key: str, current: tuple[_Generation, int, str]) -> dict[str, Any]:
        generation, length, digest = current
        parts = self._read_many([_chunk(name, generation, index) for index in range(generation.chunks)], key)
        for index, part in enumerate(parts):
            if part is None:
                self._damaged(key, f"part {index + 1} of {generation.chunks} is missing")
        text = "".join(part or "" for part in parts)
        if len(text) != length or hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            self._damaged(key, "its parts do not add up to what was stored")
        try:
            value = json.loads(text)
        except ValueError:
            self._damaged(key, "it is not JSON")
        if not isinstance(value, dict):
            self._damaged(key, "it is not a JSON object")
        log.debug("keyring get %s: %d part(s)", key, generation.chunks)
        return value

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        _check_key(key)
        text = _encode(value)
        name = self._prefix + key
        chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
        new = _Generation(os.urandom(8).hex(), len(chunks))  # random: names are visible while locked
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        with self._session(key, "store"):
            old = self._head(name, key, strict=False) or _Head(None)
            garbage = old.garbage
            if garbage:  # leftovers of an earlier crash or failed delete: try again first
                garbage = self._collect(name, key, garbage)
            # 1. Announce the new generation, so a crash while writing it leaves no fragment nobody knows about.
            self._write(name, _Head(old.value, (*garbage, new)).dump(), key)
            # 2. The new chunks (a reader still gets the old value).
            for index, chunk in enumerate(chunks):
                self._write(_chunk(name, new, index), chunk, key)
            # 3. The switch: one entry.
            replaced = (old.value[0],) if old.value is not None else ()
            leftovers = (*garbage, *replaced)
            self._write(name, _Head((new, len(text), digest), leftovers).dump(), key)
            log.debug("keyring put %s: %d part(s)", key, len(chunks))
            # 4. Remove the old generation. The new value is stored whatever happens here.
            if leftovers:
                try:
                    remaining = self._collect(name, key, leftovers)
                    if remaining != leftovers:
                        self._write(name, _Head((new, len(text), digest), remaining).dump(), key)
                except SecretStoreError as exc:
                    log.warning("keyring put %s: stored, but cleaning up failed (%s)", key, exc.message)
                    return
                if remaining:
                    log.warning("keyring put %s: stored; old parts stay until its next change or delete", key)

    def delete(self, key: str) -> None:
        _check_key(key)
        name = self._prefix + key
        with self._session(key, "delete"):
            head = self._head(name, key, strict=False)
            if head is None:
                log.debug("keyring delete %s: none", key)
                return
            doomed = (*head.garbage, *((head.value[0],) if head.value is not None else ()))
            if doomed:
                # A crash from here on reads as "deleted", never as a damaged value.
                self._write(name, _Head(None, doomed).dump(), key)
                remaining = self._collect(name, key, doomed)
                if remaining:
                    raise SecretStoreError(
                        "keyring_write_failed",
                        f"The {self._name} did not delete all parts of {key}.",
                        hint="Try again; the entry already reads as deleted.",
                    )
            self._remove(name, key)
            log.debug("keyring delete %s", key)

    # -- steps -------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _session(self, key: str, action: str) -> Iterator[None]:
        if self._refused is not None:
            raise SecretStoreError(self._refused.code, self._refused.message, hint=self._refused.hint)
        with self._lock:
            self._ensure_unlocked(key, action)
            yield

    def _ensure_unlocked(self, key: str, action: str) -> None:
        """A locked keyring is unlocked (the person is asked) or reported, before anything is read or written."""
        try:
            self._entries.ensure_unlocked(key, UNLOCK_PROMPT_TIMEOUT)
        except TimeoutError as exc:
            raise SecretStoreError(
                "keyring_locked",
                f"The {self._name} is locked and its unlock prompt was not answered (needed for {key}).",
                hint=_unlock_hint(self._name),
            ) from exc
        except Exception as exc:
            raise self._error(exc, action, key) from exc

    def _head(self, name: str, key: str, *, strict: bool) -> _Head | None:
        text = self._read(name, key)
        if text is None:
            return None
        try:
            return _Head.load(text)
        except (ValueError, TypeError) as exc:
            if strict:
                self._damaged(key, "its index entry is not readable", exc)
            log.warning("keyring %s: unreadable index entry, replacing it", key)
            return _Head(None)

    def _collect(self, name: str, key: str, generations: Sequence[_Generation]) -> tuple[_Generation, ...]:
        """Delete the chunks of these generations (last chunk first); return those that could not be deleted."""
        remaining: list[_Generation] = []
        for generation in generations:
            try:
                for index in reversed(range(generation.chunks)):
                    self._remove(_chunk(name, generation, index), key)
            except SecretStoreError as exc:
                if exc.code == "keyring_locked":
                    raise
                remaining.append(generation)
        return tuple(remaining)

    def _read(self, username: str, key: str) -> str | None:
        return self._read_many([username], key)[0]

    def _read_many(self, usernames: Sequence[str], key: str) -> list[str | None]:
        """Entries, None for those that don't exist. The Secret Service, busy with other processes replacing items,
        sometimes answers a lookup with an item that is gone by the time it is read (ItemNotFoundException), or
        fails to find its default collection for a moment (InitError): such a read is tried again, briefly. A
        locked keyring is not."""
        for delay in (*READ_RETRY_DELAYS, None):
            try:
                return self._entries.get_many(usernames)
            except Exception as exc:
                error = self._error(exc, "read", key)
                if delay is None or error.code == "keyring_locked":
                    raise error from exc
                log.debug("keyring get %s: %s, trying again", key, type(exc).__name__)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, username: str, password: str, key: str) -> None:
        try:
            self._entries.set(username, password)
        except Exception as exc:
            raise self._error(exc, "store", key) from exc

    def _remove(self, username: str, key: str) -> None:
        """Delete one entry; a missing one is fine."""
        try:
            self._entries.delete(username)
        except Exception as exc:
            raise self._error(exc, "delete", key) from exc

    def _error(self, exc: BaseException, action: str, key: str) -> SecretStoreError:
        what = type(exc).__name__
        if _is_locked(exc):
            return SecretStoreError(
                "keyring_locked", f"The {self._name} is locked: cannot {action} {key}.", hint=_unlock_hint(self._name)
            )
        if _is_unavailable(exc):
            return SecretStoreError(
                "keyring_unavailable",
                f"The {self._name} is not available ({what}) to {action} {key}.",
                hint=f"{_sentence(_install_hint())}, {_FILE_STORE_HINT}.",
            )
        if action == "read":
            return SecretStoreError(
                "keyring_read_failed",
                f"The {self._name} could not read {key} ({what}).",
                hint="Check that the keyring is running and unlocked, then try again.",
            )
        return SecretStoreError(
            "keyring_write_failed",
            f"The {self._name} refused to {action} {key} ({what}).",
            hint="Check that the keyring is running, unlocked and not full, then try again"
            + ("; the value stored before is unchanged." if action == "store" else "."),
        )

    def _damaged(self, key: str, why: str, cause: BaseException | None = None) -> NoReturn:
        raise SecretStoreError(
            "keyring_read_failed",
            f"The secret {key} in the {self._name} is damaged: {why}.",
            hint="Sign in to this account again: that replaces the damaged entry.",
        ) from cause


def _chunk(name: str, generation: _Generation, index: int) -> str:
    return f"{name}#{generation.gen}/{index}"


# -- the file store --------------------------------------------------------------------------------------------------
if sys.platform == "win32":  # pragma: no cover - not tested here
    import msvcrt

    @contextlib.contextmanager
    def _exclusive(fd: int) -> Iterator[None]:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for ~10 s, then OSError
        try:
            yield
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    @contextlib.contextmanager
    def _exclusive(fd: int) -> Iterator[None]:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


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
        _check_key(key)
        value = self._load().get(key)
        log.debug("file store get %s: %s", key, "found" if value is not None else "none")
        return dict(value) if isinstance(value, dict) else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        _check_key(key)
        decoded = json.loads(_encode(value))
        with self._locked():
            data = self._load()
            data[key] = decoded
            self._save(data)
        log.debug("file store put %s", key)

    def delete(self, key: str) -> None:
        _check_key(key)
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
        with self._thread_lock:
            try:
                self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            except OSError as exc:
                raise self._io_error("write", exc) from exc
            try:
                with _exclusive(fd):
                    yield
            finally:
                os.close(fd)

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
            f"keyring_{action}_failed",
            f"Could not {action} the secret file {self._path}: {reason}.",
            hint="Check the disk has room and the directory is writable; the value stored before is unchanged."
            if action == "write"
            else "Check the file's permissions, then try again.",
        )


# -- choosing ----------------------------------------------------------------------------------------------------------
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
