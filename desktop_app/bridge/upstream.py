"""The server's side of the bridge: each message POSTed to the MCP endpoint over Streamable HTTP, every message of
the answer handed on as it arrives.

- Headers follow the era of the message: 2026-07-28 POSTs mirror their method and name (``mcp.http.request_headers``,
  ``Mcp-Param-*`` from the tool schemas seen in ``tools/list``), legacy ones carry the negotiated version and the
  session id after ``initialize``.
- An answer is a JSON body (one message, or several), an event stream (each ``message`` event passed on, with the id
  of the request whose stream carried it; a legacy stream that closes before its response is resumed with
  ``Last-Event-ID``), or 202 for a notification or a response.
- A 404 to a request that carried a session id means the session expired: :class:`SessionExpired` tells the relay,
  which replays the host's ``initialize`` and sends the message again.
- Tokens come from the ``auth`` (:class:`desktop_app.oauth.auth.BearerAuth`): a 401 is answered there by one renewal
  and a replay. A token a server quotes back is cut out of what it sends before the host sees it.
- :meth:`Upstream.listen` keeps the standalone GET stream of a legacy session open; :meth:`Upstream.end_session`
  DELETEs the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any

import httpx

from desktop_app import exchange
from desktop_app.bridge.stdio import compact_json
from desktop_app.content_coding import ACCEPT_ENCODING, decoded
from desktop_app.errors import ConnectorError
from desktop_app.mcp.errors import McpProtocolError
from desktop_app.mcp.http import (
    ACCEPT,
    HEADER_PROTOCOL_VERSION,
    HEADER_SESSION_ID,
    HeaderParam,
    build_delete,
    build_resume,
    media_type,
    request_headers,
    status_error,
    tool_header_params,
    valid_session_id,
)
from desktop_app.mcp.jsonrpc import RequestId, decode_json
from desktop_app.mcp.negotiation import is_modern
from desktop_app.mcp.sse import SseEvent, SseParser

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
#: Hands one message from the server on: (message, id of the request whose answer stream carried it, or None).
Deliver = Callable[[JsonObject, RequestId | None], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024 * 1024
MAX_EVENT_CHARS = 64 * 1024 * 1024
_MAX_ERROR_BODY = 64 * 1024
_MAX_RESUMES = 3
#: After a request's response, how long the rest of its stream may take to end (seconds).
DRAIN_SECONDS = 0.5
#: Waits before the standalone stream is opened again after it failed (seconds); the last one repeats.
LISTEN_BACKOFF = (0.5, 1.0, 2.0, 5.0, 15.0, 30.0)


class SessionExpired(Exception):
    """The server answered 404 to a message of session ``session_id``: initialize again, then resend."""

    def __init__(self, session_id: str) -> None:
        super().__init__(session_id)
        self.session_id = session_id


def request_id_of(message: JsonObject) -> RequestId | None:
    """The id of a request (None for a notification or a response)."""
    return message.get("id") if "method" in message else None


class Upstream:
    """The MCP endpoint at ``url``, reached through ``http`` with ``auth``; ``hide()`` names the secrets to cut out
    of what the server sends (the access tokens the auth attached)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        auth: httpx.Auth | None,
        hide: Callable[[], Sequence[str]] = tuple,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._url = url
        self._auth = auth
        self._hide = hide
        self._sleep = sleep
        self.session_id: str | None = None
        #: ``x-mcp-header`` parameters of each tool, learnt from the ``tools/list`` answers that pass through.
        self._header_params: dict[str, tuple[HeaderParam, ...]] = {}
        self._listing_ids: set[RequestId] = set()

    @property
    def url(self) -> str:
        return self._url

    # --- sending ------------------------------------------------------------------------------------------

    def _headers(self, message: JsonObject, protocol_version: str | None) -> dict[str, str]:
        method = message.get("method")
        params = message.get("params") if isinstance(message.get("params"), dict) else None
        if protocol_version is not None and is_modern(protocol_version):
            if not isinstance(method, str):  # a response (2026-07-28 clients send none, but pass it on)
                return {"Accept": ACCEPT, "Content-Type": "application/json", HEADER_PROTOCOL_VERSION: protocol_version}
            name = params.get("name") if params else None
            header_params = self._header_params.get(name, ()) if isinstance(name, str) else ()
            return request_headers(method, params, protocol_version=protocol_version, header_params=header_params)
        initialize = method == "initialize"
        return request_headers(
            "",
            None,
            protocol_version=protocol_version or "",
            after_initialize=not initialize and protocol_version is not None,
            session_id=None if initialize else self.session_id,
        )

    async def _open(self, request: httpx.Request, what: str) -> httpx.Response:
        request.headers["Accept-Encoding"] = ACCEPT_ENCODING
        for key, value in self._http.headers.items():
            if key not in request.headers:
                request.headers[key] = value
        async with exchange.network_errors(self._asked(what)):
            if self._auth is None:
                return await self._http.send(request, stream=True, follow_redirects=False)
            return await self._http.send(request, auth=self._auth, stream=True, follow_redirects=False)

    def _asked(self, what: str) -> exchange.Asked:
        return exchange.Asked(self._url, request=what, violation=McpProtocolError)

    async def post(self, message: JsonObject, *, protocol_version: str | None, deliver: Deliver) -> None:
        """POST ``message`` and hand on every message of the answer (its response included, for a request).

        Raises :class:`SessionExpired` (a 404 in a session), or a :class:`ConnectorError` when no answer came.
        """
        method = message.get("method")
        what = method if isinstance(method, str) else "a response"
        request_id = request_id_of(message)
        if method == "tools/list" and request_id is not None:
            self._listing_ids.add(request_id)
        session = self.session_id
        body = compact_json(message)
        request = httpx.Request("POST", self._url, headers=self._headers(message, protocol_version), content=body)
        response = await self._open(request, what)
        try:
            status = response.status_code
            if status == 404 and session is not None and method != "initialize":
                raise SessionExpired(session)
            refused = status_error(response, url=self._url, method=what)
            if refused is not None:
                raise refused
            if method == "initialize" and status < 300:
                self._take_session(response)
            if status >= 400:
                await self._error_answer(response, request_id, what, deliver)
                return
            if request_id is None or status in (202, 204):
                if request_id is not None:
                    raise McpProtocolError(
                        "no_response", f"{self._url} answered {what} with HTTP {status} and no response.", url=self._url
                    )
                await exchange.read_capped(response, self._asked(what), limit=_MAX_ERROR_BODY)
                return
            kind = media_type(response.headers.get("content-type"))
            if kind == "application/json":
                body = await exchange.read_capped(response, self._asked(what), limit=MAX_BODY_BYTES)
                if not await self._deliver_body(body, request_id, deliver):
                    raise McpProtocolError(
                        "no_response", f"{self._url} answered {what} without its response.", url=self._url
                    )
                return
            if kind == "text/event-stream":
                await self._read_stream(response, request_id, what, protocol_version, deliver)
                return
            raise McpProtocolError(
                "unexpected_content_type",
                f"{self._url} answered {what} with content type {kind[:60]!r}, not JSON or an event stream.",
                url=self._url,
            )
        finally:
            await response.aclose()

    def _take_session(self, response: httpx.Response) -> None:
        session = response.headers.get(HEADER_SESSION_ID)
        if session is not None and not valid_session_id(session):
            raise McpProtocolError(
                "malformed_session_id", f"{self._url} sent a session id with invalid characters.", url=self._url
            )
        self.session_id = session

    async def _error_answer(
        self, response: httpx.Response, request_id: RequestId | None, what: str, deliver: Deliver
    ) -> None:
        """A 4xx answer: the JSON-RPC error in its body is the answer when it names the request; else an error."""
        try:
            body = await exchange.read_capped(response, self._asked(what), limit=_MAX_ERROR_BODY)
            value = decode_json(body, url=self._url, hide=tuple(self._hide()))
        except ConnectorError:
            value = None
        if (
            request_id is not None
            and isinstance(value, dict)
            and isinstance(value.get("error"), dict)
            and value.get("id") == request_id
        ):
            await deliver(value, None)
            return
        if request_id is None:
            log.info("%s answered %s with HTTP %s", self._url, what, response.status_code)
            return
        raise McpProtocolError(
            "http_error", f"{self._url} answered {what} with HTTP {response.status_code}.", url=self._url
        )

    def _decode(self, data: bytes) -> object:
        return decode_json(data, url=self._url, hide=tuple(self._hide()))

    async def _deliver_body(self, body: bytes, stream_of: RequestId | None, deliver: Deliver) -> bool:
        """Pass on the message(s) of one body or event; True when it held the response to ``stream_of``."""
        value = self._decode(body)
        found = False
        for message in value if isinstance(value, list) else [value]:
            if not isinstance(message, dict):
                raise McpProtocolError(
                    "malformed_jsonrpc", f"{self._url} sent a JSON-RPC message that is not an object.", url=self._url
                )
            self._learn(message)
            if stream_of is not None and "method" not in message and message.get("id") == stream_of:
                found = True
            await deliver(message, stream_of)
        return found

    def _learn(self, message: JsonObject) -> None:
        """Remember the ``x-mcp-header`` parameters of the tools a ``tools/list`` answer names."""
        if message.get("id") not in self._listing_ids or "method" in message:
            return
        self._listing_ids.discard(message.get("id"))
        result = message.get("result")
        tools = result.get("tools") if isinstance(result, dict) else None
        for tool in tools if isinstance(tools, list) else ():
            if (
                isinstance(tool, dict)
                and isinstance(tool.get("name"), str)
                and isinstance(tool.get("inputSchema"), dict)
            ):
                try:
                    self._header_params[tool["name"]] = tool_header_params(tool["inputSchema"])
                except ValueError:
                    self._header_params.pop(tool["name"], None)

    async def _read_stream(
        self,
        response: httpx.Response,
        request_id: RequestId,
        what: str,
        protocol_version: str | None,
        deliver: Deliver,
    ) -> None:
        """Pass on each event's message until the response to ``request_id``; resume a legacy stream cut short."""
        last_event_id: str | None = None
        retry_ms: int | None = None
        resumes = 0
        current = response
        try:
            while True:
                parser = SseParser(url=self._url, max_event_chars=MAX_EVENT_CHARS)
                parser.last_event_id, parser.retry = last_event_id, retry_ms
                if await self._events(current, parser, request_id, what, deliver):
                    return
                progressed = parser.last_event_id != last_event_id
                last_event_id, retry_ms = parser.last_event_id, parser.retry
                resumes = 0 if progressed else resumes + 1
                modern = protocol_version is not None and is_modern(protocol_version)
                if modern or last_event_id is None or resumes >= _MAX_RESUMES:
                    raise McpProtocolError(
                        "no_response", f"{self._url} closed the stream of {what} before answering.", url=self._url
                    )
                await self._sleep(min(retry_ms if retry_ms is not None else 1000, 30_000) / 1000)
                if current is not response:
                    await current.aclose()
                current = await self._resume(last_event_id, protocol_version, what)
        finally:
            if current is not response:
                await current.aclose()

    async def _events(
        self,
        response: httpx.Response,
        parser: SseParser,
        request_id: RequestId | None,
        what: str,
        deliver: Deliver,
    ) -> bool:
        """Read one HTTP stream to its end; True when it held the response to ``request_id``.

        After the response the server ends the stream; reading on to that end (for :data:`DRAIN_SECONDS` at most)
        lets the connection be used again instead of being closed with the stream half read."""
        found = False
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as drain:
                async with (
                    exchange.network_errors(self._asked(what), reading=True),
                    aclosing(decoded(response)) as pieces,
                ):
                    async for chunk in pieces:
                        for event in parser.feed(chunk):
                            if await self._event(event, request_id, deliver) and not found:
                                found = True
                                drain.reschedule(loop.time() + DRAIN_SECONDS)
        except TimeoutError:
            if not found:
                raise
            return True
        except ConnectorError:
            if not found:
                raise
            return True  # the answer is in; how the rest of the stream ended does not matter
        parser.close()
        return found

    async def _event(self, event: SseEvent, request_id: RequestId | None, deliver: Deliver) -> bool:
        if event.event != "message" or not event.data:
            return False  # other event types, and the empty priming events of 2025-11-25
        return await self._deliver_body(event.data.encode("utf-8"), request_id, deliver)

    async def _resume(self, last_event_id: str, protocol_version: str | None, what: str) -> httpx.Response:
        request = build_resume(
            self._url, last_event_id=last_event_id, session_id=self.session_id, protocol_version=protocol_version or ""
        )
        response = await self._open(request, what)
        ok = response.status_code == 200 and media_type(response.headers.get("content-type")) == "text/event-stream"
        if not ok:
            await response.aclose()
            refused = status_error(response, url=self._url, method=what)
            raise refused or McpProtocolError(
                "no_response",
                f"{self._url} closed the stream of {what} and could not resume it (HTTP {response.status_code}).",
                url=self._url,
            )
        return response

    # --- the standalone stream and the end of a session ---------------------------------------------------

    async def listen(self, *, protocol_version: str, deliver: Deliver) -> None:
        """Keep the standalone GET stream of a legacy session open and hand on what comes over it, until cancelled
        or the server says it offers none (405). Raises :class:`SessionExpired` on a 404."""
        last_event_id: str | None = None
        failures = 0
        while True:
            headers = {"Accept": "text/event-stream", HEADER_PROTOCOL_VERSION: protocol_version}
            if self.session_id:
                headers[HEADER_SESSION_ID] = self.session_id
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            session = self.session_id
            parser = SseParser(url=self._url, max_event_chars=MAX_EVENT_CHARS)
            parser.last_event_id = last_event_id
            try:
                response = await self._open(httpx.Request("GET", self._url, headers=headers), "the event stream")
                try:
                    status = response.status_code
                    if status == 405:
                        log.debug("%s offers no standalone event stream", self._url)
                        return
                    if status == 404 and session is not None:
                        raise SessionExpired(session)
                    ok = status == 200 and media_type(response.headers.get("content-type")) == "text/event-stream"
                    if ok:
                        failures = 0
                        await self._events(response, parser, None, "the event stream", deliver)
                    else:
                        failures += 1
                        log.info("%s answered the event stream with HTTP %s", self._url, status)
                finally:
                    await response.aclose()
            except ConnectorError as exc:
                failures += 1
                log.info("The event stream of %s failed: %s", self._url, exc)
            last_event_id = parser.last_event_id
            delay = LISTEN_BACKOFF[min(failures, len(LISTEN_BACKOFF) - 1)]
            if parser.retry is not None and not failures:
                delay = max(min(parser.retry, 30_000) / 1000, LISTEN_BACKOFF[0])
            await self._sleep(delay)

    async def end_session(self, protocol_version: str) -> None:
        """DELETE the session (a server may answer 405: it keeps sessions itself); quietly."""
        session, self.session_id = self.session_id, None
        if session is None:
            return
        try:
            response = await self._open(
                build_delete(self._url, session_id=session, protocol_version=protocol_version), "the session's end"
            )
            await response.aclose()
        except ConnectorError as exc:
            log.info("Could not end the session at %s: %s", self._url, exc)
