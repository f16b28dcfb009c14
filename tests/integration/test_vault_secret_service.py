"""KeyringVault against a real Secret Service: the session's private gnome-keyring (tests/lab/secret_service.py)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import keyring
import pytest
from keyring.backends import SecretService

from desktop_app.appinfo import APP_ID
from desktop_app.errors import SecretStoreError
from desktop_app.storage.vault import CHUNK_CHARS, KeyringVault, open_secret_store
from tests.lab.secret_service import PrivateSecretService

ROOT = Path(__file__).resolve().parents[2]


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
        "import sys; from desktop_app.storage.vault import KeyringVault; "
        "print(KeyringVault(sys.argv[1]).get('account/shared')['refresh_token'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, profile],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
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
