"""The secret stores' rules, with a fake keyring backend used only to inject faults (the real one: integration)."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.compat import properties
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError

from desktop_app.appinfo import APP_ID
from desktop_app.errors import ConfigurationError, SecretStoreError
from desktop_app.storage.file_vault import FileVault
from desktop_app.storage.keyring_backends import SECRET_SERVICE_NAME, keyring_config_root, secret_service_is_the_choice
from desktop_app.storage.keyring_vault import CHUNK_CHARS, KeyringVault
from desktop_app.storage.memory import MemorySecretStore
from desktop_app.storage.secret_values import MAX_VALUE_CHARS
from desktop_app.storage.vault import open_secret_store
from tests.helpers.cli import python_env

SECRET = "SECRET-TOKEN-TEXT"


# KeyringBackend registers every subclass as a candidate backend: a priority that raises makes keyring's own
# detection skip these test doubles ("not viable"); a chainer must say so with viable = False.
class FakeKeyring(KeyringBackend):
    """An in-memory keyring that can be locked, fail its n-th write or delete, and cap secrets like Windows."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("a test double: keyring must never pick it by itself")

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.locked = False
        self.windows_cap = False
        self.writes = 0
        self.fail_write_at: int | None = None
        self.deletes = 0
        self.fail_delete_at: int | None = None

    def get_password(self, service: str, username: str) -> str | None:
        if self.locked:
            raise KeyringLocked("Failed to unlock the collection!")
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.locked:
            raise KeyringLocked("Failed to unlock the collection!")
        self.writes += 1
        if self.writes == self.fail_write_at:
            raise PasswordSetError("injected write failure")
        if self.windows_cap and len(password.encode("utf-16-le")) > 2560:
            raise OSError(1783, "CredWrite", "The stub received bad data.")
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.locked:
            raise KeyringLocked("Failed to unlock the collection!")
        self.deletes += 1
        if self.deletes == self.fail_delete_at:
            raise PasswordDeleteError("injected delete failure")
        if (service, username) not in self.entries:
            raise PasswordDeleteError("No such password!")
        del self.entries[(service, username)]

    def names(self, profile: str) -> set[str]:
        return {username for service, username in self.entries if service == APP_ID and f"/{profile}/" in username}


