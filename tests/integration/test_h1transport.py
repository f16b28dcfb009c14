"""The bridge's HTTP/1.1 transport (``desktop_app.oauth.h1transport``) against real servers on 127.0.0.1.

What is proven, each over real sockets with a server scripted byte for byte:

- keep-alive: a connection whose answer was read to its end is used again; one closed half read, answered with
  ``Connection: close``, closed or reset by the server while idle, past its expiry, or holding bytes nobody asked for
  is not; no more idle connections are kept than the limit, and closing the client closes them;
- bodies framed by ``Content-Length``, by chunks or by the connection's end arrive intact (1 MB too), informational
  answers (100, 103) are skipped;
- failures are httpx's exception types, which ``desktop_app.exchange`` words as before: nothing answered, closed
  before an answer, a timeout, a cut-off body, garbage for a status line, every connection busy; however an
  exchange ends, its place in the pool is given back;
- a request cancelled while waiting or reading leaves no broken connection behind; concurrent requests each get a
  connection, then share the idle ones;
- the address policy: a public server's client never connects to this computer (refused before connecting, with
  ``AddressRefused``, not a network error); a server on this computer is reached;
- TLS: the default context refuses an unknown certificate in words about the secure connection; a context that
  trusts it connects, with the URL's host for SNI and the name check.

Three cases httpcore's pool gets wrong or we once did: bytes that came right behind an answer do not answer the next
request; a server's FIN that the event loop has not read yet is seen before a request goes out; a head over 16 KiB
arriving in pieces is read.

Names resolve through the resolver seam (``lean_client(resolve=...)``): every packet these tests send goes to
127.0.0.1 (a name that reaches the system resolver fails the test); the global address below only ever appears in
a resolver's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from desktop_app.appinfo import USER_AGENT
from desktop_app.content_coding import decoded
from desktop_app.errors import NetworkError
from desktop_app.exchange import Asked, network_errors, read_capped
from desktop_app.oauth import h1transport
from desktop_app.oauth.h1transport import LeanTransport, lean_client
from desktop_app.oauth.netpolicy import AddressGuard, AddressPolicy, AddressRefused
from tests.integration.rawhttp import LoopbackServer, read_request
from tests.integration.test_address_policy import certificates, resolver

#: A global address that only ever appears in a resolver's answer here: nothing connects to it.
PUBLIC = "93.184.216.34"
TIMEOUT = httpx.Timeout(5.0)
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment would take the requests elsewhere (and keep httpx's own transport)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def no_name_leaves_this_computer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The system resolver takes address literals only: a name that reached it (instead of the test's resolver
    seam) would be a DNS query to the network, so it fails the test instead."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def literals_only(host: bytes | str | None, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else host
        try:
            ipaddress.ip_address(name or "")
        except ValueError:
            asked.append(str(name))
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: not resolved by the system in these tests") from None
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", literals_only)
    yield
    assert asked == [], f"names sent to the system resolver: {asked}"


# -- a keep-alive server, scripted byte for byte ---------------------------------------------------------------


@dataclass
class Link:
    """One connection the server accepted: the requests asked on it, and who ended it."""

    number: int
    writer: asyncio.StreamWriter
    paths: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    #: The client hung up (the server read the end of the connection, or a reset).
    client_closed: bool = False
    #: The server hung up (a script said so, or a test).
    server_closed: bool = False

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def hang_up(self, *, reset: bool = False) -> None:
        """Close this connection from the server's side: a FIN, or a RST (``reset``)."""
        self.server_closed = True
        if reset:
            sock = self.writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.writer.transport.abort()
        else:
            self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


#: What the server does with a request: bytes are written as they are (and the connection waits for the next
#: request); a function writes what it likes and says whether the connection stays open.
Script = bytes | Callable[[Link], Awaitable[bool]]


