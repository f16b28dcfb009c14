"""A tiny HTTP/1.1 server on 127.0.0.1 that answers exactly what a test scripts, byte for byte and at any pace.

For what a framework will not send: a body compressed 1000:1 under a ``Content-Encoding`` it never checks, or an
answer dripped a byte at a time. Runs on the test's own event loop; every connection is closed when it stops.

::

    async with RawServer() as server:
        server.routes["/token"] = Answer(200, {"Content-Type": "application/json"}, body, drip=0.1)
        ... server.url("/token") ...
        assert server.connections == 1
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Seconds between two bytes of the body (None: all at once).
    drip: float | None = None
    #: After the body, send this again and again (every ``drip`` seconds, or at once) until the client hangs up.
    forever: bytes | None = None
    #: Seconds between two bytes of the status line and headers (None: all at once).
    head_drip: float | None = None


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


async def read_request(reader: asyncio.StreamReader) -> Seen:
    """One request's head and its ``Content-Length`` body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    return Seen(method, target, headers, body)


class LoopbackServer:
    """A server on ``host`` (127.0.0.1) at a free port, TLS with ``tls``; :meth:`handle` serves each connection.
    Stopping it cancels every connection's handler and closes the connection."""

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.tls = tls
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        return f"{'https' if self.tls else 'http'}://{host or self.host}:{self.port}{path}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self._server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.handle(reader, writer)
        except asyncio.CancelledError:
            pass  # the server stops; asyncio's stream callback would log a cancelled handler as an error
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()


class RawServer(LoopbackServer):
    """Answers each connection's one request from ``routes`` (by path), then closes it."""

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(host, tls=tls)
        self.routes: dict[str, Answer] = {}
        self.seen: list[Seen] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        # The client may hang up (on purpose: a refused body, a deadline).
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            await self._answer(reader, writer)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen = await read_request(reader)
        self.seen.append(seen)
        target = seen.target
        path = target if target.startswith("/") else "/" + target.split("/", 3)[-1]  # a proxy gets absolute URLs
        answer = self.routes.get(path.split("?", 1)[0], Answer(404))
        out = [f"HTTP/1.1 {answer.status} X"]
        out += [f"{name}: {value}" for name, value in answer.headers.items()]
        if answer.forever is None:
            out.append(f"Content-Length: {len(answer.body)}")
        out.append("Connection: close")
        head_out = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
        if answer.head_drip is None:
            writer.write(head_out)
        else:
            for byte in head_out:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(answer.head_drip)
        await writer.drain()
        if answer.drip is None:
            writer.write(answer.body)
        else:
            for byte in answer.body:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(answer.drip)
        await writer.drain()
        while answer.forever is not None:
            writer.write(answer.forever)
            await writer.drain()
            await asyncio.sleep(answer.drip or 0)
