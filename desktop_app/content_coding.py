"""Content codings (RFC 9110 §8.4), decoded within bounds.

httpx decodes a compressed body a network chunk at a time, and one small chunk can expand to hundreds of megabytes
before the caller has counted a byte of it. The engine reads the raw bytes instead (``Response.aiter_raw``) and
decodes them here, never producing more than ``step`` bytes before the caller had a chance to count them: a cap on
the decoded size then holds while the body streams, whatever its compression ratio.

Only the codings :data:`ACCEPT_ENCODING` offers are decoded. More than one coding (``Content-Encoding: gzip, gzip``,
a "stack") and any other coding are refused: the app never asked for them.

Read through ``desktop_app.exchange`` by the OAuth requests and the MCP client, which turns a :class:`CodingError`
into the caller's kind of typed error; the sign-in preflight (``desktop_app.oauth.preflight``) reads a small error
body with it directly.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator, Iterator

import httpx

from desktop_app.error_codes import Code

#: What the engine asks for, and all it decodes.
ACCEPT_ENCODING = "gzip, deflate"
#: The most a decoder produces from one step of input before the caller counts it.
STEP = 64 * 1024

_GZIP = ("gzip", "x-gzip")


class CodingError(Exception):
    """A body whose coding is refused or broken. ``code``: ``stacked_content_encoding``,
    ``unsupported_content_encoding`` or ``malformed_body``; ``detail`` completes "answered with ..."."""

    def __init__(self, code: Code, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Decoder:
    """Turns raw body bytes into decoded pieces of at most ``step`` bytes (``identity``: as they come)."""

    def __init__(self, coding: str = "identity", *, step: int = STEP) -> None:
        self.coding = coding
        self._step = step
        self._zlib: zlib._Decompress | None = None
        self._started = False
        self._ended = False
        self._head = b""
        if coding in _GZIP:
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._zlib = zlib.decompressobj()  # RFC 9110 deflate is zlib-wrapped; raw deflate is tried on failure
        elif coding != "identity":
            raise ValueError(coding)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``data``; a consumer that stops early stops the decoding with it."""
        if self._zlib is None:
            if data:
                yield data
            return
        if self._ended:
            return  # anything after the end of the compressed stream is ignored, as httpx does
        if not self._started:
            # Keep the first bytes until zlib can judge the header: raw deflate is tried on the same bytes.
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
        pending = True
        while data or pending:
            try:
                out = self._zlib.decompress(data, self._step)
            except zlib.error:
                if self.coding == "deflate" and not self._started:
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send it
                    self._started = True
                    continue
                raise CodingError("malformed_body", f"a {self.coding} body that cannot be decoded") from None
            self._started = True
            data = self._zlib.unconsumed_tail
            # A full piece may leave output inside zlib: ask again, with no new input, until a piece comes back short.
            pending = len(out) == self._step
            if out:
                yield out
            if self._zlib.eof:
                self._ended = True
                return


def decoder_for(content_encoding: list[str], *, step: int = STEP) -> Decoder:
    """The decoder for a response's ``Content-Encoding`` values (already split at commas).

    Raises :class:`CodingError` for a stack of codings or one this app does not offer.
    """
    codings = [value.strip().lower() for value in content_encoding]
    codings = [value for value in codings if value and value != "identity"]
    shown = ", ".join(content_encoding)[:80]
    if len(codings) > 1:
        raise CodingError(
            "stacked_content_encoding", f"a body encoded several times (Content-Encoding: {shown!r}), which is refused"
        )
    if not codings:
        return Decoder(step=step)
    if codings[0] not in (*_GZIP, "deflate"):
        raise CodingError(
            "unsupported_content_encoding",
            f"a body in a coding this app did not ask for (Content-Encoding: {shown!r}; it accepts {ACCEPT_ENCODING})",
        )
    return Decoder(codings[0], step=step)


async def decoded(response: httpx.Response, *, step: int = STEP) -> AsyncGenerator[bytes, None]:
    """The body of a streamed ``response``, decoded, in pieces of at most ``step`` bytes.

    Raises :class:`CodingError` before reading a byte when the coding is refused, and while reading when the body
    is broken. Use it with ``contextlib.aclosing`` when the loop may stop early.
    """
    decoder = decoder_for(response.headers.get_list("content-encoding", split_commas=True), step=step)
    if response.is_stream_consumed:
        # Read and decoded already: a response made in memory (httpx.MockTransport), never one from the network.
        body = response.content
        for start in range(0, len(body), step):
            yield body[start : start + step]
        return
    async for raw in response.aiter_raw():
        for piece in decoder.feed(raw):
            yield piece
