"""The bridge between eras, as hosts meet it: the official Python SDK's ``Client`` over stdio (a 2025-11-25 host,
``mode="legacy"``, and a 2026-07-28 one) launches ``mcp-connectors bridge`` against lab servers that speak only
2026-07-28, only 2025-11-25, or both (``eras``), with the lab's bridge tools (docs/decisions/0020)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPDeprecationWarning

from tests.helpers import cli
from tests.integration.test_bridge_lab import bridge_command, sign_in
from tests.integration.test_lab_bridge_tools import Host, host_client, text_of, until
from tests.lab.conftest_plugin import McpServerFactory
from tests.lab.mcp_tools import NOTE_URI, big_text
from tests.lab.servers import RunningAuthServer, RunningMcpServer, node_binary

pytestmark = pytest.mark.lab

MODERN = "2026-07-28"
#: A 2025-11-25 host, and a 2026-07-28 one that starts with ``server/discover`` as such a host does (a client pinned
#: to a version without discovering never sees the server's instructions, through a bridge or not).
HOSTS = pytest.mark.parametrize("mode", ["legacy", "auto"])
SERVERS = pytest.mark.parametrize("eras", ["modern", "legacy", "both"])


@pytest.fixture(scope="module")
def servers(lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory) -> Iterator[dict[str, RunningMcpServer]]:
    started = {eras: lab_mcp_factory(lab_as, eras=eras, bridge_tools=True) for eras in ("modern", "legacy", "both")}
    yield started
    for server in started.values():
        server.stop()


@asynccontextmanager
async def bridged(url: str, mode: str, host: Host) -> AsyncIterator[Client]:
    async with host_client(stdio_client(bridge_command(url)), mode, host) as client:
        yield client


@SERVERS
@HOSTS
async def test_a_host_of_either_era_uses_a_server_of_either_era(
    servers: dict[str, RunningMcpServer], eras: str, mode: str
) -> None:
    server = servers[eras]
    sign_in(server.url)
    host = Host()
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with bridged(server.url, mode, host) as client:
        if mode == "legacy":
            with pytest.warns(MCPDeprecationWarning):  # logging/setLevel is 2025-only
                await client.set_logging_level("info")
        names = {tool.name for tool in (await client.list_tools()).tools}
        echoed = text_of(await client.call_tool("echo", {"text": "across"}))
        big = text_of(await client.call_tool("big", {"size": 1_000_000}))
        slow = text_of(await client.call_tool("slow", {"seconds": 0.05, "steps": 3}, progress_callback=on_progress))
        asked = text_of(await client.call_tool("ask", {"question": "The answer?"}))
        sampled = text_of(await client.call_tool("sample", {"prompt": "Capital of France?"}))
        roots = text_of(await client.call_tool("roots", {}))
        note = await client.read_resource(NOTE_URI)
        prompt = await client.get_prompt("greet", {"name": "Ada"})
        instructions = client.instructions
    assert "acts as alice" in (instructions or "")
    assert {"echo", "big", "slow", "ask", "sample", "roots"} <= names
    assert echoed == "across"
    assert big == big_text(1_000_000)
    assert slow == "slept 0.05 s in 3 steps" and progress == [1, 2, 3]
    assert host.logs, "log messages reached the host"
    assert "forty-two" in asked and host.questions == ["The answer?"]
    assert "Paris" in sampled and host.prompts == ["Capital of France?"]
    assert "file:///work/project" in roots
    assert note.contents and prompt.messages


@SERVERS
@HOSTS
async def test_a_remembered_era_means_no_probe_of_the_wrong_era(
    servers: dict[str, RunningMcpServer], eras: str, mode: str
) -> None:
    server = servers[eras]
    sign_in(server.url)
    async with bridged(server.url, mode, Host()) as client:
        await client.list_tools()  # the era is learnt (and remembered for this server)
    server.reset_requests()
    async with bridged(server.url, mode, Host()) as client:
        await client.list_tools()
    handshakes = [r["mcp_method"] for r in server.requests() if r["mcp_method"] in ("initialize", "server/discover")]
    legacy = eras == "legacy" or (eras == "both" and mode == "legacy")
    assert handshakes == (["initialize"] if legacy else ["server/discover"])
    assert [r for r in server.requests() if r["status"] >= 400] == []


async def test_a_2025_subscriber_hears_of_a_change_on_a_2026_server(servers: dict[str, RunningMcpServer]) -> None:
    server = servers["modern"]
    sign_in(server.url)
    host = Host()
    async with bridged(server.url, "legacy", host) as client:
        with pytest.warns(MCPDeprecationWarning):  # resources/subscribe is 2025-only
            await client.session.subscribe_resource(NOTE_URI)
        server.touch("changed for a 2025 host")
        await until(
            lambda: any(isinstance(n, types.ResourceUpdatedNotification) for n in host.notifications),
            "notifications/resources/updated through the bridge",
        )


async def test_a_2026_listener_hears_of_a_change_on_a_2025_server(servers: dict[str, RunningMcpServer]) -> None:
    server = servers["legacy"]
    sign_in(server.url)
    async with (
        bridged(server.url, MODERN, Host()) as client,
        client.listen(resource_subscriptions=[NOTE_URI]) as subscription,
    ):
        assert subscription.honored is not None
        server.touch("changed for a 2026 host")
        event = await asyncio.wait_for(anext(aiter(subscription)), 10)
    assert getattr(event, "uri", None) == NOTE_URI


#: The TypeScript SDK's stdio client as a host (tests/lab/node/ts_host.mjs, on the lab's Node 22).
TS_HOST = cli.ROOT / "tests" / "lab" / "node" / "ts_host.mjs"


def run_ts_host(url: str, calls: list[dict[str, object]]) -> dict[str, Any]:
    launch = {
        "command": sys.executable,
        "args": ["-m", "desktop_app", "bridge", url],
        "env": cli.python_env(),
        "cwd": str(cli.ROOT),
    }
    result = subprocess.run(
        [str(node_binary()), str(TS_HOST), json.dumps(launch), json.dumps(calls)],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=TS_HOST.parent,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert isinstance(answer, dict)
    return answer


@SERVERS
def test_the_typescript_sdk_as_host(servers: dict[str, RunningMcpServer], eras: str) -> None:
    server = servers[eras]
    sign_in(server.url)
    echoes = [{"name": "echo", "arguments": {"text": f"ts{i}"}} for i in range(8)]
    answer = run_ts_host(
        server.url,
        [
            *echoes,
            {"name": "ask", "arguments": {"question": "The answer?"}},
            {"name": "sample", "arguments": {"prompt": "Capital?"}},
            {"name": "big", "arguments": {"size": 1_000_000}},
        ],
    )
    texts = [result["content"][0]["text"] for result in answer["results"]]
    assert "acts as alice" in answer["instructions"]
    assert {"echo", "ask", "sample", "big"} <= set(answer["tools"])
    assert texts[:8] == [f"ts{i}" for i in range(8)]
    assert "forty-two" in texts[8] and "Paris" in texts[9]
    assert texts[10] == big_text(1_000_000)


async def test_a_restarted_2025_server_gets_the_hosts_log_level_and_subscriptions_again(
    lab_as: RunningAuthServer, lab_mcp_factory: McpServerFactory
) -> None:
    """The bridge replaces a session the server forgot with the host's own ``initialize``; what the host set up in
    the old one (its log level, its subscriptions, minus what it unsubscribed) is said again, so it goes on hearing."""
    server = lab_mcp_factory(lab_as, eras="legacy", bridge_tools=True)
    sign_in(server.url)
    host = Host()
    async with bridged(server.url, "legacy", host) as client:
        for setup in (  # logging/setLevel and resources/(un)subscribe are 2025-only: the SDK warns of each
            lambda: client.set_logging_level("info"),
            lambda: client.session.subscribe_resource(NOTE_URI),
            lambda: client.session.subscribe_resource("lab://gone"),
            lambda: client.session.unsubscribe_resource("lab://gone"),
        ):
            with pytest.warns(MCPDeprecationWarning):
                await setup()
        port = server.port
        server.stop()
        server = lab_mcp_factory(lab_as, port=port, eras="legacy", bridge_tools=True)
        assert text_of(await client.call_tool("echo", {"text": "after"})) == "after"  # a new session, unnoticed
        await until(lambda: any(r["method"] == "GET" for r in server.requests()), "the new session's event stream")
        server.touch("changed after the restart")
        await until(
            lambda: any(isinstance(n, types.ResourceUpdatedNotification) for n in host.notifications),
            "notifications/resources/updated in the new session",
        )
        slow = text_of(await client.call_tool("slow", {"seconds": 0.01, "steps": 1}))
    said = [(r["mcp_method"], r["status"]) for r in server.requests() if r["method"] == "POST"]
    assert said[:5] == [
        ("tools/call", 404),  # the first word to the restarted server: it knows no session
        ("initialize", 200),
        ("notifications/initialized", 202),
        ("logging/setLevel", 200),
        ("resources/subscribe", 200),
    ], said
    assert sum(method == "resources/subscribe" for method, _ in said) == 1  # not the one unsubscribed
    assert slow == "slept 0.01 s in 1 steps" and host.logs[-1] == "slow: step 1 of 1"
