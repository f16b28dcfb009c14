"""The loopback redirect listener (RFC 8252 §7.3, §8.3).

Bound to ``127.0.0.1`` only: on a fixed port when one is configured, else on the port a registration was made with
when it is free (for authorization servers that compare redirect URIs exactly, port included), else on an ephemeral
one (:func:`bind_loopback`); open only during one sign-in. It accepts exactly one request on its callback path;
any other path gets a 404 (browsers ask for ``/favicon.ico``), and once the callback has been answered the port is
closed, so a second callback finds nobody. Pages are static text with every dynamic part HTML-escaped; they load
nothing and redirect nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from desktop_app.appinfo import APP_NAME
from desktop_app.errors import ConfigurationError, ConnectorError, NetworkError
from desktop_app.oauth.registration import CALLBACK_PATH

_MAX_REQUEST_HEAD = 16 * 1024
_READ_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class CallbackPage:
    """What the browser shows after the redirect."""

    ok: bool
    title: str
    message: str


#: Decides on the callback's query parameters: returns the value the sign-in continues with, raises a
#: ConnectorError (whose message is shown on the page; the sign-in ends with it), or raises
#: :class:`UnrelatedCallback` for a request that does not answer this sign-in (it is answered and ignored).
CallbackHandler = Callable[[list[tuple[str, str]]], str]


class UnrelatedCallback(Exception):
    """A request to the callback path that does not answer this sign-in (its ``state`` is wrong or missing): a stale
    browser tab of an earlier sign-in on the same port, or another program's forgery. The listener answers it with
    an error page and keeps waiting for the real one, so neither can end the sign-in."""


def render_page(page: CallbackPage) -> bytes:
    colour = "#1a7f37" if page.ok else "#b42318"
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="referrer" content="no-referrer"><title>{html.escape(page.title)} · {html.escape(APP_NAME)}</title>
<style>body{{font:16px system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}}
h1{{font-size:1.4em;color:{colour}}}@media(prefers-color-scheme:dark){{body{{background:#111;color:#eee}}}}</style>
</head><body><h1>{html.escape(page.title)}</h1><p>{html.escape(page.message)}</p>
<p>You can close this tab and return to {html.escape(APP_NAME)}.</p></body></html>
"""
    return body.encode("utf-8")


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def bind_loopback(ports: Sequence[int], *, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on the first of ``ports`` that can be had; ``0`` means one the system picks.

    A port that another program holds is skipped; when none of them can be had, the last failure is a
    ``callback_port_unavailable`` error naming the port (so a list ending in 0 fails only if no port at all is free).
    The address is made reusable while old connections linger in TIME_WAIT, so the port of the last sign-in can be
    listened on again at once, but never while another socket listens on it (Linux and macOS semantics; on Windows,
    where SO_REUSEADDR would allow exactly that, the port is taken exclusively instead).
    """
    if not ports:
        raise ValueError("no port to try")
    failure: OSError | None = None
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            if sys.platform == "win32":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(16)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        return sock
    port = ports[-1]
    raise ConfigurationError(
        "callback_port_unavailable",
        f"Cannot listen for the sign-in response on {host}:{port} "
        f"({failure.strerror if failure is not None and failure.strerror else 'in use'}).",
        hint="Choose another callback port in the server's settings, or let the app pick one.",
    ) from None


class LoopbackListener:
    """``async with LoopbackListener(handler) as listener: ... await listener.result()``.

    ``sock`` is a socket from :func:`bind_loopback` (the listener owns it from then on and closes it); without one,
    the listener binds ``port`` itself when it starts.
    """

    def __init__(
        self,
        handler: CallbackHandler,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        sock: socket.socket | None = None,
    ) -> None:
        self._handler = handler
        self._port = port
        self._host = host
        self._sock = sock
        self._server: asyncio.Server | None = None
        self._future: asyncio.Future[str] | None = None
        self._answered = False

    @property
    def redirect_uri(self) -> str:
        assert self._server is not None, "listener not started"
        port = self._server.sockets[0].getsockname()[1]
        return f"http://{self._host}:{port}{CALLBACK_PATH}"

    @property
    def is_open(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            sock = bind_loopback([self._port], host=self._host)
        self._future = asyncio.get_running_loop().create_future()
        try:
            self._server = await asyncio.start_server(self._serve, sock=sock)
        except BaseException:
            sock.close()
            raise

    async def close(self) -> None:
        if self._sock is not None:  # never started: the socket was still ours to close
            self._sock.close()
            self._sock = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        if self._future is not None and not self._future.done():
            self._future.cancel()

    async def __aenter__(self) -> LoopbackListener:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def result(self, timeout: float | None = None) -> str:
        """Wait for the callback; the listener is closed whatever happens (success, error, timeout, cancel)."""
        assert self._future is not None, "listener not started"
        try:
            if timeout is None:
                return await self._future
            try:
                return await asyncio.wait_for(asyncio.shield(self._future), timeout)
            except TimeoutError:
                raise NetworkError(
                    "sign_in_timeout",
                    f"No sign-in response arrived within {int(timeout)} seconds.",
                    hint="Start the sign-in again; finish it in the browser window that opens.",
                ) from None
        finally:
            await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
                return
            if len(head) > _MAX_REQUEST_HEAD:
                return
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
                writer.write(_response("405 Method Not Allowed", b""))
                return
            target = urlsplit(parts[1])
            if target.path != CALLBACK_PATH:
                writer.write(_response("404 Not Found", b""))
                return
            if self._answered or self._future is None or self._future.done():
                writer.write(
                    _response(
                        "410 Gone",
                        render_page(
                            CallbackPage(False, "Already handled", "This sign-in response was already received.")
                        ),
                    )
                )
                return
            params = parse_qsl(target.query, keep_blank_values=True)
            try:
                value = self._handler(params)
            except UnrelatedCallback as exc:
                writer.write(
                    _response("400 Bad Request", render_page(CallbackPage(False, "Not this sign-in", str(exc))))
                )
                return
            except ConnectorError as exc:
                self._answered = True
                writer.write(
                    _response(
                        "400 Bad Request", render_page(CallbackPage(False, "Sign-in did not complete", exc.message))
                    )
                )
                self._future.set_exception(exc)
                return
            self._answered = True
            writer.write(
                _response(
                    "200 OK",
                    render_page(CallbackPage(True, "Signed in", "The app received your sign-in and is finishing it.")),
                )
            )
            self._future.set_result(value)
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if self._answered and self._server is not None:
                self._server.close()