class Server(LoopbackServer):
    """An HTTP/1.1 server on 127.0.0.1 that keeps every connection open for the next request unless a script
    hangs up, and records each connection (:class:`Link`). An unknown path is a 404 that keeps the connection."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.routes: dict[str, Script] = {}
        self.links: list[Link] = []

    @property
    def paths(self) -> list[tuple[int, str]]:
        """Every request in the order it arrived, as (connection number, path)."""
        return [(link.number, path) for link in self.links for path in link.paths]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = Link(len(self.links) + 1, writer)
        self.links.append(link)
        try:
            while True:
                request = await read_request(reader)
                target = request.target
                link.headers.append(request.headers)
                link.bodies.append(request.body)
                link.paths.append(target)
                script = self.routes.get(target, answer(b"not here", status="404 Not Found"))
                if isinstance(script, bytes):
                    writer.write(script)
                    await writer.drain()
                elif not await script(link):
                    await link.hang_up()
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            link.client_closed = not link.server_closed


def head(status: str, headers: Iterable[str]) -> bytes:
    return "".join(f"{line}\r\n" for line in (f"HTTP/1.1 {status}", *headers, "")).encode()


def answer(body: bytes = b"ok", *headers: str, status: str = "200 OK") -> bytes:
    """A whole answer with a ``Content-Length``."""
    return head(status, [f"Content-Length: {len(body)}", *headers]) + body


def chunked(*chunks: bytes, headers: Iterable[str] = ()) -> bytes:
    """A whole answer in ``Transfer-Encoding: chunked``."""
    out = head("200 OK", ["Transfer-Encoding: chunked", *headers])
    for chunk in chunks:
        out += b"%x\r\n%s\r\n" % (len(chunk), chunk)
    return out + b"0\r\n\r\n"


def then_hang_up(data: bytes) -> Callable[[Link], Awaitable[bool]]:
    """A script that writes ``data``, then closes the connection."""

    async def script(link: Link) -> bool:
        link.send(data)
        await link.writer.drain()
        return False

    return script


async def eventually(condition: Callable[[], bool], within: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while not condition():
        assert loop.time() < end, "the condition did not come true in time"
        await asyncio.sleep(0.005)


async def settle() -> None:
    """Time for the client's event loop to read what the server just sent (or that it closed)."""
    await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def client_of(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """``lean_client`` for a person's server that is ``server`` itself."""
    async with lean_client(server.url("/mcp"), timeout=TIMEOUT) as client:
        yield client


async def raw_into(response: httpx.Response, received: list[bytes]) -> None:
    """Read ``response``'s raw body into ``received`` (what came before a failure stays there)."""
    async for chunk in response.aiter_raw():
        received.append(chunk)


async def read_raw(client: httpx.AsyncClient, url: str) -> tuple[httpx.Response, bytes]:
    """As the bridge reads: sent streamed, read with ``aiter_raw``, closed."""
    response = await client.send(client.build_request("GET", url), stream=True)
    try:
        return response, b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()


# -- keep-alive --------------------------------------------------------------------------------------------


async def test_requests_in_turn_share_one_connection() -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/a"] = answer(b"first")
        server.routes["/b"] = answer(b"second")
        first = await client.get(server.url("/a"))
        second = await client.post(server.url("/b"), content=b'{"jsonrpc": "2.0"}')
        _, third = await read_raw(client, server.url("/a"))
    assert (first.content, second.content, third) == (b"first", b"second", b"first")
    assert server.paths == [(1, "/a"), (1, "/b"), (1, "/a")]
    assert server.links[0].bodies == [b"", b'{"jsonrpc": "2.0"}', b""]


async def test_a_response_closed_before_its_end_takes_its_connection_with_it() -> None:
    """Half of a 10-byte body read, then the response closed: that connection is closed (the server sees it), the
    next request opens a new one."""
    async with Server() as server, client_of(server) as client:
        server.routes["/half"] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"
        server.routes["/ok"] = answer()
        response = await client.send(client.build_request("GET", server.url("/half")), stream=True)
        async for chunk in response.aiter_raw():
            assert chunk == b"hello"
            break
        await response.aclose()
        await eventually(lambda: server.links[0].client_closed)
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert server.paths == [(1, "/half"), (2, "/ok")]


async def test_a_response_closed_unread_takes_its_connection_with_it_even_when_its_body_had_arrived() -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/ok"] = answer()
        response = await client.send(client.build_request("GET", server.url("/ok")), stream=True)
        await settle()
        await response.aclose()
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert server.paths == [(1, "/ok"), (2, "/ok")]


async def test_connection_close_from_the_server_means_a_new_connection_next_time() -> None:
    """The server says ``Connection: close`` but keeps its end open: the client closes it and does not reuse it."""
    async with Server() as server, client_of(server) as client:
        server.routes["/last"] = answer(b"bye", "Connection: close")
        server.routes["/ok"] = answer()
        assert (await client.get(server.url("/last"))).content == b"bye"
        await eventually(lambda: server.links[0].client_closed)
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert server.paths == [(1, "/last"), (2, "/ok")]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_an_idle_connection_the_server_ended_is_replaced_without_an_error(reset: bool) -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/ok"] = answer()
        await client.get(server.url("/ok"))
        await server.links[0].hang_up(reset=reset)
        await settle()
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert server.paths == [(1, "/ok"), (2, "/ok")]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_an_idle_connection_whose_end_has_arrived_is_replaced_before_the_loop_read_it(reset: bool) -> None:
    """The server's FIN (or RST) is in this computer's socket, but the event loop has not run since: a request now
    must not go out on that connection (with a server closing idle connections after 5 s, as uvicorn and Node do,
    a request every ~5 s would meet this)."""
    async with Server() as server, client_of(server) as client:
        server.routes["/ok"] = answer()
        await client.get(server.url("/ok"))
        await server.links[0].hang_up(reset=reset)
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert server.paths == [(1, "/ok"), (2, "/ok")]


async def test_an_idle_connection_past_its_keepalive_expiry_is_closed_and_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(h1transport, "KEEPALIVE_EXPIRY", 0.05)
    async with Server() as server, client_of(server) as client:
        server.routes["/ok"] = answer()
        await client.get(server.url("/ok"))
        await asyncio.sleep(0.1)
        await client.get(server.url("/ok"))
        await eventually(lambda: server.links[0].client_closed)
    assert server.paths == [(1, "/ok"), (2, "/ok")]


async def test_no_more_idle_connections_are_kept_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h1transport, "MAX_IDLE", 1)
    both = asyncio.Barrier(2)

    async def together(link: Link) -> bool:
        await both.wait()
        link.send(answer())
        return True

    async with Server() as server, client_of(server) as client:
        server.routes["/together"] = together
        server.routes["/ok"] = answer()
        await asyncio.gather(client.get(server.url("/together")), client.get(server.url("/together")))
        await eventually(lambda: sum(link.client_closed for link in server.links) == 1)
        kept = next(link for link in server.links if not link.client_closed)
        await client.get(server.url("/ok"))
        await client.get(server.url("/ok"))
    assert len(server.links) == 2
    assert kept.paths == ["/together", "/ok", "/ok"]


