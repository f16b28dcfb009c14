"""KeyringVault against a real Secret Service: the session's private gnome-keyring (tests/lab/secret_service.py)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest
import secretstorage
from keyring.backends import SecretService
from secretstorage.util import open_session

from desktop_app.appinfo import APP_ID
from desktop_app.errors import SecretStoreError
from desktop_app.storage.keyring_vault import CHUNK_CHARS, KeyringVault
from desktop_app.storage.vault import open_secret_store
from tests.helpers.cli import python_env
from tests.integration.test_crash_safety import KeyringSupervisor
from tests.lab.secret_service import PrivateSecretService, start_secret_service


def bundle(size: int, marker: str) -> dict[str, object]:
    """A token bundle of about ``size`` characters whose secret text contains ``marker``."""
    filler = secrets.token_urlsafe(size)[:size]
    return {"access_token": f"{marker}-{filler[: size // 2]}", "id_token": f"{marker}-{filler[size // 2 :]}", "n": 1}


@pytest.fixture
def profile() -> str:
    return f"it-{secrets.token_hex(6)}"


@pytest.fixture
def vault(profile: str, secret_service: PrivateSecretService) -> KeyringVault:
    return KeyringVault(profile)


def ours(secret_service: PrivateSecretService, profile: str) -> dict[str, str]:
    return secret_service.items(prefix=f"v1/{profile}/")


def test_the_default_backend_is_the_secret_service(secret_service: PrivateSecretService, profile: str) -> None:
    assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == secret_service.bus_address
    chosen = keyring.get_keyring()
    assert isinstance(chosen, SecretService.Keyring)
    store = open_secret_store("keyring", profile_id=profile, data_dir=Path("/nonexistent"))
    assert isinstance(store, KeyringVault)
    # keyring's own detection and our shortcut (vault._default_backend) agree: the Secret Service.
    assert isinstance(store.backend, SecretService.Keyring)
    assert store.kind == "keyring"
    assert store.description == "Secret Service (org.freedesktop.secrets)"
    store.check()


def test_round_trip_and_delete(vault: KeyringVault, secret_service: PrivateSecretService, profile: str) -> None:
    assert vault.get("account/a") is None
    vault.put("account/a", {"refresh_token": "rt-small", "nested": {"scopes": ["a", "b"]}})
    assert vault.get("account/a") == {"refresh_token": "rt-small", "nested": {"scopes": ["a", "b"]}}
    assert set(ours(secret_service, profile)) == {"v1/" + profile + "/account/a", *_chunks(secret_service, profile)}
    vault.delete("account/a")
    assert vault.get("account/a") is None
    assert ours(secret_service, profile) == {}
    vault.delete("account/a")  # deleting what is not there is fine


def _chunks(secret_service: PrivateSecretService, profile: str) -> list[str]:
    return [name for name in ours(secret_service, profile) if "#" in name]


def test_a_10_kb_bundle_is_stored_in_chunks(
    vault: KeyringVault, secret_service: PrivateSecretService, profile: str
) -> None:
    value = bundle(10_000, "BIG")
    vault.put("account/big", value)
    assert vault.get("account/big") == value
    items = ours(secret_service, profile)
    assert len(_chunks(secret_service, profile)) >= 10
    assert all(len(secret) <= CHUNK_CHARS for secret in items.values())
    # No entry holds the whole bundle, and no entry name carries anything of the value.
    assert not any(value["id_token"] in secret for secret in items.values())  # type: ignore[operator]
    assert not any("BIG" in name for name in items)


def test_put_over_a_value_leaves_only_the_head_and_the_new_chunks(
    vault: KeyringVault, secret_service: PrivateSecretService, profile: str
) -> None:
    vault.put("account/x", bundle(5_000, "OLD"))
    old_chunks = set(_chunks(secret_service, profile))
    new = bundle(3_000, "NEW")
    vault.put("account/x", new)
    assert vault.get("account/x") == new
    items = ours(secret_service, profile)
    chunks = set(_chunks(secret_service, profile))
    assert set(items) == {f"v1/{profile}/account/x", *chunks}
    assert not chunks & old_chunks
    assert len(chunks) == -(-len(json.dumps(new, separators=(",", ":"))) // CHUNK_CHARS)
    assert not any("OLD-" in secret for secret in items.values())


def test_another_process_reads_what_we_wrote(
    vault: KeyringVault, secret_service: PrivateSecretService, profile: str
) -> None:
    vault.put("account/shared", {"refresh_token": "rt-from-this-process"})
    # libsecret's command-line client, a separate process with another implementation of the protocol.
    head = subprocess.run(
        ["secret-tool", "lookup", "service", APP_ID, "username", f"v1/{profile}/account/shared"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert '"chunks":1' in head
    (chunk_name,) = _chunks(secret_service, profile)
    chunk = subprocess.run(
        ["secret-tool", "lookup", "service", APP_ID, "username", chunk_name],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert chunk == '{"refresh_token":"rt-from-this-process"}'
    # And the app's own code in another Python process finds the value.
    script = (
        "import sys; from desktop_app.storage.keyring_vault import KeyringVault; "
        "print(KeyringVault(sys.argv[1]).get('account/shared')['refresh_token'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, profile],
        capture_output=True,
        text=True,
        timeout=60,
        env=python_env(),
        check=True,
    )
    assert result.stdout.strip() == "rt-from-this-process"


def test_a_locked_keyring_is_reported_promptly_then_works_once_unlocked(
    vault: KeyringVault, secret_service: PrivateSecretService
) -> None:
    vault.put("account/l", {"refresh_token": "rt-locked-test"})
    secret_service.lock()
    for operation in (
        vault.check,
        lambda: vault.get("account/l"),
        lambda: vault.put("account/l", {"refresh_token": "rt-other"}),
        lambda: vault.delete("account/l"),
    ):
        started = time.monotonic()
        with pytest.raises(SecretStoreError) as caught:
            operation()
        assert time.monotonic() - started < 5
        assert caught.value.code == "keyring_locked"
        assert "Secret Service" in caught.value.message and "locked" in caught.value.message
        assert caught.value.hint is not None and "Unlock" in caught.value.hint
        assert "rt-" not in str(caught.value)
    secret_service.unlock()
    vault.check()
    assert vault.get("account/l") == {"refresh_token": "rt-locked-test"}


def test_a_second_profile_does_not_see_the_first(secret_service: PrivateSecretService, profile: str) -> None:
    first, second = KeyringVault(profile), KeyringVault(profile + "-2")
    first.put("account/same", {"who": "first"})
    assert second.get("account/same") is None
    second.put("account/same", {"who": "second"})
    assert first.get("account/same") == {"who": "first"}
    first.delete("account/same")
    assert second.get("account/same") == {"who": "second"}
    second.delete("account/same")


# -- talking to the Secret Service directly: the same items as the keyring library's, one connection -------------


def described(prefix: str) -> dict[str, tuple[str, dict[str, str]]]:
    """username → (label, attributes) of this app's items whose username starts with ``prefix``."""
    found = {}
    with contextlib.closing(secretstorage.dbus_init()) as connection:
        collection = secretstorage.get_default_collection(connection)
        for item in collection.search_items({"service": APP_ID}):
            attributes = item.get_attributes()
            if attributes.get("username", "").startswith(prefix):
                found[attributes["username"]] = (item.get_label(), attributes)
    return found


