"""A real, private Secret Service for the whole test session: gnome-keyring on a D-Bus bus of our own.

Every test, and every process a test starts (they inherit the environment), talks to this keyring and never to
the developer's: ``DBUS_SESSION_BUS_ADDRESS``, ``XDG_RUNTIME_DIR``, ``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME``
point into a fresh 0700 directory for the session, and ``PYTHON_KEYRING_BACKEND`` is unset, so the keyring library
finds the Secret Service by itself. Registered by ``tests/lab/conftest_plugin.py``.

- ``private_secret_service`` (session, autouse): starts ``dbus-daemon`` and ``gnome-keyring-daemon --foreground
  --unlock --components=secrets`` (its login keyring is created and unlocked with a password on stdin), waits
  until ``org.freedesktop.secrets`` is owned, and stops both at the end.
- ``secret_service`` (function): the same :class:`PrivateSecretService`, with helpers (``lock()``, ``unlock()``,
  ``items()``, ``bus_address``); it unlocks the keyring again after the test.

The bus is not ``dbus-daemon --session``: its configuration is the session one without service activation, so
nothing we did not start can appear on it (a second keyring daemon, or ``gcr-prompter`` opening a password window
on the developer's screen when a test locks the keyring; without a prompter, gnome-keyring refuses an unlock at
once, which is what the tests of a locked keyring rely on).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import secretstorage
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from secretstorage.util import DBusAddressWrapper, format_secret, open_session

from desktop_app.appinfo import APP_ID

SECRETS_NAME = "org.freedesktop.secrets"
#: gnome-keyring's own D-Bus interface: unlock a collection with its password, without a prompt.
GNOME_KEYRING_INTERNAL = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
START_TIMEOUT = 10.0
#: How long a stopped daemon may take to end on SIGTERM before it is killed: the keyring is a throwaway folder, and
#: gnome-keyring-daemon with clients still connected may take seconds to end.
STOP_WAIT = 1.0
REQUIRED_BINARIES = {
    "dbus-daemon": "dbus-daemon",
    "gnome-keyring-daemon": "gnome-keyring",
    "secret-tool": "libsecret-tools",
}

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SecretServiceError(RuntimeError):
    """The private Secret Service could not be started."""


def missing_binaries() -> list[str]:
    return [binary for binary in REQUIRED_BINARIES if shutil.which(binary) is None]


@dataclass
class PrivateSecretService:
    root: Path
    bus_address: str
    password: str
    #: The environment that points a process at this keyring (applied to os.environ for the session).
    environment: dict[str, str]
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)
    _daemon_env: dict[str, str] = field(default_factory=dict, repr=False)

    def revive(self) -> str | None:
        """Start gnome-keyring-daemon again if it exited (it aborts by itself now and then: a known bug of its own;
        the store lives in files, so nothing is lost). Returns why it was gone (its log's last lines), or None."""
        daemon = self._processes[-1] if len(self._processes) > 1 else None
        if daemon is None or daemon.poll() is None:
            return None
        log = self.root / "daemons.log"
        why = f"exit {daemon.returncode}: " + " | ".join(log.read_text(errors="replace").splitlines()[-3:])[-300:]
        with log.open("ab") as out:
            self._processes[-1] = _keyring_daemon(self, self._daemon_env, out)
        _wait("gnome-keyring-daemon", lambda: _name_has_owner(self.bus_address, SECRETS_NAME), self._processes, log)
        return why

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self._processes]

    @contextlib.contextmanager
    def _default_collection(self) -> Iterator[secretstorage.Collection]:
        with contextlib.closing(secretstorage.dbus_init()) as connection:
            yield secretstorage.get_default_collection(connection)

    def is_locked(self) -> bool:
        with self._default_collection() as collection:
            return collection.is_locked()

    def lock(self) -> None:
        """Lock the default collection (the login keyring), as a person or an idle timeout would."""
        with self._default_collection() as collection:
            collection.lock()
            assert collection.is_locked()

    def unlock(self) -> None:
        """Unlock it with its password, through gnome-keyring's own interface (no prompt exists here)."""
        with self._default_collection() as collection:
            if not collection.is_locked():
                return
            session = open_session(collection.connection)
            internal = DBusAddressWrapper("/org/freedesktop/secrets", GNOME_KEYRING_INTERNAL, collection.connection)
            internal.call(
                "UnlockWithMasterPassword",
                "o(oayays)",
                collection.collection_path,
                format_secret(session, self.password.encode(), "text/plain"),
            )
            assert not collection.is_locked()

    def items(self, service: str = APP_ID, prefix: str = "") -> dict[str, str]:
        """username → secret of every item of ``service`` whose username starts with ``prefix`` (keyring unlocked)."""
        found: dict[str, str] = {}
        with self._default_collection() as collection:
            for item in collection.search_items({"service": service}):
                username = item.get_attributes().get("username", "")
                if username.startswith(prefix):
                    found[username] = item.get_secret().decode("utf-8")
        return found

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=STOP_WAIT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        self._processes.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def _name_has_owner(address: str, name: str) -> bool:
    try:
        with contextlib.closing(open_dbus_connection(bus=address)) as connection:
            reply = connection.send_and_get_reply(message_bus.NameHasOwner(name), timeout=2)
    except (OSError, TimeoutError):
        return False
    return bool(reply.body[0])


