"""Which keyring backend holds the secrets, which ones never may, and what their errors mean.

``keyring`` is imported only inside these functions, never at the top: importing it is a large part of a short
command's start (``mcp-connectors token``), and on Linux with a Secret Service and no keyring configuration
(:func:`secret_service_is_the_choice`) a command never needs it, the vault talking to the Secret Service itself
(:mod:`desktop_app.storage.secret_service`). See docs/decisions/0008-secret-storage.md.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.errors import SecretStoreError

if TYPE_CHECKING:
    import keyring.backend

#: What the vault says to someone without a usable keyring.
FILE_STORE_HINT = "or choose the file store explicitly with --secret-store file (not encrypted)"


def module_of(backend: keyring.backend.KeyringBackend) -> str:
    return type(backend).__module__


def _is_plaintext(backend: keyring.backend.KeyringBackend) -> bool:
    """Anything from the ``keyrings.alt`` package (plaintext, base64 or a file the app does not control)."""
    return any((cls.__module__ or "").split(".")[:2] == ["keyrings", "alt"] for cls in type(backend).__mro__)


#: What the vault calls the Secret Service, whichever way it is reached.
SECRET_SERVICE_NAME = "Secret Service (org.freedesktop.secrets)"  # noqa: S105 - a name, not a secret


def backend_name(backend: keyring.backend.KeyringBackend) -> str:
    """A human name for a keyring backend."""
    from keyring.backends import fail

    module = module_of(backend)
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

    cls = f"{module_of(backend)}.{type(backend).__qualname__}"
    if _is_plaintext(backend):
        return SecretStoreError(
            "keyring_unavailable",
            f"The keyring backend {cls} (package keyrings.alt) does not encrypt secrets; it is never used.",
            hint="Uninstall keyrings.alt or point PYTHON_KEYRING_BACKEND at the system keyring; "
            f"{install_hint()}, {FILE_STORE_HINT}.",
        )
    if isinstance(backend, null.Keyring):
        return SecretStoreError(
            "keyring_unavailable",
            f"The keyring is disabled ({cls}).",
            hint=f"Remove the keyringrc.cfg or PYTHON_KEYRING_BACKEND setting that disables it, {FILE_STORE_HINT}.",
        )
    if isinstance(backend, fail.Keyring):
        return SecretStoreError(
            "keyring_unavailable",
            f"No OS keyring was found ({_no_keyring_detail()}).",
            hint=unavailable_hint(),
        )
    return None


def _no_keyring_detail() -> str:
    if sys.platform.startswith("linux"):
        return "no Secret Service provider answers on the D-Bus session bus"
    return "the keyring library found no usable backend"


def install_hint() -> str:
    if sys.platform.startswith("linux"):
        return (
            "install and start a Secret Service provider (GNOME Keyring, or KeePassXC with Secret Service "
            "integration enabled) and try again"
        )
    return "make sure the system keyring is available and try again"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def unavailable_hint() -> str:
    """What to do when no keyring can be used."""
    return f"{_sentence(install_hint())}, {FILE_STORE_HINT}."


def unlock_hint(name: str) -> str:
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
            hint=unavailable_hint(),
        )
    return chosen, _refusal(chosen)


def _default_backend() -> keyring.backend.KeyringBackend:
    """keyring's own choice, except in the common Linux case, where it is known in advance: the Secret Service.

    keyring's detection imports every backend, and its macOS one runs ``ctypes.util.find_library`` at import time
    (on Linux: ``ldconfig``, ``gcc`` and ``ld`` in child processes), a cost every command would pay
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


def secretstorage_installed() -> bool:
    """``secretstorage`` can be imported (Linux: a dependency there; elsewhere usually not)."""
    return importlib.util.find_spec("secretstorage") is not None


#: The Secret Service's answer to a call on a locked item or collection.
_DBUS_IS_LOCKED = "org.freedesktop.Secret.Error.IsLocked"


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """These exception classes of ``module`` if it was imported (an exception of it can only come from there)."""
    loaded = sys.modules.get(module)
    return tuple(getattr(loaded, name) for name in names if hasattr(loaded, name)) if loaded is not None else ()


def is_locked(exc: BaseException) -> bool:
    """The keyring is locked, or its unlock prompt was dismissed (from keyring or from secretstorage)."""
    locked = _loaded("keyring.errors", "KeyringLocked") + _loaded(
        "secretstorage.exceptions", "LockedException", "PromptDismissedException"
    )
    return isinstance(exc, locked) or getattr(exc, "name", None) == _DBUS_IS_LOCKED


def is_unavailable(exc: BaseException) -> bool:
    """No keyring answers (none found, or nobody owns the Secret Service's bus name)."""
    unavailable = _loaded("keyring.errors", "NoKeyringError", "InitError") + _loaded(
        "secretstorage.exceptions", "SecretServiceNotAvailableException"
    )
    return isinstance(exc, unavailable)


def is_missing_item(exc: BaseException) -> bool:
    """A Secret Service item went away between finding and reading it."""
    return isinstance(exc, _loaded("secretstorage.exceptions", "ItemNotFoundException"))
