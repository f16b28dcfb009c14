"""The warm start's pieces that need no process (docs/decisions/0034): the peer check, the request, the key, the
socket's place, the opt-out. The processes themselves: tests/integration/test_bridge_warm.py."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.bridge import launcher
from desktop_app.bridge.warm import Request, code_files, parse_request, peer_is_this_user, same_code
from desktop_app.cli.parser import command_in
from desktop_app.storage import runtime_folder
from desktop_app.storage.paths import runtime_dir
from tests.helpers import cli


def credentials(pid: int, uid: int, gid: int) -> bytes:
    return struct.pack("3i", pid, uid, gid)


def test_only_a_process_of_this_user_is_served() -> None:
    assert peer_is_this_user(credentials(4242, os.getuid(), os.getgid()))
    assert not peer_is_this_user(credentials(4242, os.getuid() + 1, os.getgid()))
    assert not peer_is_this_user(credentials(4242, 0 if os.getuid() else 1000, os.getgid()))
    assert not peer_is_this_user(b"")  # no answer is no permission


def test_the_request_carries_words_environment_folder_and_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODD_NAME", "caf\udce9")  # a value that is not UTF-8 (surrogate-escaped bytes)
    previous = os.umask(0o027)
    try:
        line = launcher.request_line(["bridge", "files", "--account", "work"])
    finally:
        os.umask(previous)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    request = parse_request(json.loads(line))
    assert request is not None
    assert request.words == ["bridge", "files", "--account", "work"]
    assert request.env == dict(os.environ)
    assert request.env["ODD_NAME"] == "caf\udce9"
    assert request.cwd == os.getcwd()
    assert request.umask == 0o027
    assert request.parent == launcher.parent_name()


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"words": "bridge", "env": {}, "cwd": None, "umask": 0o22, "parent": "x"},
        {"words": ["bridge"], "env": {"A": 1}, "cwd": None, "umask": 0o22, "parent": "x"},
        {"words": ["bridge"], "env": {}, "cwd": 3, "umask": 0o22, "parent": "x"},
        {"words": ["bridge"], "env": {}, "cwd": None, "umask": 0o22},
        {"words": ["bridge"], "env": {}, "cwd": None, "umask": "022", "parent": "x"},
        {"words": ["bridge"], "env": {}, "cwd": None, "umask": 0o1000, "parent": "x"},
        {"words": ["token", "files"], "env": {}, "cwd": None, "umask": 0o22, "parent": "x"},  # bridges only
    ],
)
def test_what_is_not_a_request_is_refused(value: object) -> None:
    assert parse_request(value) is None


def test_a_request_without_a_folder_is_taken() -> None:
    value: dict[str, object] = {"words": ["bridge", "files"], "env": {}, "cwd": None, "umask": 0o27, "parent": "code"}
    assert parse_request(value) == Request(["bridge", "files"], {}, None, 0o27, "code")


def test_another_install_or_python_has_another_starter() -> None:
    assert launcher.starter_key() == launcher.starter_key()
    assert launcher.starter_key("/opt/other/python3") != launcher.starter_key()


def test_the_socket_is_in_a_private_runtime_folder_only(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    for folder in (str(private), str(shared), "relative/run", str(tmp_path / "missing")):
        environ = {"XDG_RUNTIME_DIR": folder}
        known = runtime_dir(environ)
        assert launcher.runtime_dir(environ) == (None if known is None else str(known))  # the same rule
    path = launcher.socket_path({"XDG_RUNTIME_DIR": str(private)})
    assert path == str(private / f"bridge-warm-{launcher.starter_key()}.sock")
    assert launcher.socket_path({"XDG_RUNTIME_DIR": str(shared)}) is None
    assert launcher.socket_path({}) is None


def test_the_opt_out_turns_the_warm_start_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not launcher.enabled({launcher.OPT_OUT: "0"})
    assert launcher.enabled({}) == launcher.enabled({launcher.OPT_OUT: "1"})
    monkeypatch.setenv(launcher.OPT_OUT, "0")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/nonexistent")
    assert launcher.run(["bridge", "files"]) is None  # cold, and nothing was connected to


def test_the_launcher_imports_only_the_standard_library() -> None:
    """It runs in every bridge before anything else: the standard library, the app's name and version, and the
    runtime folder's rule (itself the standard library only)."""
    stdlib = {"__future__", "contextlib", "json", "os", "signal", "socket", "stat", "sys", "zlib", "collections.abc"}
    for module, ours in (
        (launcher, {"types", "desktop_app.appinfo", "desktop_app.storage.runtime_folder"}),
        (runtime_folder, set()),
    ):
        source = Path(module.__file__).read_text(encoding="utf-8")
        imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
        assert imports <= stdlib | ours, module.__name__


def test_the_starter_prepares_without_a_thread() -> None:
    """A fork copies only the forking thread: what the starter loads before it forks must start none."""
    script = (
        "import threading, desktop_app.bridge.warm as warm; warm.prepare(); "
        "import sys; print(threading.active_count(), 'desktop_app.bridge.main' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=cli.python_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "True"]


@pytest.mark.parametrize(
    "words",
    [
        ["bridge", "files"],
        ["-v", "bridge", "files", "--account", "work"],
        ["--secret-store", "file", "bridge", "files"],
        ["--secret-store", "bridge", "files"],
        ["--", "bridge"],
        ["token", "bridge"],
        ["--hidden"],
        [],
        ["-v"],
        ["bridges"],
    ],
)
def test_the_entry_tells_a_bridge_as_the_parser_does(words: list[str]) -> None:
    assert launcher.names_bridge(words) == (command_in(words) == "bridge")


def test_the_starter_sees_its_code_change(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("x = 1\n")
    files = {**code_files(), str(module): (module.stat().st_mtime_ns, module.stat().st_size)}
    assert same_code(files)
    module.write_text("x = 22\n")  # an upgrade
    assert not same_code(files)
    module.unlink()
    assert not same_code(files)