def _wait(what: str, ready: Callable[[], bool], processes: list[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        for process in processes:
            if process.poll() is not None:
                raise SecretServiceError(
                    f"{what}: {process.args!r} exited with status {process.returncode}. Output:\n"
                    f"{log.read_text(errors='replace')}"
                )
        if time.monotonic() > deadline:
            raise SecretServiceError(
                f"{what}: not ready after {START_TIMEOUT:.0f} s. Output so far:\n{log.read_text(errors='replace')}"
            )
        time.sleep(0.02)


def _keyring_daemon(service: PrivateSecretService, env: dict[str, str], out: Any) -> subprocess.Popen[bytes]:
    """gnome-keyring-daemon on the service's bus, unlocked with its password."""
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=out,
        stderr=out,
        env=env,
        start_new_session=True,
    )
    assert daemon.stdin is not None
    daemon.stdin.write(service.password.encode())
    daemon.stdin.close()
    return daemon


def start_secret_service(password: str | None = None) -> PrivateSecretService:
    """Start a private bus and an unlocked gnome-keyring on it; the caller applies ``environment`` and stops it.

    ``password``: of the login keyring (random by default).
    """
    password = password or secrets.token_urlsafe(16)
    missing = missing_binaries()
    if missing:
        packages = " ".join(dict.fromkeys(REQUIRED_BINARIES.values()))
        raise SecretServiceError(
            f"The test suite needs a real Secret Service, but these programs are missing: {', '.join(missing)}. "
            f"Run tests/setup-and-run.sh as root, or as root: apt-get install --no-install-recommends {packages}"
        )
    # Short, private paths (a unix socket path must stay under 108 bytes).
    root = Path(tempfile.mkdtemp(prefix="mcpc-keyring-"))
    root.chmod(0o700)
    runtime, data, config, home = (root / "run", root / "data", root / "config", root / "home")
    for directory in (runtime, data, config, home):
        directory.mkdir(mode=0o700)
    socket = runtime / "bus"
    bus_address = f"unix:path={socket}"
    (root / "bus.conf").write_text(_BUS_CONFIG.format(socket=socket))
    environment = {
        "DBUS_SESSION_BUS_ADDRESS": bus_address,
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(data),
        "XDG_CONFIG_HOME": str(config),
    }
    daemon_env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "GNOME_KEYRING_CONTROL"}
    }
    daemon_env.update(environment, HOME=str(home))
    service = PrivateSecretService(root, bus_address, password, environment)
    log = root / "daemons.log"
    try:
        with log.open("ab") as out:
            service._processes.append(
                subprocess.Popen(
                    ["dbus-daemon", "--nofork", "--nopidfile", f"--config-file={root / 'bus.conf'}"],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    env=daemon_env,
                    start_new_session=True,
                )
            )
            _wait("dbus-daemon", lambda: _name_has_owner(bus_address, "org.freedesktop.DBus"), service._processes, log)
            service._processes.append(_keyring_daemon(service, daemon_env, out))
            _wait(
                "gnome-keyring-daemon",
                lambda: _name_has_owner(bus_address, SECRETS_NAME),
                service._processes,
                log,
            )
        service._daemon_env = daemon_env
    except BaseException:
        service.stop()
        raise
    return service


@pytest.fixture(scope="session", autouse=True)
def private_secret_service() -> Iterator[PrivateSecretService]:
    """The session's keyring; os.environ points at it until the session ends."""
    import keyring.core

    # keyring caches the backend it detected; one detected before this bus existed would be the wrong one.
    if keyring.core._keyring_backend is not None:
        pytest.fail(
            f"keyring chose a backend ({keyring.core._keyring_backend!r}) before the private Secret Service "
            "started: something called keyring at import time.",
            pytrace=False,
        )
    failure = None
    try:
        service = start_secret_service()
    except SecretServiceError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
            for key, value in service.environment.items():
                patch.setenv(key, value)
            yield service
    finally:
        service.stop()


@pytest.fixture
def secret_service(private_secret_service: PrivateSecretService) -> Iterator[PrivateSecretService]:
    """The session's keyring with its helpers; unlocked again after the test. A daemon that died since the last test
    (gnome-keyring-daemon aborts by itself now and then) is started again first, and that is said on stderr: one
    crash of a third-party daemon must not fail every test after it."""
    why = private_secret_service.revive()
    if why is not None:
        sys.stderr.write(f"\nThe private gnome-keyring-daemon had stopped ({why}); started again.\n")
    private_secret_service.unlock()
    yield private_secret_service
    private_secret_service.unlock()