def through_keyring(profile: str) -> KeyringVault:
    """The vault as it was before it talked to the Secret Service itself: every entry through keyring's backend."""
    return KeyringVault(profile, backend=SecretService.Keyring())


def test_entries_are_the_keyring_librarys_own_both_ways(
    vault: KeyringVault, secret_service: PrivateSecretService, profile: str
) -> None:
    library = through_keyring(profile)
    assert vault.description == library.description == "Secret Service (org.freedesktop.secrets)"
    value = bundle(2_500, "DIRECT")
    vault.put("account/d", value)
    entries = ours(secret_service, profile)
    assert len(entries) == 1 + 3
    # keyring.get_password (the library's own detection: the Secret Service) reads every entry the vault wrote.
    assert isinstance(keyring.get_keyring(), SecretService.Keyring)
    assert {name: keyring.get_password(APP_ID, name) for name in entries} == entries
    assert library.get("account/d") == value
    # And the vault reads what the keyring library wrote (what every earlier version of the app left behind).
    older = bundle(1_500, "LIBRARY")
    library.put("account/k", older)
    assert vault.get("account/k") == older
    # The items are indistinguishable: the attributes and label keyring's backend gives its items. (gnome-keyring
    # adds its own xdg:schema to some items, now and then, whichever way they were written: not compared.)
    items = described(f"v1/{profile}/")
    assert len(items) == 1 + 3 + 1 + 2
    shapes = {
        (
            label.replace(name, "NAME"),
            tuple(sorted((k, "NAME" if v == name else v) for k, v in attributes.items() if k != "xdg:schema")),
        )
        for name, (label, attributes) in items.items()
    }
    assert shapes == {
        (
            f"Password for 'NAME' on '{APP_ID}'",
            (("application", "Python keyring library"), ("service", APP_ID), ("username", "NAME")),
        )
    }
    library.delete("account/d")
    vault.delete("account/k")
    assert ours(secret_service, profile) == {}


