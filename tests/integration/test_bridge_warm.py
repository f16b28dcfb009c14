"""The bridge's warm start (docs/decisions/0034), with real processes: a warm starter (``--bridge-warm``) on a
private runtime folder of each test's own, launchers (``mcp-connectors bridge``) handed to it, the lab's servers.

Every test stops every starter and bridge it started (:func:`runtime`): the suite runs in CI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.accounts.manager import Accounts
from desktop_app.bridge import launcher
from desktop_app.bridge.presence import LiveBridge, live_bridges
from desktop_app.bridge.warm import IDLE_VARIABLE
from tests.helpers import cli
from tests.helpers.bridge import LINE_WAIT, BridgeProcess
from tests.helpers.workers import parent_of, processes, starter_pid
from tests.integration.test_bridge_lab import handshake, only_account, sign_in, text_of, tool_call
from tests.lab.servers import RunningMcpServer

pytestmark = pytest.mark.lab

#: A hang guard for what happens in another process (a starter binding, a child ending): never a speed check.
WAIT = 30.0


def processes_of(runtime: Path) -> list[int]:
    """Starters (and the bridges they forked, which keep their command line) of this runtime folder."""
    return processes((launcher.WARM_FLAG,), f"XDG_RUNTIME_DIR={runtime}")


def state_of(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent_of(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def wait_until(done: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def our_socket() -> str:
    path = launcher.socket_path(os.environ)
    assert path is not None
    return path


def start_starter() -> int:
    """Start a warm starter as the app does (its first stage ends at once); the starter proper's pid."""
    first = subprocess.run(
        [sys.executable, "-m", "desktop_app", launcher.WARM_FLAG],
        env=cli.python_env(),
        cwd=cli.ROOT,
        capture_output=True,
        timeout=WAIT,
    )
    assert first.returncode == 0, first.stderr
    wait_until(lambda: starter_pid(our_socket()) is not None, "the starter listens")
    pid = starter_pid(our_socket())
    assert pid is not None
    return pid


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private runtime folder of this test's own (short: a socket's path is at most 107 bytes), the warm start
    on; afterwards every starter and warm bridge of it is stopped."""
    folder = Path(tempfile.mkdtemp(prefix="mcpc-warm-"))
    folder.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    monkeypatch.delenv(launcher.OPT_OUT, raising=False)
    monkeypatch.setenv(IDLE_VARIABLE, "120")
    try:
        yield folder
    finally:
        for pid in processes_of(folder):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        wait_until(lambda: not [p for p in processes_of(folder) if state_of(p) not in (None, "Z")], "all stopped")
        shutil.rmtree(folder, ignore_errors=True)


class WarmBridge(BridgeProcess):
    """A launcher whose end never hangs the test: asyncio waits for its pipes too, which a bridge forked by the
    starter holds; when that bridge does not end, every process of the runtime folder is killed."""

    async def __aexit__(self, *exc_info: object) -> None:
        process = self.process
        assert process is not None
        if process.returncode is None:
            process.kill()
        try:
            await asyncio.wait_for(process.wait(), WAIT)
        except TimeoutError:
            runtime = Path(os.environ["XDG_RUNTIME_DIR"])
            for pid in processes_of(runtime):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            await process.wait()


def bridge_of(home: Path) -> LiveBridge:
    (live,) = live_bridges(home)
    return live


async def wait_for_exit(pid: int) -> None:
    deadline = time.monotonic() + WAIT
    while state_of(pid) not in (None, "Z"):
        assert time.monotonic() < deadline, f"process {pid} did not end"
        await asyncio.sleep(0.05)


async def test_a_launcher_is_served_by_a_child_of_the_starter(
    runtime: Path, lab_mcp: RunningMcpServer, profile: Accounts
) -> None:
    sign_in(lab_mcp.url)
    account = only_account(profile)
    home = Path(os.environ["MCP_CONNECTORS_HOME"])
    starter = start_starter()
    lab_mcp.reset_requests()
    async with WarmBridge(lab_mcp.url) as bridge:
        answer = await handshake(bridge)
        echoed = await bridge.request(tool_call(2, "echo", {"text": "warm"}))
        assert bridge.process is not None
        live = bridge_of(home)
        assert live.pid != bridge.process.pid
        assert parent_of(live.pid) == starter  # forked by the starter, not started by the launcher
        assert live.launched_by == Path(f"/proc/{os.getpid()}/comm").read_text().strip()  # the launcher's parent
        status = await bridge.close_stdin()
    assert "acts as alice" in str(answer["result"]["instructions"])  # type: ignore[index]
    assert text_of(echoed) == "warm"
    assert status == 0
    assert [r["method"] for r in lab_mcp.requests()].count("DELETE") == 1
    (used,) = [e for e in profile.registry.events(account_id=account.id) if e.kind == "bridge_used"]
    assert "2 request(s)" in used.detail and "launched by" in used.detail


async def test_a_launcher_killed_with_sigkill_ends_its_bridge_and_the_session(
    runtime: Path, lab_mcp: RunningMcpServer, profile: Accounts
) -> None:
    sign_in(lab_mcp.url)
    home = Path(os.environ["MCP_CONNECTORS_HOME"])
    start_starter()
    lab_mcp.reset_requests()
    async with WarmBridge(lab_mcp.url) as bridge:
        await handshake(bridge)
        await bridge.request(tool_call(2, "echo", {"text": "before the kill"}))
        child = bridge_of(home).pid
        assert bridge.process is not None
        bridge.process.kill()
        await wait_for_exit(child)
    assert [r["method"] for r in lab_mcp.requests()].count("DELETE") == 1
    assert live_bridges(home) == []


async def test_sigterm_stops_the_bridge_gracefully_and_its_status_is_relayed(
    runtime: Path, lab_mcp: RunningMcpServer
) -> None:
    sign_in(lab_mcp.url)
    start_starter()
    lab_mcp.reset_requests()
    async with WarmBridge(lab_mcp.url) as bridge:
        await handshake(bridge)
        assert bridge.process is not None
        bridge.process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(bridge.process.wait(), LINE_WAIT)
    assert status == 0
    assert [r["method"] for r in lab_mcp.requests()].count("DELETE") == 1
    async with WarmBridge("no-such-server") as refused:  # a bridge that cannot serve ends with 1
        answer = await refused.request({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        failed = await refused.close_stdin()
        said = await refused.stderr()
    assert "no-such-server" in answer["error"]["message"]
    assert failed == 1
    assert "No server called" in said  # the child's log went to the launcher's stderr


async def test_one_starter_serves_each_launcher_in_its_own_environment(
    runtime: Path, lab_mcp: RunningMcpServer, profile: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(lab_mcp.url)
    starter = start_starter()
    other_home = Path(tempfile.mkdtemp(prefix="mcpc-other-profile-"))
    try:
        async with WarmBridge(lab_mcp.url) as signed_in:
            monkeypatch.setenv("MCP_CONNECTORS_HOME", str(other_home))  # a profile with no server at all
            async with WarmBridge(lab_mcp.url) as empty:
                served = await handshake(signed_in)
                refused = await empty.request({"jsonrpc": "2.0", "id": 1, "method": "ping"})
                assert len(children_of(starter)) == 2
    finally:
        shutil.rmtree(other_home, ignore_errors=True)
    assert "result" in served
    assert "No server" in refused["error"]["message"]


async def test_another_installs_starter_a_stale_socket_and_the_opt_out_mean_a_cold_bridge(
    runtime: Path, lab_mcp: RunningMcpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(lab_mcp.url)
    home = Path(os.environ["MCP_CONNECTORS_HOME"])
    # Another install's starter (another key): never connected to.
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(runtime / f"bridge-warm-{launcher.starter_key('/elsewhere/python')}.sock"))
    other.listen(4)
    other.setblocking(False)
    # A stale socket file of this install's key: its starter is gone.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(our_socket())
    stale.close()
    try:
        async with WarmBridge(lab_mcp.url) as bridge:
            assert "result" in await handshake(bridge)
            assert bridge.process is not None
            assert bridge_of(home).pid == bridge.process.pid  # cold: served by the launched process itself
            await bridge.close_stdin()
        with pytest.raises(BlockingIOError):
            other.accept()
    finally:
        other.close()
    # The cold bridge started a starter after its first answer; it replaced the stale file.
    wait_until(lambda: starter_pid(our_socket()) is not None, "the cold bridge's starter listens")
    monkeypatch.setenv(launcher.OPT_OUT, "0")
    async with WarmBridge(lab_mcp.url) as opted_out:
        assert "result" in await handshake(opted_out)
        assert opted_out.process is not None
        assert bridge_of(home).pid == opted_out.process.pid
        await opted_out.close_stdin()


async def test_no_zombies_and_the_idle_starter_ends(
    runtime: Path, lab_mcp: RunningMcpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(lab_mcp.url)
    monkeypatch.setenv(IDLE_VARIABLE, "1")
    starter = start_starter()
    for _ in range(2):
        async with WarmBridge(lab_mcp.url) as bridge:
            await handshake(bridge)
            assert await bridge.close_stdin() == 0
    wait_until(lambda: children_of(starter) == [], "the starter reaped its children")
    await wait_for_exit(starter)  # idle: no child left, nobody connecting
    assert not Path(our_socket()).exists()


def test_the_apps_start_leaves_one_starter_per_key(runtime: Path) -> None:
    """What the app calls at its start (and a cold bridge after its first answer), twice: one starter stays."""
    launcher.start_starter_soon()
    launcher.start_starter_soon()
    wait_until(lambda: starter_pid(our_socket()) is not None, "a starter listens")
    starter = starter_pid(our_socket())
    assert starter is not None
    wait_until(lambda: processes_of(runtime) == [starter], "the first stages and the second starter ended")
    assert parent_of(starter) != os.getpid()  # detached: not a child of whoever started it


def test_the_running_app_keeps_one_starter_from_ending_idle(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the running app calls every few minutes: with no starter it starts one; with one, it keeps it from ending
    idle and starts no other; left alone, the starter still ends idle."""
    monkeypatch.setenv(IDLE_VARIABLE, "3")
    launcher.keep_starter_warm()
    wait_until(lambda: starter_pid(our_socket()) is not None, "a starter listens")
    starter = starter_pid(our_socket())
    assert starter is not None
    until = time.monotonic() + 5.0  # longer than its idle end
    while time.monotonic() < until:
        launcher.keep_starter_warm()
        time.sleep(1.0)
    assert state_of(starter) not in (None, "Z")
    wait_until(lambda: processes_of(runtime) == [starter], "the first stage ended, no second starter")
    wait_until(lambda: state_of(starter) in (None, "Z"), "the starter left alone ended idle")
    assert not Path(our_socket()).exists()