async def test_closing_the_client_closes_its_idle_connections() -> None:
    both = asyncio.Barrier(2)

    async def together(link: Link) -> bool:
        await both.wait()
        link.send(answer())
        return True

    async with Server() as server:
        server.routes["/together"] = together
        client = lean_client(server.url("/mcp"), timeout=TIMEOUT)
        await asyncio.gather(client.get(server.url("/together")), client.get(server.url("/together")))
        await settle()
        assert [link.client_closed for link in server.links] == [False, False]
        await client.aclose()
        await eventually(lambda: all(link.client_closed for link in server.links))
    assert len(server.links) == 2


# -- bytes nobody asked for ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unasked", "hang_up"),
    [
        (answer(b"", "Connection: close", status="408 Request Timeout"), True),
        (answer(b"", "Connection: close", status="408 Request Timeout"), False),
        (b"garbage\r\n\r\n", False),
    ],
    ids=["408-then-close", "408-kept-open", "garbage"],
)
async def test_bytes_a_server_sends_while_the_connection_is_idle_are_not_the_next_answer(
    unasked: bytes, hang_up: bool
) -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/ok"] = answer()
        await client.get(server.url("/ok"))
        server.links[0].send(unasked)
        if hang_up:
            await server.links[0].hang_up()
        await settle()
        second = await client.get(server.url("/ok"))
        assert (second.status_code, second.content) == (200, b"ok")
        await eventually(lambda: server.links[0].client_closed or server.links[0].server_closed)
    assert server.paths == [(1, "/ok"), (2, "/ok")]