def test_entries_stored_by_libsecret_are_read(vault: KeyringVault, profile: str) -> None:
    """A value written with ``secret-tool`` (libsecret: another implementation of the protocol) in the documented
    layout, a head and its parts, reads back."""
    text = json.dumps({"refresh_token": "rt-from-secret-tool", "pad": "x" * 1_400}, separators=(",", ":"))
    gen = secrets.token_hex(8)
    head = {
        "format": 1,
        "value": {"gen": gen, "chunks": 2, "length": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()},
        "garbage": [],
    }
    name = f"v1/{profile}/account/libsecret"
    parts = {name: json.dumps(head), f"{name}#{gen}/0": text[:CHUNK_CHARS], f"{name}#{gen}/1": text[CHUNK_CHARS:]}
    for username, secret in parts.items():
        subprocess.run(
            ["secret-tool", "store", "--label", username, "service", APP_ID, "username", username],
            input=secret,
            text=True,
            timeout=30,
            check=True,
        )
    assert vault.get("account/libsecret") == json.loads(text)
    vault.delete("account/libsecret")
    assert vault.get("account/libsecret") is None


def bus_counters() -> tuple[int, int]:
    """The bus's connection number and gnome-keyring's session number of a new client that opens one session: both
    count up by one for every connection and session anyone opens."""
    with contextlib.closing(secretstorage.dbus_init()) as connection:
        session = open_session(connection)
        assert session.object_path is not None
        return int(connection.unique_name.rsplit(".", 1)[1]), int(session.object_path.rsplit("/s", 1)[1])


def opened_by(action: Callable[[], object]) -> tuple[int, int]:
    """(D-Bus connections, Secret Service sessions) that ``action`` opened, as the bus and the keyring count them."""
    before = bus_counters()
    action()
    after = bus_counters()
    return after[0] - before[0] - 1, after[1] - before[1] - 1


def test_a_bundle_read_takes_one_connection_and_one_session(vault: KeyringVault, profile: str) -> None:
    value = bundle(3_000, "ONE")  # a head and three parts
    KeyringVault(profile).put("account/one", value)
    seen: list[object] = []
    assert opened_by(lambda: seen.append(vault.get("account/one"))) == (1, 1)
    # Both are kept for the vault's next calls: reading again opens nothing, nor does a write.
    assert opened_by(lambda: seen.append(vault.get("account/one"))) == (0, 0)
    assert opened_by(lambda: vault.put("account/one", value)) == (0, 0)
    vault.close()
    assert opened_by(lambda: seen.append(vault.get("account/one"))) == (1, 1)
    assert seen == [value, value, value]
    # What the keyring library does for the same read: one connection and one key exchange per entry (and the
    # vault's own connection to check the collection's lock).
    library = through_keyring(profile)
    connections, sessions = opened_by(lambda: seen.append(library.get("account/one")))
    assert connections >= 1 + 4 and sessions >= 4
    assert seen[-1] == value


