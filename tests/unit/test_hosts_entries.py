"""What a connector's entry holds in each host's shape, how one is recognised, its default name, and where the bridge
program is found. No token, secret or variable carrying one ever goes into an entry."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from desktop_app.hosts.catalog import HOSTS, find_host
from desktop_app.hosts.entries import (
    Launch,
    bridge_program,
    check_name,
    connector_in,
    default_name,
    entry_for,
    launch,
    same_profile,
)
from desktop_app.hosts.errors import BridgeNotFound, InvalidEntryName

PROGRAM = "/opt/app/bin/mcp-connectors"


def test_the_bridge_runs_by_ids_and_carries_a_profile_only_when_one_is_chosen(tmp_path: Path) -> None:
    assert launch(3, 7, program=PROGRAM, environ={}) == Launch(PROGRAM, ("bridge", "3", "--account", "7"), {})
    chosen = launch(3, 7, program=PROGRAM, environ={"MCP_CONNECTORS_HOME": str(tmp_path / "work")})
    assert chosen.env == {"MCP_CONNECTORS_HOME": str(tmp_path / "work")}


def test_a_relative_profile_is_written_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = launch(1, 2, program=PROGRAM, environ={"MCP_CONNECTORS_HOME": "profile"})
    assert run.env["MCP_CONNECTORS_HOME"] == str(tmp_path / "profile")


SHAPES = {
    "claude-desktop": {"command": PROGRAM, "args": ["bridge", "3", "--account", "7"]},
    "claude-code": {"type": "stdio", "command": PROGRAM, "args": ["bridge", "3", "--account", "7"]},
    "vscode": {"type": "stdio", "command": PROGRAM, "args": ["bridge", "3", "--account", "7"]},
    "zed": {"source": "custom", "command": PROGRAM, "args": ["bridge", "3", "--account", "7"], "env": {}},
    "codex": {"command": PROGRAM, "args": ["bridge", "3", "--account", "7"]},
    "goose": {
        "enabled": True,
        "type": "stdio",
        "name": "files-work",
        "description": "files as Work",
        "cmd": PROGRAM,
        "args": ["bridge", "3", "--account", "7"],
        "envs": {},
        "env_keys": [],
        "timeout": 300,
    },
}


@pytest.mark.parametrize("host_id", sorted(SHAPES))
def test_each_hosts_shape(host_id: str) -> None:
    run = launch(3, 7, program=PROGRAM, environ={})
    assert entry_for(find_host(host_id), "files-work", run, description="files as Work") == SHAPES[host_id]


@pytest.mark.parametrize("host", HOSTS, ids=[h.id for h in HOSTS])
def test_every_entry_is_recognised_and_holds_no_secret(host: object) -> None:
    run = launch(3, 7, program=PROGRAM, environ={"MCP_CONNECTORS_HOME": "/p"})
    entry = entry_for(find_host(host.id), "files-work", run, description="d")  # type: ignore[attr-defined]
    connector = connector_in("files-work", entry)
    assert connector is not None
    assert (connector.server, connector.account, connector.profile, connector.command) == ("3", "7", "/p", PROGRAM)
    env = entry.get("env", entry.get("envs"))
    assert env == {"MCP_CONNECTORS_HOME": "/p"}
    assert "token" not in repr(entry).lower() and "secret" not in repr(entry).lower()


@pytest.mark.parametrize(
    "entry",
    [
        {"command": "npx", "args": ["bridge"]},
        {"command": PROGRAM, "args": ["token", "3"]},
        {"command": PROGRAM},
        {"url": "https://example.com/mcp"},
        "not a table",
        {"command": ["mcp-connectors"], "args": ["bridge"]},
    ],
)
def test_other_servers_are_not_connectors(entry: object) -> None:
    assert connector_in("x", entry) is None


def test_zeds_older_shape_windows_paths_and_the_account_option_spelled_with_equals() -> None:
    old_zed = {"command": {"path": PROGRAM, "args": ["bridge", "files"], "env": {}}, "settings": {}}
    found = connector_in("a", old_zed)
    assert found is not None and (found.server, found.account) == ("files", None)
    windows = {"command": "C:\\Apps\\MCP\\mcp-connectors.EXE", "args": ["bridge", "3", "--account=7"]}
    found = connector_in("b", windows)
    assert found is not None and found.account == "7"


def test_same_profile(tmp_path: Path) -> None:
    default = connector_in("a", {"command": PROGRAM, "args": ["bridge", "1"]})
    other = connector_in("b", {"command": PROGRAM, "args": ["bridge", "1"], "env": {"MCP_CONNECTORS_HOME": "/x"}})
    assert default is not None and other is not None
    assert same_profile(default, {}) and not same_profile(other, {})
    assert same_profile(other, {"MCP_CONNECTORS_HOME": "/x/"}) and not same_profile(
        default, {"MCP_CONNECTORS_HOME": "/x"}
    )


@pytest.mark.parametrize(
    ("server", "account", "expected"),
    [
        ("files", "Work", "files-work"),
        ("Files Server", "alice@example.com", "files-server-alice-example-com"),
        ("Bücher", "Privé", "bucher-prive"),
        ("日本", "仕事", "server-account-9"),
        ("x" * 80, "y" * 80, "x" * 32 + "-" + "y" * 30),
    ],
)
def test_default_names(server: str, account: str, expected: str) -> None:
    name = default_name(server, account, 9)
    assert name == expected
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "Files", "-x", "a b", "a/b", "a.b", "x" * 65, "é"])
def test_names_no_host_accepts_are_refused(name: str) -> None:
    with pytest.raises(InvalidEntryName) as caught:
        check_name(name)
    assert caught.value.code == "invalid_entry_name"


def test_the_program_beside_python_then_on_path_then_the_frozen_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.touch()
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    with pytest.raises(BridgeNotFound):
        bridge_program(frozen=False, executable=str(python))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    on_path = elsewhere / "mcp-connectors"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert bridge_program(frozen=False, executable=str(python)) == str(on_path)
    beside = bin_dir / "mcp-connectors"
    beside.write_text("#!/bin/sh\n")
    beside.chmod(0o755)
    assert bridge_program(frozen=False, executable=str(python)) == str(beside)
    assert bridge_program(frozen=True, executable="/Applications/MCP.app/Contents/MacOS/mcp") == (
        "/Applications/MCP.app/Contents/MacOS/mcp"
    )


def test_this_installation_has_a_program_to_run() -> None:
    program = bridge_program()
    assert os.path.isabs(program) and os.access(program, os.X_OK)
    assert Path(program).parent == Path(sys.executable).parent or Path(program).name == "mcp-connectors"