async def test_bytes_that_came_right_behind_an_answer_are_not_the_next_answer() -> None:
    """A server writes a 408 straight behind the answer (one write, so one read of the client's): it sits in the
    connection's HTTP state, not in the socket's buffer, and must not answer the next request either."""
    async with Server() as server, client_of(server) as client:
        server.routes["/ok"] = answer()
        server.routes["/and-more"] = answer() + answer(b"", "Connection: close", status="408 Request Timeout")
        await client.get(server.url("/and-more"))
        await settle()
        second = await client.get(server.url("/ok"))
        assert (second.status_code, second.content) == (200, b"ok")
    assert server.paths[-1] == (2, "/ok")


# -- bodies ------------------------------------------------------------------------------------------------

MEGABYTE = bytes(range(256)) * 4096


def pieces(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize(
    ("script", "body"),
    [
        (answer(b""), b""),
        (answer(b'{"jsonrpc": "2.0", "id": 1, "result": {}}'), b'{"jsonrpc": "2.0", "id": 1, "result": {}}'),
        (chunked(b"hello", b" ", b"world"), b"hello world"),
        (answer(MEGABYTE), MEGABYTE),
        (chunked(*pieces(MEGABYTE, 70_001)), MEGABYTE),
    ],
    ids=["empty", "content-length", "chunked", "1MB-content-length", "1MB-chunked"],
)
async def test_bodies_arrive_intact_and_the_connection_is_used_again(script: bytes, body: bytes) -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/body"] = script
        response, raw = await read_raw(client, server.url("/body"))
        assert response.status_code == 200
        assert raw == body
        assert (await client.get(server.url("/body"))).content == body
    assert server.paths == [(1, "/body"), (1, "/body")]


async def test_a_body_dripped_in_pieces_arrives_intact() -> None:
    async def drip(link: Link) -> bool:
        for part in (b"HTTP/1.1 200 OK\r\nTransfer-", b"Encoding: chunked\r\n\r\n5\r\nhel", b"lo\r\n0\r\n", b"\r\n"):
            link.send(part)
            await link.writer.drain()
            await asyncio.sleep(0.01)
        return True

    async with Server() as server, client_of(server) as client:
        server.routes["/drip"] = drip
        assert (await client.get(server.url("/drip"))).content == b"hello"
        assert (await client.get(server.url("/drip"))).content == b"hello"
    assert server.paths == [(1, "/drip"), (1, "/drip")]


async def test_a_body_that_ends_with_the_connection_arrives_and_its_connection_is_not_reused() -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/till-close"] = then_hang_up(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        server.routes["/ok"] = answer()
        assert (await read_raw(client, server.url("/till-close")))[1] == b"all of it"
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert server.paths == [(1, "/till-close"), (2, "/ok")]


async def test_a_gzip_body_is_decoded_as_the_bridge_reads_it() -> None:
    """``client.send(stream=True)`` read through ``content_coding.decoded``, with the app's headers sent."""
    document = b'{"jsonrpc": "2.0", "id": 7, "result": {"tools": []}}' * 200
    async with Server() as server, client_of(server) as client:
        server.routes["/mcp"] = chunked(*pieces(gzip.compress(document), 100), headers=["Content-Encoding: gzip"])
        response = await client.send(client.build_request("POST", server.url("/mcp"), content=b"{}"), stream=True)
        try:
            async with aclosing(decoded(response)) as body:
                assert b"".join([piece async for piece in body]) == document
        finally:
            await response.aclose()
    seen = server.links[0]
    assert seen.bodies == [b"{}"]
    assert seen.headers[0]["accept-encoding"] == "gzip, deflate"
    assert seen.headers[0]["user-agent"] == USER_AGENT
    assert seen.headers[0]["host"] == f"127.0.0.1:{server.port}"


@pytest.mark.parametrize("dripped", [False, True], ids=["together", "dripped"])
async def test_informational_answers_before_the_real_one_are_skipped(dripped: bool) -> None:
    parts = [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
        answer(b"the answer", "Content-Type: text/plain"),
    ]

    async def informational(link: Link) -> bool:
        for part in parts if dripped else [b"".join(parts)]:
            link.send(part)
            await link.writer.drain()
            await asyncio.sleep(0.02 if dripped else 0)
        return True

    async with Server() as server, client_of(server) as client:
        server.routes["/hints"] = informational
        server.routes["/ok"] = answer()
        response = await client.get(server.url("/hints"))
        assert (response.status_code, response.content) == (200, b"the answer")
        assert "link" not in response.headers
        assert response.headers["content-type"] == "text/plain"
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert server.paths == [(1, "/hints"), (1, "/ok")]


async def test_a_40_kb_head_arriving_in_pieces_is_read_as_httpx_s_own_transport_reads_it() -> None:
    whole = answer(b"ok", "Content-Security-Policy: " + "x" * 40_000)

    async def in_pieces(link: Link) -> bool:
        for piece in pieces(whole, 4096):
            link.send(piece)
            await link.writer.drain()
            await asyncio.sleep(0.002)
        return True

    async with Server() as server, client_of(server) as client:
        server.routes["/big"] = in_pieces
        response = await client.get(server.url("/big"))
    assert (response.status_code, response.content) == (200, b"ok")


# -- failures, as httpx's exceptions and in the app's words -----------------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (it was bound a moment ago, and closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_closed_port_is_a_connect_error_nothing_answered_there() -> None:
    url = f"http://127.0.0.1:{closed_port()}/mcp"
    async with lean_client(url, timeout=TIMEOUT) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url)
        with pytest.raises(NetworkError) as caught:
            async with network_errors(Asked(url, request="tools/list")):
                await client.get(url)
    assert caught.value.code == "network"
    assert caught.value.message == (
        f"Could not reach {url} (tools/list): "
        "nothing answered there (the connection was refused or the host was not found)."
    )