def test_a_locked_keyring_reads_the_same_either_way(
    vault: KeyringVault, secret_service: PrivateSecretService, profile: str
) -> None:
    """Locked while the vault's connection is open, or before a vault ever connected: the errors are the ones the
    keyring library's path gives when the unlock is refused (no prompter here: gnome-keyring refuses at once)."""
    vault.put("account/l", {"refresh_token": "rt-locked-either-way"})
    secret_service.lock()
    seen = []
    for store in (vault, KeyringVault(profile), through_keyring(profile)):
        errors = []
        for operation in (
            store.check,
            lambda s=store: s.get("account/l"),
            lambda s=store: s.put("account/l", {"refresh_token": "rt-x"}),
            lambda s=store: s.delete("account/l"),
        ):
            with pytest.raises(SecretStoreError) as caught:
                operation()
            error = caught.value
            assert "rt-" not in f"{error} {error.hint} {error.__cause__}"
            errors.append((error.code, error.message, error.hint))
        seen.append(errors)
    assert seen[0] == seen[1] == seen[2]
    assert [message for _code, message, _hint in seen[0]] == [
        "The Secret Service (org.freedesktop.secrets) is locked: cannot read the app's secrets.",
        "The Secret Service (org.freedesktop.secrets) is locked: cannot read account/l.",
        "The Secret Service (org.freedesktop.secrets) is locked: cannot store account/l.",
        "The Secret Service (org.freedesktop.secrets) is locked: cannot delete account/l.",
    ]
    assert all(code == "keyring_locked" and hint and hint.startswith("Unlock the keyring") for code, _, hint in seen[0])
    secret_service.unlock()
    assert vault.get("account/l") == {"refresh_token": "rt-locked-either-way"}


@pytest.fixture
def own_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateSecretService]:
    """A keyring of this test's own (its daemon is killed): the session's keyring is never touched."""
    service = start_secret_service()
    try:
        for key, value in service.environment.items():
            monkeypatch.setenv(key, value)
        yield service
    finally:
        service.stop()


def kill_keyring_daemon(service: PrivateSecretService) -> subprocess.Popen[bytes]:
    daemon = service._processes[-1]
    daemon.send_signal(signal.SIGKILL)
    daemon.wait(timeout=10)
    return daemon


def test_a_restarted_keyring_daemon_is_met_with_a_new_connection(own_keyring: PrivateSecretService) -> None:
    """The connection and session a vault keeps belong to the daemon that was running; after a restart (as
    systemd or D-Bus activation would do) the next call opens new ones by itself."""
    vault = KeyringVault("restart")
    value = bundle(2_000, "RESTART")
    vault.put("account/r", value)
    assert vault.get("account/r") == value
    KeyringSupervisor(own_keyring).restart(kill_keyring_daemon(own_keyring))
    assert vault.get("account/r") == value
    vault.put("account/r", bundle(1_000, "AFTER"))
    assert KeyringVault("restart").get("account/r") == vault.get("account/r")


def test_no_secret_service_on_the_bus_reads_the_same_either_way(own_keyring: PrivateSecretService) -> None:
    vault = KeyringVault("gone")
    vault.put("account/g", {"refresh_token": "rt-gone"})
    kill_keyring_daemon(own_keyring)  # the bus stays, nobody owns org.freedesktop.secrets (no activation here)
    errors = []
    for store in (vault, KeyringVault("gone"), through_keyring("gone")):
        with pytest.raises(SecretStoreError) as caught:
            store.get("account/g")
        errors.append((caught.value.code, caught.value.message, caught.value.hint))
    assert errors[0] == errors[1] == errors[2]
    code, message, hint = errors[0]
    assert code == "keyring_unavailable"
    assert message == (
        "The Secret Service (org.freedesktop.secrets) is not available (SecretServiceNotAvailableException) to read "
        "account/g."
    )
    assert hint is not None and "--secret-store file" in hint


def test_no_bus_at_all_reads_the_same_either_way(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A bus address whose socket file exists but takes no connection (a stale socket after a crash)."""
    stale = tmp_path / "bus"
    stale.touch()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={stale}")
    errors = []
    for store in (KeyringVault("nobus"), through_keyring("nobus")):
        for operation in (store.check, lambda s=store: s.get("account/n")):
            with pytest.raises(SecretStoreError) as caught:
                operation()
            errors.append((caught.value.code, caught.value.message, caught.value.hint))
    assert errors[0] == errors[2] and errors[1] == errors[3]
    assert errors[1][0] == "keyring_unavailable"
    assert "not available (SecretServiceNotAvailableException) to read account/n" in errors[1][1]


def test_a_keyring_daemon_that_died_is_started_again_for_the_next_test(
    private_secret_service: PrivateSecretService, request: pytest.FixtureRequest
) -> None:
    """gnome-keyring-daemon aborts by itself now and then: the next test's keyring is a live one, with what was
    stored (it lives in files), instead of every later test failing."""
    daemon = private_secret_service._processes[-1]
    daemon.kill()
    daemon.wait()
    revived = request.getfixturevalue("secret_service")
    assert revived._processes[-1] is not daemon and revived._processes[-1].poll() is None
    assert revived.is_locked() is False
