"""The stores of a sign-in that keeps nothing (``connect``): ``Accounts`` runs on them as on a profile's, and
nothing is written anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.accounts.manager import PENDING_SECRET_AGE, Accounts
from desktop_app.accounts.models import account_secret_key
from desktop_app.storage.memory import MemoryLocks, MemorySecretStore, memory_stores
from desktop_app.storage.registry_db import MEMORY_PATH


async def test_accounts_run_on_the_memory_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MCP_CONNECTORS_HOME", str(tmp_path / "home"))
    registry, secrets, locks = memory_stores()
    assert isinstance(secrets, MemorySecretStore) and isinstance(locks, MemoryLocks)
    now = 1_000_000.0
    accounts = Accounts(registry, secrets, locks, clock=lambda: now)
    try:
        server = accounts.add_server("https://mcp.example/mcp")
        assert accounts.server("mcp.example") == server == registry.servers()[0]
        assert registry.path == MEMORY_PATH and not registry.changed_elsewhere()
        assert len(registry.profile_id()) == 32
        # A first sign-in that never got saved leaves a noted secret: cleaned up under the account's lock.
        key = account_secret_key("never-saved")
        registry.note_pending_secret(key, now=now - PENDING_SECRET_AGE - 1)
        secrets.put(key, {"refresh_token": "rt"})
        assert await accounts.clean_pending_secrets() == 1
        assert secrets.get(key) is None
    finally:
        registry.close()
    assert list(tmp_path.iterdir()) == []  # nothing written: no profile folder, no registry file