async def test_a_server_that_hangs_up_without_answering_closed_before_an_answer() -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/silent"] = then_hang_up(b"")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url("/silent"))
        with pytest.raises(NetworkError) as caught:
            async with network_errors(Asked(server.url("/silent"))):
                await client.get(server.url("/silent"))
    assert caught.value.code == "network"
    assert caught.value.message.endswith(": the connection was closed before an answer arrived.")


async def test_a_server_that_never_answers_is_a_read_timeout_and_its_connection_is_dropped() -> None:
    async with Server() as server:
        server.routes["/never"] = b""  # the request is read, nothing is written
        server.routes["/ok"] = answer()
        async with lean_client(server.url("/mcp"), timeout=httpx.Timeout(5.0, read=0.2)) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(server.url("/never"))
            with pytest.raises(NetworkError) as caught:
                async with network_errors(Asked(server.url("/never"))):
                    await client.get(server.url("/never"))
            await eventually(lambda: server.links[0].client_closed and server.links[1].client_closed)
            assert (await client.get(server.url("/ok"))).content == b"ok"
    assert caught.value.code == "timeout"
    assert server.paths == [(1, "/never"), (2, "/never"), (3, "/ok")]


async def test_a_body_that_stops_coming_is_a_read_timeout_while_reading() -> None:
    async with Server() as server:
        server.routes["/stalls"] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"
        async with lean_client(server.url("/mcp"), timeout=httpx.Timeout(5.0, read=0.2)) as client:
            response = await client.send(client.build_request("GET", server.url("/stalls")), stream=True)
            with pytest.raises(NetworkError) as caught:
                await read_capped(response, Asked(server.url("/stalls")), limit=100)
            await response.aclose()
    assert caught.value.code == "timeout"


