"""The host's side of the bridge: newline-delimited JSON-RPC on stdin and stdout (MCP's stdio transport).

Only valid MCP messages ever reach stdout. :func:`protect_stdout` moves the protocol onto a private copy of file
descriptor 1 and points descriptor 1 (and ``sys.stdout``) at stderr, so a stray ``print`` or a library writing to
standard output lands in the log instead of corrupting the stream the host parses.

A line that is not JSON is answered with a JSON-RPC parse error (id null), one that is JSON but no message with an
invalid-request error; the bridge keeps going either way. Lines are bounded (:data:`MAX_LINE_BYTES`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

#: The longest line the host may send (a request with a large argument fits easily).
MAX_LINE_BYTES = 32 * 1024 * 1024

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

JsonObject = dict[str, Any]


def compact_json(message: JsonObject) -> bytes:
    """Compact JSON, non-ASCII kept as UTF-8; a string with a lone surrogate (valid JSON, not UTF-8: a text cut in
    the middle of an emoji) is written with escapes instead."""
    try:
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(message, separators=(",", ":")).encode("ascii")


def encode(message: JsonObject) -> bytes:
    """One message as one line (JSON escapes any newline in a string)."""
    return compact_json(message) + b"\n"


def protect_stdout() -> tuple[BinaryIO, BinaryIO]:
    """(stdin, stdout) binary files for the protocol; from now on descriptor 1 and ``sys.stdout`` write to stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(0, "rb", buffering=0, closefd=False), os.fdopen(protocol_fd, "wb", buffering=0)


def _invalid(code: int, message: str, request_id: object = None) -> JsonObject:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def check_message(value: object) -> JsonObject | str:
    """The message, or why it is not one (a JSON-RPC 2.0 request, notification or response object)."""
    if not isinstance(value, dict):
        return "a JSON-RPC message must be an object (batches are not part of MCP since 2025-06-18)"
    if value.get("jsonrpc") != "2.0":
        return 'a JSON-RPC message must have "jsonrpc": "2.0"'
    if "method" in value:
        if not isinstance(value["method"], str):
            return "method must be a string"
        if "id" in value and not _valid_id(value["id"]):
            return "id must be a string or an integer"
        return value
    if "result" in value or "error" in value:
        if not _valid_id(value.get("id")) and value.get("id") is not None:
            return "id must be a string or an integer"
        return value
    return "a JSON-RPC message needs a method, a result or an error"


def _valid_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


class HostLink:
    """Messages from the host (:meth:`messages`) and to it (:meth:`send`, one write at a time)."""

    def __init__(self, reader: asyncio.StreamReader, write: _Writer) -> None:
        self._reader = reader
        self._write = write
        self._lock = asyncio.Lock()
        self.closed = False

    @classmethod
    async def open(cls, stdin: BinaryIO, stdout: BinaryIO) -> HostLink:
        """Over the given pipes; regular files and terminals are read and written through a thread instead."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
        if sys.platform == "win32":
            # The proactor loop takes only overlapped handles: a host's anonymous pipes go through threads.
            _feed_from_thread(reader, stdin)
            return cls(reader, _ThreadWriter(stdout))
        try:
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
        except (ValueError, OSError, NotImplementedError):
            _feed_from_thread(reader, stdin)
        try:
            transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, stdout)
            writer = asyncio.StreamWriter(transport, protocol, None, loop)
            write: _Writer = _PipeWriter(writer)
        except (ValueError, OSError, NotImplementedError):
            write = _ThreadWriter(stdout)
        return cls(reader, write)

    async def messages(self) -> AsyncIterator[JsonObject]:
        """Each message the host sends, until stdin closes; bad lines are answered here and skipped."""
        while True:
            try:
                line = await self._reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as end:
                line = end.partial
                if not line.strip():
                    return
            except asyncio.LimitOverrunError:
                await self._skip_long_line()
                await self.send(_invalid(INVALID_REQUEST, f"Message longer than {MAX_LINE_BYTES} bytes ignored."))
                continue
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):
                log.warning("The host sent a line that is not JSON (%d bytes)", len(line))
                await self.send(_invalid(PARSE_ERROR, "Parse error: the line is not valid JSON."))
                continue
            checked = check_message(value)
            if isinstance(checked, str):
                request_id = value.get("id") if isinstance(value, dict) and _valid_id(value.get("id")) else None
                if isinstance(value, dict) and "method" in value and "id" not in value:
                    log.warning("Ignoring an invalid notification from the host: %s", checked)
                    continue
                await self.send(_invalid(INVALID_REQUEST, f"Invalid request: {checked}.", request_id))
                continue
            yield checked

    async def _skip_long_line(self) -> None:
        while True:
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as exc:
                await self._reader.readexactly(exc.consumed)
            except asyncio.IncompleteReadError:
                return

    async def send(self, message: JsonObject) -> None:
        """Write one message; a host that went away is noted, not raised (the bridge then winds down)."""
        if self.closed:
            return
        data = encode(message)
        async with self._lock:
            writing = asyncio.ensure_future(self._write(data))
            try:
                try:
                    await asyncio.shield(writing)
                except asyncio.CancelledError:
                    # A line half written would break every line after it: finish it before letting go.
                    with contextlib.suppress(Exception):
                        await writing
                    raise
            except (BrokenPipeError, ConnectionResetError, OSError) as exc:
                log.info("The host stopped reading (%s)", type(exc).__name__)
                self.closed = True


class _Writer:
    async def __call__(self, data: bytes) -> None:
        raise NotImplementedError


class _PipeWriter(_Writer):
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def __call__(self, data: bytes) -> None:
        if self._writer.is_closing():
            raise BrokenPipeError
        self._writer.write(data)
        await self._writer.drain()


class _ThreadWriter(_Writer):
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    async def __call__(self, data: bytes) -> None:
        await asyncio.to_thread(self._write_all, data)

    def _write_all(self, data: bytes) -> None:
        self._stream.write(data)
        self._stream.flush()


def _feed_from_thread(reader: asyncio.StreamReader, stream: BinaryIO) -> None:
    """Read ``stream`` in a daemon thread and feed ``reader`` (stdin that is a file, or Windows' console)."""
    loop = asyncio.get_running_loop()

    def pump() -> None:
        try:
            while chunk := stream.read(65536):
                loop.call_soon_threadsafe(reader.feed_data, chunk)
        except OSError:
            pass
        loop.call_soon_threadsafe(reader.feed_eof)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
