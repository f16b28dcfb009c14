"""The loopback redirect listener (RFC 8252 §7.3, §8.3).

Bound to ``127.0.0.1`` only, on an ephemeral port unless a fixed one is configured; open only during one sign-in.
It accepts exactly one request on its callback path; any other path gets a 404 (browsers ask for
``/favicon.ico``), and once the callback has been answered the port is closed, so a second callback finds nobody.
Pages are static text with every dynamic part HTML-escaped; they load nothing and redirect nowhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Callable
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


#: Decides on the callback's query parameters: returns the value the sign-in continues with, or raises a
#: ConnectorError (whose message is shown on the page unless ``page_message`` says otherwise).
CallbackHandler = Callable[[list[tuple[str, str]]], str]


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


class LoopbackListener:
    """``async with LoopbackListener(handler) as listener: ... await listener.result()``."""

    def __init__(self, handler: CallbackHandler, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self._handler = handler
        self._port = port
        self._host = host
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
        self._future = asyncio.get_running_loop().create_future()
        try:
            self._server = await asyncio.start_server(self._serve, self._host, self._port, reuse_address=False)
        except OSError as exc:
            raise ConfigurationError(
                "callback_port_unavailable",
                f"Cannot listen for the sign-in response on {self._host}:{self._port} ({exc.strerror}).",
                hint="Choose another callback port in the server's settings, or let the app pick one.",
            ) from None

    async def close(self) -> None:
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
            self._answered = True
            params = parse_qsl(target.query, keep_blank_values=True)
            try:
                value = self._handler(params)
            except ConnectorError as exc:
                writer.write(
                    _response(
                        "400 Bad Request", render_page(CallbackPage(False, "Sign-in did not complete", exc.message))
                    )
                )
                self._future.set_exception(exc)
                return
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
