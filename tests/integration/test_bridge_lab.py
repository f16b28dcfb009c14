"""The bridge as AI hosts meet it: a real MCP client (the official Python SDK's stdio client) launches
``mcp-connectors bridge`` in a process of its own, on this test's profile and keyring, against the lab's servers."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from desktop_app.accounts.manager import Accounts
from desktop_app.accounts.models import Account, AccountState
from desktop_app.bridge.app_link import START_APP_SETTING
from desktop_app.bridge.launcher import USED_SETTING
from desktop_app.bridge.presence import live_bridges
from desktop_app.storage.profile_stores import open_stores
from tests.helpers import cli
from tests.helpers.bridge import BridgeProcess, initialize_request
from tests.helpers.workers import processes
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab


def sign_in(url: str, *, user: str = "alice", new_account: bool = False, app_may_start: bool = False) -> None:
    """Sign in with the command line; unless ``app_may_start``, bridges of this profile never start the app."""
    args = ["login", url, "--yes"] + (["--new-account"] if new_account else [])
    result = cli.run_cli(*args, user=user, timeout=90)
    assert result.returncode == 0, result.stderr
    registry, _, _ = open_stores()
    try:
        registry.set_setting(START_APP_SETTING, "on" if app_may_start else "off")
    finally:
        registry.close()


def apps_of_this_profile() -> list[int]:
    """Process ids of apps started in the tray (``--hidden``) for this test's profile."""
    return processes(("--hidden", "desktop_app"), f"MCP_CONNECTORS_HOME={os.environ['MCP_CONNECTORS_HOME']}")


def bridge_command(*args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "desktop_app", "bridge", *args], env=cli.python_env(), cwd=str(cli.ROOT)
    )


@asynccontextmanager
async def host_session(*args: str) -> AsyncIterator[ClientSession]:
    async with stdio_client(bridge_command(*args)) as (read, write), ClientSession(read, write) as session:
        yield session


