"""The bridge as AI hosts meet it: a real MCP client (the official Python SDK's stdio client) launches
``mcp-connectors bridge`` in a process of its own, on this test's profile and keyring, against the lab's servers."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.helpers import cli
from tests.lab.servers import RunningAuthServer, RunningMcpServer

pytestmark = pytest.mark.lab


def sign_in(url: str, *, user: str = "alice", new_account: bool = False) -> None:
    args = ["login", url, "--yes"] + (["--new-account"] if new_account else [])
    result = cli.run_cli(*args, user=user, timeout=90)
    assert result.returncode == 0, result.stderr


def bridge_command(*args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "desktop_app", "bridge", *args], env=cli.python_env(), cwd=str(cli.ROOT)
    )


@asynccontextmanager
async def host_session(*args: str) -> AsyncIterator[ClientSession]:
    async with stdio_client(bridge_command(*args)) as (read, write), ClientSession(read, write) as session:
        yield session


async def test_a_host_lists_and_calls_tools_as_the_account(lab_as: RunningAuthServer, lab_mcp: RunningMcpServer) -> None:
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
