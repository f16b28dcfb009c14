"""The profile folder and the files in it are looked at before they are trusted (issue 12 item 8, ADR 0016).

A folder of another user's or one others may write in is refused (the CLI exits 6); one others may only read is made
private with a warning; the registry and SQLite's files beside it are opened only when they are regular files of the
user's, never through a symbolic link. The single-instance socket (item 7) lives in a private runtime directory or
the profile, never in /tmp. Tests that need a file of another user chown one, which only root may do.
"""

from __future__ import annotations

import grp
import logging
import os
import stat
import tempfile
from pathlib import Path

import pytest

from desktop_app.cli.main import main as cli_main
from desktop_app.cli.output import EXIT_STORAGE, exit_code_for
from desktop_app.errors import StorageError
from desktop_app.storage.locks import AccountLocks
from desktop_app.storage.paths import ensure_private_dir, instance_socket, runtime_dir
from desktop_app.storage.profile import open_accounts
from desktop_app.storage.registry import SqliteRegistry

pytestmark = pytest.mark.skipif(os.name != "posix", reason="owners and modes are POSIX's")

#: "nobody" on Debian: any user id but ours will do.
OTHER_UID = 65534
as_root = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0, reason="only root can give a file to another user (chown)"
)


def folder(tmp_path: Path, mode: int, name: str = "profile") -> Path:
    made = tmp_path / name
    made.mkdir()
    made.chmod(mode)  # whatever the umask
    return made


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def shared_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's group has other members (no "user private group"): group-writable means others may write."""
    real = grp.getgrgid

    def with_members(gid: int) -> grp.struct_group:
        found = real(gid)
        return grp.struct_group((found.gr_name, found.gr_passwd, found.gr_gid, ["someone-else"]))

    monkeypatch.setattr(grp, "getgrgid", with_members)


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o702, 0o1777])
def test_a_folder_others_may_write_in_is_refused_untouched(tmp_path: Path, mode: int, shared_group: None) -> None:
    profile = folder(tmp_path, mode)
    with pytest.raises(StorageError) as refused:
        open_accounts(directory=profile, secret_store="file")
    error = refused.value
    assert error.code == "data_dir_writable"
    assert str(profile) in error.message and "written by other users" in error.message
    assert error.hint is not None and f"chmod 700 {profile}" in error.hint and "MCP_CONNECTORS_HOME" in error.hint
    assert exit_code_for(error) == EXIT_STORAGE
    assert list(profile.iterdir()) == []  # no registry was created in it
    assert mode_of(profile) == mode  # and nothing was "fixed" behind the person's back


def test_the_command_line_exits_6_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], shared_group: None
) -> None:
    profile = folder(tmp_path, 0o775)
    monkeypatch.setenv("MCP_CONNECTORS_HOME", str(profile))
    assert cli_main(["list"]) == EXIT_STORAGE
    said = capsys.readouterr()
    out = said.out + said.err
    assert str(profile) in out and "written by other users" in out and "chmod 700" in out
    assert list(profile.iterdir()) == []


@pytest.mark.parametrize("mode", [0o775, 0o770, 0o720])
def test_a_folder_only_the_user_s_own_group_may_write_in_is_made_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    """umask 002 with user private groups (Fedora, Debian's default for new users): the group is the user's own and
    has nobody else in it, so nobody else could write there; the folder is made private, not refused."""
    real = grp.getgrgid
    monkeypatch.setattr(
        grp, "getgrgid", lambda gid: grp.struct_group((*tuple(real(gid))[:3], [])) if gid == os.getegid() else real(gid)
    )
    profile = folder(tmp_path, mode)
    open_accounts(directory=profile, secret_store="file").registry.close()
    assert mode_of(profile) == 0o700


@as_root
def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    profile = folder(tmp_path, 0o700)
    os.chown(profile, OTHER_UID, OTHER_UID)
    with pytest.raises(StorageError) as refused:
        open_accounts(directory=profile, secret_store="file")
    error = refused.value
    assert error.code == "data_dir_foreign"
    assert str(profile) in error.message and f"user id {OTHER_UID}" in error.message
    assert error.hint is not None and "chown" in error.hint and "MCP_CONNECTORS_HOME" in error.hint
    assert exit_code_for(error) == EXIT_STORAGE
    assert list(profile.iterdir()) == []


@as_root
def test_a_profile_that_is_a_link_is_judged_by_the_folder_it_leads_to(tmp_path: Path) -> None:
    """A link to a folder of one's own (on another disk, say) is fine; a link to someone else's folder is not."""
    own = folder(tmp_path, 0o700, "own")
    link = tmp_path / "link-to-own"
    link.symlink_to(own)
    SqliteRegistry(link / "registry.sqlite3").close()
    assert (own / "registry.sqlite3").is_file()

    foreign = folder(tmp_path, 0o700, "foreign")
    os.chown(foreign, OTHER_UID, OTHER_UID)
    link = tmp_path / "link-to-foreign"
    link.symlink_to(foreign)
    with pytest.raises(StorageError) as refused:
        open_accounts(directory=link, secret_store="file")
    assert refused.value.code == "data_dir_foreign"
    assert list(foreign.iterdir()) == []


def test_a_folder_others_may_only_read_is_made_private_with_a_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    profile = folder(tmp_path, 0o755)
    caplog.set_level(logging.WARNING, logger="desktop_app")
    accounts = open_accounts(directory=profile, secret_store="file")
    accounts.registry.close()
    assert mode_of(profile) == 0o700
    notices = [r for r in caplog.records if r.levelno == logging.WARNING and str(profile) in r.getMessage()]
    assert len(notices) == 1, [r.getMessage() for r in caplog.records]
    assert "read by other users" in notices[0].getMessage() and "private" in notices[0].getMessage()
    # Once private, nothing more is said.
    caplog.clear()
    open_accounts(directory=profile, secret_store="file").registry.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_new_folder_is_private(tmp_path: Path) -> None:
    made = ensure_private_dir(tmp_path / "a" / "profile")
    assert mode_of(made) == 0o700