@pytest.mark.parametrize(
    "cut",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this much",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\nonly this much",
    ],
    ids=["content-length", "chunked"],
)
async def test_a_body_cut_off_midway_fails_while_reading(cut: bytes) -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/cut"] = then_hang_up(cut)
        server.routes["/ok"] = answer()
        response = await client.send(client.build_request("GET", server.url("/cut")), stream=True)
        assert response.status_code == 200
        received: list[bytes] = []
        with pytest.raises(httpx.RemoteProtocolError):
            await raw_into(response, received)
        await response.aclose()
        assert b"".join(received) == b"only this much"
        response = await client.send(client.build_request("GET", server.url("/cut")), stream=True)
        with pytest.raises(NetworkError) as caught:
            await read_capped(response, Asked(server.url("/cut"), request="tools/call"), limit=1000)
        await response.aclose()
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert caught.value.code == "network"
    assert caught.value.message == (
        f"Reading {server.url('/cut')} (tools/call) failed: the connection was closed before an answer arrived."
    )
    assert server.paths == [(1, "/cut"), (2, "/cut"), (3, "/ok")]


@pytest.mark.parametrize(
    "garbage",
    [b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 8, b"HTTP/1.1 2000 OK\r\n\r\n"],
    ids=["ssh", "tls", "bad-status"],
)
async def test_garbage_instead_of_a_status_line_is_an_httpx_error_in_words(garbage: bytes) -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/garbage"] = then_hang_up(garbage)
        server.routes["/ok"] = answer()
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url("/garbage"))
        with pytest.raises(NetworkError) as caught:
            async with network_errors(Asked(server.url("/garbage"))):
                await client.get(server.url("/garbage"))
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert caught.value.code == "network"


async def test_every_connection_busy_is_a_pool_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h1transport, "MAX_CONNECTIONS", 1)
    async with Server() as server:
        server.routes["/never"] = b""
        async with lean_client(server.url("/mcp"), timeout=httpx.Timeout(5.0, pool=0.1)) as client:
            waiting = asyncio.ensure_future(client.get(server.url("/never")))
            await eventually(lambda: server.paths == [(1, "/never")])
            with pytest.raises(NetworkError) as caught:
                async with network_errors(Asked(server.url("/never"))):
                    await client.get(server.url("/never"))
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
    assert caught.value.code == "timeout"