async def test_a_host_lists_and_calls_tools_as_the_account(
    lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    sign_in(lab_mcp.url)
    async with host_session(lab_mcp.url) as session:
        init = await session.initialize()
        tools = await session.list_tools()
        echoed = await session.call_tool("echo", {"text": "through the bridge"})
        who = await session.call_tool("whoami", {})
    assert "acts as alice" in (init.instructions or "")
    assert {tool.name for tool in tools.tools} >= {"echo", "whoami"}
    assert echoed.content[0].text == "through the bridge"  # type: ignore[union-attr]
    assert who.content[0].text == "lab-sub-0a11ce"  # type: ignore[union-attr]


@pytest.fixture
def short_lived(
    lab_as_factory: Callable[..., RunningAuthServer], lab_mcp_factory: Callable[..., RunningMcpServer]
) -> Iterator[tuple[RunningAuthServer, RunningMcpServer]]:
    """An authorization server whose access tokens live 4 s (renewed after 2 s), and an MCP server beside it."""
    auth_server = lab_as_factory(accessTokenTTL=4)
    mcp = lab_mcp_factory(auth_server)
    yield auth_server, mcp
    mcp.stop()
    auth_server.stop()


def assert_no_secrets(*outputs: str) -> None:
    for output in outputs:
        assert "eyJ" not in output  # no JWT (the lab's access tokens)
        assert "Bearer " not in output


def only_account(profile: Accounts) -> Account:
    (account,) = [a for a in profile.registry.accounts() if a.state is not AccountState.SIGNED_OUT]
    return account


def tool_call(request_id: int, name: str, arguments: dict[str, object]) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


async def handshake(bridge: BridgeProcess) -> dict[str, object]:
    answer = await bridge.request(initialize_request())
    await bridge.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return answer


def text_of(answer: dict[str, Any]) -> str:
    assert "result" in answer, answer
    return str(answer["result"]["content"][0]["text"])


async def test_one_http_request_before_initialize_is_answered(
    lab_as: RunningAuthServer, lab_mcp: RunningMcpServer
) -> None:
    sign_in(lab_mcp.url)
    lab_mcp.reset_requests()
    lab_as.reset_requests()
    async with BridgeProcess(lab_mcp.url) as bridge:
        answer = await bridge.request(initialize_request())
        seen = lab_mcp.requests()
        assert "result" in answer
        assert [(r["method"], r["mcp_method"]) for r in seen] == [("POST", "initialize")]
        assert lab_as.requests() == []  # the token was fresh: no discovery, no renewal
        await bridge.close_stdin()
        assert_no_secrets(*bridge.lines, await bridge.stderr())


async def test_malformed_lines_are_answered_and_the_bridge_keeps_going(lab_mcp: RunningMcpServer) -> None:
    sign_in(lab_mcp.url)
    async with BridgeProcess(lab_mcp.url) as bridge:
        await bridge.write_line("this is not json")
        parse_error = await bridge.receive()
        await bridge.write_line(json.dumps([1, 2]))
        not_a_message = await bridge.receive()
        await bridge.write_line(json.dumps({"jsonrpc": "2.0", "id": 7}))
        no_method = await bridge.receive()
        answer = await handshake(bridge)
        echoed = await bridge.request(tool_call(2, "echo", {"text": "still here"}))
    assert parse_error == {"jsonrpc": "2.0", "id": None, "error": parse_error["error"]}
    assert parse_error["error"]["code"] == -32700
    assert not_a_message["error"]["code"] == -32600 and not_a_message["id"] is None
    assert no_method["error"]["code"] == -32600 and no_method["id"] == 7
    assert "result" in answer
    assert text_of(echoed) == "still here"


async def test_a_refused_token_is_renewed_and_the_request_replayed(
    lab_as: RunningAuthServer, lab_mcp: RunningMcpServer, profile: Accounts
) -> None:
    sign_in(lab_mcp.url)
    account = only_account(profile)
    bundle = profile.tokens.read(account)
    assert bundle is not None
    # The stored token still looks fresh, but the server no longer takes it (as after a key rotation).
    profile.tokens.write(account.key, dataclasses.replace(bundle.tokens, access_token="not-a-token-the-server-knows"))
    lab_as.reset_requests()
    async with BridgeProcess(lab_mcp.url) as bridge:
        answer = await handshake(bridge)
        who = await bridge.request(tool_call(2, "whoami", {}))
    assert "result" in answer
    assert text_of(who) == "lab-sub-0a11ce"
    assert len(lab_as.refresh_requests()) == 1


async def test_a_token_expiring_mid_session_is_renewed_ahead(
    short_lived: tuple[RunningAuthServer, RunningMcpServer],
) -> None:
    auth_server, mcp = short_lived
    sign_in(mcp.url)
    async with BridgeProcess(mcp.url) as bridge:
        await handshake(bridge)
        first = await bridge.request(tool_call(2, "echo", {"text": "one"}))
        auth_server.reset_requests()
        mcp.reset_requests()
        await asyncio.sleep(2.5)  # inside the renewal window (half of a 4 s lifetime)
        second = await bridge.request(tool_call(3, "echo", {"text": "two"}))
        refused = [r for r in mcp.requests() if r["status"] == 401]
    assert (text_of(first), text_of(second)) == ("one", "two")
    assert len(auth_server.refresh_requests()) == 1
    assert refused == []  # renewed before the server could refuse it


async def test_a_grant_ended_is_said_then_the_same_bridge_works_after_signing_in_again(
    short_lived: tuple[RunningAuthServer, RunningMcpServer],
) -> None:
    auth_server, mcp = short_lived
    sign_in(mcp.url, app_may_start=True)
    async with BridgeProcess(mcp.url) as bridge:
        await handshake(bridge)
        auth_server.revoke_grants("alice")
        await asyncio.sleep(2.5)  # the token is due for renewal, and its grant is gone
        ended = await bridge.request(tool_call(2, "whoami", {}))
        again = await bridge.request(tool_call(3, "whoami", {}))  # still ended: said again, no renewal tried
        apps = await started_apps()  # no app was running: one was started in the tray, once
        for pid in apps:
            os.kill(pid, signal.SIGKILL)
        sign_in(mcp.url)  # the person signs in again (the window or the command line)
        back = await bridge.request(tool_call(4, "whoami", {}))
    message = ended["error"]["message"]
    assert "alice" in message and "sign in again" in message and "MCP Connector Manager" in message
    assert ended["error"]["data"]["reason"] == "sign_in_required"
    assert again["error"]["data"]["reason"] == "sign_in_required"
    assert len(apps) == 1
    assert text_of(back) == "lab-sub-0a11ce"


async def test_a_restarted_server_gets_a_new_session_without_the_host_noticing(
    lab_as: RunningAuthServer, lab_mcp_factory: Callable[..., RunningMcpServer]
) -> None:
    mcp = lab_mcp_factory(lab_as)
    sign_in(mcp.url)
    async with BridgeProcess(mcp.url) as bridge:
        await handshake(bridge)
        first = await bridge.request(tool_call(2, "echo", {"text": "before"}))
        port = mcp.port
        mcp.stop()
        mcp = lab_mcp_factory(lab_as, port=port)
        second = await bridge.request(tool_call(3, "echo", {"text": "after"}))
        initializes = [r for r in mcp.requests() if r["mcp_method"] == "initialize"]
    assert (text_of(first), text_of(second)) == ("before", "after")
    assert len(initializes) == 1  # the host's own initialize, replayed by the bridge


async def test_closing_stdin_ends_the_session_and_leaves_a_record(lab_mcp: RunningMcpServer, profile: Accounts) -> None:
    sign_in(lab_mcp.url)
    account = only_account(profile)
    home = Path(os.environ["MCP_CONNECTORS_HOME"])
    lab_mcp.reset_requests()
    assert profile.registry.get_setting(USED_SETTING) is None  # the app starts no warm starter for this profile yet
    async with BridgeProcess(lab_mcp.url) as bridge:
        await handshake(bridge)
        await bridge.request(tool_call(2, "echo", {"text": "bye"}))
        assert profile.registry.get_setting(USED_SETTING) == "1"  # from now on it does (docs/decisions/0034)
        running = live_bridges(home)
        status = await bridge.close_stdin()
    deletes = [r for r in lab_mcp.requests() if r["method"] == "DELETE"]
    assert status == 0
    assert len(deletes) == 1 and deletes[0]["session_id"]
    assert [(b.account_id, b.launched_by) for b in running] == [(account.id, Path(sys.executable).name[:15])]
    assert live_bridges(home) == []
    (used,) = [e for e in profile.registry.events(account_id=account.id) if e.kind == "bridge_used"]
    assert used.detail.startswith("2 request(s), 0 failed")


async def test_eight_requests_in_flight(lab_mcp: RunningMcpServer) -> None:
    sign_in(lab_mcp.url)
    async with host_session(lab_mcp.url) as session:
        await session.initialize()
        results = await asyncio.gather(*(session.call_tool("echo", {"text": f"n{i}"}) for i in range(8)))
    assert [r.content[0].text for r in results] == [f"n{i}" for i in range(8)]  # type: ignore[union-attr]


async def test_two_bridges_racing_one_expiring_token_renew_it_once(
    short_lived: tuple[RunningAuthServer, RunningMcpServer],
) -> None:
    auth_server, mcp = short_lived
    sign_in(mcp.url)
    async with BridgeProcess(mcp.url) as first, BridgeProcess(mcp.url) as second:
        await asyncio.gather(handshake(first), handshake(second))
        auth_server.reset_requests()
        await asyncio.sleep(2.5)  # both hold a token that is now due for renewal
        answers = await asyncio.gather(
            first.request(tool_call(2, "whoami", {})), second.request(tool_call(2, "whoami", {}))
        )
    assert [text_of(answer) for answer in answers] == ["lab-sub-0a11ce", "lab-sub-0a11ce"]
    assert len(auth_server.refresh_requests()) == 1  # one renewal under the account's lock; the other read it


async def test_a_host_killing_the_bridge_mid_renewal_loses_no_login(
    short_lived: tuple[RunningAuthServer, RunningMcpServer],
) -> None:
    auth_server, mcp = short_lived
    sign_in(mcp.url)
    async with BridgeProcess(mcp.url) as bridge:
        await handshake(bridge)
        await asyncio.sleep(2.5)
        auth_server.outage("slow", delay_ms=1500)  # the rotated refresh token is on its way back ...
        await bridge.send(tool_call(2, "whoami", {}))
        await until_refresh_requested(auth_server)
        assert bridge.process is not None
        bridge.process.kill()  # ... when the host kills the bridge
        await bridge.process.wait()
    auth_server.outage("off")
    await asyncio.sleep(2.0)  # the renewal worker stores what the server sent (the worker outlives the bridge)
    async with BridgeProcess(mcp.url) as again:
        await handshake(again)
        who = await again.request(tool_call(2, "whoami", {}))
    assert text_of(who) == "lab-sub-0a11ce"
    assert not [r for r in auth_server.refresh_requests() if r["status"] != 200]  # no rotated token sent again


async def started_apps() -> list[int]:
    """The apps started in the tray for this profile, once there is one (a hang guard of 20 s)."""
    async with asyncio.timeout(20):
        while not apps_of_this_profile():
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # a second one would be there by now
    return apps_of_this_profile()


async def until_refresh_requested(auth_server: RunningAuthServer) -> None:
    async with asyncio.timeout(20):  # a hang guard
        while not auth_server.refresh_requests():
            await asyncio.sleep(0.02)


async def test_the_command_lines_engine_runs_the_same_bridge(lab_mcp: RunningMcpServer) -> None:
    sign_in(lab_mcp.url)
    engine = ("-c", "import sys; from desktop_app.cli.main import main; sys.exit(main(sys.argv[1:]))")
    async with BridgeProcess(lab_mcp.url, program=engine) as bridge:
        answer = await handshake(bridge)
        echoed = await bridge.request(tool_call(2, "echo", {"text": "via the engine"}))
        assert await bridge.close_stdin() == 0
    assert "acts as alice" in answer["result"]["instructions"]
    assert text_of(echoed) == "via the engine"


async def test_a_removed_account_is_said_to_the_host_and_starts_no_app(lab_mcp: RunningMcpServer) -> None:
    sign_in(lab_mcp.url, app_may_start=True)
    async with BridgeProcess(lab_mcp.url) as bridge:
        await handshake(bridge)
        before = await bridge.request(tool_call(2, "whoami", {}))
        removed = cli.run_cli("remove", lab_mcp.url, "--account", "alice@lab.test", "--yes", timeout=60)
        assert removed.returncode == 0, removed.stderr
        after = await bridge.request(tool_call(3, "whoami", {}))
        await asyncio.sleep(1.0)  # an app the bridge started would be running by now (it starts one at once)
        apps = apps_of_this_profile()
    assert text_of(before) == "lab-sub-0a11ce"
    assert after["error"]["data"]["reason"] == "account_removed", after
    assert "removed" in after["error"]["message"]
    assert apps == []  # signing in again would make a new account: no app is started to ask for it