def test_a_starter_whose_code_changed_on_disk_ends(runtime: Path) -> None:
    """An upgrade replaces the files the starter imported: it ends, and the next bridge runs the new code."""
    starter = start_starter()
    module = Path(launcher.__file__).with_name("relay.py")
    before = module.stat()
    try:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        wait_until(lambda: state_of(starter) in (None, "Z"), "the starter ended")
    finally:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert not Path(our_socket()).exists()


async def test_a_starter_that_never_acknowledges_means_a_cold_bridge(runtime: Path, lab_mcp: RunningMcpServer) -> None:
    """A socket that takes the request and never answers (a stopped starter): after the acknowledgement's wait
    (:data:`launcher.ACK_SECONDS`) the launcher serves the host itself."""
    sign_in(lab_mcp.url)
    home = Path(os.environ["MCP_CONNECTORS_HOME"])
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(our_socket())
    silent.listen(4)  # connections queue; none is ever accepted or answered
    try:
        async with WarmBridge(lab_mcp.url) as bridge:
            assert "result" in await handshake(bridge)
            assert bridge.process is not None
            assert bridge_of(home).pid == bridge.process.pid
            # The request waiting in the socket's queue holds copies of the launcher's streams: the host's pipes
            # close only once the socket is gone (a starter that hangs keeps them: docs/decisions/0034).
            silent.close()
            assert await bridge.close_stdin() == 0
    finally:
        silent.close()
