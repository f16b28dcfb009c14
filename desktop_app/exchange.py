"""One HTTP exchange, bounded, and its failures in a person's words.

The OAuth requests (``desktop_app.oauth.http``) and the MCP client (``desktop_app.mcp.client``) both send a request,
read its answer within a deadline and a size, and turn what can go wrong on the way into the app's error tree:

- a deadline that passes → :class:`NetworkError` ``timeout`` ("... did not finish answering within 30 s.");
- an httpx timeout → :class:`NetworkError` ``timeout``; any other transport failure → :class:`NetworkError`
  ``network``, saying why in words (not an exception class name) with what the person can do;
- a body larger than the cap after decoding (``desktop_app.content_coding``) → ``response_too_large``; a content
  coding refused or broken → its :class:`CodingError` code; both as the caller's kind of :class:`ProtocolViolation`.

Every message names the URL and what was asked of it, never a header or a body.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass

import httpx

from desktop_app.content_coding import CodingError, decoded
from desktop_app.errors import NetworkError, ProtocolViolation, one_line


@dataclass(frozen=True, slots=True)
class Asked:
    """Who was asked what, as the errors about its answer say it.

    ``url`` is where the request went; ``what`` names the thing there ("token endpoint"), None when the URL says
    enough; ``request`` names what was asked of it (an MCP method), None when ``what`` says it all. ``violation`` is
    the kind of :class:`ProtocolViolation` a broken answer raises.
    """

    url: str
    what: str | None = None
    request: str | None = None
    violation: type[ProtocolViolation] = ProtocolViolation

    @property
    def subject(self) -> str:
        """The one answering: "token endpoint at https://…", or the URL alone."""
        return f"{self.what} at {self.url}" if self.what else self.url

    def timeout(self) -> NetworkError:
        return NetworkError("timeout", f"{self.subject} did not answer{self._asked()} in time.", url=self.url)

    def too_large(self, limit: int) -> ProtocolViolation:
        return self.violation(
            "response_too_large", f"{self.subject} answered{self._asked()} with more than {limit} bytes.", url=self.url
        )

    def broken(self, exc: CodingError) -> ProtocolViolation:
        return self.violation(exc.code, f"{self.subject} answered{self._asked()} with {exc.detail}.", url=self.url)

    def late(self, seconds: float) -> NetworkError:
        return NetworkError(
            "timeout", f"{self.subject} did not finish answering{self._asked()} within {seconds:g} s.", url=self.url
        )

    def _asked(self) -> str:
        return f" {self.request}" if self.request else ""


def _tls_failure(exc: BaseException) -> str | None:
    """What TLS said, when that is why the connection failed (a certificate that does not verify, a handshake the
    server broke off): worth saying, since "nothing answered" would send the person looking in the wrong place."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or str(current)
        if isinstance(current, ssl.SSLError):
            return current.reason or str(current)
        current = current.__cause__ or current.__context__
    return None


def unreachable(
    exc: httpx.TransportError, url: str, what: str | None, *, request: str | None = None, reading: bool = False
) -> NetworkError:
    """A transport failure in words a person reads (not an exception class name), with what they can do."""
    tls = _tls_failure(exc)
    if tls is not None:
        why = f"a secure connection could not be set up ({one_line(tls, 160)})"
    elif isinstance(exc, httpx.ConnectError):
        why = "nothing answered there (the connection was refused or the host was not found)"
    elif isinstance(exc, httpx.ProxyError):
        why = "the proxy refused the connection"
    elif isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)):
        why = "the connection was closed before an answer arrived"
    else:
        why = "the connection failed"
    host = httpx.URL(url).host if url else ""
    local = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
    hint = (
        "Check that the server is running on this computer, then try again."
        if local
        else "Check the address and your network connection, then try again; nothing was lost."
    )
    where = Asked(url, what).subject + (f" ({request})" if request else "")
    message = f"Reading {where} failed: {why}." if reading else f"Could not reach {where}: {why}."
    return NetworkError("network", message, hint=hint, url=url)


@asynccontextmanager
async def network_errors(asked: Asked, *, reading: bool = False) -> AsyncIterator[None]:
    """Turn httpx's failures (and a refused or broken content coding) inside the block into the error tree.

    ``reading``: the request was sent and its answer is being read, which the words of a transport failure say.
    """
    try:
        yield
    except httpx.TimeoutException:
        raise asked.timeout() from None
    except httpx.TransportError as exc:
        raise unreachable(exc, asked.url, asked.what, request=asked.request, reading=reading) from None
    except CodingError as exc:
        raise asked.broken(exc) from None


@asynccontextmanager
async def deadline(asked: Asked, seconds: float) -> AsyncIterator[None]:
    """The block ends within ``seconds``, else :class:`NetworkError` ``timeout`` naming what was asked."""
    timer = asyncio.timeout(seconds)
    try:
        async with timer:
            yield
    except TimeoutError:
        if not timer.expired():
            raise
        raise asked.late(seconds) from None


async def read_capped(response: httpx.Response, asked: Asked, *, limit: int) -> bytes:
    """The body of a streamed ``response``, decoded, refused once it passes ``limit`` bytes (or says it will)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise asked.too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async with network_errors(asked, reading=True), aclosing(decoded(response)) as pieces:
        async for piece in pieces:
            size += len(piece)
            if size > limit:
                raise asked.too_large(limit)
            chunks.append(piece)
    return b"".join(chunks)