async def test_every_way_an_exchange_ends_gives_its_place_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for one connection only, each request must find the place the one before it left."""
    monkeypatch.setattr(h1transport, "MAX_CONNECTIONS", 1)
    async with Server() as server:
        server.routes["/ok"] = answer()
        server.routes["/half"] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"
        server.routes["/cut"] = then_hang_up(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        server.routes["/silent"] = then_hang_up(b"")
        server.routes["/never"] = b""
        timeout = httpx.Timeout(5.0, read=0.1, pool=0.2)
        async with lean_client(server.url("/mcp"), timeout=timeout) as client:
            await client.get(server.url("/ok"))  # read to its end
            await read_raw(client, server.url("/ok"))  # streamed to its end
            response = await client.send(client.build_request("GET", server.url("/half")), stream=True)
            await response.aclose()  # closed unread
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(server.url("/cut"))  # broken body
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(server.url("/silent"))  # no answer
            with pytest.raises(httpx.ReadTimeout):
                await client.get(server.url("/never"))  # too late
            with pytest.raises(httpx.ReadTimeout):
                await client.get(server.url("/half"))  # body too late
            assert (await client.get(server.url("/ok"))).content == b"ok"


# -- cancellation and concurrency ----------------------------------------------------------------------------


async def test_a_request_cancelled_while_waiting_for_its_answer_leaves_no_broken_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cancelled before the answer came: its connection is closed (the answer, arriving later, would be the next
    request's otherwise) and its place given back (with room for one connection only, the next request gets it)."""
    monkeypatch.setattr(h1transport, "MAX_CONNECTIONS", 1)
    released = asyncio.Event()

    async def late(link: Link) -> bool:
        await released.wait()
        link.send(answer(b"too late"))
        return True

    async with Server() as server, client_of(server) as client:
        server.routes["/late"] = late
        server.routes["/ok"] = answer()
        for attempt in range(1, 4):
            waiting = asyncio.ensure_future(client.get(server.url("/late")))
            await eventually(
                lambda attempt=attempt: len(server.links) == attempt and server.links[-1].paths == ["/late"]
            )
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        released.set()
        await eventually(lambda: all(link.client_closed for link in server.links))
        async with asyncio.timeout(1):
            response = await client.get(server.url("/ok"), timeout=httpx.Timeout(5.0, pool=0.2))
        assert response.content == b"ok"
    assert server.paths == [(1, "/late"), (2, "/late"), (3, "/late"), (4, "/ok")]


async def test_a_request_cancelled_while_reading_its_body_closes_its_connection() -> None:
    async with Server() as server, client_of(server) as client:
        server.routes["/half"] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"
        server.routes["/ok"] = answer()
        started = asyncio.Event()

        async def bridge_read() -> None:
            response = await client.send(client.build_request("GET", server.url("/half")), stream=True)
            try:
                async for _ in response.aiter_raw():
                    started.set()
            finally:
                await response.aclose()

        reading = asyncio.ensure_future(bridge_read())
        await started.wait()
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        await eventually(lambda: server.links[0].client_closed)
        assert (await client.get(server.url("/ok"))).content == b"ok"
    assert server.paths == [(1, "/half"), (2, "/ok")]


async def test_eight_requests_at_once_get_eight_connections_which_are_then_used_again() -> None:
    """The server answers none of them until all eight are in (so each had to have a connection of its own); a
    second round of eight uses the idle ones."""
    everyone = asyncio.Barrier(8)

    async def together(link: Link) -> bool:
        await everyone.wait()
        link.send(answer(f"link {link.number}".encode()))
        return True

    async with Server() as server, client_of(server) as client:
        server.routes["/together"] = together
        async with asyncio.timeout(3):
            first = await asyncio.gather(*(client.get(server.url("/together")) for _ in range(8)))
            second = await asyncio.gather(*(client.get(server.url("/together")) for _ in range(8)))
        assert sorted(r.content for r in first) == sorted(f"link {n}".encode() for n in range(1, 9))
        assert sorted(r.content for r in second) == sorted(r.content for r in first)
    assert len(server.links) == 8
    assert all(link.paths == ["/together", "/together"] for link in server.links)


# -- the address policy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "sneaky.example", "[::1]"])
async def test_a_public_server_s_client_never_connects_to_this_computer(host: str) -> None:
    """mcp.example.com resolves (through the seam only) to a global address: a URL whose host is, or resolves to, a
    loopback address is refused before connecting, with ``AddressRefused`` naming it (not a network error)."""
    resolve = resolver({"mcp.example.com": [PUBLIC], "sneaky.example": ["127.0.0.1"]})
    async with Server() as server:
        server.routes["/admin"] = answer(b"secret")
        url = server.url("/admin", host=host)
        async with lean_client("https://mcp.example.com/mcp", timeout=TIMEOUT, resolve=resolve) as client:
            with pytest.raises(AddressRefused) as caught:
                async with network_errors(Asked(url)):  # not turned into a NetworkError
                    await client.get(url)
    assert server.links == []
    error = caught.value
    assert not isinstance(error, httpx.TransportError)
    assert error.code == "private_address_refused"
    assert error.url == url
    assert url in error.message and "loopback" in error.message and "mcp.example.com" in error.message


