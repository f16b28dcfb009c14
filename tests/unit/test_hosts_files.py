"""Writing a host's file: atomically, keeping its permissions and a backup, through a symbolic link to where it
points, never over a change the host made meanwhile; and the installer's rules on names that are taken."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from desktop_app.hosts import files
from desktop_app.hosts.catalog import find_host
from desktop_app.hosts.entries import Launch
from desktop_app.hosts.errors import EntryNameTaken, HostConfigUnreadable, HostConfigUnwritable, NotAConnector
from desktop_app.hosts.installer import install, state_of, uninstall

RUN = Launch("/opt/app/bin/mcp-connectors", ("bridge", "3", "--account", "7"), {})


def test_a_new_file_is_private_and_has_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "new" / "mcp.json"
    assert files.write(files.read(path), '{"a": 1}\n') is None
    assert path.read_text() == '{"a": 1}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not files.backup_of(path).exists()


def test_a_rewrite_keeps_the_mode_and_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("old")
    path.chmod(0o644)
    backup = files.write(files.read(path), "new")
    assert backup == tmp_path / "settings.json.mcp-connectors.bak"
    assert backup.read_text() == "old" and path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_same_text_is_not_written_again(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("same")
    before = path.stat().st_mtime_ns
    assert files.write(files.read(path), "same") is None
    assert path.stat().st_mtime_ns == before and not files.backup_of(path).exists()
    assert files.write(files.read(tmp_path / "missing.json"), "") is None
    assert not (tmp_path / "missing.json").exists()


def test_a_link_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "mcp.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "mcp.json"
    link.symlink_to(real)
    files.write(files.read(link), "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_change_made_meanwhile_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("old")
    snapshot = files.read(path)
    path.write_text("the host's own change")
    with pytest.raises(HostConfigUnwritable, match="changed"):
        files.write(snapshot, "ours")
    assert path.read_text() == "the host's own change"


def test_a_folder_that_cannot_be_written_is_an_error_naming_the_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        path = blocker / "mcp.json"  # its folder is a file: no one can create it
    else:
        tmp_path.chmod(0o500)
        path = tmp_path / "mcp.json"
    with pytest.raises(HostConfigUnwritable) as caught:
        files.write(files.Snapshot(path, "", None), "{}")
    assert str(path) in caught.value.message


def test_a_file_that_is_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_bytes(b'{\n  "a": "\xff"\n}\n')
    with pytest.raises(HostConfigUnreadable) as caught:
        files.read(path)
    assert caught.value.line == 2


@pytest.fixture
def cursor_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("MCP_CONNECTORS_HOME", raising=False)
    return tmp_path / ".cursor" / "mcp.json"


def _install(name: str | None = None, run: Launch = RUN, account: int = 7) -> object:
    return install(
        find_host("cursor"), run, server_id=3, account_id=account, name=name, default_name="files-work", description="d"
    )


def test_install_twice_then_uninstall(cursor_home: Path) -> None:
    first = _install()
    assert first.changed and first.names == ("files-work",) and first.backup is None  # type: ignore[attr-defined]
    written = cursor_home.read_bytes()
    again = _install()
    assert not again.changed and cursor_home.read_bytes() == written  # type: ignore[attr-defined]
    assert [c.name for c in state_of(find_host("cursor")).connectors] == ["files-work"]
    gone = uninstall(find_host("cursor"), server_id=3, account_id=7)
    assert gone.changed and gone.names == ("files-work",) and gone.backup is not None
    assert state_of(find_host("cursor")).connectors == ()


def test_an_account_installed_under_another_name_keeps_it(cursor_home: Path) -> None:
    _install("my-files")
    again = _install()
    assert again.names == ("my-files",) and not again.changed  # type: ignore[attr-defined]


def test_a_name_that_is_something_else_is_never_overwritten(cursor_home: Path) -> None:
    cursor_home.parent.mkdir()
    cursor_home.write_text('{"mcpServers": {"files-work": {"command": "npx", "args": ["files"]}}}')
    with pytest.raises(EntryNameTaken) as caught:
        _install()
    assert not caught.value.ours
    with pytest.raises(NotAConnector):
        uninstall(find_host("cursor"), names=["files-work"])
    assert "npx" in cursor_home.read_text()
    _install("files-mine")
    with pytest.raises(EntryNameTaken) as caught:
        _install("files-mine", account=8)  # another account of ours
    assert caught.value.ours


def test_a_broken_file_is_left_alone_and_reported(cursor_home: Path) -> None:
    cursor_home.parent.mkdir()
    cursor_home.write_text('{\n  "mcpServers": {\n    oops\n  }\n}\n')
    with pytest.raises(HostConfigUnreadable) as caught:
        _install()
    assert caught.value.line == 3
    state = state_of(find_host("cursor"))
    assert state.error is not None and state.error.line == 3
    assert "oops" in cursor_home.read_text() and not files.backup_of(cursor_home).exists()