@pytest.mark.parametrize("name", ["registry.sqlite3", "registry.sqlite3-wal", "registry.sqlite3-shm"])
def test_a_registry_file_that_is_a_link_is_refused_and_what_it_leads_to_is_untouched(tmp_path: Path, name: str) -> None:
    profile = folder(tmp_path, 0o700)
    elsewhere = folder(tmp_path, 0o700, "elsewhere")
    SqliteRegistry(elsewhere / "registry.sqlite3").close()
    target = elsewhere / name
    if not target.exists():
        target.write_bytes(b"")
    before = target.read_bytes()
    if name != "registry.sqlite3":
        SqliteRegistry(profile / "registry.sqlite3").close()
    (profile / name).symlink_to(target)
    with pytest.raises(StorageError) as refused:
        SqliteRegistry(profile / "registry.sqlite3")
    error = refused.value
    assert error.code == "file_unsafe"
    assert str(profile / name) in error.message and "symbolic link" in error.message
    assert exit_code_for(error) == EXIT_STORAGE
    assert target.read_bytes() == before
    assert (profile / name).is_symlink()  # left for the person to look at


def test_a_dangling_link_in_place_of_the_registry_is_refused_not_created_through(tmp_path: Path) -> None:
    profile = folder(tmp_path, 0o700)
    target = tmp_path / "created-through-the-link"
    (profile / "registry.sqlite3").symlink_to(target)
    with pytest.raises(StorageError) as refused:
        open_accounts(directory=profile, secret_store="file")
    assert refused.value.code == "file_unsafe"
    assert not target.exists()


def test_a_registry_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    profile = folder(tmp_path, 0o700)
    (profile / "registry.sqlite3").mkdir()
    with pytest.raises(StorageError) as refused:
        SqliteRegistry(profile / "registry.sqlite3")
    assert refused.value.code == "file_unsafe" and "not a regular file" in refused.value.message


@as_root
def test_a_registry_of_another_user_is_refused(tmp_path: Path) -> None:
    profile = folder(tmp_path, 0o700)
    SqliteRegistry(profile / "registry.sqlite3").close()
    os.chown(profile / "registry.sqlite3", OTHER_UID, OTHER_UID)
    with pytest.raises(StorageError) as refused:
        SqliteRegistry(profile / "registry.sqlite3")
    assert refused.value.code == "file_unsafe"
    assert f"user id {OTHER_UID}" in refused.value.message


async def test_the_locks_folder_is_checked_too(tmp_path: Path, shared_group: None) -> None:
    locks = folder(tmp_path, 0o777, "locks")
    with pytest.raises(StorageError) as refused:
        async with AccountLocks(locks).hold("acct"):
            pass
    assert refused.value.code == "data_dir_writable"
    assert list(locks.iterdir()) == []


# -- where the single-instance socket lives (item 7) ---------------------------------------------------------------


def test_the_instance_socket_is_in_the_runtime_dir_never_in_tmp(tmp_path: Path) -> None:
    runtime = folder(tmp_path, 0o700, "runtime")
    profile = tmp_path / "profile"
    socket = instance_socket(profile, {"XDG_RUNTIME_DIR": str(runtime)})
    assert socket.parent == runtime
    assert socket.parent != Path(tempfile.gettempdir())
    assert socket.name.startswith("mcp-connectors-")
    # Two profiles, two sockets; the same profile by another path, the same socket.
    other = instance_socket(tmp_path / "other", {"XDG_RUNTIME_DIR": str(runtime)})
    assert other != socket and other.parent == runtime
    (tmp_path / "via").symlink_to(tmp_path)
    assert instance_socket(tmp_path / "via" / "profile", {"XDG_RUNTIME_DIR": str(runtime)}) == socket


@pytest.mark.parametrize("runtime_mode", [None, 0o755, 0o777])
def test_without_a_private_runtime_dir_the_socket_is_in_a_private_folder_of_the_profile(
    tmp_path: Path, runtime_mode: int | None
) -> None:
    environ = {}
    if runtime_mode is not None:
        environ["XDG_RUNTIME_DIR"] = str(folder(tmp_path, runtime_mode, "runtime"))
    profile = tmp_path / "profile"
    socket = instance_socket(profile, environ)
    assert socket == profile / "run" / "instance"
    assert mode_of(profile / "run") == 0o700 and mode_of(profile) == 0o700


def test_a_relative_runtime_dir_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder(tmp_path, 0o700, "runtime")
    assert runtime_dir({"XDG_RUNTIME_DIR": "runtime"}) is None


@as_root
def test_a_runtime_dir_of_another_user_is_not_used(tmp_path: Path) -> None:
    runtime = folder(tmp_path, 0o700, "runtime")
    os.chown(runtime, OTHER_UID, OTHER_UID)
    assert runtime_dir({"XDG_RUNTIME_DIR": str(runtime)}) is None
    assert (
        instance_socket(tmp_path / "profile", {"XDG_RUNTIME_DIR": str(runtime)}).parent == tmp_path / "profile" / "run"
    )


def test_the_socket_is_not_placed_in_a_profile_others_may_write_in(tmp_path: Path, shared_group: None) -> None:
    profile = folder(tmp_path, 0o777)
    with pytest.raises(StorageError) as refused:
        instance_socket(profile, {})
    assert refused.value.code == "data_dir_writable"
