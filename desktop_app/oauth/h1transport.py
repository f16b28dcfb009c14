"""HTTP/1.1 for the bridge's relay: h11 over asyncio streams, under httpx's client, in place of httpcore's pool.

The bridge sends every message of a host through one client, one request per message; httpx's own transport
(httpcore's connection pool on anyio) cost ~0.35 ms of CPU per request here (locks, backends and layers entered a
dozen times per request), more than the relay's own work. This transport does the same job with h11 (the HTTP/1.1
engine httpcore itself uses) straight on asyncio's streams: ~0.1 ms (docs/decisions/0019, "A leaner HTTP path").

What it keeps from httpx's transport:

- connections go where :class:`~desktop_app.oauth.netpolicy.AddressGuard` allows (the same address policy, the
  same staggered connects over the checked addresses), TLS with the given context and the URL's host for SNI and
  certificate checks;
- keep-alive: a connection whose response was read to its end goes back to the pool (20 idle at most, each for 5 s,
  httpx's defaults), one that was not (a response closed half read, a cancelled request, ``Connection: close``) is
  closed; an idle connection the server closed, or that holds bytes nobody asked for, is not used again;
- the request's timeouts (``connect``, ``read`` per wait, ``write``, ``pool``) and httpx's exception types, so
  ``desktop_app.exchange`` words failures as before.

Only plain HTTP/1.1 to the server itself: a proxy from the environment keeps httpx's own transports (the client's
``mounts``), and HTTP/2 is not offered (neither does httpx's transport by default).
"""

from __future__ import annotations

import asyncio
import select
import ssl
import time
from collections.abc import AsyncIterator, Callable

import h11
import httpx

from desktop_app.appinfo import USER_AGENT
from desktop_app.content_coding import ACCEPT_ENCODING
from desktop_app.oauth.netpolicy import (
    AddressGuard,
    AddressPolicy,
    AddressRefused,
    Resolver,
    Unresolvable,
    first_to_connect,
    proxied,
    proxy_mounts,
    resolve_system,
    tls_context,
)

#: Bytes read from the socket at a time.
READ_SIZE = 64 * 1024
MAX_CONNECTIONS = 100
MAX_IDLE = 20
#: The longest status line and headers read (httpcore's limit; h11's own default is 16 KiB).
MAX_HEAD = 100 * 1024
#: Seconds an idle connection is kept for the next request (httpx's default; servers close theirs after ~5 s too).
KEEPALIVE_EXPIRY = 5.0

Origin = tuple[str, str, int]


def _seconds(timeouts: dict[str, float | None], which: str) -> float | None:
    return timeouts.get(which)


class _Connection:
    """One TCP (or TLS) connection and its HTTP/1.1 state."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        """Idle, not expired, not closed by the server, and with nothing unasked-for waiting to be read: a 408 or
        garbage sent while idle is not ours to read, and a FIN or RST the event loop has not taken in yet shows as a
        readable socket (as httpcore checks)."""
        if (
            now - self.idle_since >= KEEPALIVE_EXPIRY
            or self.writer.is_closing()
            or self.reader.at_eof()
            or bool(getattr(self.reader, "_buffer", b""))
        ):
            return False
        sock = self.writer.get_extra_info("socket")
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        self.writer.close()

    async def receive(self, read_timeout: float | None) -> object:
        """The next event of the response, reading from the socket as long as h11 needs more."""
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                async with asyncio.timeout(read_timeout):
                    data = await self.reader.read(READ_SIZE)
            except TimeoutError:
                raise httpx.ReadTimeout(f"no answer within {read_timeout} s") from None
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
            self.h11.receive_data(data)


class _Body(httpx.AsyncByteStream):
    """A response's body as it arrives; closing it gives the connection back or closes it."""

    def __init__(self, transport: LeanTransport, origin: Origin, connection: _Connection, read_timeout: float | None):
        self._transport = transport
        self._origin = origin
        self._connection: _Connection | None = connection
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        while True:
            try:
                event = await connection.receive(self._read_timeout)
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("the server closed the connection in the middle of its answer")

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._transport._release(self._origin, connection)


class LeanTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 connections opened where ``backend`` (the address policy) allows; TLS with the context ``tls()``
    makes, asked at the first ``https`` connection (loading the CA bundle is the slow part of making a client)."""

    def __init__(self, backend: AddressGuard, *, tls: Callable[[], ssl.SSLContext]) -> None:
        self.backend = backend
        self._tls = tls
        self._idle: dict[Origin, list[_Connection]] = {}
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._busy: set[_Connection] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        origin: Origin = (url.scheme, url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80))
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"the URL's scheme is {url.scheme!r}, not http or https")
        try:
            async with asyncio.timeout(_seconds(timeouts, "pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("every connection stayed busy") from None
        connection: _Connection | None = None
        try:
            connection = self._reuse(origin) or await self._connect(origin, _seconds(timeouts, "connect"))
            self._busy.add(connection)
            head = await self._exchange(connection, request, timeouts)
        except BaseException as exc:
            if connection is not None:
                self._busy.discard(connection)
                connection.close()
            self._slots.release()
            if isinstance(exc, AddressRefused):
                raise exc.at(str(url)) from None
            raise
        return httpx.Response(
            head.status_code,
            headers=head.headers,
            stream=_Body(self, origin, connection, _seconds(timeouts, "read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
        )

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now):
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._tls() if scheme == "https" else None

        async def attempt(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_connection(
                address, port, ssl=tls, server_hostname=host if tls is not None else None, limit=READ_SIZE
            )

        def discard(streams: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
            streams[1].close()

        try:
            async with asyncio.timeout(timeout):
                addresses = await self.backend.targets(host, port, timeout)
                if addresses is None:  # the person's network is allowed: the system resolves, as any client would
                    reader, writer = await asyncio.open_connection(
                        host,
                        port,
                        ssl=tls,
                        server_hostname=host if tls is not None else None,
                        limit=READ_SIZE,
                        happy_eyeballs_delay=0.25,
                    )
                else:
                    reader, writer = await first_to_connect(addresses, attempt, discard)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} took longer than {timeout} s") from None
        except Unresolvable as exc:
            raise httpx.ConnectError(str(exc)) from None
        except (OSError, ssl.SSLError) as exc:  # ssl.SSLError is an OSError; named for the reader
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return _Connection(reader, writer)

    async def _exchange(
        self, connection: _Connection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> h11.Response:
        """Send ``request`` and read the head of its answer (informational answers skipped)."""
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        try:
            data = connection.h11.send(
                h11.Request(method=request.method, target=request.url.raw_path, headers=request.headers.raw)
            )
            if body:
                data = (data or b"") + (connection.h11.send(h11.Data(data=body)) or b"")
            data = (data or b"") + (connection.h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        write_timeout = _seconds(timeouts, "write")
        try:
            connection.writer.write(data)
            async with asyncio.timeout(write_timeout):
                await connection.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout(f"the request was not taken within {write_timeout} s") from None
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
        read_timeout = _seconds(timeouts, "read")
        try:
            while True:
                event = await connection.receive(read_timeout)
                if isinstance(event, h11.Response):
                    return event
                # h11.InformationalResponse (100 Continue, 103 Early Hints): the answer is still to come
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc

    def _release(self, origin: Origin, connection: _Connection) -> None:
        """A response was closed: its connection goes back to the pool when the exchange ended cleanly."""
        self._busy.discard(connection)
        self._slots.release()
        state = connection.h11
        # Bytes read past the answer's end (a 408 written right behind it) would answer the next request: not pooled.
        if state.our_state is h11.DONE and state.their_state is h11.DONE and not state.trailing_data[0]:
            state.start_next_cycle()
            idle = self._idle.setdefault(origin, [])
            if len(idle) < MAX_IDLE:
                connection.idle_since = time.monotonic()
                idle.append(connection)
                return
        connection.close()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        for connection in self._busy:
            connection.close()
        self._busy.clear()


def lean_client(server_url: str, *, timeout: httpx.Timeout, resolve: Resolver = resolve_system) -> httpx.AsyncClient:
    """A client for the person's server at ``server_url`` over :class:`LeanTransport`: what
    ``desktop_app.oauth.http.new_client(server_url=...)`` makes (no automatic redirects, the address policy, TLS
    verified with the shared context, the app's ``User-Agent`` and ``Accept-Encoding``), for a client that sends many
    small requests to one server (the bridge). A proxy from the environment keeps httpx's own transport."""
    guard = AddressGuard(AddressPolicy(server_url, resolve))
    return httpx.AsyncClient(
        transport=LeanTransport(guard, tls=tls_context),
        mounts=proxy_mounts(guard, tls_context()) if proxied() else None,
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
    )