def bundle(size: int, tag: str = "") -> dict[str, Any]:
    """A token bundle of about ``size`` characters of JSON, its secret text marked with SECRET."""
    body = (SECRET + tag + "-") * (size // (len(SECRET) + len(tag) + 1) + 1)
    return {"access_token": body[: size // 2], "id_token": body[: size // 2], "expires_at": 1.5}


@pytest.fixture
def fake() -> FakeKeyring:
    return FakeKeyring()


def no_secret_in(error: BaseException) -> None:
    text = f"{error} {error.hint if isinstance(error, SecretStoreError) else ''} {error!r}"
    assert SECRET not in text and "OLD" not in text, text
    assert error.__cause__ is None or SECRET not in str(error.__cause__)


# -- every secret store: the port's contract -------------------------------------------------------------------
Store = KeyringVault | FileVault | MemorySecretStore


@pytest.fixture(params=["keyring", "file", "memory"])
def store(request: pytest.FixtureRequest, fake: FakeKeyring, tmp_path: Path) -> Store:
    """The keyring vault (on the fault-injecting fake), the file vault and the in-memory store, which must behave
    alike for every method of the SecretStore port."""
    if request.param == "keyring":
        return KeyringVault("p1", backend=fake)
    if request.param == "file":
        return FileVault(tmp_path / "secrets.json")
    return MemorySecretStore()


def test_every_store_round_trips_and_deletes(store: Store) -> None:
    assert store.kind in ("keyring", "file", "memory") and store.description
    store.check()
    assert store.get("account/a") is None
    value = bundle(3_000)
    store.put("account/a", value)
    store.put("server/3/client-secret", {"client_secret": SECRET})
    assert store.get("account/a") == value
    store.put("account/a", {"v": 2})  # replaced whole
    assert store.get("account/a") == {"v": 2}
    store.delete("account/a")
    store.delete("account/a")  # deleting twice is harmless
    assert store.get("account/a") is None
    assert store.get("server/3/client-secret") == {"client_secret": SECRET}


def test_every_store_gives_copies(store: Store) -> None:
    value: dict[str, Any] = {"nested": {"a": 1}}
    store.put("k", value)
    value["nested"]["a"] = 2
    got = store.get("k")
    assert got == {"nested": {"a": 1}}
    got["nested"]["a"] = 3
    assert store.get("k") == {"nested": {"a": 1}}


def test_every_store_refuses_the_same_keys_and_values(store: Store) -> None:
    for key in ("", "bad#key", "has space", "x" * 201, "é"):
        with pytest.raises(ValueError, match="a secret key"):
            store.get(key)
        with pytest.raises(ValueError, match="a secret key"):
            store.put(key, {})
        with pytest.raises(ValueError, match="a secret key"):
            store.delete(key)
    with pytest.raises(TypeError, match="mapping"):
        store.put("k", ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most"):
        store.put("k", {"t": "x" * MAX_VALUE_CHARS})
    with pytest.raises(ValueError, match="JSON compliant"):
        store.put("k", {"t": float("nan")})
    assert store.get("k") is None


# -- KeyringVault ----------------------------------------------------------------------------------------------
def test_a_10_kb_bundle_round_trips_under_a_windows_like_cap(fake: FakeKeyring) -> None:
    fake.windows_cap = True
    vault = KeyringVault("p1", backend=fake)
    value = bundle(10_000)
    assert len(json.dumps(value)) > 2560
    vault.put("account/a", value)
    assert vault.get("account/a") == value
    assert all(len(password) <= CHUNK_CHARS for password in fake.entries.values())
    assert len(fake.names("p1")) == 1 + 11  # the head and ~10 KB in parts of 1000
    assert "v1/p1/account/a" in fake.names("p1")


def test_the_cap_is_real_so_an_unsplit_bundle_would_fail(fake: FakeKeyring) -> None:
    fake.windows_cap = True
    with pytest.raises(OSError, match="CredWrite"):
        fake.set_password(APP_ID, "x", json.dumps(bundle(10_000)))


def _two_versions(fake: FakeKeyring) -> tuple[KeyringVault, dict[str, Any], dict[str, Any]]:
    vault = KeyringVault("p1", backend=fake)
    old, new = bundle(4_500, "OLD"), bundle(4_000, "NEW")
    vault.put("account/a", old)
    fake.writes = fake.deletes = 0
    return vault, old, new


@pytest.mark.parametrize("failing_write", [1, 2, 4, 6])
def test_a_write_failing_before_the_switch_keeps_the_old_value(fake: FakeKeyring, failing_write: int) -> None:
    """Writes: 1 announces the new parts in the head, 2-6 are the five parts, 7 switches the head."""
    vault, old, new = _two_versions(fake)
    fake.fail_write_at = failing_write
    with pytest.raises(SecretStoreError) as caught:
        vault.put("account/a", new)
    assert caught.value.code == "keyring_write_failed"
    assert "account/a" in caught.value.message
    no_secret_in(caught.value)
    assert vault.get("account/a") == old
    # The next put removes the parts the failed one left, and the old ones.
    fake.fail_write_at = None
    vault.put("account/a", new)
    assert vault.get("account/a") == new
    assert len(fake.names("p1")) == 1 + 5


def test_a_failing_switch_keeps_the_old_value(fake: FakeKeyring) -> None:
    vault, old, new = _two_versions(fake)
    fake.fail_write_at = 7
    with pytest.raises(SecretStoreError) as caught:
        vault.put("account/a", new)
    assert caught.value.code == "keyring_write_failed"
    assert vault.get("account/a") == old
    fake.fail_write_at = None
    vault.delete("account/a")
    assert fake.names("p1") == set()


@pytest.mark.parametrize("failing_delete", [1, 3, 5])
def test_a_failing_cleanup_keeps_the_new_value_and_is_finished_later(
    fake: FakeKeyring, failing_delete: int, caplog: pytest.LogCaptureFixture
) -> None:
    vault, _old, new = _two_versions(fake)
    fake.fail_delete_at = failing_delete
    vault.put("account/a", new)  # stored: the leftovers are not the caller's problem
    assert vault.get("account/a") == new
    assert len(fake.names("p1")) > 1 + 5
    assert any("account/a" in record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)
    fake.fail_delete_at = None
    newer = bundle(2_000, "NEWER")
    vault.put("account/a", newer)
    assert vault.get("account/a") == newer
    assert len(fake.names("p1")) == 1 + 3


def test_a_crash_at_any_point_of_a_put_reads_as_old_or_new(fake: FakeKeyring) -> None:
    """Simulate a crash after every step: a copy of the keyring as it was after n writes/deletes."""
    vault, old, new = _two_versions(fake)
    snapshots: list[dict[tuple[str, str], str]] = []
    original_set, original_delete = fake.set_password, fake.delete_password

    def recording_set(service: str, username: str, password: str) -> None:
        original_set(service, username, password)
        snapshots.append(dict(fake.entries))

    def recording_delete(service: str, username: str) -> None:
        original_delete(service, username)
        snapshots.append(dict(fake.entries))

    fake.set_password = recording_set  # type: ignore[method-assign]
    fake.delete_password = recording_delete  # type: ignore[method-assign]
    vault.put("account/a", new)
    assert len(snapshots) > 10
    seen = []
    for snapshot in snapshots:
        replay = FakeKeyring()
        replay.entries = snapshot
        seen.append(KeyringVault("p1", backend=replay).get("account/a"))
    assert all(value in (old, new) for value in seen)
    assert seen[0] == old and seen[-1] == new


def test_damaged_parts_are_reported_without_the_content(fake: FakeKeyring) -> None:
    vault = KeyringVault("p1", backend=fake)
    vault.put("account/a", bundle(3_000))
    part = sorted(name for name in fake.names("p1") if "#" in name)[1]
    fake.entries[(APP_ID, part)] = fake.entries[(APP_ID, part)][:-1] + "X"
    with pytest.raises(SecretStoreError) as caught:
        vault.get("account/a")
    assert caught.value.code == "keyring_read_failed"
    assert "account/a" in caught.value.message and "damaged" in caught.value.message
    assert caught.value.hint is not None and "Sign in" in caught.value.hint
    no_secret_in(caught.value)
    del fake.entries[(APP_ID, part)]
    with pytest.raises(SecretStoreError, match="missing") as caught:
        vault.get("account/a")
    no_secret_in(caught.value)
    vault.put("account/a", {"fresh": True})  # signing in again replaces it
    assert vault.get("account/a") == {"fresh": True}
    assert len(fake.names("p1")) == 2


def test_a_delete_interrupted_half_way_reads_as_deleted(fake: FakeKeyring) -> None:
    vault = KeyringVault("p1", backend=fake)
    vault.put("account/a", bundle(3_000))
    fake.deletes = 0
    fake.fail_delete_at = 2
    with pytest.raises(SecretStoreError) as caught:
        vault.delete("account/a")
    assert caught.value.code == "keyring_write_failed"
    assert vault.get("account/a") is None
    fake.fail_delete_at = None
    vault.delete("account/a")
    assert fake.names("p1") == set()


def test_locked(fake: FakeKeyring) -> None:
    vault = KeyringVault("p1", backend=fake)
    vault.put("account/a", bundle(1_000))
    fake.locked = True
    operations: list[Callable[[], object]] = [
        vault.check,
        lambda: vault.get("account/a"),
        lambda: vault.put("account/a", bundle(1_000, "NEW")),
        lambda: vault.delete("account/a"),
    ]
    for operation in operations:
        with pytest.raises(SecretStoreError) as caught:
            operation()
        assert caught.value.code == "keyring_locked"
        assert "locked" in caught.value.message
        assert caught.value.hint is not None and caught.value.hint.startswith("Unlock")
        no_secret_in(caught.value)
    fake.locked = False
    assert vault.get("account/a") == bundle(1_000)


class PlaintextKeyring(KeyringBackend):
    """Stands for keyrings.alt.file.PlaintextKeyring (not installed, and never to be)."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("a test double")

    def get_password(self, service: str, username: str) -> str | None:
        raise AssertionError("a plaintext keyring must never be read")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("a plaintext keyring must never be written")


PlaintextKeyring.__module__ = "keyrings.alt.file"


class EmptyChain(chainer.ChainerBackend):
    """A chainer that found only backends that must not be used."""

    viable = False
    backends: ClassVar = [fail.Keyring(), PlaintextKeyring()]


class ChainWithAReal(chainer.ChainerBackend):
    viable = False
    backends: ClassVar = [PlaintextKeyring(), FakeKeyring()]


@pytest.mark.parametrize(
    ("backend", "words"),
    [
        (fail.Keyring(), "No OS keyring"),
        (null.Keyring(), "disabled"),
        (PlaintextKeyring(), "keyrings.alt"),
        (EmptyChain(), "No usable OS keyring"),
    ],
)
def test_unusable_backends_are_refused(backend: KeyringBackend, words: str) -> None:
    vault = KeyringVault("p1", backend=backend)
    for operation in (vault.check, lambda: vault.get("k"), lambda: vault.put("k", {"t": SECRET})):
        with pytest.raises(SecretStoreError) as caught:
            operation()
        assert caught.value.code == "keyring_unavailable"
        assert words in caught.value.message
        assert caught.value.hint is not None and "--secret-store file" in caught.value.hint
        assert "not encrypted" in caught.value.hint
        no_secret_in(caught.value)


def test_a_chain_is_resolved_to_its_first_real_backend() -> None:
    vault = KeyringVault("p1", backend=ChainWithAReal())
    assert isinstance(vault.backend, FakeKeyring)
    vault.put("k", {"t": 1})
    assert vault.get("k") == {"t": 1}


def test_backend_errors_are_mapped_without_content(fake: FakeKeyring) -> None:
    vault = KeyringVault("p1", backend=fake)
    vault.put("account/a", {"t": SECRET})

    def broken_read(service: str, username: str) -> str | None:
        raise RuntimeError("D-Bus went away")

    fake.get_password = broken_read  # type: ignore[method-assign]
    with pytest.raises(SecretStoreError) as caught:
        vault.get("account/a")
    assert caught.value.code == "keyring_read_failed"
    assert "RuntimeError" in caught.value.message and "account/a" in caught.value.message
    no_secret_in(caught.value)


def test_profiles_do_not_see_each_other(fake: FakeKeyring) -> None:
    first, second = KeyringVault("p1", backend=fake), KeyringVault("p2", backend=fake)
    first.put("account/a", {"who": "first"})
    assert second.get("account/a") is None
    second.put("account/a", {"who": "second"})
    assert first.get("account/a") == {"who": "first"}
    second.delete("account/a")
    assert first.get("account/a") == {"who": "first"}
    assert all(name.startswith("v1/p1/") for _service, name in fake.entries)


def test_names_and_description(fake: FakeKeyring) -> None:
    vault = KeyringVault("p1", backend=fake)
    assert vault.kind == "keyring"
    assert "FakeKeyring" in vault.description
    vault.put("server/3/client-secret", {"client_secret": SECRET})
    assert "v1/p1/server/3/client-secret" in fake.names("p1")
    with pytest.raises(ValueError, match="secret key"):
        vault.put("bad#key", {})
    with pytest.raises(ValueError, match="profile"):
        KeyringVault("a/b", backend=fake)


def test_logs_name_keys_never_values(fake: FakeKeyring, caplog: pytest.LogCaptureFixture) -> None:
    vault = KeyringVault("p1", backend=fake)
    vault.put("account/a", bundle(2_000))
    vault.get("account/a")
    vault.delete("account/a")
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("desktop_app")]
    assert any("account/a" in message for message in messages)
    assert not any(SECRET in message for message in messages)


# -- which way to the keyring ----------------------------------------------------------------------------------
@pytest.mark.parametrize("config_home", [None, "", "/somewhere/config"])
def test_the_keyring_config_is_looked_for_where_keyring_looks(
    config_home: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyring.util import platform_

    if config_home is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", config_home)
    assert keyring_config_root() == Path(platform_.config_root())


def test_the_secret_service_is_reached_directly_only_where_keyring_could_choose_nothing_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only the predicate is exercised for the other cases: a vault made there would ask keyring to detect its
    backend, which keyring caches for the whole test session (the subprocess tests cover those paths)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("XDG_CURRENT_DESKTOP", raising=False)
    assert secret_service_is_the_choice()  # the suite's private bus, no keyring configuration
    vault = KeyringVault("p1")
    assert vault.description == SECRET_SERVICE_NAME
    vault.check()
    with monkeypatch.context() as patch:
        patch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
        assert not secret_service_is_the_choice()
    with monkeypatch.context() as patch:
        patch.setenv("XDG_CURRENT_DESKTOP", "KDE")
        assert not secret_service_is_the_choice()
    with monkeypatch.context() as patch:
        patch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
        assert not secret_service_is_the_choice()
        patch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:abstract=/tmp/dbus-x")
        assert not secret_service_is_the_choice()
    config = tmp_path / "config" / "python_keyring" / "keyringrc.cfg"
    config.parent.mkdir(parents=True)
    config.write_text("[backend]\ndefault-keyring=keyring.backends.SecretService.Keyring\n")
    assert not secret_service_is_the_choice()


# -- FileVault -------------------------------------------------------------------------------------------------
def test_file_store_is_created_0600_and_says_not_encrypted(tmp_path: Path) -> None:
    path = tmp_path / "profile" / "secrets.json"
    vault = FileVault(path)
    assert vault.kind == "file"
    assert vault.description == f"file {path} (not encrypted)"
    assert vault.get("account/a") is None
    vault.put("account/a", {"refresh_token": SECRET})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert vault.get("account/a") == {"refresh_token": SECRET}
    vault.delete("account/a")
    vault.delete("account/a")
    assert vault.get("account/a") is None
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_file_store_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    vault = FileVault(path)
    vault.put("account/a", {"refresh_token": SECRET})
    path.chmod(0o644)
    for operation in (vault.check, lambda: vault.get("account/a"), lambda: vault.put("account/b", {})):
        with pytest.raises(SecretStoreError) as caught:
            operation()
        assert caught.value.code == "file_store_unsafe"
        assert str(path) in caught.value.message
        assert caught.value.hint is not None and f"chmod 600 {path}" in caught.value.hint
        no_secret_in(caught.value)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # refused, not silently "fixed"


def test_file_store_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    FileVault(target).put("k", {"v": 1})
    (tmp_path / "secrets.json").symlink_to(target)
    with pytest.raises(SecretStoreError) as caught:
        FileVault(tmp_path / "secrets.json").get("k")
    assert caught.value.code == "file_store_unsafe"


def test_file_store_failing_write_leaves_the_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secrets.json"
    vault = FileVault(path)
    vault.put("account/a", {"v": "old"})
    before = path.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(SecretStoreError) as caught:
        vault.put("account/a", {"v": "new"})
    assert caught.value.code == "keyring_write_failed"
    assert "No space left" in caught.value.message and str(path) in caught.value.message
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert vault.get("account/a") == {"v": "old"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secrets.json", "secrets.json.lock"]


def test_file_store_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"{not json")
    os.close(fd)
    with pytest.raises(SecretStoreError) as caught:
        FileVault(path).get("k")
    assert caught.value.code == "keyring_read_failed"
    assert str(path) in caught.value.message


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from desktop_app.storage.file_vault import FileVault
        vault = FileVault(Path(sys.argv[1]))
        for i in range(60):
            vault.put(f"{sys.argv[2]}/{i}", {"i": i, "pad": "x" * 2000})
        """
    )
    env = python_env()
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(path), name], env=env, stderr=subprocess.PIPE)
        for name in ("one", "two", "three")
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err.decode()
    vault = FileVault(path)
    for name in ("one", "two", "three"):
        for i in range(60):
            assert vault.get(f"{name}/{i}") == {"i": i, "pad": "x" * 2000}


def test_open_secret_store(tmp_path: Path) -> None:
    store = open_secret_store("file", profile_id="p1", data_dir=tmp_path)
    assert isinstance(store, FileVault) and store.path == tmp_path / "secrets.json"
    assert open_secret_store("keyring", profile_id="p1", data_dir=tmp_path).kind == "keyring"
    with pytest.raises(ConfigurationError) as caught:
        open_secret_store("plaintext", profile_id="p1", data_dir=tmp_path)
    assert "plaintext" in caught.value.message
