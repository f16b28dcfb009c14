"""A host's view of ``mcp-connectors bridge``: the process on this test's profile, driven line by line.

For what the SDK clients hide (a malformed line, the exact moment an answer arrives, stdin closing); the scenario
tests use the SDKs' own stdio clients as hosts.
"""

from __future__ import annotations

import asyncio
import json
import sys
from types import TracebackType
from typing import Any

from tests.helpers import cli

#: How long a test waits for one line from the bridge before failing (not a speed check: a hang guard).
LINE_WAIT = 30.0


def initialize_request(request_id: int = 1, version: str = "2025-11-25") -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "test-host", "version": "1"}},
    }


class BridgeProcess:
    """``python -m desktop_app bridge ARGS`` with pipes; use ``async with``."""

    def __init__(self, *args: str, program: tuple[str, ...] = ("-m", "desktop_app")) -> None:
        """``program``: how Python starts the command line (``-c`` with a script: another way in)."""
        self.args = args
        self.program = program
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []

    async def __aenter__(self) -> BridgeProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.program,
            "bridge",
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # An app the bridge starts in the tray runs offscreen (until the test stops it), never on a real screen.
            env=cli.python_env(QT_QPA_PLATFORM="offscreen"),
            cwd=cli.ROOT,
            limit=64 * 1024 * 1024,
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        process = self.process
        assert process is not None
        if process.returncode is None:
            process.kill()
        await process.wait()

    async def write_line(self, text: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(text.encode("utf-8") + b"\n")
        await self.process.stdin.drain()

    async def send(self, message: dict[str, Any]) -> None:
        await self.write_line(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), LINE_WAIT)
        assert line, f"the bridge closed stdout; stderr: {await self.stderr()}"
        text = line.decode("utf-8")
        self.lines.append(text)
        message = json.loads(text)
        assert isinstance(message, dict)
        return message

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a request and return its response (notifications before it are kept in ``lines``)."""
        await self.send(message)
        while True:
            answer = await self.receive()
            if "method" not in answer and answer.get("id") == message["id"]:
                return answer

    async def close_stdin(self) -> int:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.close()
        return await asyncio.wait_for(self.process.wait(), LINE_WAIT)

    async def stderr(self) -> str:
        assert self.process is not None and self.process.stderr is not None
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        return (await self.process.stderr.read()).decode("utf-8", "replace")
