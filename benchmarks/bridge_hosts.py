"""The clients of benchmarks/bridge.py: a host stand-in that drives a stdio MCP server (a bridge) the way AI hosts do,
and the direct HTTP client, both with ``request``/``notify``/``close``, so every contender is driven identically."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from benchmarks.lab_env import REPO, BenchmarkError

JsonObject = dict[str, Any]

PROTOCOL_VERSION = "2025-11-25"
#: A hang guard for one answer (not a speed check).
ANSWER_WAIT = 60.0


def initialize_params() -> JsonObject:
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "bench-host", "version": "1"},
    }


class Client(Protocol):
    name: str

    async def request(self, method: str, params: JsonObject) -> JsonObject: ...

    async def notify(self, method: str) -> None: ...

    async def close(self) -> None: ...


@dataclass
class Launch:
    """How to start one bridge: argv and environment, where its stderr goes, what to cut out of it when shown."""

    name: str
    argv: list[str]
    env: dict[str, str]
    stderr_path: Path
    secrets: tuple[str, ...] = ()


class StdioHost:
    """What an MCP host does with a stdio server: newline-delimited JSON-RPC on its pipes, one reader dispatching
    answers by id. Requests the server sends are answered (``ping``: empty result; anything else: method not found)."""

    def __init__(self, launch: Launch, process: asyncio.subprocess.Process, stderr: Any) -> None:
        self.name = launch.name
        self.launch = launch
        self.process = process
        self._stderr = stderr
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[JsonObject]] = {}
        self._reader = asyncio.ensure_future(self._read())
        self.notifications = 0

    @classmethod
    async def start(cls, launch: Launch) -> StdioHost:
        stderr = launch.stderr_path.open("ab")
        process = await asyncio.create_subprocess_exec(
            *launch.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=launch.env,
            cwd=REPO,
            limit=64 * 1024 * 1024,
        )
        return cls(launch, process, stderr)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr_tail(self) -> str:
        self._stderr.flush()
        text = self.launch.stderr_path.read_bytes()[-3000:].decode("utf-8", "replace")
        for secret in self.launch.secrets:
            text = text.replace(secret, "<token>")
        return text

    async def _write(self, message: JsonObject) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        await self.process.stdin.drain()

    async def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            while line := await self.process.stdout.readline():
                message = json.loads(line)
                if "method" in message and "id" in message:
                    answer = (
                        {"result": {}} if message["method"] == "ping" else {"error": {"code": -32601, "message": "-"}}
                    )
                    await self._write({"jsonrpc": "2.0", "id": message["id"], **answer})
                elif "method" in message:
                    self.notifications += 1
                else:
                    waiting = self._waiting.pop(message.get("id"), None)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(message)
        except (ValueError, ConnectionError) as exc:
            self._fail(f"{self.name} wrote something that is not a JSON-RPC line ({type(exc).__name__})")
            return
        self._fail(f"{self.name} closed its standard output")

    def _fail(self, why: str) -> None:
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(BenchmarkError(f"{why}; its stderr ends with:\n{self.stderr_tail()}"))
        self._waiting.clear()

    async def request(self, method: str, params: JsonObject) -> JsonObject:
        request_id = next(self._ids)
        answer: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        await self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        try:
            return await asyncio.wait_for(answer, ANSWER_WAIT)
        except TimeoutError:
            raise BenchmarkError(f"{self.name}: no answer to {method} after {ANSWER_WAIT:.0f} s") from None

    async def notify(self, method: str) -> None:
        await self._write({"jsonrpc": "2.0", "method": method})

    async def close(self) -> None:
        """Close stdin, as a host does; then SIGTERM, then SIGKILL, for a bridge that does not leave."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        for then in (signal.SIGTERM, signal.SIGKILL):
            try:
                await asyncio.wait_for(self.process.wait(), 5)
                break
            except TimeoutError:
                self.process.send_signal(then)
        await self.process.wait()
        self._reader.cancel()
        self._stderr.close()


class DirectClient:
    """The floor: Streamable HTTP POSTs from this process with ``httpx`` (one client, kept-alive connections)."""

    def __init__(self, http: httpx.AsyncClient, url: str, token: str, *, name: str = "direct") -> None:
        self.name = name
        self._http = http
        self._url = url
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        self._ids = itertools.count(1)

    async def _post(self, message: JsonObject) -> httpx.Response:
        body = json.dumps(message, separators=(",", ":")).encode()
        return await self._http.post(self._url, content=body, headers=self._headers)

    async def request(self, method: str, params: JsonObject) -> JsonObject:
        request_id = next(self._ids)
        response = await self._post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        if response.status_code != 200:
            raise BenchmarkError(f"direct: {method} answered HTTP {response.status_code}")
        if method == "initialize":
            self._headers["Mcp-Session-Id"] = response.headers["mcp-session-id"]
            self._headers["Mcp-Protocol-Version"] = PROTOCOL_VERSION
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for event in response.text.split("\n\n"):
                data = "\n".join(line[5:].lstrip(" ") for line in event.splitlines() if line.startswith("data:"))
                if data:
                    message = json.loads(data)
                    if message.get("id") == request_id and "method" not in message:
                        return dict(message)
            raise BenchmarkError(f"direct: the event stream of {method} ended without its answer")
        return dict(response.json())

    async def notify(self, method: str) -> None:
        response = await self._post({"jsonrpc": "2.0", "method": method})
        if response.status_code != 202:
            raise BenchmarkError(f"direct: {method} answered HTTP {response.status_code}")

    async def close(self) -> None:
        if "Mcp-Session-Id" in self._headers:
            await self._http.delete(self._url, headers=self._headers)


async def handshake(client: Client) -> None:
    answer = await client.request("initialize", initialize_params())
    if "result" not in answer:
        raise BenchmarkError(f"{client.name}: initialize failed: {str(answer)[:300]}")
    await client.notify("notifications/initialized")


async def call(client: Client, tool: str, arguments: JsonObject, expected: str | int) -> None:
    """One ``tools/call``; its text must be ``expected`` (or have that length)."""
    answer = await client.request("tools/call", {"name": tool, "arguments": arguments})
    try:
        text = answer["result"]["content"][0]["text"]
    except (KeyError, IndexError, TypeError):
        raise BenchmarkError(f"{client.name}: {tool} did not answer with a text: {str(answer)[:300]}") from None
    if answer["result"].get("isError") or (text != expected if isinstance(expected, str) else len(text) != expected):
        raise BenchmarkError(f"{client.name}: {tool} answered something else: {str(text)[:200]}")
