"""The per-account lock (across coroutines and processes, released by the kernel on SIGKILL) and the data directory."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from platformdirs.macos import MacOS
from platformdirs.windows import Windows

from desktop_app.errors import StorageError, TransientError
from desktop_app.storage.locks import AccountLocks
from desktop_app.storage.memory import MemoryLocks
from desktop_app.storage.paths import app_dir_name, data_dir

HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from desktop_app.storage.locks import AccountLocks

    async def main():
        async with AccountLocks(Path(sys.argv[1])).hold("acct"):
            print("held", flush=True)
            await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def start_holder(directory: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


async def test_another_process_holding_the_lock_makes_us_wait_then_the_kernel_frees_it_on_sigkill(
    tmp_path: Path,
) -> None:
    locks = AccountLocks(tmp_path)
    holder = start_holder(tmp_path)
    try:
        with pytest.raises(TransientError) as caught:
            async with locks.hold("acct", timeout=0.3, what="the account alice"):
                pass
        assert caught.value.code == "account_busy"
        assert "the account alice" in caught.value.message
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        async with locks.hold("acct", timeout=5):
            pass  # the dead holder's lock is gone without any clean-up of ours
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


@pytest.fixture(params=["files", "memory"])
def locks(request: pytest.FixtureRequest, tmp_path: Path) -> AccountLocks | MemoryLocks:
    """The profile's locks and the in-memory ones (a sign-in that keeps nothing): the same within a process."""
    return AccountLocks(tmp_path) if request.param == "files" else MemoryLocks()


async def test_coroutines_of_one_process_take_turns(locks: AccountLocks | MemoryLocks) -> None:
    inside = 0
    most = 0

    async def worker() -> None:
        nonlocal inside, most
        async with locks.hold("acct"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(worker() for _ in range(8)))
    assert most == 1


async def test_different_accounts_do_not_wait_for_each_other(locks: AccountLocks | MemoryLocks) -> None:
    async with locks.hold("one"), locks.hold("two", timeout=0.5):
        pass


async def test_a_lock_held_too_long_in_memory_is_account_busy() -> None:
    locks = MemoryLocks()
    async with locks.hold("acct"):
        with pytest.raises(TransientError) as caught:
            async with locks.hold("acct", timeout=0.05, what="the account alice"):
                pass
    assert caught.value.code == "account_busy"
    assert "the account alice" in caught.value.message
    async with locks.hold("acct", timeout=0.05):
        pass


def test_lock_names_cannot_escape_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unusable lock name"):
        AccountLocks(tmp_path).path("../x")


def test_data_dir_per_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_CONNECTORS_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", "/h")
    if sys.platform.startswith("linux"):
        assert data_dir() == Path("/h/.local/share/mcp-connectors")
        monkeypatch.setenv("XDG_DATA_HOME", "/x")
        assert data_dir() == Path("/x/mcp-connectors")
        monkeypatch.setenv("XDG_DATA_HOME", "relative")
        assert data_dir() == Path("/h/.local/share/mcp-connectors")
    monkeypatch.setenv("MCP_CONNECTORS_HOME", "/p")
    assert data_dir() == Path("/p")
    monkeypatch.setenv("MCP_CONNECTORS_HOME", "~/profile")
    assert data_dir() == Path("/h/profile")
    assert app_dir_name("linux") == "mcp-connectors"
    assert app_dir_name("darwin") == app_dir_name("win32") == "MCP Connector Manager"


def test_data_dir_on_macos_and_windows_is_where_platformdirs_puts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """What platformdirs gives on those systems, computed here with its classes for them."""
    monkeypatch.setenv("HOME", "/h")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    mac = MacOS(app_dir_name("darwin"), appauthor=False).user_data_path
    assert mac == Path("/h/Library/Application Support/MCP Connector Manager")
    monkeypatch.setenv("WIN_PD_OVERRIDE_LOCAL_APPDATA", "C:\\L")
    windows = Windows(app_dir_name("win32"), appauthor=False).user_data_dir
    assert windows.replace("\\", "/") == "C:/L/MCP Connector Manager"


def test_unusable_data_folder_is_a_storage_error_naming_it(tmp_path: Path) -> None:
    from desktop_app.errors import StorageError
    from desktop_app.storage.paths import ensure_private_dir

    blocker = tmp_path / "profile"
    blocker.write_text("a file")
    with pytest.raises(StorageError) as refused:
        ensure_private_dir(blocker)
    assert str(blocker) in refused.value.message and "MCP_CONNECTORS_HOME" in (refused.value.hint or "")


async def test_a_lock_file_planted_as_a_symbolic_link_is_not_followed(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    (locks / "acct.lock").symlink_to(target)
    with pytest.raises(StorageError) as info:
        async with AccountLocks(locks).hold("acct"):
            pass
    assert info.value.code == "lock_unusable"
    assert str(locks / "acct.lock") in info.value.message
    assert not target.exists()  # nothing was created through the link