async def test_a_server_on_this_computer_is_reached_by_its_address_and_by_its_name() -> None:
    """On 127.0.0.1, or named local.example which the seam resolves to 127.0.0.1: requests go through."""
    async with Server() as server:
        server.routes["/mcp"] = answer()
        async with client_of(server) as client:
            assert (await client.get(server.url("/mcp"))).content == b"ok"
        resolve = resolver({"local.example": ["127.0.0.1"]})
        named = server.url("/mcp", host="local.example")
        async with lean_client(named, timeout=TIMEOUT, resolve=resolve) as client:
            assert (await client.get(named)).content == b"ok"
    assert server.paths == [(1, "/mcp"), (2, "/mcp")]


# -- TLS ---------------------------------------------------------------------------------------------------


async def test_a_certificate_the_system_does_not_trust_fails_in_words_about_the_secure_connection(
    tmp_path: Path,
) -> None:
    server_tls, _ = certificates(tmp_path, "localhost")
    async with Server(tls=server_tls) as server, client_of(server) as client:
        server.routes["/mcp"] = answer()
        with pytest.raises(httpx.ConnectError):
            await client.get(server.url("/mcp"))
        with pytest.raises(NetworkError) as caught:
            async with network_errors(Asked(server.url("/mcp"))):
                await client.get(server.url("/mcp"))
    assert caught.value.code == "network"
    assert "a secure connection could not be set up" in caught.value.message
    assert "certificate" in caught.value.message
    assert all(link.paths == [] for link in server.links)


def trusting_client(server_url: str, context: ssl.SSLContext, resolve: object) -> httpx.AsyncClient:
    guard = AddressGuard(AddressPolicy(server_url, resolve))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=LeanTransport(guard, tls=lambda: context), timeout=TIMEOUT)


async def test_with_a_context_that_trusts_the_server_tls_connects_with_the_url_s_host_for_sni(
    tmp_path: Path,
) -> None:
    """secure.example (the seam says 127.0.0.1) has a certificate for its name: the TLS connection sends that name
    and checks the certificate against it, and is kept alive like any other."""
    server_tls, client_tls = certificates(tmp_path, "secure.example")
    names: list[str | None] = []
    server_tls.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    resolve = resolver({"secure.example": ["127.0.0.1"]})
    async with Server(tls=server_tls) as server:
        server.routes["/mcp"] = answer(b"secret handshake")
        url = server.url("/mcp", host="secure.example")
        async with trusting_client(url, client_tls, resolve) as client:
            assert (await client.get(url)).content == b"secret handshake"
            assert (await client.get(url)).content == b"secret handshake"
    assert names == ["secure.example"]
    assert server.paths == [(1, "/mcp"), (1, "/mcp")]


async def test_a_trusted_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    server_tls, client_tls = certificates(tmp_path, "secure.example")
    resolve = resolver({"impostor.example": ["127.0.0.1"]})
    async with Server(tls=server_tls) as server:
        server.routes["/mcp"] = answer()
        url = server.url("/mcp", host="impostor.example")
        async with trusting_client(url, client_tls, resolve) as client:
            with pytest.raises(NetworkError) as caught:
                async with network_errors(Asked(url)):
                    await client.get(url)
    assert "a secure connection could not be set up" in caught.value.message
    assert "impostor.example" in caught.value.message
    assert all(link.paths == [] for link in server.links)
